// Everything one request learns on its way through the pipeline. Owned by the request's
// coroutine; the complete phase (access log, and later metrics and the limiter) reads it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "api/request.h"
#include "api/usage.h"
#include "ratelimit/limiter.h"
#include "tracing/trace_context.h"

namespace tollgate::gateway {

using Clock = std::chrono::steady_clock;

struct RequestContext {
  Clock::time_point start = Clock::now();
  std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::now();
  std::string request_id;
  tracing::TraceContext trace;  // this request's span; its id is the parent sent upstream
  std::string tracestate;       // forwarded only with a valid incoming traceparent
  std::string method;
  std::string path;
  std::string user;  // x-user-id
  api::ApiKind api = api::ApiKind::kUnknown;
  api::ApiRequest parsed;
  std::string route;    // "ns/name#rule"
  std::string backend;  // AIServiceBackend name of the attempt that answered
  std::string response_model;
  uint32_t attempts = 0;
  int status = 0;
  std::string error_type;  // Error::name() when the gateway produced an error
  api::TokenUsage usage;
  bool stream = false;
  bool client_gone = false;
  Clock::time_point first_byte{};   // first response byte written to the client
  Clock::duration upstream_time{};  // time waiting on upstreams (all attempts)
  std::string route_name;           // "ns/name" of the matched AIGatewayRoute
  std::string provider;             // gen_ai.provider.name of the backend that answered
  bool fallback = false;            // answered by a lower-priority backend than the first choice
  Clock::time_point first_chunk{};  // streams: when the first content reached the client
  ratelimit::Decision rate_limit;   // buckets charged at check, charged again at completion
  std::vector<std::pair<std::string, std::string>> extra_headers;  // added to the response
};

}  // namespace tollgate::gateway
