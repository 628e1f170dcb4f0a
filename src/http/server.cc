#include "http/server.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>

#include "common/log.h"
#include "common/strings.h"
#include "common/thread_index.h"

namespace tollgate::http {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Framing checks beyond Beast's parser, which already refuses Content-Length together with
// chunked and conflicting Content-Lengths. A request whose framing another hop could read
// differently (request smuggling) is refused and its connection closed, never guessed at:
// - Transfer-Encoding other than exactly "chunked": when chunked is not the last coding the
//   length cannot be known (RFC 9112 6.3: 400), chunked twice is invalid (400); other codings
//   (gzip, identity) are not supported (501);
// - HTTP/1.1 without exactly one Host (RFC 9112 3.2: 400).
std::optional<Error> framingProblem(
    const beast::http::request_parser<beast::http::string_body>& p) {
  const auto& hdr = p.get();
  std::string codings;
  const auto range = hdr.equal_range(beast::http::field::transfer_encoding);
  for (auto f = range.first; f != range.second; ++f) {
    if (!codings.empty()) codings += ',';
    codings.append(f->value().data(), f->value().size());
  }
  if (!codings.empty()) {
    std::string last;
    size_t count = 0;
    bool chunked_before_last = false;
    for (std::string_view rest = codings; !rest.empty();) {
      const size_t comma = rest.find(',');
      std::string_view c = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
      while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
      if (c.empty()) continue;
      if (count++ > 0 && iequals(last, "chunked")) chunked_before_last = true;
      last.assign(c);
    }
    if (!iequals(last, "chunked") || chunked_before_last) {
      return Error::client(ErrorCode::kBadRequest,
                           "malformed HTTP request: Transfer-Encoding must end with chunked");
    }
    if (count > 1) {
      return Error::client(ErrorCode::kNotImplemented,
                           "Transfer-Encoding other than chunked is not supported");
    }
  }
  if (hdr.version() >= 11 && hdr.count(beast::http::field::host) != 1) {
    return Error::client(ErrorCode::kBadRequest,
                         "malformed HTTP request: HTTP/1.1 needs exactly one Host header");
  }
  return std::nullopt;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

bool iequalsContinue(std::string_view v) {
  static constexpr std::string_view k = "100-continue";
  if (v.size() != k.size()) return false;
  for (size_t i = 0; i < k.size(); ++i)
    if ((v[i] | 0x20) != k[i]) return false;
  return true;
}

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventLoops

EventLoops::EventLoops(unsigned n) {
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) {
    // Each context is run by exactly one thread and every socket is used only by the loop that
    // owns it, so the reactor's per-descriptor locking can go (the scheduler keeps its lock:
    // other threads still post to a loop, e.g. to stop it).
    loops_.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    work_.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        loops_.back()->get_executor()));
  }
}

EventLoops::~EventLoops() {
  stop();
  join();
}

void EventLoops::start(const std::function<void(unsigned)>& init) {
  for (unsigned i = 0; i < loops_.size(); ++i) {
    threads_.emplace_back([this, i, init] {
      setCurrentLoopIndex(static_cast<int>(i));
      if (init) init(i);
      loops_[i]->run();
    });
  }
}

void EventLoops::stop() {
  work_.clear();
  for (auto& l : loops_) l->stop();
}

void EventLoops::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

int EventLoops::currentIndex() { return currentLoopIndex(); }

// ---------------------------------------------------------------------------------------------
// ResponseWriter

void ResponseWriter::appendHead(const ResponseHead& head, bool chunked, size_t content_length) {
  scratch_.clear();
  scratch_ += "HTTP/1.1 ";
  appendNumber(scratch_, static_cast<uint64_t>(head.status));
  scratch_ += ' ';
  scratch_ += reasonPhrase(head.status);
  scratch_ += "\r\n";
  for (const auto& [name, value] : head.headers) {
    scratch_ += name;
    scratch_ += ": ";
    scratch_ += value;
    scratch_ += "\r\n";
  }
  if (chunked) {
    scratch_ += "transfer-encoding: chunked\r\n";
  } else {
    scratch_ += "content-length: ";
    appendNumber(scratch_, content_length);
    scratch_ += "\r\n";
  }
  if (!keep_alive_) scratch_ += "connection: close\r\n";
  scratch_ += "\r\n";
}

asio::awaitable<bool> ResponseWriter::writeBuffers(std::string_view a, std::string_view b,
                                                   std::string_view c) {
  if (client_gone_) co_return false;
  std::array<asio::const_buffer, 3> bufs{asio::buffer(a.data(), a.size()),
                                         asio::buffer(b.data(), b.size()),
                                         asio::buffer(c.data(), c.size())};
  stream_.expires_after(write_timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, bufs, kUseTuple);
  (void)n;
  if (ec) {
    client_gone_ = true;
    keep_alive_ = false;
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> ResponseWriter::send(const ResponseHead& head, std::string_view body) {
  appendHead(head, false, body.size());
  started_ = true;
  bool ok = co_await writeBuffers(scratch_, body, {});
  complete_ = ok;
  co_return ok;
}

asio::awaitable<bool> ResponseWriter::begin(const ResponseHead& head) {
  appendHead(head, true, 0);
  started_ = true;
  co_return co_await writeBuffers(scratch_, {}, {});
}

asio::awaitable<bool> ResponseWriter::writeChunk(std::string_view data) {
  if (data.empty()) co_return !client_gone_;  // an empty chunk would end the body
  char size_line[24];
  auto [p, ec] = std::to_chars(size_line, size_line + 16, data.size(), 16);
  (void)ec;
  *p++ = '\r';
  *p++ = '\n';
  co_return co_await writeBuffers(std::string_view(size_line, p - size_line), data, "\r\n");
}

asio::awaitable<bool> ResponseWriter::finish() {
  bool ok = co_await writeBuffers("0\r\n\r\n", {}, {});
  complete_ = ok;
  co_return ok;
}

// ---------------------------------------------------------------------------------------------
// Server

Server::Server(EventLoops& loops, Handler& handler, ServerOptions opts)
    : sessions_(loops.size()), loops_(loops), handler_(handler), opts_(opts) {}

Server::~Server() { stopAccepting(); }

std::string Server::listen(const std::string& host, uint16_t port, tcp::endpoint* bound) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return "invalid listen address '" + host + "': " + ec.message();
  tcp::endpoint ep(addr, port);
  for (unsigned i = 0; i < loops_.size(); ++i) {
    auto acc = std::make_unique<tcp::acceptor>(loops_.at(i));
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      // SO_REUSEPORT: every loop has its own accept queue; the kernel spreads connections.
      int one = 1;
      if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec.assign(errno, boost::system::system_category());
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptors_.clear();
      return "cannot listen on " + host + ":" + std::to_string(ep.port()) + ": " + ec.message();
    }
    // Port 0: the first bind picks the port, the other loops join it.
    if (i == 0) ep.port(acc->local_endpoint().port());
    acceptors_.push_back(std::move(acc));
  }
  if (bound) *bound = ep;
  for (unsigned i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(loops_.at(i), acceptLoop(*acceptors_[i]), asio::detached);
  }
  return {};
}

void Server::stopAccepting() {
  for (auto& acc : acceptors_) {
    asio::post(acc->get_executor(), [a = acc.get()] {
      boost::system::error_code ec;
      a->close(ec);
    });
  }
}

void Server::drain() {
  draining_.store(true, std::memory_order_relaxed);
  stopAccepting();
  for (unsigned i = 0; i < loops_.size(); ++i) {
    asio::post(loops_.at(i), [this, i] {
      for (SessionInfo* s : sessions_[i]) {
        if (!s->idle) continue;  // busy: it closes after its response
        boost::system::error_code ec;
        s->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
        s->stream->socket().cancel(ec);
      }
    });
  }
}

asio::awaitable<void> Server::acceptLoop(tcp::acceptor& acceptor) {
  // Out of file descriptors (EMFILE/ENFILE) or memory, accept fails at once, again and again:
  // back off (5 ms doubling to 1 s) instead of spinning, log once when a burst starts and once
  // when it ends. Connections already open keep being served meanwhile.
  std::chrono::milliseconds backoff{0};
  uint64_t failures = 0;
  asio::steady_timer pause(acceptor.get_executor());
  // The lines name the listener: every listener of the process (the gateway's, the admin one)
  // runs out of the same descriptors, and the operator must be able to tell their bursts apart.
  boost::system::error_code local_ec;
  const tcp::endpoint local = acceptor.local_endpoint(local_ec);
  const std::string listener =
      local.address().is_v6()
          ? "[" + local.address().to_string() + "]:" + std::to_string(local.port())
          : local.address().to_string() + ":" + std::to_string(local.port());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (failures++ == 0) {
        spdlog::warn("accept failed on {}: {}; backing off until it works again", listener,
                     ec.message());
      }
      backoff = std::min<std::chrono::milliseconds>(
          std::chrono::seconds(1),
          backoff.count() == 0 ? std::chrono::milliseconds(5) : backoff * 2);
      pause.expires_after(backoff);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (failures > 0) {
      spdlog::warn("accept on {} works again after {} failed attempt(s)", listener, failures);
      failures = 0;
      backoff = std::chrono::milliseconds(0);
    }
    stats_.accepted.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::session(tcp::socket socket) {
  stats_.active_connections.fetch_add(1, std::memory_order_relaxed);
  struct Guard {
    ServerStats& s;
    ~Guard() { s.active_connections.fetch_sub(1, std::memory_order_relaxed); }
  } guard{stats_};

  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  // Registered so drain() can close this connection while it idles between requests.
  SessionInfo info;
  info.stream = &stream;
  const int loop = EventLoops::currentIndex();
  std::vector<SessionInfo*>* registry =
      loop >= 0 && static_cast<size_t>(loop) < sessions_.size() ? &sessions_[loop] : nullptr;
  if (registry) registry->push_back(&info);
  struct Unregister {
    std::vector<SessionInfo*>* r;
    SessionInfo* i;
    ~Unregister() {
      if (r) std::erase(*r, i);
    }
  } unregister{registry, &info};
  beast::flat_buffer buffer;
  std::string scratch;  // response heads, reused for every response on this connection
  scratch.reserve(512);

  bool refused = false;  // an error answered before the request was read whole
  auto sendError = [&](std::string_view target, const Error& err) -> asio::awaitable<void> {
    ResponseHead head;
    std::string body = handler_.renderError(target, err, head);
    ResponseWriter w(stream, scratch, false, opts_.write_timeout);
    refused = true;
    co_await w.send(head, body);
  };

  for (;;) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
    parser.body_limit(opts_.max_body_bytes);

    // Waiting for a new request is "idle"; from its first byte on, the whole head must arrive
    // within the header timeout (a client trickling bytes is cut off, not kept alive by them).
    if (draining() && buffer.size() == 0) break;
    if (buffer.size() == 0) {
      info.idle = true;
      stream.expires_after(opts_.idle_timeout);
      auto [iec, in] = co_await stream.async_read_some(buffer.prepare(1024), kUseTuple);
      if (iec) break;  // closed, reset, or idle too long: nothing to answer
      buffer.commit(in);
    }
    info.idle = false;
    stream.expires_after(opts_.header_timeout);
    auto [rec, rn] = co_await beast::http::async_read_header(stream, buffer, parser, kUseTuple);
    (void)rn;
    if (rec) {
      if (rec == beast::http::error::end_of_stream || rec == asio::error::eof ||
          rec == asio::error::connection_reset || rec == beast::error::timeout ||
          rec == asio::error::operation_aborted) {
        break;  // closed or idle: nothing to answer
      }
      if (rec == beast::http::error::header_limit) {
        {
          const Error err = Error::client(ErrorCode::kHeadersTooLarge, "request headers too large");
          co_await sendError("", err);
        }
      } else if (rec == beast::http::error::body_limit) {
        // The parser checks a declared Content-Length against the limit with the headers.
        {
          const Error err = Error::client(ErrorCode::kPayloadTooLarge,
                                          "request body exceeds the limit of " +
                                              std::to_string(opts_.max_body_bytes) + " bytes");
          co_await sendError("", err);
        }
      } else {
        {
          const Error err =
              Error::client(ErrorCode::kBadRequest, "malformed HTTP request: " + rec.message());
          co_await sendError("", err);
        }
      }
      break;
    }

    auto& hdr = parser.get();
    std::string target(hdr.target());
    if (std::optional<Error> problem = framingProblem(parser)) {
      co_await sendError(target, *problem);
      break;
    }
    if (auto cl = parser.content_length(); cl && *cl > opts_.max_body_bytes) {
      // Refuse before reading a byte of the body: never buffer an oversized body.
      {
        const Error err = Error::client(
            ErrorCode::kPayloadTooLarge,
            "request body exceeds the limit of " + std::to_string(opts_.max_body_bytes) + " bytes");
        co_await sendError(target, err);
      }
      break;
    }
    auto expect = hdr[beast::http::field::expect];
    if (!parser.is_done() && iequalsContinue(expect)) {
      stream.expires_after(opts_.write_timeout);
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [wec, wn] =
          co_await asio::async_write(stream, asio::buffer(k100.data(), k100.size()), kUseTuple);
      (void)wn;
      if (wec) break;
    }
    if (!parser.is_done()) {
      stream.expires_after(opts_.body_timeout);
      auto [bec, bn] = co_await beast::http::async_read(stream, buffer, parser, kUseTuple);
      (void)bn;
      if (bec) {
        if (bec == beast::http::error::body_limit) {
          {
            const Error err = Error::client(ErrorCode::kPayloadTooLarge,
                                            "request body exceeds the limit of " +
                                                std::to_string(opts_.max_body_bytes) + " bytes");
            co_await sendError(target, err);
          }
        } else if (bec == beast::error::timeout) {
          {
            const Error err =
                Error::client(ErrorCode::kRequestTimeout, "request body not received in time");
            co_await sendError(target, err);
          }
        } else if (bec != asio::error::eof && bec != asio::error::connection_reset &&
                   bec != beast::http::error::partial_message) {
          {
            const Error err =
                Error::client(ErrorCode::kBadRequest, "malformed request body: " + bec.message());
            co_await sendError(target, err);
          }
        }
        break;
      }
    }

    stats_.requests.fetch_add(1, std::memory_order_relaxed);
    Request req = parser.release();
    stream.expires_never();  // the handler sets its own deadlines
    ResponseWriter writer(stream, scratch, req.keep_alive() && !draining(), opts_.write_timeout);
    co_await handler_.handle(req, writer);
    if (!writer.complete() || !writer.keepAlive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (refused) {
    // Lingering close: the client may still be sending the body we refused. Closing with unread
    // bytes makes the kernel send a reset, and the client would lose our 413/400 before reading
    // it. Read and discard for a bounded time and amount, as nginx does, then close.
    stream.expires_after(std::chrono::seconds(2));
    size_t discarded = 0;
    std::array<char, 16 * 1024> sink;
    while (discarded < 8 * 1024 * 1024) {
      auto [dec, dn] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
      if (dec) break;
      discarded += dn;
    }
  }
  stream.close();
}

}  // namespace tollgate::http
