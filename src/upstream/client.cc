#include "upstream/client.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <limits>
#include <tuple>

#include "common/log.h"
#include "common/strings.h"

namespace tollgate::upstream {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kBodyBufferSize = 32 * 1024;
thread_local Pool* g_pool = nullptr;

Error connectError(const std::string& what, const UpstreamTarget& t,
                   const boost::system::error_code& ec) {
  return Error::upstream(ErrorCode::kUpstreamConnect, "upstream connect error",
                         what + " " + t.key() + ": " + ec.message(), true);
}

}  // namespace

std::string UpstreamTarget::key() const {
  if (!tls) return formatHostPort(host, port);
  std::string k = "tls:" + (tls_name.empty() ? host : tls_name) + "@" + formatHostPort(host, port);
  if (!ca_id.empty()) k += "#" + ca_id;
  return k;
}

std::string UpstreamTarget::hostHeader() const {
  // The name the backend knows itself by (the TLS name when set), without the scheme's default
  // port: what a client would send, and what an AWS signature covers.
  const std::string& name = tls && !tls_name.empty() ? tls_name : host;
  if ((tls && port == 443) || (!tls && port == 80)) {
    return name.find(':') != std::string::npos ? "[" + name + "]" : name;
  }
  return formatHostPort(name, port);
}

namespace {

// OpenSSL hands every session (TLS 1.3: every ticket, which arrives after the handshake) to this
// callback; the connection's pool keeps a copy of the latest per key. A copy, because OpenSSL
// marks the connection's own session not resumable when the connection ends without a TLS
// close_notify, which is how HTTP connections usually end (framing tells where a response ends,
// so a truncation cannot pass unnoticed).
// Asio keeps its verify callback in the SSL's app data, so the connection goes in a slot of ours.
int connectionExIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int onNewTlsSession(SSL* ssl, SSL_SESSION* session) {
  auto* conn = static_cast<Connection*>(SSL_get_ex_data(ssl, connectionExIndex()));
  if (conn == nullptr || conn->pool == nullptr) return 0;
  if (SSL_SESSION* copy = SSL_SESSION_dup(session)) conn->pool->storeTlsSession(conn->key, copy);
  return 0;  // OpenSSL keeps (and frees) the original
}

// TLS 1.2+ only, peers verified, sessions cached by the pools rather than OpenSSL's internal
// store (which is keyed by nothing we control and shared across threads under a lock).
std::shared_ptr<asio::ssl::context> newClientContext() {
  auto ctx = makeTlsClientContext();
  boost::system::error_code ec;
  SSL_CTX_set_session_cache_mode(ctx->native_handle(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx->native_handle(), onNewTlsSession);
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  return ctx;
}

}  // namespace

std::shared_ptr<asio::ssl::context> makeTlsContextFromPem(std::string_view pem,
                                                          std::string* error) {
  auto ctx = newClientContext();
  boost::system::error_code ec;
  ctx->add_certificate_authority(asio::buffer(pem.data(), pem.size()), ec);
  if (ec) {
    if (error) *error = "cannot read the CA certificates: " + ec.message();
    return nullptr;
  }
  return ctx;
}

void Pool::SessionFree::operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }

void Pool::storeTlsSession(const std::string& key, SSL_SESSION* session) {
  tls_sessions_[key].reset(session);
}

std::shared_ptr<asio::ssl::context> makeTlsContext(const std::string& extra_ca_file,
                                                   std::string* error) {
  auto ctx = newClientContext();
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec && error) *error = "cannot load the system CA certificates: " + ec.message();
  if (!extra_ca_file.empty()) {
    ctx->load_verify_file(extra_ca_file, ec);
    if (ec) {
      if (error) *error = "cannot load CA file " + extra_ca_file + ": " + ec.message();
      return nullptr;
    }
  }
  return ctx;
}

Pool::Pool(asio::io_context& io, PoolOptions opts)
    : io_(io), opts_(std::move(opts)), sweep_timer_(io), self_(std::make_shared<Pool*>(this)) {}
Pool::~Pool() = default;

Pool* Pool::forThisThread() { return g_pool; }
void Pool::setForThisThread(Pool* pool) { g_pool = pool; }

size_t Pool::idleCount() const {
  size_t n = 0;
  for (auto& [k, v] : idle_) n += v.size();
  return n;
}

asio::awaitable<Result<std::vector<tcp::endpoint>>> Pool::resolve(const UpstreamTarget& target) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(target.host, ec);
  if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(addr, target.port)};

  auto now = std::chrono::steady_clock::now();
  auto key = target.key();
  if (auto it = dns_.find(key); it != dns_.end() && it->second.expires > now) {
    // Rotate so consecutive connections spread over all addresses.
    auto eps = it->second.endpoints;
    size_t shift = it->second.next++ % eps.size();
    std::rotate(eps.begin(), eps.begin() + static_cast<long>(shift), eps.end());
    co_return eps;
  }
  ++stats_.dns_lookups;
  tcp::resolver resolver(io_);
  auto [rec, results] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), kUseTuple);
  if (rec || results.empty()) {
    ++stats_.connect_errors;
    co_return Error::upstream(ErrorCode::kUpstreamConnect, "upstream connect error",
                              "DNS lookup of " + target.host +
                                  " failed: " + (rec ? rec.message() : std::string("no addresses")),
                              true);
  }
  DnsEntry entry;
  for (auto& r : results) entry.endpoints.push_back(r.endpoint());
  entry.expires = now + opts_.dns_ttl;
  dns_[key] = entry;
  co_return entry.endpoints;
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Pool::acquire(const UpstreamTarget& target,
                                                                   bool fresh) {
  if (target.tls && !target.tls_context && !opts_.tls_context) {
    co_return Error::internal("no TLS context for upstream " + target.key());
  }
  auto key = target.key();
  if (auto it = idle_.find(key); !fresh && it != idle_.end()) {
    auto now = std::chrono::steady_clock::now();
    // Most recently used first: it is the least likely to have been closed by the upstream, and
    // the older ones expire instead of staying warm for nothing.
    while (!it->second.empty()) {
      Idle idle = std::move(it->second.back());
      it->second.pop_back();
      stats_.idle.fetch_sub(1, std::memory_order_relaxed);
      if (now >= idle.expires) {
        ++stats_.idle_expired;
        continue;
      }
      // The watch may not have run yet for a close that already arrived: look at the socket.
      if (IdleState state = probe(*idle.conn); state != IdleState::kOpen) {
        discardStale(key, idle, state, now);
        continue;
      }
      boost::system::error_code ignored;
      idle.conn->stream.socket().cancel(ignored);  // ends the watch; it now belongs to a request
      ++stats_.reuses;
      co_return std::move(idle.conn);
    }
  }

  auto eps = co_await resolve(target);
  if (!eps) co_return eps.error();
  auto conn = std::make_unique<Connection>(io_.get_executor());
  conn->key = key;
  conn->pool = this;
  conn->stream.expires_after(opts_.connect_timeout);
  auto [ec, ep] = co_await conn->stream.async_connect(eps.value(), kUseTuple);
  (void)ep;
  if (ec) {
    ++stats_.connect_errors;
    co_return connectError(ec == beast::error::timeout ? "connect timeout to" : "connect to",
                           target, ec);
  }
  boost::system::error_code ignored;
  conn->stream.socket().set_option(tcp::no_delay(true), ignored);
  if (target.tls) {
    const std::string& name = target.tls_name.empty() ? target.host : target.tls_name;
    asio::ssl::context& context = target.tls_context ? *target.tls_context : *opts_.tls_context;
    conn->tls = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(conn->stream, context);
    SSL* ssl = conn->tls->native_handle();
    SSL_set_ex_data(ssl, connectionExIndex(), conn.get());
    if (auto it = tls_sessions_.find(key); it != tls_sessions_.end()) {
      // A copy again: a resumed connection that gets no new ticket would otherwise mark the
      // kept session not resumable when it ends.
      if (SSL_SESSION* offer = SSL_SESSION_dup(it->second.get())) {
        SSL_set_session(ssl, offer);  // takes its own reference
        SSL_SESSION_free(offer);
      }
    }
    // SNI, and the name the certificate must carry (RFC 6125 checks by OpenSSL).
    if (!SSL_set_tlsext_host_name(conn->tls->native_handle(), name.c_str())) {
      ++stats_.connect_errors;
      co_return Error::upstream(ErrorCode::kUpstreamConnect, "upstream connect error",
                                "cannot set TLS server name " + name, true);
    }
    conn->tls->set_verify_callback(asio::ssl::host_name_verification(name));
    conn->stream.expires_after(opts_.connect_timeout);
    auto [hec] = co_await conn->tls->async_handshake(asio::ssl::stream_base::client, kUseTuple);
    if (hec) {
      ++stats_.connect_errors;
      const std::string what = "TLS handshake (verifying '" + name + "') with";
      co_return connectError(what, target, hec);
    }
    ++stats_.tls_handshakes;
    if (SSL_session_reused(ssl)) ++stats_.tls_resumed;
  }
  ++stats_.connects;
  co_return conn;
}

void Pool::release(std::unique_ptr<Connection> conn, std::chrono::milliseconds idle_timeout) {
  // Bytes past the response (or a close already seen) make the connection unusable for the next
  // exchange: close it now rather than hand it out.
  if (conn->buffer.size() > 0) return;
  auto& list = idle_[conn->key];
  if (list.size() >= opts_.max_idle_per_endpoint) return;  // closes it
  conn->stream.expires_never();
  const auto now = std::chrono::steady_clock::now();
  const uint64_t id = next_idle_id_++;
  watch(*conn, id);
  list.push_back(Idle{std::move(conn), now,
                      now + (idle_timeout.count() > 0 ? idle_timeout : opts_.idle_timeout), id});
  stats_.idle.fetch_add(1, std::memory_order_relaxed);
  armSweep();
}

Pool::IdleState Pool::probe(Connection& conn) {
  // A non-blocking peek: 0 is the upstream's FIN, an error other than "would block" is a reset,
  // and bytes on an idle HTTP/1.1 connection (or a TLS alert such as close_notify) mean it cannot
  // carry another exchange.
  char byte = 0;
  const ssize_t n = ::recv(conn.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return IdleState::kClosedByPeer;
  if (n > 0) return IdleState::kUnsolicitedBytes;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IdleState::kOpen;
  return IdleState::kResetByPeer;
}

void Pool::watch(Connection& conn, uint64_t id) {
  // Readable while idle means the upstream closed it (or broke the protocol): the pool finds out
  // when it happens, not when a request is written into it.
  conn.stream.socket().async_wait(
      tcp::socket::wait_read,
      [self = std::weak_ptr<Pool*>(self_), key = conn.key, id](boost::system::error_code ec) {
        if (ec) return;  // cancelled: the connection was handed to a request or closed
        if (auto pool = self.lock()) (*pool)->onIdleReadable(key, id);
      });
}

void Pool::onIdleReadable(const std::string& key, uint64_t id) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  auto pos = std::find_if(list.begin(), list.end(), [id](const Idle& i) { return i.id == id; });
  if (pos == list.end()) return;  // acquired after its close was seen: acquire() dropped it
  const IdleState state = probe(*pos->conn);
  if (state == IdleState::kOpen) {
    watch(*pos->conn, id);  // a spurious wake-up: keep watching
    return;
  }
  discardStale(key, *pos, state, std::chrono::steady_clock::now());
  list.erase(pos);
  stats_.idle.fetch_sub(1, std::memory_order_relaxed);
}

void Pool::discardStale(const std::string& key, const Idle& idle, IdleState state,
                        std::chrono::steady_clock::time_point now) {
  ++stats_.stale_discarded;
  spdlog::debug("upstream {}: idle pooled connection {} after {} ms; dropped from the pool", key,
                state == IdleState::kResetByPeer    ? "reset by the upstream"
                : state == IdleState::kClosedByPeer ? "closed by the upstream"
                                                    : "got unsolicited bytes",
                std::chrono::duration_cast<std::chrono::milliseconds>(now - idle.since).count());
}

void Pool::armSweep() {
  if (sweep_armed_) return;
  sweep_armed_ = true;
  // Often enough that an idle connection outlives its timeout by at most a quarter of it (and a
  // second), rarely enough to cost nothing while the pool is busy.
  const auto period = std::clamp(opts_.idle_timeout / 4, std::chrono::milliseconds(50),
                                 std::chrono::milliseconds(1000));
  sweep_timer_.expires_after(period);
  sweep_timer_.async_wait([self = std::weak_ptr<Pool*>(self_)](boost::system::error_code ec) {
    if (ec) return;
    if (auto pool = self.lock()) (*pool)->sweep();
  });
}

void Pool::sweep() {
  sweep_armed_ = false;
  const auto now = std::chrono::steady_clock::now();
  size_t left = 0;
  for (auto& [key, list] : idle_) {
    const auto before = list.size();
    std::erase_if(list, [now](const Idle& i) { return now >= i.expires; });
    const auto expired = before - list.size();
    stats_.idle_expired += expired;
    stats_.idle.fetch_sub(static_cast<int64_t>(expired), std::memory_order_relaxed);
    left += list.size();
  }
  if (left > 0) armSweep();
}

// ---------------------------------------------------------------------------------------------

Exchange::~Exchange() = default;

asio::awaitable<Result<int>> Exchange::start(const UpstreamTarget& target,
                                             const OutgoingRequest& req,
                                             std::chrono::steady_clock::time_point deadline) {
  std::string head;
  head.reserve(256 + req.target.size());
  head += req.method;
  head += ' ';
  head += req.target;
  head += " HTTP/1.1\r\nhost: ";
  head += target.hostHeader();
  head += "\r\n";
  for (const auto& [n, v] : req.headers) {
    head += n;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    head += "content-length: ";
    head += std::to_string(req.body.size());
    head += "\r\n";
  }
  head += "\r\n";

  // The keep-alive race: a pooled connection the upstream closed as the request went out fails
  // before a single response byte arrives. The upstream answered nothing on it, so the request is
  // sent once more, on a new connection (never another pooled one, which may be just as stale).
  // It is the same attempt: not counted as one, not a fallback.
  idle_timeout_ = target.idle_timeout;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = attempt > 0;
    auto acquired = co_await pool_.acquire(target, fresh);
    if (!acquired) co_return acquired.error();
    conn_ = std::move(acquired.value());
    const bool reused = conn_->uses++ > 0;
    if (fresh) pool_.countFreshRetry();

    conn_->stream.expires_at(deadline);
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head),
                                           asio::buffer(req.body.data(), req.body.size())};
    // Separate co_await statements: GCC 12 destroys an awaitable chosen by ?: inside co_await
    // twice.
    boost::system::error_code wec;
    if (conn_->tls) {
      std::tie(wec, std::ignore) = co_await asio::async_write(*conn_->tls, bufs, kUseTuple);
    } else {
      std::tie(wec, std::ignore) = co_await asio::async_write(conn_->stream, bufs, kUseTuple);
    }
    if (wec) {
      conn_.reset();
      if (wec == beast::error::timeout)
        co_return Error::upstream(ErrorCode::kUpstreamTimeout, "upstream request timeout",
                                  "writing to " + target.key() + " timed out", true);
      if (reused) {
        spdlog::debug(
            "upstream {}: reused keep-alive connection failed while writing ({}); "
            "sending again on a new connection",
            target.key(), wec.message());
        continue;
      }
      co_return connectError("write to", target, wec);
    }

    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::system::error_code rec;
    if (conn_->tls) {
      std::tie(rec, std::ignore) =
          co_await beast::http::async_read_header(*conn_->tls, conn_->buffer, *parser_, kUseTuple);
    } else {
      std::tie(rec, std::ignore) = co_await beast::http::async_read_header(
          conn_->stream, conn_->buffer, *parser_, kUseTuple);
    }
    if (rec) {
      // Closed or reset (plain: EOF/ECONNRESET; TLS: truncated stream or close_notify) before a
      // byte of a response: the upstream answered nothing on this connection.
      const bool nothing_received = !parser_->got_some();
      conn_.reset();
      parser_.reset();
      if (rec == beast::error::timeout)
        co_return Error::upstream(ErrorCode::kUpstreamTimeout, "upstream request timeout",
                                  "no response head from " + target.key() + " in time", true);
      if (nothing_received && reused) {
        spdlog::debug(
            "upstream {}: reused keep-alive connection closed before answering ({}); "
            "sending again on a new connection",
            target.key(), rec.message());
        continue;
      }
      if (nothing_received) {
        co_return connectError(
            fresh ? "a new connection (after a reused one was closed) was closed without an "
                    "answer by"
                  : "connection closed without an answer by",
            target, rec);
      }
      co_return Error::upstream(
          ErrorCode::kUpstreamBadResponse, "upstream sent an invalid response",
          "bad response head from " + target.key() + ": " + rec.message(), false);
    }
    if (!conn_->body_buf) conn_->body_buf = std::make_unique<char[]>(kBodyBufferSize);
    co_return static_cast<int>(parser_->get().result_int());
  }
  co_return connectError("connection closed by", target,
                         make_error_code(asio::error::connection_reset));
}

int Exchange::status() const { return parser_ ? static_cast<int>(parser_->get().result_int()) : 0; }

std::string_view Exchange::header(std::string_view name) const {
  if (!parser_) return {};
  for (const auto& f : parser_->get()) {
    if (iequals(f.name_string(), name)) return f.value();
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> Exchange::endToEndHeaders() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!parser_) return out;
  for (const auto& f : parser_->get()) {
    if (isHopByHop(f)) continue;
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  return out;
}

bool Exchange::chunked() const { return parser_ && parser_->chunked(); }

bool Exchange::done() const { return parser_ && parser_->is_done(); }

asio::awaitable<Result<std::string_view>> Exchange::readSome(
    std::chrono::steady_clock::time_point deadline) {
  if (!parser_ || !conn_) co_return Error::internal("readSome without an exchange");
  while (!parser_->is_done()) {
    auto& body = parser_->get().body();
    body.data = conn_->body_buf.get();
    body.size = kBodyBufferSize;
    conn_->stream.expires_at(deadline);
    boost::system::error_code ec;
    if (conn_->tls) {
      std::tie(ec, std::ignore) =
          co_await beast::http::async_read_some(*conn_->tls, conn_->buffer, *parser_, kUseTuple);
    } else {
      std::tie(ec, std::ignore) =
          co_await beast::http::async_read_some(conn_->stream, conn_->buffer, *parser_, kUseTuple);
    }
    if (ec == beast::http::error::need_buffer) ec = {};
    size_t got = kBodyBufferSize - body.size;
    if (ec) {
      failed_ = true;
      if (ec == beast::error::timeout)
        co_return Error::upstream(ErrorCode::kUpstreamTimeout, "upstream response timeout",
                                  "upstream body read timed out", false);
      co_return Error::upstream(ErrorCode::kUpstreamBadResponse, "upstream response was cut short",
                                "upstream body read failed: " + ec.message(), false);
    }
    if (got > 0) co_return std::string_view(conn_->body_buf.get(), got);
  }
  co_return std::string_view{};
}

void Exchange::finish() {
  if (conn_ && parser_ && parser_->is_done() && !failed_ && parser_->keep_alive()) {
    pool_.release(std::move(conn_), idle_timeout_);
  }
  conn_.reset();
}

}  // namespace tollgate::upstream
