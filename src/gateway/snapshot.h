// Configuration snapshots: a loaded Config compiled once (routes, rate-limit policies, backend
// auth, backend TLS trust) and published to every event loop.
#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/backend_auth.h"
#include "config/model.h"
#include "ratelimit/limiter.h"
#include "router/router.h"

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
  // BackendTrafficPolicy timeout.http.connectionIdleTimeout: per targeted route, and for every
  // route of a targeted Gateway; zero = the pool's default. A route's own policy wins.
  std::chrono::milliseconds connectionIdleTimeout(const std::string& route_name) const;
  // By route name; looked up per request with a view of the name (no copy).
  std::map<std::string, std::chrono::milliseconds, std::less<>> route_idle_timeout;
  std::chrono::milliseconds gateway_idle_timeout{0};
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

}  // namespace tollgate::gateway
