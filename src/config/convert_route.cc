// AIGatewayRoute (aigateway.envoyproxy.io): parents, rules (matches, backendRefs, timeouts) and
// llmRequestCosts.

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertRoute(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  AIGatewayRoute route;
  route.origin = o.origin;

  // Early releases of the CRD called the parents targetRefs.
  const char* parents_key = present(child(spec, "parentRefs")) ? "parentRefs" : "targetRefs";
  const std::string parents_path = sub("spec", parents_key);
  forEach(
      r, child(spec, parents_key), parents_path,
      [&](const YAML::Node& item, const std::string& path) {
        if (!requireMap(r, item, path)) return;
        const std::optional<std::string> name = requireString(r, item, "name", path);
        const std::optional<std::string> kind =
            getString(r, child(item, "kind"), sub(path, "kind"));
        if (kind && *kind != "Gateway") {
          r.error(child(item, "kind"), sub(path, "kind"),
                  "only kind Gateway is supported, got " + *kind);
          return;
        }
        if (!name) return;
        const std::string ns =
            getString(r, child(item, "namespace"), sub(path, "namespace")).value_or(o.origin.ns);
        route.parent_gateways.push_back(*name);
        refs_.push_back(
            PendingRef{"Gateway", ns, *name,
                       r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                              "names Gateway " + ns + "/" + *name + ", " + missing())});
      });

  const YAML::Node rules = child(spec, "rules");
  if (!present(rules)) r.error(spec, "spec.rules", "required field is missing");
  forEach(r, rules, "spec.rules", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    RouteRule rule;
    forEach(r, child(item, "matches"), sub(path, "matches"),
            [&](const YAML::Node& m, const std::string& match_path) {
              if (!requireMap(r, m, match_path)) return;
              RouteMatch match;
              forEach(r, child(m, "headers"), sub(match_path, "headers"),
                      [&](const YAML::Node& h, const std::string& header_path) {
                        if (auto header = parseHeaderMatch(h, header_path, false, r)) {
                          match.headers.push_back(std::move(*header));
                        }
                      });
              rule.matches.push_back(std::move(match));
            });

    const YAML::Node refs = child(item, "backendRefs");
    const std::string refs_path = sub(path, "backendRefs");
    forEach(r, refs, refs_path, [&](const YAML::Node& ref, const std::string& ref_path) {
      if (!requireMap(r, ref, ref_path)) return;
      const std::optional<std::string> name = requireString(r, ref, "name", ref_path);
      const std::optional<std::string> kind =
          getString(r, child(ref, "kind"), sub(ref_path, "kind"));
      bool ok = name.has_value();
      if (kind && *kind != "AIServiceBackend") {
        r.error(child(ref, "kind"), sub(ref_path, "kind"),
                "only AIServiceBackend references are supported, got " + *kind);
        ok = false;
      }
      RouteBackendRef backend_ref;
      backend_ref.ns =
          getString(r, child(ref, "namespace"), sub(ref_path, "namespace")).value_or(o.origin.ns);
      // Gateway API bounds: weight is an int32 >= 0, priority a uint32.
      if (const YAML::Node weight = child(ref, "weight"); present(weight)) {
        const std::optional<int64_t> value = getIntInRange(r, weight, sub(ref_path, "weight"), 0,
                                                           std::numeric_limits<int32_t>::max());
        if (value) {
          backend_ref.weight = static_cast<uint32_t>(*value);
        } else {
          ok = false;
        }
      }
      if (const YAML::Node priority = child(ref, "priority"); present(priority)) {
        const std::optional<int64_t> value = getIntInRange(r, priority, sub(ref_path, "priority"),
                                                           0, std::numeric_limits<uint32_t>::max());
        if (value) {
          backend_ref.priority = static_cast<uint32_t>(*value);
        } else {
          ok = false;
        }
      }
      backend_ref.model_name_override =
          getString(r, child(ref, "modelNameOverride"), sub(ref_path, "modelNameOverride"))
              .value_or("");
      if (!ok) return;
      backend_ref.name = *name;
      // A missing backend is a warning, not an error: the rest of the route is fine, and the
      // reference stays in the rule so the router answers 503 for it rather than falling
      // through to another rule.
      refs_.push_back(
          PendingRef{"AIServiceBackend", backend_ref.ns, backend_ref.name,
                     r.make(Severity::kWarning, child(ref, "name"), sub(ref_path, "name"),
                            "names AIServiceBackend " + backend_ref.ns + "/" + backend_ref.name +
                                ", " + missing() +
                                "; the route rule will answer 503 when it "
                                "selects this backend")});
      rule.backend_refs.push_back(std::move(backend_ref));
    });
    if (!present(refs) || (refs.IsSequence() && refs.size() == 0)) {
      r.warning(item, refs_path, "rule has no backendRefs; requests it matches will answer 503");
    }

    const YAML::Node timeouts = child(item, "timeouts");
    const std::string timeouts_path = sub(path, "timeouts");
    if (isMap(r, timeouts, timeouts_path)) {
      for (const char* key : {"request", "backendRequest"}) {
        const YAML::Node value = child(timeouts, key);
        const std::string value_path = sub(timeouts_path, key);
        const std::optional<std::string> text = getString(r, value, value_path);
        if (!text) continue;
        const std::optional<uint64_t> ms = parseDurationMs(*text);
        if (!ms) {
          r.error(value, value_path,
                  "invalid duration " + inQuotes(*text) +
                      "; expected a Gateway API duration such as 60s, 1m, 500ms or 1h30m");
        } else if (*ms > std::numeric_limits<uint32_t>::max()) {
          r.error(value, value_path,
                  "duration " + inQuotes(*text) + " is too long (at most 4294967295ms, ~49 days)");
        } else if (std::string_view(key) == "request") {
          rule.timeouts.request_ms = static_cast<uint32_t>(*ms);
        } else {
          r.info(value, value_path,
                 "not used by tollgate: the request timeout bounds all attempts together");
        }
      }
    }
    route.rules.push_back(std::move(rule));
  });

  std::set<std::string> keys;
  forEach(r, child(spec, "llmRequestCosts"), "spec.llmRequestCosts",
          [&](const YAML::Node& item, const std::string& path) {
            if (!requireMap(r, item, path)) return;
            const std::optional<std::string> key = requireString(r, item, "metadataKey", path);
            const std::optional<CostType> type =
                requireEnum<CostType>(r, item, "type", path,
                                      {{"InputToken", CostType::kInputToken},
                                       {"CachedInputToken", CostType::kCachedInputToken},
                                       {"OutputToken", CostType::kOutputToken},
                                       {"TotalToken", CostType::kTotalToken},
                                       {"CEL", CostType::kCEL}});
            LLMRequestCost cost;
            bool ok = key && type;
            if (type == CostType::kCEL) {
              const std::optional<std::string> cel =
                  getString(r, child(item, "cel"), sub(path, "cel"));
              if (!cel || cel->empty()) {
                r.error(item, sub(path, "cel"), "required when type is CEL");
                ok = false;
              } else {
                cost.cel = *cel;
              }
            }
            if (!ok) return;
            if (!keys.insert(*key).second) {
              r.error(child(item, "metadataKey"), sub(path, "metadataKey"),
                      "metadataKey " + inQuotes(*key) + " is defined twice in this route");
              return;
            }
            cost.metadata_key = *key;
            cost.type = *type;
            route_cost_keys_.insert(*key);
            route.llm_request_costs.push_back(std::move(cost));
          });
  config_.routes.push_back(std::move(route));
}

}  // namespace tollgate::config::detail
