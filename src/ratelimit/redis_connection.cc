// The Redis client's connection life cycle: resolve, connect (one address after another), TLS,
// handshake, readiness, loss and reconnect with backoff, and the socket's reads and writes.
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "ratelimit/redis_client_impl.h"

namespace tollgate::ratelimit {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::shared_ptr<ssl::context> makeRedisTlsContext(const RedisTls& tls, std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_peer, ec);
  auto fail = [&](const std::string& what) {
    if (error != nullptr) *error = what + ": " + ec.message();
    return nullptr;
  };
  // A CA file replaces the system CAs rather than adding to them: a private CA for Redis should
  // not make every public certificate acceptable for it too.
  if (tls.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return fail("cannot load the system CA certificates");
  } else {
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) return fail("cannot load the Redis CA file " + tls.ca_file);
  }
  if (!tls.cert_file.empty()) {
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return fail("cannot load the Redis client certificate " + tls.cert_file);
    ctx->use_private_key_file(tls.key_file.empty() ? tls.cert_file : tls.key_file,
                              ssl::context::pem, ec);
    if (ec) return fail("cannot load the Redis client key");
  }
  return ctx;
}

std::optional<RedisOptions> redisOptionsFrom(std::string_view url, const RedisTls& files,
                                             std::string* error) {
  auto o = parseRedisUrl(url);
  if (!o) {
    *error = "--redis expects " + std::string(kRedisUrlUsage);
    return std::nullopt;
  }
  bool any_file = !files.ca_file.empty() || !files.cert_file.empty() || !files.key_file.empty() ||
                  !files.server_name.empty();
  if (!o->tls.enabled) {
    if (any_file) *error = "the Redis TLS options need a rediss:// URL";
    if (any_file) return std::nullopt;
    return o;
  }
  if (!files.key_file.empty() && files.cert_file.empty()) {
    *error = "--redis-key-file needs --redis-cert-file";
    return std::nullopt;
  }
  o->tls = files;
  o->tls.enabled = true;
  o->tls.context = makeRedisTlsContext(o->tls, error);
  if (!o->tls.context) return std::nullopt;
  return o;
}

RedisClient::Impl::Impl(asio::io_context& io, RedisOptions o, std::string role,
                        std::vector<std::string> scripts)
    : io_(io),
      opts_(std::move(o)),
      role_(std::move(role)),
      scripts_(std::move(scripts)),
      where_(formatEndpoint(opts_)),
      stall_limit_(std::max(opts_.connect_timeout, opts_.timeout)),
      tls_context_(opts_.tls.context),
      resolver_(io),
      reconnect_timer_(io),
      connect_timer_(io),
      timeout_timer_(io) {
  if (opts_.tls.enabled && !tls_context_) {
    std::string error;
    tls_context_ = makeRedisTlsContext(opts_.tls, &error);
    if (!tls_context_) {
      state_ = State::kStopped;
      stopped_why_ = error;
    }
  }
}

RedisClient::Impl::~Impl() {
  shutdown("the client was destroyed");
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void RedisClient::Impl::startAttempt() {
  if (state_ == State::kStopped) return;
  ++attempt_;
  shas_.assign(scripts_.size(), std::string());
  handshake_failed_ = false;
  addresses_.clear();
  next_address_ = 0;
  attempt_failure_ = "no address";
  armConnectTimer();
  state_ = State::kResolving;
  resolveNode(0);
}

void RedisClient::Impl::resolveNode(size_t i) {
  const std::vector<RedisNode> nodes = opts_.nodes();
  for (; i < nodes.size(); ++i) {
    const RedisNode& n = nodes[i];
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(n.host, ec);
    if (ec) break;
    addresses_.push_back({tcp::endpoint(addr, n.port), n.host});
  }
  if (i == nodes.size()) {
    state_ = State::kConnecting;
    connectNext();
    return;
  }
  resolver_.async_resolve(
      nodes[i].host, std::to_string(nodes[i].port),
      [self = shared_from_this(), attempt = attempt_, i, host = nodes[i].host](
          const boost::system::error_code& rec, const tcp::resolver::results_type& results) {
        if (attempt != self->attempt_ || self->state_ != State::kResolving) return;
        if (rec) self->attempt_failure_ = "cannot resolve " + host + ": " + rec.message();
        for (const auto& entry : results) {
          auto& list = self->addresses_;
          auto same = [&](const Address& a) { return a.endpoint == entry.endpoint(); };
          if (std::none_of(list.begin(), list.end(), same))
            list.push_back({entry.endpoint(), host});
        }
        self->resolveNode(i + 1);
      });
}

void RedisClient::Impl::connectNext() {
  if (next_address_ >= addresses_.size()) {
    onDown(attempt_failure_);
    return;
  }
  const Address& a = addresses_[next_address_++];
  auto c = std::make_shared<Conn>(io_);
  conn_ = c;
  c->sock.async_connect(a.endpoint, [self = shared_from_this(), c,
                                     ep = a.endpoint](const boost::system::error_code& ec) {
    if (c != self->conn_) return;
    if (ec) {
      self->conn_.reset();
      self->attempt_failure_ = "connect " + ep.address().to_string() + ": " + ec.message();
      self->connectNext();
      return;
    }
    self->onTcpConnected(c);
  });
}

void RedisClient::Impl::onTcpConnected(const std::shared_ptr<Conn>& c) {
  boost::system::error_code ec;
  c->sock.set_option(asio::socket_base::keep_alive(true), ec);  // a silently dead peer is found
  c->sock.set_option(tcp::no_delay(true), ec);
  if (!opts_.tls.enabled) {
    onTransportUp();
    return;
  }
  const std::string& host = addresses_[next_address_ - 1].host;
  const std::string& name = opts_.tls.server_name.empty() ? host : opts_.tls.server_name;
  c->tls.emplace(c->sock, *tls_context_);
  // SNI carries names only (RFC 6066 §3); an IP literal is still verified against the SANs.
  if (!isIpLiteral(name)) SSL_set_tlsext_host_name(c->tls->native_handle(), name.c_str());
  c->tls->set_verify_callback(ssl::host_name_verification(name));
  c->tls->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this(), c](const boost::system::error_code& hec) {
                            if (c != self->conn_) return;
                            if (hec) {
                              self->conn_.reset();
                              self->attempt_failure_ = "TLS handshake: " + hec.message();
                              self->connectNext();
                              return;
                            }
                            self->onTransportUp();
                          });
}

void RedisClient::Impl::onTransportUp() {
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  sendHandshake();
  startRead();
}

void RedisClient::Impl::sendHandshake() {
  if (!opts_.password.empty()) {
    std::vector<std::string_view> argv{"AUTH"};
    if (!opts_.username.empty()) argv.push_back(opts_.username);
    argv.push_back(opts_.password);
    appendCommand(argv);
    pending_.push_back({kStepAuth, nullptr});
  }
  if (opts_.db != 0) {
    std::string db = std::to_string(opts_.db);
    appendCommand({"SELECT", db});
    pending_.push_back({kStepSelect, nullptr});
  }
  appendCommand({"ROLE"});
  pending_.push_back({kStepRole, nullptr});
  last_handshake_step_ = kStepRole;
  for (size_t i = 0; i < scripts_.size(); ++i) {
    appendCommand({"SCRIPT", "LOAD", scripts_[i]});
    last_handshake_step_ = kStepScript + static_cast<int>(i);
    pending_.push_back({last_handshake_step_, nullptr});
  }
  flushWrites();
}

void RedisClient::Impl::onHandshakeReply(int step, const redisReply& reply) {
  if (state_ != State::kConnecting || handshake_failed_) return;
  const char* what = step == kStepAuth     ? "AUTH"
                     : step == kStepSelect ? "SELECT"
                     : step == kStepRole   ? "ROLE"
                                           : "SCRIPT LOAD";
  std::string problem;
  bool try_next = false;
  if (step == kStepRole) {
    // An error (ROLE denied by an ACL) says nothing against the node: accept it.
    if (reply.type == REDIS_REPLY_ARRAY && reply.elements > 0 &&
        reply.element[0]->type == REDIS_REPLY_STRING &&
        std::string_view(reply.element[0]->str, reply.element[0]->len) != "master") {
      problem = "the node is a replica";
      try_next = true;
    }
  } else if (reply.type == REDIS_REPLY_ERROR) {
    problem = std::string(what) + " failed: " + std::string(reply.str, reply.len);
  } else if (step >= kStepScript && reply.type != REDIS_REPLY_STRING) {
    problem = "SCRIPT LOAD returned no digest";
  }
  if (!problem.empty()) {
    handshake_failed_ = true;
    // Not from inside the read loop that is handing us this reply.
    asio::post(io_, [s = shared_from_this(), attempt = attempt_, problem, try_next] {
      if (attempt != s->attempt_ || s->state_ != State::kConnecting) return;
      s->closeConn(problem);
      if (try_next && s->next_address_ < s->addresses_.size()) {
        s->handshake_failed_ = false;
        s->shas_.assign(s->scripts_.size(), std::string());
        s->attempt_failure_ = problem;
        s->connectNext();
        return;
      }
      s->onDown(problem);
    });
    return;
  }
  if (step >= kStepScript) shas_[step - kStepScript].assign(reply.str, reply.len);
  if (step == last_handshake_step_) becomeReady();
}

void RedisClient::Impl::becomeReady() {
  state_ = State::kReady;
  down_ = false;
  backoff_ = kBackoffMin;
  connect_timer_.cancel();
  redisStats().connected.fetch_add(1, std::memory_order_relaxed);
  const auto& ep = addresses_[next_address_ - 1].endpoint;
  std::string at = opts_.more_nodes.empty() ? where_
                                            : where_ + " at " + ep.address().to_string() + ":" +
                                                  std::to_string(ep.port());
  if (last_failure_.empty()) {
    spdlog::info("redis {}: connected", at);
  } else {
    spdlog::info("redis {}: connected again (was: {})", at, last_failure_);
  }
  last_failure_.clear();
  // Calls that waited for the connection go out behind the handshake.
  auto unsent = std::move(unsent_);
  unsent_.clear();
  for (auto& call : unsent) {
    if (!call->done) send(call);
  }
  flushWrites();
}

void RedisClient::Impl::armConnectTimer() {
  connect_timer_.expires_after(opts_.connect_timeout);
  connect_timer_.async_wait(
      [self = shared_from_this(), attempt = attempt_](const boost::system::error_code& ec) {
        if (ec || attempt != self->attempt_) return;
        if (self->state_ != State::kResolving && self->state_ != State::kConnecting) return;
        self->onDown("not connected after " + std::to_string(self->opts_.connect_timeout.count()) +
                     " ms");
      });
}

void RedisClient::Impl::closeConn(const std::string& why) {
  if (conn_) {
    boost::system::error_code ec;
    conn_->sock.close(ec);  // the connection's operations complete with operation_aborted
    conn_.reset();
  }
  out_.clear();
  write_busy_ = false;
  auto pending = std::move(pending_);
  pending_.clear();
  calls_in_pipeline_ = 0;
  if (reader_ != nullptr) {
    redisReaderFree(reader_);
    reader_ = nullptr;
  }
  Error lost = unavailable(why);
  for (auto& p : pending) {
    if (p.call && !p.call->done) {
      redisStats().errors.fetch_add(1, std::memory_order_relaxed);
      finish(*p.call, lost);
    }
  }
  popDone();
}

void RedisClient::Impl::onDown(const std::string& why) {
  if (state_ == State::kStopped) return;
  closeConn(why);
  bool was_ready = state_ == State::kReady;
  if (was_ready) redisStats().connected.fetch_sub(1, std::memory_order_relaxed);
  state_ = State::kDown;
  down_ = true;
  ++attempt_;
  connect_timer_.cancel();
  resolver_.cancel();
  failUnsent(why);
  if (was_ready) {
    spdlog::warn("redis {}: {}; reconnecting", where_, why);
  } else if (why != last_failure_) {
    spdlog::warn("redis {}: {}; retrying in {} ms", where_, why, backoff_.count());
  }
  last_failure_ = why;
  reconnect_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
  reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::kDown) return;
    redisStats().reconnects.fetch_add(1, std::memory_order_relaxed);
    self->startAttempt();
  });
}

void RedisClient::Impl::shutdown(const std::string& why) {
  if (state_ == State::kStopped) return;
  if (state_ == State::kReady) redisStats().connected.fetch_sub(1, std::memory_order_relaxed);
  state_ = State::kStopped;
  ++attempt_;
  reconnect_timer_.cancel();
  connect_timer_.cancel();
  timeout_timer_.cancel();
  resolver_.cancel();
  closeConn(why);
  stopped_why_ = why;
  Error closed = unavailable(why);
  for (auto& call : unsent_) finish(*call, closed);
  for (auto& call : inflight_) finish(*call, closed);
  unsent_.clear();
  inflight_.clear();
}

void RedisClient::Impl::startRead() {
  auto handler = [self = shared_from_this(), c = conn_](const boost::system::error_code& ec,
                                                        size_t n) {
    if (c != self->conn_) return;
    if (ec) {
      self->onDown(ec == asio::error::eof || ec == boost::asio::ssl::error::stream_truncated
                       ? std::string("connection closed")
                       : "connection lost: " + ec.message());
      return;
    }
    self->onRead(n);
  };
  if (conn_->tls) {
    conn_->tls->async_read_some(asio::buffer(conn_->read_buf), std::move(handler));
  } else {
    conn_->sock.async_read_some(asio::buffer(conn_->read_buf), std::move(handler));
  }
}

void RedisClient::Impl::onRead(size_t n) {
  const std::shared_ptr<Conn> c = conn_;
  redisReaderFeed(reader_, c->read_buf.data(), n);
  while (c == conn_) {
    void* r = nullptr;
    if (redisReaderGetReply(reader_, &r) != REDIS_OK) {
      onDown(std::string("bad reply: ") + reader_->errstr);
      return;
    }
    if (r == nullptr) break;
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(r),
                                                       freeReplyObject);
    if (pending_.empty()) {
      onDown("a reply nothing asked for");
      return;
    }
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    progress_at_ = Clock::now();
    if (p.step == kStepCall) {
      --calls_in_pipeline_;
      onCallReply(p.call, *reply);
    } else if (p.step != kStepAsking) {
      // An ASKING error shows as the redirected call's own error right after it.
      onHandshakeReply(p.step, *reply);
    }
  }
  if (c == conn_) startRead();
}

void RedisClient::Impl::appendCommand(const std::vector<std::string_view>& argv) {
  out_ += '*';
  out_ += std::to_string(argv.size());
  out_ += "\r\n";
  for (std::string_view a : argv) {
    out_ += '$';
    out_ += std::to_string(a.size());
    out_ += "\r\n";
    out_ += a;
    out_ += "\r\n";
  }
}

// One write at a time; what is appended meanwhile goes out together with the next one.
void RedisClient::Impl::flushWrites() {
  if (write_busy_ || out_.empty() || !conn_) return;
  write_busy_ = true;
  conn_->writing.swap(out_);
  out_.clear();
  auto handler = [self = shared_from_this(), c = conn_](const boost::system::error_code& ec,
                                                        size_t) {
    if (c != self->conn_) return;
    self->write_busy_ = false;
    c->writing.clear();
    if (ec) {
      self->onDown("connection lost: " + ec.message());
      return;
    }
    self->flushWrites();
  };
  if (conn_->tls) {
    asio::async_write(*conn_->tls, asio::buffer(conn_->writing), std::move(handler));
  } else {
    asio::async_write(conn_->sock, asio::buffer(conn_->writing), std::move(handler));
  }
}

}  // namespace tollgate::ratelimit
