#include "auth/aws_credentials_internal.h"
#include "upstream/client.h"
#include "upstream/fetch.h"

namespace tollgate::auth::detail {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024;  // a credentials answer is well under 4 KiB
constexpr int kHttpAttempts = 2;  // one retry when nothing was received (connect refused/reset)

asio::awaitable<Result<HttpResponse>> httpOnce(upstream::Pool& pool, const Url& url,
                                               const upstream::OutgoingRequest& req,
                                               std::chrono::milliseconds timeout) {
  upstream::UpstreamTarget target;
  target.host = url.host;
  target.port = url.port;
  target.tls = isHttps(url);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  upstream::FetchLimits limits;
  limits.max_body = kMaxResponseBytes;
  limits.too_large = "response from " + url.text() + " is larger than 64 KiB";
  auto fetched = co_await upstream::fetch(pool, target, req, deadline, limits);
  if (!fetched) co_return fetched.error();
  HttpResponse resp;
  resp.status = fetched.value().status;
  resp.body = std::move(fetched.value().body);
  co_return resp;
}

}  // namespace

std::string redact(std::string text, std::initializer_list<std::string_view> secrets) {
  for (auto secret : secrets) {
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[redacted]");
      pos += 10;
    }
  }
  return text;
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

std::optional<Url> parseHttpUrl(std::string_view url) {
  auto u = parseUrl(url);
  if (!u || (u->scheme != "http" && u->scheme != "https") || u->has_userinfo) return std::nullopt;
  return u;
}

asio::awaitable<Result<HttpResponse>> http(upstream::Pool& pool, const Url& url,
                                           const upstream::OutgoingRequest& req,
                                           std::chrono::milliseconds timeout) {
  for (int attempt = 1;; ++attempt) {
    auto r = co_await httpOnce(pool, url, req, timeout);
    if (r || !r.error().retryable || attempt >= kHttpAttempts) co_return r;
  }
}

std::shared_ptr<upstream::Pool> makePool(asio::io_context& io, const ChainOptions& opts) {
  upstream::PoolOptions po;
  po.connect_timeout = opts.http_timeout;
  po.max_idle_per_endpoint = 0;  // a refresh an hour: keeping a connection open buys nothing
  po.tls_context = opts.tls_context;
  return std::make_shared<upstream::Pool>(io, po);
}

}  // namespace tollgate::auth::detail
