// BackendTrafficPolicy (gateway.envoyproxy.io): rate limits. Also the targetRefs reader it
// shares with ClientTrafficPolicy.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/loader_internal.h"

namespace tollgate::config::detail {
namespace {

// The dynamic-metadata namespace Envoy AI Gateway writes llmRequestCosts into; rate-limit rules
// read token costs from there.
constexpr std::string_view kAIGatewayMetadataNamespace = "io.envoy.ai_gateway";

}  // namespace

std::optional<RateLimitRule> Loader::parseRateLimitRule(const YAML::Node& n,
                                                        const std::string& path,
                                                        const Reporter& r) {
  if (!requireMap(r, n, path)) return std::nullopt;
  RateLimitRule rule;
  bool ok = true;

  forEach(r, child(n, "clientSelectors"), sub(path, "clientSelectors"),
          [&](const YAML::Node& selector, const std::string& selector_path) {
            if (!requireMap(r, selector, selector_path)) {
              ok = false;
              return;
            }
            // Ignoring a selector part would silently widen who shares a bucket, so the parts
            // tollgate cannot evaluate are errors.
            for (auto it = selector.begin(); it != selector.end(); ++it) {
              const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
              if (key != "headers") {
                r.error(it->first, sub(selector_path, key),
                        "client selector " + inQuotes(key) +
                            " is not supported by tollgate (only headers)");
                ok = false;
              }
            }
            std::vector<HeaderMatch> headers;
            forEach(r, child(selector, "headers"), sub(selector_path, "headers"),
                    [&](const YAML::Node& h, const std::string& header_path) {
                      if (auto header = parseHeaderMatch(h, header_path, true, r)) {
                        headers.push_back(std::move(*header));
                      } else {
                        ok = false;
                      }
                    });
            rule.client_selectors.push_back(std::move(headers));
          });

  const YAML::Node limit = child(n, "limit");
  const std::string limit_path = sub(path, "limit");
  if (!present(limit)) {
    r.error(n, limit_path, "required field is missing");
    ok = false;
  } else if (isMap(r, limit, limit_path)) {
    const YAML::Node requests = child(limit, "requests");
    if (!present(requests)) {
      r.error(limit, sub(limit_path, "requests"), "required field is missing");
      ok = false;
    } else if (auto value = getIntInRange(r, requests, sub(limit_path, "requests"), 0,
                                          std::numeric_limits<int64_t>::max())) {
      rule.limit = static_cast<uint64_t>(*value);
    } else {
      ok = false;
    }
    const std::optional<RateLimitUnit> unit =
        requireEnum<RateLimitUnit>(r, limit, "unit", limit_path,
                                   {{"Second", RateLimitUnit::kSecond},
                                    {"Minute", RateLimitUnit::kMinute},
                                    {"Hour", RateLimitUnit::kHour},
                                    {"Day", RateLimitUnit::kDay},
                                    {"Month", RateLimitUnit::kMonth},
                                    {"Year", RateLimitUnit::kYear}});
    if (unit) {
      rule.unit = *unit;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }

  const YAML::Node cost = child(n, "cost");
  const std::string cost_path = sub(path, "cost");
  if (isMap(r, cost, cost_path)) {
    const YAML::Node request = child(cost, "request");
    const std::string request_path = sub(cost_path, "request");
    if (isMap(r, request, request_path)) {
      // Only a fixed request cost: the request path has no metadata to read a cost from yet.
      if (requireEnum<bool>(r, request, "from", request_path, {{"Number", true}})) {
        const YAML::Node number = child(request, "number");
        if (!present(number)) {
          r.error(request, sub(request_path, "number"), "required when from is Number");
          ok = false;
        } else if (auto value = getIntInRange(r, number, sub(request_path, "number"), 0,
                                              std::numeric_limits<int64_t>::max())) {
          rule.request_cost = static_cast<uint64_t>(*value);
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    const YAML::Node response = child(cost, "response");
    const std::string response_path = sub(cost_path, "response");
    if (isMap(r, response, response_path)) {
      const YAML::Node metadata = child(response, "metadata");
      const std::string metadata_path = sub(response_path, "metadata");
      // Every failed step sets ok = false: the repeated branch is the point.
      // NOLINTNEXTLINE(bugprone-branch-clone)
      if (!requireEnum<bool>(r, response, "from", response_path, {{"Metadata", true}})) {
        ok = false;
      } else if (!present(metadata)) {
        r.error(response, metadata_path, "required when from is Metadata");
        ok = false;
      } else if (isMap(r, metadata, metadata_path)) {
        const std::optional<std::string> key = requireString(r, metadata, "key", metadata_path);
        const std::string ns =
            getString(r, child(metadata, "namespace"), sub(metadata_path, "namespace"))
                .value_or(std::string(kAIGatewayMetadataNamespace));
        if (ns != kAIGatewayMetadataNamespace) {
          r.warning(child(metadata, "namespace"), sub(metadata_path, "namespace"),
                    "tollgate records token costs only under namespace " +
                        std::string(kAIGatewayMetadataNamespace) +
                        "; this response cost will "
                        "always be 0");
        }
        if (key) {
          rule.response_metadata_key = *key;
          rule.response_metadata_namespace = ns;
          cost_keys_.push_back(PendingCostKey{
              *key,
              r.make(Severity::kWarning, child(metadata, "key"), sub(metadata_path, "key"), "")});
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
  }
  if (!ok) return std::nullopt;
  return rule;
}

void readPolicyTargets(const YAML::Node& spec, const Origin& origin, const Reporter& r,
                       std::vector<std::string>* gateways, std::vector<std::string>* routes,
                       std::vector<PendingRef>* refs, const std::string& missing) {
  const auto add_target = [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<std::string> kind = requireString(r, item, "kind", path);
    if (!name || !kind) return;
    if (*kind == "Gateway") {
      gateways->push_back(*name);
      refs->push_back(PendingRef{"Gateway", origin.ns, *name,
                                 r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                                        "names Gateway " + origin.ns + "/" + *name + ", " +
                                            missing + "; this target has no effect")});
    } else if (*kind == "HTTPRoute" && routes != nullptr) {
      routes->push_back(*name);
      refs->push_back(PendingRef{
          "AIGatewayRoute", origin.ns, *name,
          r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                 "names HTTPRoute " + origin.ns + "/" + *name +
                     "; tollgate knows routes as AIGatewayRoutes and none is named so, so this "
                     "target has no effect")});
    } else {
      r.warning(child(item, "kind"), sub(path, "kind"),
                "tollgate applies this policy to " +
                    std::string(routes != nullptr ? "Gateways and HTTPRoutes" : "Gateways") +
                    " only; this " + *kind + " target is ignored");
    }
  };
  forEach(r, child(spec, "targetRefs"), "spec.targetRefs", add_target);
  if (present(child(spec, "targetRef"))) add_target(child(spec, "targetRef"), "spec.targetRef");
  if (present(child(spec, "targetSelectors"))) {
    r.warning(child(spec, "targetSelectors"), "spec.targetSelectors",
              "label selectors are not supported by tollgate and are ignored; use targetRefs");
  }
}

void Loader::convertTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  BackendTrafficPolicy policy;
  policy.origin = o.origin;
  const YAML::Node annotations = child(child(o.doc, "metadata"), "annotations");
  if (isMap(r, annotations, "metadata.annotations")) {
    for (auto it = annotations.begin(); it != annotations.end(); ++it) {
      if (it->first.IsScalar() && it->second.IsScalar()) {
        policy.annotations[it->first.Scalar()] = it->second.Scalar();
      }
    }
  }
  readPolicyTargets(spec, o.origin, r, &policy.target_gateways, &policy.target_routes, &refs_,
                    missing());
  reportUnusedFields(spec, "spec",
                     {"targetRefs", "targetRef", "targetSelectors", "rateLimit", "timeout"}, r);

  if (const YAML::Node http = getHttpTimeouts(r, spec, {"connectionIdleTimeout"})) {
    policy.connection_idle_timeout_ms = getPositiveDurationMs(
        r, child(http, "connectionIdleTimeout"), "spec.timeout.http.connectionIdleTimeout");
  }

  const YAML::Node rate_limit = child(spec, "rateLimit");
  if (isMap(r, rate_limit, "spec.rateLimit")) {
    const std::optional<bool> global = requireEnum<bool>(r, rate_limit, "type", "spec.rateLimit",
                                                         {{"Global", true}, {"Local", false}});
    if (global) {
      policy.global = *global;
      const char* key = *global ? "global" : "local";
      const char* other = *global ? "local" : "global";
      const std::string block_path = sub("spec.rateLimit", key);
      const YAML::Node block = child(rate_limit, key);
      if (present(child(rate_limit, other))) {
        r.warning(child(rate_limit, other), sub("spec.rateLimit", other),
                  std::string("ignored: type is ") + (*global ? "Global" : "Local"));
      }
      if (!present(block)) {
        r.error(rate_limit, block_path,
                std::string("required when type is ") + (*global ? "Global" : "Local"));
      } else if (isMap(r, block, block_path)) {
        const YAML::Node rules = child(block, "rules");
        if (!present(rules)) r.error(block, sub(block_path, "rules"), "required field is missing");
        forEach(r, rules, sub(block_path, "rules"),
                [&](const YAML::Node& item, const std::string& path) {
                  if (auto rule = parseRateLimitRule(item, path, r)) {
                    policy.rules.push_back(std::move(*rule));
                  }
                });
      }
    }
  }
  config_.traffic_policies.push_back(std::move(policy));
}

}  // namespace tollgate::config::detail
