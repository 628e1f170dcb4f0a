// The admin listener (--admin, never the public one): health, readiness, and one user's
// rate-limit buckets (GET /ratelimits?user=ID[&model=M]) so an operator can answer "why am I
// limited".
#pragma once

#include "gateway/gateway.h"
#include "http/server.h"
#include "ratelimit/limiter.h"

namespace tollgate::cli {

class AdminHandler final : public http::Handler {
 public:
  AdminHandler(gateway::SnapshotHolder& snapshots, http::ServerStats& stats,
               ratelimit::Limiter& limiter)
      : snapshots_(snapshots), stats_(stats), limiter_(limiter) {}
  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override;
  std::string renderError(std::string_view target, const Error& err,
                          http::ResponseHead& head) override;

 private:
  gateway::SnapshotHolder& snapshots_;
  http::ServerStats& stats_;
  ratelimit::Limiter& limiter_;
};

// Renders bucket views as JSON (shared by the admin endpoint and `tollgate limits --json`).
std::string bucketsToJson(const std::vector<ratelimit::Limiter::BucketView>& views);

// Headers of a synthetic request from one user (and optionally for one model).
class UserHeaders final : public router::HeaderSource {
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
