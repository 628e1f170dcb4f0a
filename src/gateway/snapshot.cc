#include "gateway/snapshot.h"

#include <cstdio>

#include "upstream/client.h"

namespace tollgate::gateway {

Snapshot::Snapshot(std::shared_ptr<const config::Config> cfg, ratelimit::Mode rate_limit_mode)
    : config(cfg),
      routes(cfg),
      policies(*cfg, rate_limit_mode),
      loaded_unix(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
  for (const auto& p : config->security_policies) {
    if (auto a = auth::makeBackendAuth(p, errors)) backend_auth[&p] = std::move(a);
  }
  for (const config::BackendTrafficPolicy& p : config->traffic_policies) {
    if (!p.connection_idle_timeout_ms) continue;
    const std::chrono::milliseconds idle(*p.connection_idle_timeout_ms);
    for (const std::string& route : p.target_routes) route_idle_timeout[route] = idle;
    if (!p.target_gateways.empty()) gateway_idle_timeout = idle;
  }
  for (const config::Backend& b : config->backends) {
    if (!b.tls.enabled || b.tls.ca_pem.empty()) continue;
    std::string error;
    auto context = upstream::makeTlsContextFromPem(b.tls.ca_pem, &error);
    if (!context) {
      config::Diagnostic problem;
      problem.file = b.origin.file;
      problem.line = b.origin.line;
      problem.object = "Backend " + b.origin.ns + "/" + b.origin.name;
      problem.field = "caCertificateRefs";
      problem.message = "the CA certificates of " + b.tls.ca_source + " cannot be used: " + error;
      errors.push_back(std::move(problem));
      continue;
    }
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", std::hash<std::string>{}(b.tls.ca_pem));
    backend_trust[&b] = BackendTrust{std::move(context), id};
  }
}

std::chrono::milliseconds Snapshot::connectionIdleTimeout(const std::string& route_name) const {
  if (route_idle_timeout.empty()) return gateway_idle_timeout;
  // Routes are "namespace/name"; policies name the route (an HTTPRoute of the same name), as the
  // rate limiter matches them.
  const std::string_view full(route_name);
  const auto slash = full.find('/');
  const std::string_view name = slash == std::string_view::npos ? full : full.substr(slash + 1);
  if (auto it = route_idle_timeout.find(name); it != route_idle_timeout.end()) {
    return it->second;
  }
  return gateway_idle_timeout;
}

const auth::BackendAuth* Snapshot::authFor(const config::BackendSecurityPolicy* policy) const {
  if (!policy) return nullptr;
  auto it = backend_auth.find(policy);
  return it == backend_auth.end() ? nullptr : it->second.get();
}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> s) {
  std::lock_guard lock(mu_);
  snap_ = std::move(s);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Snapshot> SnapshotHolder::current() const {
  std::lock_guard lock(mu_);
  return snap_;
}

std::shared_ptr<const Snapshot> SnapshotHolder::acquire() const {
  struct PerThread {
    std::shared_ptr<const Snapshot> snap;
  };
  thread_local const SnapshotHolder* owner = nullptr;
  thread_local uint64_t seen = ~0ull;
  thread_local std::shared_ptr<const PerThread> cached;
  uint64_t gen = generation_.load(std::memory_order_acquire);
  if (owner != this || gen != seen || !cached) {
    cached = std::make_shared<const PerThread>(PerThread{current()});
    seen = gen;
    owner = this;
  }
  return std::shared_ptr<const Snapshot>(cached, cached->snap.get());
}

}  // namespace tollgate::gateway
