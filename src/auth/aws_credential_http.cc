#include "auth/aws_credentials_internal.h"
#include "common/strings.h"
#include "upstream/client.h"

namespace tollgate::auth::detail {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024;  // a credentials answer is well under 4 KiB
constexpr int kHttpAttempts = 2;  // one retry when nothing was received (connect refused/reset)

asio::awaitable<Result<HttpResponse>> httpOnce(upstream::Pool& pool, const HttpUrl& url,
                                               const upstream::OutgoingRequest& req,
                                               std::chrono::milliseconds timeout) {
  upstream::UpstreamTarget target;
  target.host = url.host;
  target.port = url.port;
  target.tls = url.https;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  upstream::Exchange exchange(pool);
  auto started = co_await exchange.start(target, req, deadline);
  if (!started) {
    exchange.finish();
    co_return started.error();
  }
  HttpResponse resp;
  resp.status = started.value();
  for (;;) {
    auto piece = co_await exchange.readSome(deadline);
    if (!piece) {
      exchange.finish();
      co_return piece.error();
    }
    if (piece.value().empty()) break;
    if (resp.body.size() + piece.value().size() > kMaxResponseBytes) {
      exchange.finish();
      co_return fail("response from " + url.text() + " is larger than 64 KiB");
    }
    resp.body.append(piece.value());
  }
  exchange.finish();
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

std::string HttpUrl::text() const {
  std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (https ? 443 : 80)) authority = formatHostPort(host, port);
  return std::string(https ? "https://" : "http://") + authority + target;
}

std::optional<HttpUrl> parseHttpUrl(std::string_view url) {
  HttpUrl u;
  std::string lower = toLower(url.substr(0, 8));
  if (lower.starts_with("https://")) {
    u.https = true;
    url.remove_prefix(8);
  } else if (lower.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  // Userinfo would make "http://127.0.0.1@evil.example/" look local to a careless check.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port_text;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.host = toLower(u.host);
  u.port = u.https ? 443 : 80;
  if (!port_text.empty()) {
    unsigned p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      p = p * 10 + static_cast<unsigned>(c - '0');
      if (p > 65535) return std::nullopt;
    }
    if (p == 0) return std::nullopt;
    u.port = static_cast<uint16_t>(p);
  }
  rest = rest.substr(0, rest.find('#'));
  u.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return u;
}

asio::awaitable<Result<HttpResponse>> http(upstream::Pool& pool, const HttpUrl& url,
                                           const upstream::OutgoingRequest& req,
                                           std::chrono::milliseconds timeout) {
  for (int attempt = 1;; ++attempt) {
    auto r = co_await httpOnce(pool, url, req, timeout);
    if (r || !r.error().retryable || attempt >= kHttpAttempts) co_return r;
  }
}

std::unique_ptr<upstream::Pool> makePool(asio::io_context& io, const ChainOptions& opts) {
  upstream::PoolOptions po;
  po.connect_timeout = opts.http_timeout;
  po.max_idle_per_endpoint = 0;  // a refresh an hour: keeping a connection open buys nothing
  po.tls_context = opts.tls_context;
  return std::make_unique<upstream::Pool>(io, po);
}

}  // namespace tollgate::auth::detail
