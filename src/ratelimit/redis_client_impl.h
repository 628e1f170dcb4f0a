// Internal to the Redis client (redis_client.cc: calls, replies, timeouts; redis_connection.cc:
// connect, handshake, reconnect, the hiredis event adapter). Include it from nowhere else.
#pragma once

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ratelimit/redis_client.h"

namespace tollgate::ratelimit {

// One client call. hiredis' privdata points at it; `hiredis_ref` keeps it alive for as long as
// hiredis holds that pointer (hiredis runs every callback exactly once, with NULL when the
// context is freed), so a reply that arrives after the call timed out finds valid memory.
struct RedisClient::Call {
  using Clock = std::chrono::steady_clock;
  using Completion = void(Result<RedisReply>);

  int script = -1;                // index into the client's scripts, or -1: `args` is the command
  std::vector<std::string> args;  // a script's: numkeys, keys, argv
  // optional + emplace: Boost 1.81's any_completion_handler move assignment recurses forever
  // (it copies through its own converting constructor), so it is only ever move-constructed.
  std::optional<boost::asio::any_completion_handler<Completion>> handler;
  Clock::time_point deadline;
  Clock::time_point sent_at;
  bool done = false;     // completed (reply, error or timeout): later events are ignored
  bool as_eval = false;  // sent with the script text (not loaded yet, or NOSCRIPT)
  std::shared_ptr<Call> hiredis_ref;
};

// Lives in a shared_ptr: every Asio handler holds a reference, and hiredis' context (whose data
// pointers are raw Impl*) is always freed by Impl before it goes away, so no callback can reach
// freed memory. Runs on one thread: no locks.
struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  using Clock = std::chrono::steady_clock;
  enum class State { kResolving, kConnecting, kReady, kDown, kStopped };
  // Handshake commands carry their step as hiredis privdata: AUTH, SELECT, then one SCRIPT LOAD
  // per script (kStepScript + index), or a PING when there is no script to load.
  enum HandshakeStep : intptr_t { kStepAuth = 1, kStepSelect = 2, kStepPing = 3, kStepScript = 4 };

  static constexpr std::chrono::milliseconds kBackoffMin{100};
  static constexpr std::chrono::milliseconds kBackoffMax{5000};

  Impl(boost::asio::io_context& io, RedisOptions o, std::string role,
       std::vector<std::string> scripts);
  ~Impl() { shutdown("the client was destroyed"); }

  // ---- connection life cycle (redis_connection.cc) ----
  void startAttempt();
  // Tries the attempt's addresses in turn ("localhost" may give ::1 first while Redis listens on
  // 127.0.0.1 only); the attempt fails when none accepts.
  void connectNext();
  // Starts a non-blocking connect; returns why it failed at once, or "".
  std::string connectTo(const std::string& ip);
  void sendHandshake();
  void handshakeCommand(intptr_t step, const std::vector<const char*>& argv,
                        const std::vector<size_t>& lens);
  static void onHandshakeReply(redisAsyncContext* ac, void* r, void* privdata);
  void becomeReady();
  void armConnectTimer();
  static void onConnectCb(const redisAsyncContext* ac, int status);
  void flushUnsent();
  static void onDisconnectCb(const redisAsyncContext* ac, int status);
  // Drops the current context on our own initiative (never from inside a hiredis callback).
  void lose(const std::string& why);
  void freeContext();
  void onDown(const std::string& why);
  void shutdown(const std::string& why);
  // hiredis event hooks: the Asio adapter.
  static void evAddRead(void* p);
  static void evDelRead(void* p);
  static void evAddWrite(void* p);
  static void evDelWrite(void* p);
  static void evCleanup(void* p);
  void armRead();
  void armWrite();

  // ---- calls (redis_client.cc) ----
  Error unavailable(const std::string& detail) const;
  boost::asio::awaitable<Result<RedisReply>> execute(const std::shared_ptr<Call>& call);
  void submit(const std::shared_ptr<Call>& call);
  void send(const std::shared_ptr<Call>& call);
  static void onReply(redisAsyncContext* ac, void* r, void* privdata);
  void finish(Call& call, Result<RedisReply> result);
  void popDone();
  void failUnsent(const std::string& why);
  void armTimeout();
  void onTimeouts();

  boost::asio::io_context& io_;
  const RedisOptions opts_;
  const std::string role_;                  // names the client's purpose in public messages
  const std::vector<std::string> scripts_;  // Lua texts, loaded on every connection
  const std::string where_;                 // host:port/db for logs and errors; never the password
  const std::chrono::milliseconds stall_limit_;
  State state_ = State::kConnecting;
  bool down_ = false;        // a failure happened since the connection was last ready
  std::string stopped_why_;  // the detail of calls made after shutdown
  redisAsyncContext* ac_ = nullptr;
  uint64_t attempt_ = 0;  // the current connection attempt, for timers and posted work
  uint64_t fd_gen_ = 0;   // bumped whenever the descriptor changes: stale waits ignore themselves
  boost::asio::posix::stream_descriptor sd_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::milliseconds backoff_ = kBackoffMin;
  // The scripts' digests on this connection; each empty until its SCRIPT LOAD answers.
  std::vector<std::string> shas_;
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

}  // namespace tollgate::ratelimit
