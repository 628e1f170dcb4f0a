#include "gateway/gateway_metrics.h"

#include <unordered_set>

namespace tollgate::gateway {

namespace {

// Bucket boundaries advised by the OpenTelemetry GenAI semantic conventions.
const std::vector<double> kTokenBuckets = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
const std::vector<double> kDurationBuckets = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                              1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
const std::vector<double> kTpotBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                          0.3,  0.4,   0.5,  0.75,  1.0, 2.5};
const std::vector<double> kOverheadBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.1};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string_view statusClass(int status) {
  switch (status / 100) {
    case 1:
      return "1xx";
    case 2:
      return "2xx";
    case 3:
      return "3xx";
    case 4:
      return "4xx";
    case 5:
      return "5xx";
    default:
      return "none";  // the client left before an answer
  }
}

}  // namespace

GatewayMetrics::GatewayMetrics(metrics::Registry& r, GatewayMetricsOptions opts)
    : opts_(opts),
      token_usage_(r.histogram(
          "gen_ai_client_token_usage", "Number of tokens used per request (GenAI semconv)",
          {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
           "gen_ai_response_model", "gen_ai_token_type"},
          kTokenBuckets)),
      request_duration_(r.histogram("gen_ai_server_request_duration",
                                    "Request duration in seconds (GenAI semconv)",
                                    {"gen_ai_operation_name", "gen_ai_provider_name",
                                     "gen_ai_request_model", "gen_ai_response_model", "error_type"},
                                    kDurationBuckets)),
      ttft_(r.histogram("gen_ai_server_time_to_first_token",
                        "Time to the first streamed token in seconds (GenAI semconv)",
                        {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
                         "gen_ai_response_model"},
                        kTtftBuckets)),
      time_per_output_token_(
          r.histogram("gen_ai_server_time_per_output_token",
                      "Time per output token after the first, in seconds (GenAI semconv)",
                      {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
                       "gen_ai_response_model"},
                      kTpotBuckets)),
      requests_(r.counter("tollgate_requests_total", "Requests by route, backend and status class",
                          {"route", "backend", "status_class"})),
      attempts_(r.counter("tollgate_upstream_attempts_total", "Upstream attempts by backend",
                          {"backend"})),
      retries_(r.counter("tollgate_upstream_retries_total", "Attempts beyond the first, by route",
                         {"route"})),
      fallbacks_(r.counter("tollgate_upstream_fallbacks_total",
                           "Requests answered by a lower-priority backend, by route", {"route"})),
      overhead_(r.histogram("tollgate_gateway_overhead_seconds",
                            "Time spent in tollgate, excluding waiting for upstreams", {},
                            kOverheadBuckets)) {
  if (opts_.user_labels) {
    user_tokens_ = &r.counter("tollgate_user_tokens_total",
                              "Tokens by user (x-user-id) and type; users beyond the cap are "
                              "counted as __other__",
                              {"user", "gen_ai_token_type"});
  }
}

std::string_view GatewayMetrics::userLabel(const std::string& user) {
  if (user.empty()) return "";
  thread_local std::unordered_set<std::string> admitted;
  if (admitted.count(user)) return user;
  std::lock_guard lock(users_mu_);
  if (users_.count(user) || users_.size() < opts_.max_distinct_users) {
    users_.insert(user);
    admitted.insert(user);
    return user;
  }
  return "__other__";
}

void GatewayMetrics::record(const RequestContext& ctx) {
  const auto now = Clock::now();
  const auto total = now - ctx.start;
  overhead_.observe({}, seconds(total - ctx.upstream_time));
  requests_.inc({ctx.route_name, ctx.backend, statusClass(ctx.status)});
  if (ctx.attempts > 0) {
    attempts_.inc({ctx.backend}, ctx.attempts);
    if (ctx.attempts > 1) retries_.inc({ctx.route_name}, ctx.attempts - 1);
  }
  if (ctx.fallback) fallbacks_.inc({ctx.route_name});

  // GenAI metrics: for model requests (not /v1/models, not unparsable bodies).
  if (ctx.parsed.model.empty()) return;
  const std::string_view op = api::apiOperationName(ctx.api);
  const std::string& req_model = ctx.parsed.model;
  const std::string& resp_model = ctx.response_model.empty() ? req_model : ctx.response_model;
  request_duration_.observe({op, ctx.provider, req_model, resp_model, ctx.error_type},
                            seconds(total));
  if (ctx.usage.known) {
    token_usage_.observe({op, ctx.provider, req_model, resp_model, "input"},
                         static_cast<double>(ctx.usage.input_tokens));
    token_usage_.observe({op, ctx.provider, req_model, resp_model, "output"},
                         static_cast<double>(ctx.usage.output_tokens));
    if (ctx.usage.cached_input_tokens > 0)
      token_usage_.observe({op, ctx.provider, req_model, resp_model, "cached_input"},
                           static_cast<double>(ctx.usage.cached_input_tokens));
    if (user_tokens_) {
      auto user = userLabel(ctx.user);
      user_tokens_->inc({user, "input"}, static_cast<double>(ctx.usage.input_tokens));
      user_tokens_->inc({user, "output"}, static_cast<double>(ctx.usage.output_tokens));
    }
  }
  if (ctx.stream && ctx.first_chunk != Clock::time_point{}) {
    ttft_.observe({op, ctx.provider, req_model, resp_model}, seconds(ctx.first_chunk - ctx.start));
    if (ctx.usage.known && ctx.usage.output_tokens > 1) {
      time_per_output_token_.observe(
          {op, ctx.provider, req_model, resp_model},
          seconds(now - ctx.first_chunk) / static_cast<double>(ctx.usage.output_tokens - 1));
    }
  }
}

}  // namespace tollgate::gateway
