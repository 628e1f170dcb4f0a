// The Redis client's connection life cycle: resolve, connect (one address after another),
// handshake, readiness, loss and reconnect with backoff, and the hiredis event adapter.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <utility>

#include "ratelimit/redis_client_impl.h"

namespace tollgate::ratelimit {

namespace asio = boost::asio;

RedisClient::Impl::Impl(asio::io_context& io, RedisOptions o, std::string role,
                        std::vector<std::string> scripts)
    : io_(io),
      opts_(std::move(o)),
      role_(std::move(role)),
      scripts_(std::move(scripts)),
      where_(formatEndpoint(opts_)),
      stall_limit_(std::max(opts_.connect_timeout, opts_.timeout)),
      sd_(io),
      resolver_(io),
      reconnect_timer_(io),
      connect_timer_(io),
      timeout_timer_(io) {}

void RedisClient::Impl::startAttempt() {
  ++attempt_;
  shas_.assign(scripts_.size(), std::string());
  handshake_failed_ = false;
  tcp_up_ = false;
  addresses_.clear();
  next_address_ = 0;
  armConnectTimer();
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(opts_.host, ec);
  if (!ec) {
    state_ = State::kConnecting;
    addresses_.push_back(addr.to_string());
    connectNext();
    return;
  }
  // hiredis would resolve a name with a blocking getaddrinfo on the loop; Asio resolves it on
  // its own internal resolver thread instead, and hiredis only ever sees addresses.
  state_ = State::kResolving;
  resolver_.async_resolve(
      opts_.host, std::to_string(opts_.port),
      [self = shared_from_this(), attempt = attempt_](
          const boost::system::error_code& rec,
          const asio::ip::tcp::resolver::results_type& results) {
        if (attempt != self->attempt_ || self->state_ != State::kResolving) return;
        for (const auto& entry : results) {
          std::string a = entry.endpoint().address().to_string();
          auto& list = self->addresses_;
          if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
        }
        if (rec || self->addresses_.empty()) {
          self->onDown("cannot resolve host: " + (rec ? rec.message() : "no address"));
          return;
        }
        self->state_ = State::kConnecting;
        self->connectNext();
      });
}

// Tries the attempt's addresses in turn ("localhost" may give ::1 first while Redis listens on
// 127.0.0.1 only); the attempt fails when none accepts.
void RedisClient::Impl::connectNext() {
  std::string why = "no address";
  while (next_address_ < addresses_.size()) {
    const std::string& ip = addresses_[next_address_++];
    why = connectTo(ip);
    if (why.empty()) return;
  }
  onDown(why);
}

// Starts a non-blocking connect; returns why it failed at once, or "".
std::string RedisClient::Impl::connectTo(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), opts_.port);
  if (ac == nullptr) return "cannot allocate a hiredis context";
  if (ac->err != 0) {
    std::string why = std::string("connect: ") + ac->errstr;
    redisAsyncFree(ac);  // the descriptor is not ours yet: hiredis closes it alone
    return why;
  }
  boost::system::error_code ec;
  sd_.assign(ac->c.fd, ec);
  if (ec) {
    redisAsyncFree(ac);
    return "cannot watch the socket: " + ec.message();
  }
  ++fd_gen_;
  want_read_ = want_write_ = read_armed_ = write_armed_ = false;
  ac_ = ac;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &Impl::evAddRead;
  ac->ev.delRead = &Impl::evDelRead;
  ac->ev.addWrite = &Impl::evAddWrite;
  ac->ev.delWrite = &Impl::evDelWrite;
  ac->ev.cleanup = &Impl::evCleanup;
  redisEnableKeepAlive(&ac->c);  // a silently dead peer is found even when idle
  redisAsyncSetDisconnectCallback(ac, &Impl::onDisconnectCb);
  // Registers the first write wait: the connect result shows up as writability.
  redisAsyncSetConnectCallback(ac, &Impl::onConnectCb);
  // Queued before any call, so hiredis sends the handshake first once connected.
  sendHandshake();
  return {};
}

void RedisClient::Impl::sendHandshake() {
  if (!opts_.password.empty()) {
    std::vector<const char*> argv{"AUTH"};
    std::vector<size_t> lens{4};
    if (!opts_.username.empty()) {
      argv.push_back(opts_.username.data());
      lens.push_back(opts_.username.size());
    }
    argv.push_back(opts_.password.data());
    lens.push_back(opts_.password.size());
    handshakeCommand(kStepAuth, argv, lens);
  }
  if (opts_.db != 0) {
    std::string db = std::to_string(opts_.db);
    std::vector<const char*> argv{"SELECT", db.data()};
    std::vector<size_t> lens{6, db.size()};
    handshakeCommand(kStepSelect, argv, lens);
  }
  // The last handshake reply decides readiness: without a script to load, a PING says the server
  // answers.
  if (scripts_.empty()) {
    std::vector<const char*> argv{"PING"};
    std::vector<size_t> lens{4};
    handshakeCommand(kStepPing, argv, lens);
  }
  for (size_t i = 0; i < scripts_.size(); ++i) {
    std::vector<const char*> argv{"SCRIPT", "LOAD", scripts_[i].data()};
    std::vector<size_t> lens{6, 4, scripts_[i].size()};
    handshakeCommand(kStepScript + static_cast<intptr_t>(i), argv, lens);
  }
}

void RedisClient::Impl::handshakeCommand(intptr_t step, const std::vector<const char*>& argv,
                                         const std::vector<size_t>& lens) {
  if (ac_ == nullptr) return;
  redisAsyncCommandArgv(ac_, &Impl::onHandshakeReply, reinterpret_cast<void*>(step),
                        static_cast<int>(argv.size()), const_cast<const char**>(argv.data()),
                        lens.data());
}

void RedisClient::Impl::onHandshakeReply(redisAsyncContext* ac, void* r, void* privdata) {
  auto* self = static_cast<Impl*>(ac->data);
  auto* reply = static_cast<redisReply*>(r);
  auto step = reinterpret_cast<intptr_t>(privdata);
  // NULL: the context is going away, and whoever frees it reports why.
  if (reply == nullptr || self->state_ != State::kConnecting || self->handshake_failed_) return;
  const char* what = step == kStepAuth     ? "AUTH"
                     : step == kStepSelect ? "SELECT"
                     : step == kStepPing   ? "PING"
                                           : "SCRIPT LOAD";
  std::string problem;
  if (reply->type == REDIS_REPLY_ERROR) {
    problem = std::string(what) + " failed: " + std::string(reply->str, reply->len);
  } else if (step >= kStepScript && reply->type != REDIS_REPLY_STRING) {
    problem = "SCRIPT LOAD returned no digest";
  }
  if (!problem.empty()) {
    self->handshake_failed_ = true;
    // Not from inside hiredis: it is in the middle of this context's read loop.
    asio::post(self->io_, [s = self->shared_from_this(), attempt = self->attempt_, problem] {
      if (attempt == s->attempt_ && s->ac_ != nullptr) s->lose(problem);
    });
    return;
  }
  if (step >= kStepScript) self->shas_[step - kStepScript].assign(reply->str, reply->len);
  bool last = self->scripts_.empty()
                  ? step == kStepPing
                  : step == kStepScript + static_cast<intptr_t>(self->scripts_.size()) - 1;
  if (last) self->becomeReady();
}

void RedisClient::Impl::becomeReady() {
  state_ = State::kReady;
  down_ = false;
  backoff_ = kBackoffMin;
  connect_timer_.cancel();
  redisStats().connected.fetch_add(1, std::memory_order_relaxed);
  if (last_failure_.empty()) {
    spdlog::info("redis {}: connected", where_);
  } else {
    spdlog::info("redis {}: connected again (was: {})", where_, last_failure_);
  }
  last_failure_.clear();
}

void RedisClient::Impl::armConnectTimer() {
  connect_timer_.expires_after(opts_.connect_timeout);
  connect_timer_.async_wait(
      [self = shared_from_this(), attempt = attempt_](const boost::system::error_code& ec) {
        if (ec || attempt != self->attempt_) return;
        if (self->state_ != State::kResolving && self->state_ != State::kConnecting) return;
        self->lose("not connected after " + std::to_string(self->opts_.connect_timeout.count()) +
                   " ms");
      });
}

void RedisClient::Impl::onConnectCb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Impl*>(ac->data);
  if (status == REDIS_OK) {
    // Calls waiting for the first connection go out now, behind the handshake; the handshake
    // replies decide readiness.
    self->tcp_up_ = true;
    self->flushUnsent();
    return;
  }
  std::string why = std::string("connect: ") + (ac->errstr != nullptr ? ac->errstr : "failed");
  self->ac_ = nullptr;  // hiredis frees the context (and closes its descriptor) on return
  if (self->next_address_ < self->addresses_.size()) {
    // The next address needs the descriptor watch back first: continue from the loop.
    asio::post(self->io_, [s = self->shared_from_this(), attempt = self->attempt_] {
      if (attempt == s->attempt_ && s->state_ == State::kConnecting && s->ac_ == nullptr) {
        s->connectNext();
      }
    });
    return;
  }
  self->onDown(why);
}

void RedisClient::Impl::flushUnsent() {
  auto unsent = std::move(unsent_);
  unsent_.clear();
  for (auto& call : unsent) {
    if (call->done) continue;
    if (ac_ != nullptr) {
      send(call);
    } else {
      unsent_.push_back(call);
    }
  }
}

void RedisClient::Impl::onDisconnectCb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Impl*>(ac->data);
  if (self->closing_) return;  // our own redisAsyncFree: the caller reports
  std::string why = status == REDIS_OK || ac->errstr == nullptr || ac->errstr[0] == '\0'
                        ? std::string("connection closed")
                        : std::string("connection lost: ") + ac->errstr;
  self->ac_ = nullptr;  // hiredis frees the context when this returns
  self->onDown(why);
}

// Drops the current context on our own initiative (never from inside a hiredis callback).
void RedisClient::Impl::lose(const std::string& why) {
  freeContext();
  onDown(why);
}

void RedisClient::Impl::freeContext() {
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  closing_ = true;
  redisAsyncFree(ac);  // fails pending calls through their callbacks, then evCleanup
  closing_ = false;
}

void RedisClient::Impl::onDown(const std::string& why) {
  if (state_ == State::kStopped) return;
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
  freeContext();
  stopped_why_ = why;
  Error closed = unavailable(why);
  for (auto& call : unsent_) finish(*call, closed);
  for (auto& call : inflight_) finish(*call, closed);
  unsent_.clear();
  inflight_.clear();
}

void RedisClient::Impl::evAddRead(void* p) {
  auto* self = static_cast<Impl*>(p);
  self->want_read_ = true;
  self->armRead();
}

void RedisClient::Impl::evDelRead(void* p) { static_cast<Impl*>(p)->want_read_ = false; }

void RedisClient::Impl::evAddWrite(void* p) {
  auto* self = static_cast<Impl*>(p);
  self->want_write_ = true;
  self->armWrite();
}

void RedisClient::Impl::evDelWrite(void* p) { static_cast<Impl*>(p)->want_write_ = false; }

// Called (possibly twice) before hiredis closes the descriptor: give it back untouched, and
// make the waits still queued on it stale.
void RedisClient::Impl::evCleanup(void* p) {
  auto* self = static_cast<Impl*>(p);
  if (self->sd_.is_open()) self->sd_.release();
  ++self->fd_gen_;
  self->want_read_ = self->want_write_ = self->read_armed_ = self->write_armed_ = false;
}

void RedisClient::Impl::armRead() {
  if (read_armed_ || !want_read_ || !sd_.is_open()) return;
  read_armed_ = true;
  sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                 [self = shared_from_this(), gen = fd_gen_](const boost::system::error_code& ec) {
                   if (gen != self->fd_gen_) return;
                   self->read_armed_ = false;
                   if (ec == asio::error::operation_aborted) return;
                   if (self->want_read_ && self->ac_ != nullptr) redisAsyncHandleRead(self->ac_);
                   if (gen == self->fd_gen_) self->armRead();
                 });
}

void RedisClient::Impl::armWrite() {
  if (write_armed_ || !want_write_ || !sd_.is_open()) return;
  write_armed_ = true;
  sd_.async_wait(asio::posix::stream_descriptor::wait_write,
                 [self = shared_from_this(), gen = fd_gen_](const boost::system::error_code& ec) {
                   if (gen != self->fd_gen_) return;
                   self->write_armed_ = false;
                   if (ec == asio::error::operation_aborted) return;
                   if (self->want_write_ && self->ac_ != nullptr) {
                     redisAsyncHandleWrite(self->ac_);
                   }
                   if (gen == self->fd_gen_) self->armWrite();
                 });
}

}  // namespace tollgate::ratelimit
