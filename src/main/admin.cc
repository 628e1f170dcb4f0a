#include "main/admin.h"

#include "api/errors.h"

namespace tollgate::cli {

std::string AdminHandler::renderError(std::string_view, const Error& err,
                                      http::ResponseHead& head) {
  head.status = err.httpStatus();
  head.headers.emplace_back("content-type", "application/json");
  return api::renderOpenAIError(err);
}

boost::asio::awaitable<void> AdminHandler::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view target = req.target();
  http::ResponseHead head;
  head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  if (target == "/healthz") {
    co_await w.send(head, "ok\n");
  } else if (target == "/readyz") {
    auto snap = snapshots_.current();
    if (!snap) {
      head.status = 503;
      co_await w.send(head, "no configuration loaded\n");
    } else {
      const std::string body =
          "ready\nactive_connections " + std::to_string(stats_.active_connections.load()) + "\n";
      co_await w.send(head, body);
    }
  } else {
    head.status = 404;
    co_await w.send(head, "not found: try /healthz or /readyz\n");
  }
}

}  // namespace tollgate::cli
