#include "ratelimit/redis_store.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <utility>
#include <vector>

namespace tollgate::ratelimit {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;
using Values = std::vector<int64_t>;
using Completion = void(Result<Values>);

constexpr std::chrono::milliseconds kBackoffMin{100};
constexpr std::chrono::milliseconds kBackoffMax{5000};
// Commands hiredis may hold at once (timed-out ones included): beyond this Redis is not keeping
// up, and queueing more would only grow memory and every later call's latency.
constexpr size_t kMaxOutstanding = 65536;

// One round trip per call; docs/redis.md states the contract. Amounts and TTLs are handed to
// INCRBY/EXPIRE as the caller's decimal strings: Lua would print large numbers as 1e+15.
constexpr std::string_view kScript = R"lua(
local n = #KEYS
local function bump(key, amount, ttl, fresh)
  local v = redis.call('INCRBY', key, amount)
  if tonumber(ttl) > 0 and (fresh or redis.call('TTL', key) == -1) then
    redis.call('EXPIRE', key, ttl)
  end
  return v
end
local function current(key)
  local raw = redis.call('GET', key)
  if not raw then return 0, true end
  local v = tonumber(raw)
  if not v then error('tollgate: key ' .. key .. ' does not hold an integer') end
  return v, false
end
local out = {}
if ARGV[1] == 'check' then
  local refused = -1
  local fresh = {}
  for i = 1, n do
    local b = 4 * i - 2
    local v, missing = current(KEYS[i])
    out[i + 2] = v
    fresh[i] = missing
    local spent = v
    if spent < 0 then spent = 0 end
    local limit = tonumber(ARGV[b])
    local refuse
    if ARGV[b + 3] == '1' then
      refuse = spent + tonumber(ARGV[b + 1]) > limit
    else
      refuse = spent >= limit
    end
    if refuse and refused < 0 then refused = i - 1 end
  end
  out[1] = 0
  out[2] = refused
  if refused < 0 then
    out[1] = 1
    for i = 1, n do
      local b = 4 * i - 2
      if tonumber(ARGV[b + 1]) ~= 0 then
        out[i + 2] = bump(KEYS[i], ARGV[b + 1], ARGV[b + 2], fresh[i])
      end
    end
  end
  return out
elseif ARGV[1] == 'add' then
  for i = 1, n do
    local b = 4 * i - 2
    if tonumber(ARGV[b + 1]) ~= 0 then
      out[i] = bump(KEYS[i], ARGV[b + 1], ARGV[b + 2], false)
    else
      out[i] = current(KEYS[i])
    end
  end
  return out
end
return redis.error_reply('ERR tollgate: unknown op')
)lua";

enum class ReplyKind { kScript, kMget };

// One store call. hiredis' privdata points at it; `hiredis_ref` keeps it alive for as long as
// hiredis holds that pointer (hiredis runs every callback exactly once, with NULL when the
// context is freed), so a reply that arrives after the call timed out finds valid memory.
struct Call {
  ReplyKind kind = ReplyKind::kScript;
  std::vector<std::string> args;  // after the command (and script/sha): numkeys, keys, argv
  // optional + emplace: Boost 1.81's any_completion_handler move assignment recurses forever
  // (it copies through its own converting constructor), so it is only ever move-constructed.
  std::optional<asio::any_completion_handler<Completion>> handler;
  Clock::time_point deadline;
  Clock::time_point sent_at;
  bool done = false;     // completed (reply, error or timeout): later events are ignored
  bool as_eval = false;  // sent with the script text (not loaded yet, or NOSCRIPT)
  std::shared_ptr<Call> hiredis_ref;
};

std::string formatEndpoint(const RedisOptions& o) {
  bool v6 = o.host.find(':') != std::string::npos;
  std::string s = v6 ? "[" + o.host + "]" : o.host;
  s += ":" + std::to_string(o.port);
  if (o.db != 0) s += "/" + std::to_string(o.db);
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hexValue(s[i + 1]);
    int lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<RedisOptions> parseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  RedisOptions o;
  // The last '@' ends the user info, so a password may hold an unescaped '@' or '/'.
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = info.find(':');
    // A lone "name@" is ambiguous (a username to some clients, a password to others): refuse it
    // rather than guess and then connect without credentials.
    if (colon == std::string_view::npos) return std::nullopt;
    auto user = percentDecode(info.substr(0, colon));
    auto pass = percentDecode(info.substr(colon + 1));
    if (!user || !pass || pass->empty()) return std::nullopt;
    o.username = std::move(*user);
    o.password = std::move(*pass);
  }
  std::string_view hostport = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    o.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    boost::system::error_code ec;
    asio::ip::make_address_v6(o.host, ec);
    if (ec) return std::nullopt;
  } else {
    size_t colon = hostport.find(':');
    o.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (o.host.empty() || o.host.find_first_of(" \t@[]") != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    uint32_t p = 0;
    if (!parseNumber(port, p) || p == 0 || p > 65535) return std::nullopt;
    o.port = static_cast<uint16_t>(p);
  }
  if (!path.empty()) {
    int db = 0;
    if (!parseNumber(path, db) || db < 0) return std::nullopt;
    o.db = db;
  }
  return o;
}

RedisStats& redisStats() {
  static RedisStats stats;
  return stats;
}

// Lives in a shared_ptr: every Asio handler holds a reference, and hiredis' context (whose data
// pointers are raw Impl*) is always freed by Impl before it goes away, so no callback can reach
// freed memory. Runs on one thread: no locks.
struct RedisStore::Impl : std::enable_shared_from_this<Impl> {
  enum class State { kResolving, kConnecting, kReady, kDown, kStopped };

  Impl(asio::io_context& io, RedisOptions o)
      : io_(io),
        opts_(std::move(o)),
        where_(formatEndpoint(opts_)),
        stall_limit_(std::max(opts_.connect_timeout, opts_.timeout)),
        sd_(io),
        resolver_(io),
        reconnect_timer_(io),
        connect_timer_(io),
        timeout_timer_(io) {}

  ~Impl() { shutdown(); }

  // ---- connection life cycle ----

  void startAttempt() {
    ++attempt_;
    sha_.clear();
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
  void connectNext() {
    std::string why = "no address";
    while (next_address_ < addresses_.size()) {
      const std::string& ip = addresses_[next_address_++];
      why = connectTo(ip);
      if (why.empty()) return;
    }
    onDown(why);
  }

  // Starts a non-blocking connect; returns why it failed at once, or "".
  std::string connectTo(const std::string& ip) {
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

  enum HandshakeStep : intptr_t { kStepAuth = 1, kStepSelect = 2, kStepScript = 3 };

  void sendHandshake() {
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
    std::vector<const char*> argv{"SCRIPT", "LOAD", kScript.data()};
    std::vector<size_t> lens{6, 4, kScript.size()};
    handshakeCommand(kStepScript, argv, lens);
  }

  void handshakeCommand(HandshakeStep step, const std::vector<const char*>& argv,
                        const std::vector<size_t>& lens) {
    if (ac_ == nullptr) return;
    redisAsyncCommandArgv(ac_, &Impl::onHandshakeReply, reinterpret_cast<void*>(step),
                          static_cast<int>(argv.size()), const_cast<const char**>(argv.data()),
                          lens.data());
  }

  static void onHandshakeReply(redisAsyncContext* ac, void* r, void* privdata) {
    auto* self = static_cast<Impl*>(ac->data);
    auto* reply = static_cast<redisReply*>(r);
    auto step = static_cast<HandshakeStep>(reinterpret_cast<intptr_t>(privdata));
    // NULL: the context is going away, and whoever frees it reports why.
    if (reply == nullptr || self->state_ != State::kConnecting || self->handshake_failed_) return;
    const char* what = step == kStepAuth ? "AUTH" : step == kStepSelect ? "SELECT" : "SCRIPT LOAD";
    std::string problem;
    if (reply->type == REDIS_REPLY_ERROR) {
      problem = std::string(what) + " failed: " + std::string(reply->str, reply->len);
    } else if (step == kStepScript && reply->type != REDIS_REPLY_STRING) {
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
    if (step == kStepScript) {
      self->sha_.assign(reply->str, reply->len);
      self->becomeReady();
    }
  }

  void becomeReady() {
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

  void armConnectTimer() {
    connect_timer_.expires_after(opts_.connect_timeout);
    connect_timer_.async_wait(
        [self = shared_from_this(), attempt = attempt_](const boost::system::error_code& ec) {
          if (ec || attempt != self->attempt_) return;
          if (self->state_ != State::kResolving && self->state_ != State::kConnecting) return;
          self->lose("not connected after " + std::to_string(self->opts_.connect_timeout.count()) +
                     " ms");
        });
  }

  static void onConnectCb(const redisAsyncContext* ac, int status) {
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

  void flushUnsent() {
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

  static void onDisconnectCb(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Impl*>(ac->data);
    if (self->closing_) return;  // our own redisAsyncFree: the caller reports
    std::string why = status == REDIS_OK || ac->errstr == nullptr || ac->errstr[0] == '\0'
                          ? std::string("connection closed")
                          : std::string("connection lost: ") + ac->errstr;
    self->ac_ = nullptr;  // hiredis frees the context when this returns
    self->onDown(why);
  }

  // Drops the current context on our own initiative (never from inside a hiredis callback).
  void lose(const std::string& why) {
    freeContext();
    onDown(why);
  }

  void freeContext() {
    if (ac_ == nullptr) return;
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    closing_ = true;
    redisAsyncFree(ac);  // fails pending calls through their callbacks, then evCleanup
    closing_ = false;
  }

  void onDown(const std::string& why) {
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

  void shutdown() {
    if (state_ == State::kStopped) return;
    if (state_ == State::kReady) redisStats().connected.fetch_sub(1, std::memory_order_relaxed);
    state_ = State::kStopped;
    ++attempt_;
    reconnect_timer_.cancel();
    connect_timer_.cancel();
    timeout_timer_.cancel();
    resolver_.cancel();
    freeContext();
    Error closed = unavailable("the store was destroyed");
    for (auto& call : unsent_) finish(*call, closed);
    for (auto& call : inflight_) finish(*call, closed);
    unsent_.clear();
    inflight_.clear();
  }

  // ---- hiredis event hooks: the Asio adapter ----

  static void evAddRead(void* p) {
    auto* self = static_cast<Impl*>(p);
    self->want_read_ = true;
    self->armRead();
  }
  static void evDelRead(void* p) { static_cast<Impl*>(p)->want_read_ = false; }
  static void evAddWrite(void* p) {
    auto* self = static_cast<Impl*>(p);
    self->want_write_ = true;
    self->armWrite();
  }
  static void evDelWrite(void* p) { static_cast<Impl*>(p)->want_write_ = false; }
  // Called (possibly twice) before hiredis closes the descriptor: give it back untouched, and
  // make the waits still queued on it stale.
  static void evCleanup(void* p) {
    auto* self = static_cast<Impl*>(p);
    if (self->sd_.is_open()) self->sd_.release();
    ++self->fd_gen_;
    self->want_read_ = self->want_write_ = self->read_armed_ = self->write_armed_ = false;
  }

  void armRead() {
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

  void armWrite() {
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

  // ---- calls ----

  Error unavailable(const std::string& detail) const {
    return Error::upstream(ErrorCode::kUpstreamConnect, "rate limit store unavailable",
                           "redis " + where_ + ": " + detail, true);
  }

  asio::awaitable<Result<Values>> execute(const std::shared_ptr<Call>& call) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, Completion>(
        [](auto handler, std::shared_ptr<Impl> self, std::shared_ptr<Call> c) {
          c->handler.emplace(std::move(handler));
          self->submit(c);
        },
        asio::use_awaitable, shared_from_this(), call);
  }

  void submit(const std::shared_ptr<Call>& call) {
    if (state_ == State::kStopped) {
      finish(*call, unavailable("the store was destroyed"));
      return;
    }
    // Before the first connection is up, calls queue behind it (bounded by the call timeout);
    // after any failure they fail at once until the connection is ready again.
    bool queue_ok = !down_ && (state_ == State::kResolving || state_ == State::kConnecting);
    if (state_ != State::kReady && !queue_ok) {
      finish(*call, unavailable(last_failure_.empty() ? "not connected" : last_failure_));
      return;
    }
    if (in_redis_ + unsent_.size() >= kMaxOutstanding) {
      finish(*call, unavailable("too many commands outstanding"));
      return;
    }
    call->deadline = Clock::now() + opts_.timeout;
    inflight_.push_back(call);
    armTimeout();
    if (ac_ != nullptr && tcp_up_) {
      send(call);
    } else {
      unsent_.push_back(call);  // held until the TCP connection is up (another address may win)
    }
  }

  void send(const std::shared_ptr<Call>& call) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(call->args.size() + 2);
    lens.reserve(call->args.size() + 2);
    auto push = [&](std::string_view s) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    };
    if (call->kind == ReplyKind::kScript) {
      if (sha_.empty()) call->as_eval = true;
      if (call->as_eval) {
        push("EVAL");
        push(kScript);
      } else {
        push("EVALSHA");
        push(sha_);
      }
    } else {
      push("MGET");
    }
    for (const auto& a : call->args) push(a);
    call->hiredis_ref = call;
    call->sent_at = Clock::now();
    if (redisAsyncCommandArgv(ac_, &Impl::onReply, call.get(), static_cast<int>(argv.size()),
                              argv.data(), lens.data()) != REDIS_OK) {
      call->hiredis_ref.reset();
      redisStats().errors.fetch_add(1, std::memory_order_relaxed);
      finish(*call, unavailable("connection is closing"));
      popDone();
      return;
    }
    if (in_redis_++ == 0) progress_at_ = call->sent_at;
  }

  static void onReply(redisAsyncContext* ac, void* r, void* privdata) {
    auto* self = static_cast<Impl*>(ac->data);
    std::shared_ptr<Call> call = std::move(static_cast<Call*>(privdata)->hiredis_ref);
    --self->in_redis_;
    auto* reply = static_cast<redisReply*>(r);
    auto now = Clock::now();
    if (reply != nullptr) {
      self->progress_at_ = now;
      auto& stats = redisStats();
      stats.round_trips.fetch_add(1, std::memory_order_relaxed);
      stats.rtt_micros_total.fetch_add(
          std::chrono::duration_cast<std::chrono::microseconds>(now - call->sent_at).count(),
          std::memory_order_relaxed);
    }
    if (call->done) return;  // timed out earlier: whatever came back is dropped
    if (reply == nullptr) {
      redisStats().errors.fetch_add(1, std::memory_order_relaxed);
      std::string why = ac->errstr != nullptr && ac->errstr[0] != '\0'
                            ? std::string("connection lost: ") + ac->errstr
                            : std::string("connection closed");
      self->finish(*call, self->unavailable(why));
      self->popDone();
      return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string_view msg(reply->str, reply->len);
      // The server lost the script (SCRIPT FLUSH, restart, failover): send the text once; EVAL
      // also caches it again for the EVALSHAs that follow.
      if (call->kind == ReplyKind::kScript && !call->as_eval && msg.starts_with("NOSCRIPT") &&
          self->ac_ == ac) {
        call->as_eval = true;
        self->send(call);
        return;
      }
      redisStats().errors.fetch_add(1, std::memory_order_relaxed);
      Error e = Error::upstream(ErrorCode::kUpstreamBadResponse, "rate limit store error",
                                "redis " + self->where_ + ": " + std::string(msg), false);
      self->finish(*call, std::move(e));
      self->popDone();
      return;
    }
    Result<Values> parsed = self->parse(call->kind, *reply);
    if (!parsed.ok()) redisStats().errors.fetch_add(1, std::memory_order_relaxed);
    self->finish(*call, std::move(parsed));
    self->popDone();
  }

  Result<Values> parse(ReplyKind kind, const redisReply& reply) const {
    auto bad = [&](const std::string& what) {
      return Error::upstream(ErrorCode::kUpstreamBadResponse, "rate limit store error",
                             "redis " + where_ + ": unexpected reply: " + what, false);
    };
    if (reply.type != REDIS_REPLY_ARRAY) return bad("not an array");
    Values out;
    out.reserve(reply.elements);
    for (size_t i = 0; i < reply.elements; ++i) {
      const redisReply* e = reply.element[i];
      if (kind == ReplyKind::kScript) {
        if (e->type != REDIS_REPLY_INTEGER) return bad("non-integer in script result");
        out.push_back(e->integer);
      } else if (e->type == REDIS_REPLY_NIL) {
        out.push_back(0);
      } else if (e->type == REDIS_REPLY_STRING) {
        int64_t v = 0;
        if (!parseNumber(std::string_view(e->str, e->len), v)) return bad("non-integer value");
        out.push_back(v);
      } else {
        return bad("MGET element type " + std::to_string(e->type));
      }
    }
    return out;
  }

  // Completes a call exactly once. The handler runs later from the loop, never inside hiredis or
  // inside the caller's stack: resuming a coroutine there could re-enter or destroy the store.
  void finish(Call& call, Result<Values> result) {
    if (call.done) return;
    call.done = true;
    if (!call.handler) return;
    asio::any_completion_handler<Completion> handler(std::move(*call.handler));
    call.handler.reset();
    auto ex = asio::get_associated_executor(handler, io_.get_executor());
    asio::post(io_,
               asio::bind_executor(ex, [h = std::move(handler), r = std::move(result)]() mutable {
                 std::move(h)(std::move(r));
               }));
  }

  void popDone() {
    while (!inflight_.empty() && inflight_.front()->done) inflight_.pop_front();
  }

  void failUnsent(const std::string& why) {
    if (unsent_.empty()) return;
    auto unsent = std::move(unsent_);
    unsent_.clear();
    Error e = unavailable(why);
    for (auto& call : unsent) {
      if (call->done) continue;
      redisStats().errors.fetch_add(1, std::memory_order_relaxed);
      finish(*call, e);
    }
    popDone();
  }

  // One timer serves every call: all share the same timeout, so deadlines follow submission order
  // and the oldest call is always the next to expire.
  void armTimeout() {
    if (timeout_armed_) return;
    popDone();
    if (inflight_.empty()) return;
    timeout_armed_ = true;
    timeout_timer_.expires_at(inflight_.front()->deadline);
    timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
      self->timeout_armed_ = false;
      if (self->state_ == State::kStopped) return;
      self->onTimeouts();
    });
  }

  void onTimeouts() {
    auto now = Clock::now();
    while (!inflight_.empty()) {
      Call& front = *inflight_.front();
      if (!front.done) {
        if (front.deadline > now) break;
        redisStats().timeouts.fetch_add(1, std::memory_order_relaxed);
        Error e = Error::upstream(ErrorCode::kUpstreamTimeout, "rate limit store timeout",
                                  "redis " + where_ + ": no reply within " +
                                      std::to_string(opts_.timeout.count()) + " ms",
                                  true);
        finish(front, std::move(e));
      }
      inflight_.pop_front();
    }
    // Calls time out one by one while a peer that vanished without a FIN or RST keeps the
    // connection "up" for many minutes: no reply at all for stall_limit_ means it is gone.
    if (ac_ != nullptr && state_ == State::kReady && in_redis_ > 0 &&
        now - progress_at_ >= stall_limit_) {
      lose("no reply for " +
           std::to_string(
               std::chrono::duration_cast<std::chrono::milliseconds>(now - progress_at_).count()) +
           " ms");
    }
    armTimeout();
  }

  asio::io_context& io_;
  const RedisOptions opts_;
  const std::string where_;  // host:port/db for logs and errors; never the password
  const std::chrono::milliseconds stall_limit_;
  State state_ = State::kConnecting;
  bool down_ = false;  // a failure happened since the connection was last ready
  redisAsyncContext* ac_ = nullptr;
  uint64_t attempt_ = 0;  // the current connection attempt, for timers and posted work
  uint64_t fd_gen_ = 0;   // bumped whenever the descriptor changes: stale waits ignore themselves
  asio::posix::stream_descriptor sd_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer connect_timer_;
  asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::milliseconds backoff_ = kBackoffMin;
  std::string sha_;  // the script digest on this connection; empty until SCRIPT LOAD answers
  bool handshake_failed_ = false;
  bool tcp_up_ = false;                 // the current context's TCP connection is established
  std::vector<std::string> addresses_;  // of the current attempt, in resolver order
  size_t next_address_ = 0;
  bool closing_ = false;                        // inside our own redisAsyncFree
  std::deque<std::shared_ptr<Call>> inflight_;  // submitted and not yet timed out, in order
  std::vector<std::shared_ptr<Call>> unsent_;   // submitted before the TCP connection was up
  size_t in_redis_ = 0;                         // commands hiredis holds a callback for
  Clock::time_point progress_at_;               // last reply, or the send that ended an idle period
  std::string last_failure_;
};

RedisStore::RedisStore(asio::io_context& io, RedisOptions opts)
    : impl_(std::make_shared<Impl>(io, std::move(opts))) {
  impl_->startAttempt();
}

RedisStore::~RedisStore() { impl_->shutdown(); }

bool RedisStore::connected() const { return impl_->state_ == Impl::State::kReady; }

namespace {

std::shared_ptr<Call> scriptCall(std::string_view op, const std::vector<BucketOp>& ops) {
  auto call = std::make_shared<Call>();
  call->kind = ReplyKind::kScript;
  call->args.reserve(2 + ops.size() * 5);
  call->args.push_back(std::to_string(ops.size()));
  for (const auto& b : ops) call->args.push_back(b.key);
  call->args.emplace_back(op);
  for (const auto& b : ops) {
    call->args.push_back(std::to_string(b.limit));
    call->args.push_back(std::to_string(b.amount));
    call->args.push_back(std::to_string(b.ttl_seconds));
    call->args.emplace_back(b.reserve ? "1" : "0");
  }
  return call;
}

Error shapeError(size_t got, size_t want) {
  return Error::upstream(
      ErrorCode::kUpstreamBadResponse, "rate limit store error",
      "redis: script returned " + std::to_string(got) + " values, expected " + std::to_string(want),
      false);
}

}  // namespace

asio::awaitable<Result<CheckOutcome>> RedisStore::checkAndAdd(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    CheckOutcome none;
    none.allowed = true;
    co_return none;
  }
  std::shared_ptr<Impl> impl = impl_;  // the store may be destroyed while this call waits
  std::shared_ptr<Call> call = scriptCall("check", ops);
  Result<Values> r = co_await impl->execute(call);
  if (!r.ok()) co_return r.error();
  const Values& v = r.value();
  if (v.size() != ops.size() + 2) co_return shapeError(v.size(), ops.size() + 2);
  CheckOutcome out;
  out.allowed = v[0] == 1;
  out.refused_index = out.allowed ? -1 : static_cast<int>(v[1]);
  out.spent.reserve(ops.size());
  for (size_t i = 2; i < v.size(); ++i) {
    out.spent.push_back(v[i] < 0 ? 0 : static_cast<uint64_t>(v[i]));
  }
  co_return out;
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::add(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<Impl> impl = impl_;
  std::shared_ptr<Call> call = scriptCall("add", ops);
  Result<Values> r = co_await impl->execute(call);
  if (r.ok() && r.value().size() != ops.size()) co_return shapeError(r.value().size(), ops.size());
  co_return std::move(r);
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::get(
    const std::vector<std::string>& keys) {
  if (keys.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<Impl> impl = impl_;
  auto call = std::make_shared<Call>();
  call->kind = ReplyKind::kMget;
  call->args = keys;
  Result<Values> r = co_await impl->execute(call);
  if (r.ok() && r.value().size() != keys.size()) {
    co_return shapeError(r.value().size(), keys.size());
  }
  co_return std::move(r);
}

}  // namespace tollgate::ratelimit
