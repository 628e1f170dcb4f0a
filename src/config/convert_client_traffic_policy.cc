// ClientTrafficPolicy (gateway.envoyproxy.io): client connection limits and timeouts.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertClientTrafficPolicy(const RawObject& o, const YAML::Node& spec,
                                        const Reporter& r) {
  ClientTrafficPolicy policy;
  policy.origin = o.origin;
  readPolicyTargets(spec, o.origin, r, &policy.target_gateways, nullptr, &refs_, missing());
  reportUnusedFields(spec, "spec",
                     {"targetRefs", "targetRef", "targetSelectors", "connection", "timeout"}, r);
  const YAML::Node timeout = child(spec, "timeout");
  if (isMap(r, timeout, "spec.timeout")) {
    reportUnusedFields(timeout, "spec.timeout", {"http"}, r);
    const YAML::Node http = child(timeout, "http");
    if (isMap(r, http, "spec.timeout.http")) {
      reportUnusedFields(http, "spec.timeout.http", {"requestReceivedTimeout", "idleTimeout"}, r);
      auto duration = [&](const char* name, std::optional<uint64_t>& into) {
        const std::string path = std::string("spec.timeout.http.") + name;
        const YAML::Node n = child(http, name);
        const std::optional<std::string> text = getString(r, n, path);
        if (!text) return;
        const std::optional<uint64_t> ms = parseDurationMs(*text);
        if (!ms || *ms == 0) {
          r.error(n, path,
                  "invalid duration " + inQuotes(*text) + "; expected e.g. 10s, 1m, 500ms");
          return;
        }
        into = *ms;
      };
      duration("requestReceivedTimeout", policy.request_received_timeout_ms);
      duration("idleTimeout", policy.idle_timeout_ms);
    }
  }
  const YAML::Node connection = child(spec, "connection");
  if (isMap(r, connection, "spec.connection")) {
    reportUnusedFields(connection, "spec.connection", {"bufferLimit"}, r);
    const YAML::Node limit = child(connection, "bufferLimit");
    if (const std::optional<std::string> text =
            getString(r, limit, "spec.connection.bufferLimit")) {
      const std::optional<uint64_t> bytes = parseQuantityBytes(*text);
      if (!bytes) {
        r.error(limit, "spec.connection.bufferLimit",
                "invalid quantity " + inQuotes(*text) +
                    "; expected a Kubernetes quantity such as 1024, 500k, 50Mi or 1Gi");
      } else if (*bytes == 0) {
        r.error(limit, "spec.connection.bufferLimit", "must be more than 0 bytes");
      } else {
        policy.buffer_limit_bytes = *bytes;
      }
    }
  }
  config_.client_traffic_policies.push_back(std::move(policy));
}

}  // namespace tollgate::config::detail
