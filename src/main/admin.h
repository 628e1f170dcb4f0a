// The admin listener (--admin, never the public one): /healthz, /readyz, /metrics,
// /config_dump (secrets redacted) and /ratelimits?user=ID[&model=M] so an operator can answer
// "why am I limited".
#pragma once

#include <atomic>
#include <functional>

#include "gateway/gateway.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "ratelimit/limiter.h"

namespace tollgate::cli {

struct AdminContext {
  gateway::SnapshotHolder* snapshots = nullptr;
  http::ServerStats* server_stats = nullptr;
  ratelimit::Limiter* limiter = nullptr;
  metrics::Registry* registry = nullptr;
  const std::atomic<bool>* draining = nullptr;
  std::function<std::string()> redis_state;  // "", "connected" or "disconnected"
};

class AdminHandler final : public http::Handler {
 public:
  explicit AdminHandler(AdminContext ctx) : ctx_(std::move(ctx)) {}
  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override;
  std::string renderError(std::string_view target, const Error& err,
                          http::ResponseHead& head) override;

 private:
  AdminContext ctx_;
};

// The effective configuration as JSON, API keys and credentials redacted.
std::string configDump(const config::Config& cfg);

// Renders bucket views as JSON (the admin endpoint).
std::string bucketsToJson(const std::vector<ratelimit::Limiter::BucketView>& views);

// Headers of a synthetic request from one user (and optionally for one model).
class UserHeaders final : public HeaderSource {
 public:
  UserHeaders(std::string user, std::string model)
      : user_(std::move(user)), model_(std::move(model)) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    if (name == "x-user-id") return std::string_view(user_);
    if (name == "x-ai-eg-model" && !model_.empty()) return std::string_view(model_);
    return std::nullopt;
  }

 private:
  std::string user_, model_;
};

}  // namespace tollgate::cli
