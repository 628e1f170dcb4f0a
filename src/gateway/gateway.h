// The request pipeline (docs/life_of_a_request.md): parse → route → translate → upstream (retries,
// priority fallback) → relay (translate, count tokens) → complete. Implements http::Handler for
// the public listener.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth/aws_credentials.h"
#include "gateway/access_log.h"
#include "gateway/gateway_metrics.h"
#include "gateway/request_context.h"
#include "gateway/snapshot.h"
#include "http/server.h"
#include "providers/translator.h"
#include "ratelimit/limiter.h"
#include "router/router.h"
#include "tracing/otlp_exporter.h"
#include "upstream/client.h"

namespace tollgate::gateway {

struct GatewayOptions {
  uint32_t max_attempts = 5;
  uint64_t max_response_bytes = 64ull * 1024 * 1024;         // non-stream responses are buffered
  std::chrono::milliseconds drain_after_client_gone{30000};  // read on to get usage
  // The AWS credential chain of the calling event loop (AWSCredentials security policies).
  std::function<auth::CredentialProvider*()> aws_credentials;
};

class Gateway final : public http::Handler {
 public:
  // `limiter` may be null when no rate limits are configured.
  Gateway(SnapshotHolder& snapshots, GatewayOptions opts, const AccessLog& access_log,
          ratelimit::Limiter* limiter, GatewayMetrics* metrics = nullptr,
          tracing::OtlpExporter* exporter = nullptr);

  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override;
  std::string renderError(std::string_view target, const Error& err,
                          http::ResponseHead& head) override;

 private:
  boost::asio::awaitable<void> process(http::Request& req, http::ResponseWriter& w,
                                       RequestContext& ctx, const Snapshot& snap);
  static ratelimit::RequestFacts factsFor(const RequestContext& ctx,
                                          const router::HeaderSource* headers);
  boost::asio::awaitable<void> sendError(http::ResponseWriter& w, RequestContext& ctx,
                                         const Error& err);
  boost::asio::awaitable<void> relay(http::ResponseWriter& w, RequestContext& ctx,
                                     upstream::Exchange& ex, providers::Translator& translator,
                                     std::chrono::milliseconds idle_timeout,
                                     Clock::time_point deadline);
  // A 200 with a JSON body (model lists, count estimates), with ctx.extra_headers.
  boost::asio::awaitable<void> sendJson(http::ResponseWriter& w, RequestContext& ctx,
                                        std::string body);
  // The gateway's token estimate for a count request (x-tollgate-token-count: estimate).
  boost::asio::awaitable<void> sendCountEstimate(http::ResponseWriter& w, RequestContext& ctx,
                                                 std::string_view body);

  SnapshotHolder& snapshots_;
  GatewayOptions opts_;
  const AccessLog& access_log_;
  auth::LoopCredentials loop_credentials_;  // from opts_, for every BackendAuth::apply
  ratelimit::Limiter* limiter_;
  GatewayMetrics* metrics_;
  tracing::OtlpExporter* exporter_;
};

}  // namespace tollgate::gateway
