// Client side: per-thread connection pools to upstream endpoints and one HTTP/1.1 exchange at a
// time on a pooled connection. Pools are owned by one event loop thread and never locked: a
// request only ever uses the pool of the loop it runs on (Pool::forThisThread()).
//
// TLS: a target with tls=true is reached over TLS 1.2+, the certificate verified against the
// system CAs (plus --upstream-ca-file) and the verification name (SNI too) checked, as
// BackendTLSPolicy asks. Plain and TLS connections share the pool by key.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "upstream/target.h"
#include "upstream/tls.h"

namespace tollgate::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Headers that concern one hop only (RFC 9110 §7.6.1) plus the framing ones the writer sets
// itself: never forwarded in either direction. Field is a Beast fields entry (its name() enum
// was computed while parsing, so this is a switch, not string compares).
template <typename Field>
inline bool isHopByHop(const Field& f) {
  using beast::http::field;
  switch (f.name()) {
    case field::connection:
    case field::keep_alive:
    case field::transfer_encoding:
    case field::content_length:
    case field::te:
    case field::trailer:
    case field::upgrade:
    case field::proxy_connection:
    case field::proxy_authenticate:
    case field::proxy_authorization:
      return true;
    default:
      return false;
  }
}

struct Connection {
  explicit Connection(asio::any_io_executor ex) : stream(ex) {}
  beast::tcp_stream stream;  // TCP, and the timeouts of every read and write above it
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls;  // set for TLS targets
  beast::flat_buffer buffer;         // bytes read past the previous response stay here
  std::unique_ptr<char[]> body_buf;  // response body pieces land here; reused across requests
  std::string key;
  uint32_t uses = 0;
  class Pool* pool = nullptr;  // where TLS session tickets of this connection are kept
};

// Below the keep-alive timeouts of the usual upstream servers (uvicorn, which vLLM runs on, and
// Node close idle connections after 5 s; gunicorn after 2 s, which a BackendTrafficPolicy can
// match), so that the pool, not the upstream, is normally the side that closes an idle
// connection, and a request is never written into a connection the upstream is closing.
inline constexpr std::chrono::milliseconds kDefaultPoolIdleTimeout{4000};

struct PoolOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds dns_ttl{30000};
  size_t max_idle_per_endpoint = 128;
  // Pooled connections idle longer than this are closed (a target may set its own).
  std::chrono::milliseconds idle_timeout = kDefaultPoolIdleTimeout;
  std::shared_ptr<asio::ssl::context> tls_context;  // needed for TLS targets
};

// Written by the pool's own thread, read by the metrics scrape (hence atomics).
struct PoolStats {
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_errors{0};
  std::atomic<uint64_t> reuses{0};
  std::atomic<uint64_t> dns_lookups{0};
  std::atomic<int64_t> idle{0};  // pooled idle connections now
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_resumed{0};  // handshakes that resumed a cached session
  // Idle pooled connections the upstream closed (FIN, reset, or unsolicited bytes), found by the
  // watch on idle sockets or the check before reuse: dropped, never handed to a request.
  std::atomic<uint64_t> stale_discarded{0};
  std::atomic<uint64_t> idle_expired{0};  // closed by the pool's idle timeout
  // Requests whose reused connection failed before any response byte (the keep-alive race: the
  // upstream closed it as the request went out), sent again on a new connection.
  std::atomic<uint64_t> fresh_retries{0};
};

class Pool {
 public:
  Pool(asio::io_context& io, PoolOptions opts);
  ~Pool();
  // A connected socket to the target: an idle pooled one that is still open when there is one
  // (unless `fresh`), else a new one.
  asio::awaitable<Result<std::unique_ptr<Connection>>> acquire(const UpstreamTarget& target,
                                                               bool fresh = false);
  // Gives a connection back for reuse (only after a complete, keep-alive exchange). While it is
  // idle, its socket is watched: when the upstream closes it, it leaves the pool at once.
  void release(std::unique_ptr<Connection> conn, std::chrono::milliseconds idle_timeout = {});
  // Counts a request resent on a new connection after its reused one failed before an answer.
  void countFreshRetry() { ++stats_.fresh_retries; }
  const PoolStats& stats() const { return stats_; }
  size_t idleCount() const;

  // The pool of the event loop running on this thread (installed by main/the tests).
  static Pool* forThisThread();
  static void setForThisThread(Pool* pool);

  // TLS session resumption: the latest session (ticket) a server gave for a pool key is offered
  // on the next handshake to that key, saving a full handshake (a round trip and the
  // certificate checks). Called by OpenSSL's new-session callback on this pool's thread.
  void storeTlsSession(const std::string& key, SSL_SESSION* session);

 private:
  struct Idle {
    std::unique_ptr<Connection> conn;
    std::chrono::steady_clock::time_point since;
    std::chrono::steady_clock::time_point expires;
    uint64_t id = 0;  // names it to the watch on its socket, which may fire after it left
  };
  // Why an idle connection is no longer usable; kOpen when it is.
  enum class IdleState { kOpen, kClosedByPeer, kResetByPeer, kUnsolicitedBytes };
  static IdleState probe(Connection& conn);
  void watch(Connection& conn, uint64_t id);
  void onIdleReadable(const std::string& key, uint64_t id);
  // Counts and logs an idle connection the upstream closed; the caller drops it.
  void discardStale(const std::string& key, const Idle& idle, IdleState state,
                    std::chrono::steady_clock::time_point now);
  void armSweep();
  void sweep();
  struct DnsEntry {
    std::vector<tcp::endpoint> endpoints;
    std::chrono::steady_clock::time_point expires;
    size_t next = 0;  // round robin over the addresses
  };
  asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(const UpstreamTarget& target);

  asio::io_context& io_;
  PoolOptions opts_;
  PoolStats stats_;
  std::unordered_map<std::string, std::vector<Idle>> idle_;
  std::unordered_map<std::string, DnsEntry> dns_;
  struct SessionFree {
    void operator()(SSL_SESSION* s) const;
  };
  std::unordered_map<std::string, std::unique_ptr<SSL_SESSION, SessionFree>> tls_sessions_;
  uint64_t next_idle_id_ = 1;
  asio::steady_timer sweep_timer_;
  bool sweep_armed_ = false;
  // Handlers of socket watches and the sweep timer hold a weak reference: one that completed
  // just before the pool was destroyed then finds it gone instead of touching freed memory.
  std::shared_ptr<Pool*> self_;
};

// One request/response on a pooled connection. Not thread-safe; lives in one coroutine.
class Exchange {
 public:
  explicit Exchange(Pool& pool) : pool_(pool) {}
  ~Exchange();

  // Connects (or reuses), writes the request and reads the response head. Fails with a retryable
  // kUpstreamConnect when nothing was received (connect refused, reset, a stale pooled connection
  // that could not be replaced), kUpstreamTimeout when the head does not arrive in time.
  asio::awaitable<Result<int>> start(const UpstreamTarget& target, const OutgoingRequest& req,
                                     std::chrono::steady_clock::time_point deadline);

  int status() const;
  // Response header value (case-insensitive name), empty when absent.
  std::string_view header(std::string_view name) const;
  // Iterates end-to-end response headers (framing and hop-by-hop ones are skipped).
  std::vector<std::pair<std::string, std::string>> endToEndHeaders() const;
  bool chunked() const;

  // The next piece of the body; an empty view with ok() at the end of the body. `deadline` bounds
  // this one read (streams pass "now + idle timeout").
  asio::awaitable<Result<std::string_view>> readSome(
      std::chrono::steady_clock::time_point deadline);
  bool done() const;
  // Returns the connection to the pool when the exchange completed cleanly, else closes it.
  void finish();

 private:
  Pool& pool_;
  std::unique_ptr<Connection> conn_;
  std::optional<beast::http::response_parser<beast::http::buffer_body>> parser_;
  std::chrono::milliseconds idle_timeout_{0};  // the target's, for the connection's return
  bool failed_ = false;
};

}  // namespace tollgate::upstream
