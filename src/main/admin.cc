#include "main/admin.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/translator.h"

namespace tollgate::cli {

namespace {

// Value of query parameter `name` (percent-decoded), empty when absent.
std::string queryParam(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
      std::string out;
      std::string_view v = pair.substr(eq + 1);
      for (size_t i = 0; i < v.size(); ++i) {
        auto hex = [](char c) {
          return c >= '0' && c <= '9'   ? c - '0'
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : -1;
        };
        if (v[i] == '%' && i + 2 < v.size() && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
          out += static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2]));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

}  // namespace

std::string bucketsToJson(const std::vector<ratelimit::Limiter::BucketView>& views) {
  std::string out = "{\"buckets\":[";
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& v = views[i];
    if (i) out += ',';
    out += "{\"policy\":";
    appendJsonString(out, v.policy);
    out += ",\"rule\":" + std::to_string(v.rule) + ",\"key\":";
    appendJsonString(out, v.key);
    out += ",\"limit\":" + std::to_string(v.limit) + ",\"spent\":" + std::to_string(v.spent) +
           ",\"remaining\":" +
           std::to_string(std::max<int64_t>(0, static_cast<int64_t>(v.limit) - v.spent)) +
           ",\"unit\":\"" + v.unit + "\",\"reset_seconds\":" + std::to_string(v.reset_seconds) +
           "}";
  }
  out += "]}\n";
  return out;
}

std::string AdminHandler::renderError(std::string_view, const Error& err,
                                      http::ResponseHead& head) {
  head.status = err.httpStatus();
  head.headers.emplace_back("content-type", "application/json");
  return api::renderOpenAIError(err);
}

std::string configDump(const config::Config& cfg) {
  namespace json = boost::json;
  auto origin = [](const config::Origin& o) {
    return json::object{{"name", o.name}, {"namespace", o.ns}, {"file", o.file}};
  };
  json::object root;
  json::array backends;
  for (const auto& b : cfg.backends) {
    json::array eps;
    for (const auto& e : b.endpoints)
      eps.push_back(json::object{{"host", e.host}, {"port", e.port}});
    backends.push_back(
        json::object{{"metadata", origin(b.origin)}, {"endpoints", eps}, {"tls", b.tls.enabled}});
  }
  root["backends"] = backends;
  json::array ais;
  for (const auto& a : cfg.ai_service_backends)
    ais.push_back(json::object{{"metadata", origin(a.origin)},
                               {"schema", providers::schemaName(a.schema)},
                               {"version", a.schema_version},
                               {"backendRef", a.backend_ref}});
  root["aiServiceBackends"] = ais;
  json::array routes;
  for (const auto& r : cfg.routes) {
    json::array rules;
    for (const auto& rule : r.rules) {
      json::array matches, refs;
      for (const auto& m : rule.matches) {
        json::array hs;
        for (const auto& h : m.headers)
          hs.push_back(json::object{
              {"name", h.name},
              {"type", h.type == config::HeaderMatchType::kExact ? "Exact" : "RegularExpression"},
              {"value", h.value}});
        matches.push_back(json::object{{"headers", hs}});
      }
      for (const auto& ref : rule.backend_refs)
        refs.push_back(json::object{{"name", ref.name},
                                    {"weight", ref.weight},
                                    {"priority", ref.priority},
                                    {"modelNameOverride", ref.model_name_override}});
      json::object ro{{"matches", matches}, {"backendRefs", refs}};
      if (rule.timeouts.request_ms) ro["timeoutMs"] = *rule.timeouts.request_ms;
      rules.push_back(ro);
    }
    json::array costs;
    for (const auto& c : r.llm_request_costs)
      costs.push_back(json::object{{"metadataKey", c.metadata_key}, {"cel", c.cel}});
    routes.push_back(
        json::object{{"metadata", origin(r.origin)}, {"rules", rules}, {"llmRequestCosts", costs}});
  }
  root["routes"] = routes;
  json::array policies;
  for (const auto& p : cfg.security_policies) {
    json::object po{{"metadata", origin(p.origin)}};
    json::array targets;
    for (const auto& t : p.target_backends) targets.push_back(json::string(t));
    po["targets"] = targets;
    // Secrets never leave the process: only whether one is configured.
    po["apiKey"] = p.api_key.empty() ? "" : "[redacted]";
    if (!p.aws.region.empty()) po["awsRegion"] = p.aws.region;
    policies.push_back(po);
  }
  root["backendSecurityPolicies"] = policies;
  json::array traffic;
  for (const auto& t : cfg.traffic_policies) {
    json::array rules;
    for (const auto& r : t.rules) {
      json::object ro{{"limit", r.limit}, {"requestCost", r.request_cost}};
      if (r.response_metadata_key) ro["responseCostKey"] = *r.response_metadata_key;
      rules.push_back(ro);
    }
    traffic.push_back(
        json::object{{"metadata", origin(t.origin)}, {"global", t.global}, {"rules", rules}});
  }
  root["backendTrafficPolicies"] = traffic;
  root["secrets"] = static_cast<uint64_t>(cfg.secrets.size());  // names and data never dumped
  return json::serialize(root) + "\n";
}

boost::asio::awaitable<void> AdminHandler::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  http::ResponseHead head;
  if (path == "/healthz") {
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    co_await w.send(head, "ok\n");
  } else if (path == "/readyz") {
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    auto snap = ctx_.snapshots->current();
    const bool draining = ctx_.draining && ctx_.draining->load();
    std::string body;
    if (!snap) {
      head.status = 503;
      body = "not ready: no configuration loaded\n";
    } else if (draining) {
      head.status = 503;
      body = "not ready: draining\n";
    } else {
      body = "ready\n";
    }
    body +=
        "active_connections " + std::to_string(ctx_.server_stats->active_connections.load()) + "\n";
    if (ctx_.redis_state) {
      const std::string redis = ctx_.redis_state();
      if (!redis.empty()) body += "redis " + redis + "\n";
    }
    co_await w.send(head, body);
  } else if (path == "/metrics") {
    head.headers.emplace_back("content-type", "text/plain; version=0.0.4; charset=utf-8");
    const std::string body = ctx_.registry ? ctx_.registry->render() : std::string();
    co_await w.send(head, body);
  } else if (path == "/config_dump") {
    head.headers.emplace_back("content-type", "application/json");
    auto snap = ctx_.snapshots->current();
    const std::string body = snap ? configDump(*snap->config) : std::string("{}\n");
    co_await w.send(head, body);
  } else if (path == "/ratelimits") {
    head.headers.emplace_back("content-type", "application/json");
    const std::string user = queryParam(target, "user");
    if (user.empty()) {
      head.status = 400;
      co_await w.send(head, "{\"error\":\"missing ?user=ID\"}\n");
      co_return;
    }
    auto snap = ctx_.snapshots->current();
    const UserHeaders headers(user, queryParam(target, "model"));
    ratelimit::RequestFacts facts;
    facts.headers = &headers;
    facts.model = queryParam(target, "model");
    auto views = co_await ctx_.limiter->describe(snap->policies, facts);
    if (!views) {
      head.status = 503;
      const std::string body = api::renderOpenAIError(views.error());
      co_await w.send(head, body);
      co_return;
    }
    const std::string body = bucketsToJson(views.value());
    co_await w.send(head, body);
  } else {
    head.status = 404;
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    co_await w.send(head,
                    "not found: try /healthz, /readyz, /metrics, /config_dump or "
                    "/ratelimits?user=ID\n");
  }
}

}  // namespace tollgate::cli
