// Client-facing HTTP/1.1 server: one io_context per core (EventLoops), one SO_REUSEPORT acceptor
// per loop, one coroutine per connection. A connection never moves between threads, so a request
// is handled start to finish on the loop that accepted it (per-thread pools, no hand-off).
//
// Framing (Content-Length, chunked, pipelining, Expect: 100-continue, limits, timeouts) is done
// here; what a request means is the Handler's business.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tollgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Request = beast::http::request<beast::http::string_body>;
using Header = std::pair<std::string, std::string>;

// N event loops, each run by its own thread. Owned by main(); outlives servers and pools.
class EventLoops {
 public:
  explicit EventLoops(unsigned n);
  ~EventLoops();
  unsigned size() const { return static_cast<unsigned>(loops_.size()); }
  asio::io_context& at(unsigned i) { return *loops_[i]; }
  // Runs `init(i)` on each loop's thread before it starts serving (per-thread state).
  void start(const std::function<void(unsigned)>& init = {});
  void stop();
  void join();
  // The index of the loop running on this thread, or -1 off the loops.
  static int currentIndex();

 private:
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::vector<std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>> work_;
  std::vector<std::thread> threads_;
};

struct ResponseHead {
  int status = 200;
  std::vector<Header> headers;  // end-to-end headers only; framing headers are added by the writer
};

// Writes one response on the connection. Owned by the connection coroutine; valid during
// Handler::handle only. Every write returns false once the client is gone (then stop writing).
class ResponseWriter {
 public:
  ResponseWriter(beast::tcp_stream& stream, std::string& scratch, bool keep_alive,
                 std::chrono::milliseconds write_timeout)
      : stream_(stream),
        scratch_(scratch),
        keep_alive_(keep_alive),
        write_timeout_(write_timeout) {}

  // A complete response with Content-Length.
  asio::awaitable<bool> send(const ResponseHead& head, std::string_view body);
  // A streamed response (Transfer-Encoding: chunked): begin, writeChunk..., finish.
  asio::awaitable<bool> begin(const ResponseHead& head);
  asio::awaitable<bool> writeChunk(std::string_view data);
  asio::awaitable<bool> finish();

  bool started() const { return started_; }
  bool complete() const { return complete_; }
  bool clientGone() const { return client_gone_; }
  // After a response that cannot be framed any more (stream cut), close instead of reusing.
  void forceClose() { keep_alive_ = false; }
  bool keepAlive() const { return keep_alive_; }

 private:
  void appendHead(const ResponseHead& head, bool chunked, size_t content_length);
  asio::awaitable<bool> writeBuffers(std::string_view a, std::string_view b, std::string_view c);

  beast::tcp_stream& stream_;
  std::string& scratch_;
  bool keep_alive_;
  std::chrono::milliseconds write_timeout_;
  bool started_ = false;
  bool complete_ = false;
  bool client_gone_ = false;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Handles one request completely (must write a full response unless the client is gone).
  virtual asio::awaitable<void> handle(Request& req, ResponseWriter& writer) = 0;
  // Renders an error found before the request was complete (413, 431, 400 framing, 408), shaped
  // for the API the target belongs to. Returns the body; fills head.
  virtual std::string renderError(std::string_view target, const Error& err,
                                  ResponseHead& head) = 0;
};

struct ServerOptions {
  size_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 50ull * 1024 * 1024;
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive wait for the next request
  std::chrono::milliseconds header_timeout{15000};  // from first byte to end of headers
  std::chrono::milliseconds body_timeout{60000};    // to receive the whole body
  std::chrono::milliseconds write_timeout{60000};   // one write to a client that stopped reading
};

// Counters readable from any thread.
struct ServerStats {
  std::atomic<int64_t> active_connections{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> requests{0};
};

class Server {
 public:
  Server(EventLoops& loops, Handler& handler, ServerOptions opts);
  ~Server();
  // Binds HOST:PORT on every loop (port 0 picks a free port, shared by all loops). Returns the
  // bound endpoint or an error message.
  std::string listen(const std::string& host, uint16_t port, tcp::endpoint* bound);
  void stopAccepting();
  // Graceful shutdown: stop accepting, close idle keep-alive connections, and answer the
  // requests in flight with "connection: close". Any thread.
  void drain();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  ServerStats& stats() { return stats_; }
  ServerOptions& options() { return opts_; }

 private:
  asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor);
  asio::awaitable<void> session(tcp::socket socket);

  struct SessionInfo {
    beast::tcp_stream* stream = nullptr;
    bool idle = true;  // waiting for the next request with nothing buffered
  };
  // Sessions of each loop, touched only by that loop's thread (drain posts to it).
  std::vector<std::vector<SessionInfo*>> sessions_;

  EventLoops& loops_;
  Handler& handler_;
  ServerOptions opts_;
  ServerStats stats_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::atomic<bool> draining_{false};
};

}  // namespace tollgate::http
