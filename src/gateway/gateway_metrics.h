// What the gateway records per request: the OpenTelemetry GenAI metrics under the names Envoy AI
// Gateway exports, and tollgate's own request/upstream metrics. Recorded once per request in the
// complete phase (Gateway::handle), from the RequestContext: no body is parsed again.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_set>

#include "gateway/request_context.h"
#include "metrics/metrics.h"

namespace tollgate::gateway {

struct GatewayMetricsOptions {
  bool user_labels = false;          // per-user token counters (cardinality: capped below)
  size_t max_distinct_users = 1000;  // beyond this, users are counted as "__other__"
};

class GatewayMetrics {
 public:
  GatewayMetrics(metrics::Registry& registry, GatewayMetricsOptions opts);
  void record(const RequestContext& ctx);

  std::atomic<int64_t> active_streams{0};

 private:
  std::string_view userLabel(const std::string& user);

  GatewayMetricsOptions opts_;
  metrics::Family& token_usage_;
  metrics::Family& request_duration_;
  metrics::Family& ttft_;
  metrics::Family& time_per_output_token_;
  metrics::Family& requests_;
  metrics::Family& attempts_;
  metrics::Family& retries_;
  metrics::Family& fallbacks_;
  metrics::Family& overhead_;
  metrics::Family* user_tokens_ = nullptr;
  std::mutex users_mu_;  // only with user labels, and only for a user not yet seen on a thread
  std::unordered_set<std::string> users_;
};

}  // namespace tollgate::gateway
