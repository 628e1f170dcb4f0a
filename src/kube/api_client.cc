#include "kube/api_client.h"

#include <spdlog/spdlog.h>

#include "upstream/fetch.h"

namespace tollgate::kube {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxBody = 64 * 1024 * 1024;
constexpr size_t kMaxLine = 16 * 1024 * 1024;  // one watch event (objects are at most ~1.5 MB)

upstream::PoolOptions poolOptions(std::shared_ptr<asio::ssl::context> tls) {
  upstream::PoolOptions o;
  o.connect_timeout = std::chrono::milliseconds(10000);
  o.max_idle_per_endpoint = 4;
  o.tls_context = std::move(tls);
  return o;
}

}  // namespace

std::string queryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ApiClient::ApiClient(asio::io_context& io, ClusterAccess access,
                     std::shared_ptr<asio::ssl::context> tls)
    : access_(std::move(access)), pool_(io, poolOptions(std::move(tls))) {
  target_.host = access_.host;
  target_.port = access_.port;
  target_.tls = true;
  target_.tls_name = access_.tls_name;
}

upstream::OutgoingRequest ApiClient::outgoing(const ApiRequest& req) {
  std::string error;
  std::string token = access_.bearerToken(&error);
  if (!error.empty()) {
    // Keep the last token: a rotation writes the file atomically, so a read error is transient
    // or the mount is gone; either way the server's 401 will tell.
    const auto now = std::chrono::steady_clock::now();
    if (now - token_warned_ > std::chrono::minutes(1)) {
      token_warned_ = now;
      spdlog::warn("kube: {}; using the previous token", error);
    }
  } else {
    token_ = std::move(token);
  }
  upstream::OutgoingRequest out;
  out.method = req.method;
  out.target = req.path;
  out.headers.emplace_back("accept", "application/json");
  out.headers.emplace_back("user-agent", "tollgate/" TOLLGATE_VERSION_STRING);
  if (!token_.empty()) out.headers.emplace_back("authorization", "Bearer " + token_);
  if (!req.content_type.empty()) out.headers.emplace_back("content-type", req.content_type);
  out.body = req.body;
  return out;
}

asio::awaitable<Result<ApiResponse>> ApiClient::call(const ApiRequest& req) {
  const upstream::OutgoingRequest out = outgoing(req);
  const auto deadline = std::chrono::steady_clock::now() + req.timeout;
  upstream::FetchLimits limits;
  limits.max_body = kMaxBody;
  limits.too_large = "response to " + req.method + " " + req.path + " is larger than 64 MiB";
  auto fetched = co_await upstream::fetch(pool_, target_, out, deadline, limits);
  if (!fetched) co_return fetched.error();
  ApiResponse resp;
  resp.status = fetched.value().status;
  resp.body = std::move(fetched.value().body);
  co_return resp;
}

asio::awaitable<Result<ApiResponse>> ApiClient::stream(
    const ApiRequest& req, std::chrono::steady_clock::time_point deadline,
    const LineHandler& on_line) {
  const upstream::OutgoingRequest out = outgoing(req);
  upstream::Exchange ex(pool_);
  const auto head_deadline = std::chrono::steady_clock::now() + req.timeout;
  auto started = co_await ex.start(target_, out, head_deadline);
  if (!started) co_return started.error();
  ApiResponse resp;
  resp.status = started.value();
  std::string pending;
  for (;;) {
    auto piece = co_await ex.readSome(deadline);
    if (!piece) co_return piece.error();
    const std::string_view data = piece.value();
    if (data.empty()) break;
    if (resp.status != 200) {
      if (resp.body.size() < kMaxBody) resp.body.append(data);
      continue;
    }
    pending.append(data);
    size_t start = 0;
    for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      // A stopped watch leaves its connection unfinished: it is closed, never reused.
      if (!on_line(line)) co_return resp;
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) {
      co_return Error::internal("watch event on " + req.path + " is longer than 16 MiB");
    }
  }
  if (resp.status == 200 && !pending.empty()) {
    std::string_view line(pending);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line);
  }
  ex.finish();
  co_return resp;
}

}  // namespace tollgate::kube
