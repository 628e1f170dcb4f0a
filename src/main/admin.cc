#include "main/admin.h"

#include "api/errors.h"
#include "common/strings.h"

namespace tollgate::cli {

namespace {

// Value of query parameter `name` (percent-decoded), empty when absent.
std::string queryParam(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
      std::string out;
      std::string_view v = pair.substr(eq + 1);
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size() + 0 && i + 2 <= v.size() - 1) {
          out += static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

}  // namespace

std::string bucketsToJson(const std::vector<ratelimit::Limiter::BucketView>& views) {
  std::string out = "{\"buckets\":[";
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& v = views[i];
    if (i) out += ',';
    out += "{\"policy\":";
    appendJsonString(out, v.policy);
    out += ",\"rule\":" + std::to_string(v.rule) + ",\"key\":";
    appendJsonString(out, v.key);
    out += ",\"limit\":" + std::to_string(v.limit) + ",\"spent\":" + std::to_string(v.spent) +
           ",\"remaining\":" +
           std::to_string(std::max<int64_t>(0, static_cast<int64_t>(v.limit) - v.spent)) +
           ",\"unit\":\"" + v.unit + "\",\"reset_seconds\":" + std::to_string(v.reset_seconds) +
           "}";
  }
  out += "]}\n";
  return out;
}

std::string AdminHandler::renderError(std::string_view, const Error& err,
                                      http::ResponseHead& head) {
  head.status = err.httpStatus();
  head.headers.emplace_back("content-type", "application/json");
  return api::renderOpenAIError(err);
}

boost::asio::awaitable<void> AdminHandler::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  http::ResponseHead head;
  if (path == "/healthz") {
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    co_await w.send(head, "ok\n");
  } else if (path == "/readyz") {
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    auto snap = snapshots_.current();
    if (!snap) {
      head.status = 503;
      co_await w.send(head, "no configuration loaded\n");
    } else {
      const std::string body =
          "ready\nactive_connections " + std::to_string(stats_.active_connections.load()) + "\n";
      co_await w.send(head, body);
    }
  } else if (path == "/ratelimits") {
    head.headers.emplace_back("content-type", "application/json");
    const std::string user = queryParam(target, "user");
    if (user.empty()) {
      head.status = 400;
      co_await w.send(head, "{\"error\":\"missing ?user=ID\"}\n");
      co_return;
    }
    auto snap = snapshots_.current();
    const UserHeaders headers(user, queryParam(target, "model"));
    ratelimit::RequestFacts facts;
    facts.headers = &headers;
    facts.model = queryParam(target, "model");
    auto views = co_await limiter_.describe(snap->policies, facts);
    if (!views) {
      head.status = 503;
      const std::string body = api::renderOpenAIError(views.error());
      co_await w.send(head, body);
      co_return;
    }
    const std::string body = bucketsToJson(views.value());
    co_await w.send(head, body);
  } else {
    head.status = 404;
    head.headers.emplace_back("content-type", "text/plain; charset=utf-8");
    co_await w.send(head, "not found: try /healthz, /readyz or /ratelimits?user=ID\n");
  }
}

}  // namespace tollgate::cli
