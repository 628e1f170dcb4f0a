// The request pipeline (docs/life_of_a_request.md): parse → route → translate → upstream (retries,
// priority fallback) → relay (translate, count tokens) → complete. Implements http::Handler for
// the public listener.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "auth/aws_credentials.h"
#include "auth/backend_auth.h"
#include "gateway/access_log.h"
#include "gateway/gateway_metrics.h"
#include "gateway/request_context.h"
#include "http/server.h"
#include "providers/translator.h"
#include "ratelimit/limiter.h"
#include "router/router.h"
#include "tracing/otlp_exporter.h"
#include "upstream/client.h"

namespace tollgate::gateway {

// An immutable, fully compiled configuration. Requests hold a shared_ptr to the one they started
// with, so a reload never changes a request in flight.
struct Snapshot {
  explicit Snapshot(std::shared_ptr<const config::Config> cfg,
                    ratelimit::Mode rate_limit_mode = ratelimit::Mode::kEnvoy);
  std::shared_ptr<const config::Config> config;
  router::RouteTable routes;
  ratelimit::Policies policies;
  // Each security policy's auth, built once per snapshot; policies the gateway adds no
  // credentials for are absent. Keyed by the policy the router's candidates point at.
  std::map<const config::BackendSecurityPolicy*, std::unique_ptr<const auth::BackendAuth>>
      backend_auth;
  const auth::BackendAuth* authFor(const config::BackendSecurityPolicy* policy) const;
  // Backends with their own CAs (caCertificateRefs): one TLS context each, built once per
  // snapshot; the id keeps their pooled connections apart. Backends without are absent.
  struct BackendTrust {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string ca_id;
  };
  std::map<const config::Backend*, BackendTrust> backend_trust;
  // credentialsFile problems (file and line, never content) and unreadable CA bundles, each
  // naming its object.
  std::vector<config::Diagnostic> errors;
  int64_t loaded_unix = 0;
};

// Publishes snapshots to all threads. Readers do not touch a shared lock or a shared reference
// count on the request path: each thread caches the current snapshot behind a control block of
// its own and only takes the mutex when the generation number moved.
class SnapshotHolder {
 public:
  void publish(std::shared_ptr<const Snapshot> s);
  std::shared_ptr<const Snapshot> current() const;  // from any thread
  // The current snapshot for a request on this thread. The returned pointer shares a per-thread
  // control block (aliasing constructor), so copying it costs no cross-core cache traffic, and
  // it keeps the snapshot alive for the whole request even if a reload happens meanwhile.
  std::shared_ptr<const Snapshot> acquire() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
  std::atomic<uint64_t> generation_{0};
};

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
  void exportSpan(const RequestContext& ctx);
  static ratelimit::RequestFacts factsFor(const RequestContext& ctx,
                                          const router::HeaderSource* headers);
  boost::asio::awaitable<void> sendError(http::ResponseWriter& w, RequestContext& ctx,
                                         const Error& err);
  boost::asio::awaitable<void> relay(http::ResponseWriter& w, RequestContext& ctx,
                                     upstream::Exchange& ex, providers::Translator& translator,
                                     std::chrono::milliseconds idle_timeout,
                                     Clock::time_point deadline);
  boost::asio::awaitable<void> listModels(http::ResponseWriter& w, RequestContext& ctx,
                                          const Snapshot& snap);

  SnapshotHolder& snapshots_;
  GatewayOptions opts_;
  const AccessLog& access_log_;
  auth::LoopCredentials loop_credentials_;  // from opts_, for every BackendAuth::apply
  ratelimit::Limiter* limiter_;
  GatewayMetrics* metrics_;
  tracing::OtlpExporter* exporter_;
};

}  // namespace tollgate::gateway
