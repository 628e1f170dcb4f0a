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
  if (const YAML::Node http = getHttpTimeouts(r, spec, {"requestReceivedTimeout", "idleTimeout"})) {
    policy.request_received_timeout_ms = getPositiveDurationMs(
        r, child(http, "requestReceivedTimeout"), "spec.timeout.http.requestReceivedTimeout");
    policy.idle_timeout_ms =
        getPositiveDurationMs(r, child(http, "idleTimeout"), "spec.timeout.http.idleTimeout");
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
