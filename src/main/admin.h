// The admin listener (--admin, never the public one): health and readiness for now.
#pragma once

#include "gateway/gateway.h"
#include "http/server.h"

namespace tollgate::cli {

class AdminHandler final : public http::Handler {
 public:
  AdminHandler(gateway::SnapshotHolder& snapshots, http::ServerStats& stats)
      : snapshots_(snapshots), stats_(stats) {}
  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override;
  std::string renderError(std::string_view target, const Error& err,
                          http::ResponseHead& head) override;

 private:
  gateway::SnapshotHolder& snapshots_;
  http::ServerStats& stats_;
};

}  // namespace tollgate::cli
