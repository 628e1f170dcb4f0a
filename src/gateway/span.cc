#include "gateway/span.h"

namespace tollgate::gateway {

tracing::SpanData requestSpan(const RequestContext& ctx) {
  using tracing::Attribute;
  auto unix_nanos = [](std::chrono::system_clock::time_point t) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  tracing::SpanData span;
  span.trace_id = ctx.trace.trace_id;
  span.span_id = ctx.trace.span_id;
  span.parent_span_id = ctx.trace.parent_span_id;
  const std::string_view op = api::apiOperationName(ctx.api);
  span.name = ctx.parsed.model.empty() ? std::string(op) : std::string(op) + " " + ctx.parsed.model;
  span.start_unix_nanos = unix_nanos(ctx.wall_start);
  span.end_unix_nanos =
      span.start_unix_nanos +
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - ctx.start).count());
  span.error = ctx.status >= 500 || ctx.status == 0;
  if (span.error) span.status_message = ctx.error_type;
  auto& a = span.attributes;
  a.push_back({"gen_ai.operation.name", std::string(op)});
  if (!ctx.provider.empty()) a.push_back({"gen_ai.provider.name", ctx.provider});
  if (!ctx.parsed.model.empty()) a.push_back({"gen_ai.request.model", ctx.parsed.model});
  if (!ctx.response_model.empty()) a.push_back({"gen_ai.response.model", ctx.response_model});
  if (ctx.usage.known) {
    a.push_back({"gen_ai.usage.input_tokens", static_cast<int64_t>(ctx.usage.input_tokens)});
    a.push_back({"gen_ai.usage.output_tokens", static_cast<int64_t>(ctx.usage.output_tokens)});
  }
  a.push_back({"http.response.status_code", static_cast<int64_t>(ctx.status)});
  if (!ctx.error_type.empty()) a.push_back({"error.type", ctx.error_type});
  if (!ctx.route_name.empty()) a.push_back({"tollgate.route", ctx.route_name});
  if (!ctx.backend.empty()) a.push_back({"tollgate.backend", ctx.backend});
  if (!ctx.user.empty()) a.push_back({"enduser.id", ctx.user});
  a.push_back({"tollgate.request_id", ctx.request_id});
  return span;
}

}  // namespace tollgate::gateway
