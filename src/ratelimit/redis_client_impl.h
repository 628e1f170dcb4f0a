// Internal to the Redis client (redis_client.cc: calls, replies, timeouts; redis_connection.cc:
// resolve, connect, TLS, handshake, reconnect, the socket's reads and writes). Include it from
// nowhere else.
//
// The transport is Asio's (a TCP socket, under an ssl::stream for rediss://) and replies are
// parsed by hiredis' reader (hiredis/read.h): Debian's hiredis 0.14 has no TLS, and its reader
// is the part worth keeping. Commands are written in RESP by the client itself.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
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

// One client call. It stays referenced by the pipeline (Impl::pending_) until its reply comes,
// so a reply that arrives after the call timed out is matched to it (and counted as late).
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
  bool done = false;        // completed (reply, error or timeout): later events are ignored
  bool as_eval = false;     // sent with the script text (not loaded yet, or NOSCRIPT)
  bool asking = false;      // preceded by ASKING (a cluster ASK redirect)
  bool raw_errors = false;  // an error reply comes back as a kError reply, not an Error
};

// Lives in a shared_ptr: every Asio handler holds a reference. Runs on one thread: no locks.
struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  using Clock = std::chrono::steady_clock;
  using tcp = boost::asio::ip::tcp;
  enum class State { kResolving, kConnecting, kReady, kDown, kStopped };
  // What a reply in the pipeline answers, in send order: a call (kStepCall), a handshake command
  // (AUTH, SELECT, ROLE, then one SCRIPT LOAD per script: kStepScript + index), or the ASKING
  // sent before an ASK-redirected call.
  enum Step : int {
    kStepCall = 0,
    kStepAuth = 1,
    kStepSelect = 2,
    kStepRole = 3,
    kStepAsking = 4,
    kStepScript = 5
  };
  struct Pending {
    int step = kStepCall;
    std::shared_ptr<Call> call;  // kStepCall only
  };
  struct Address {
    tcp::endpoint endpoint;
    std::string host;  // as the options name it: the TLS verification name and SNI
  };
  // One connection: a socket, under TLS for rediss://, and the buffers its reads and writes
  // use. Handlers hold it, so a connection that was dropped stays valid, buffers included, until
  // its last operation completes (with operation_aborted), whatever the next connection does.
  struct Conn {
    explicit Conn(boost::asio::io_context& io) : sock(io) {}
    tcp::socket sock;
    std::optional<boost::asio::ssl::stream<tcp::socket&>> tls;
    std::array<char, 16384> read_buf{};
    std::string writing;  // RESP the socket is writing now
  };

  static constexpr std::chrono::milliseconds kBackoffMin{100};
  static constexpr std::chrono::milliseconds kBackoffMax{5000};

  Impl(boost::asio::io_context& io, RedisOptions o, std::string role,
       std::vector<std::string> scripts);
  ~Impl();

  // ---- connection life cycle (redis_connection.cc) ----
  void startAttempt();
  // Resolves the options' nodes one after the other (Asio's resolver thread, never a blocking
  // getaddrinfo on the loop), then connects.
  void resolveNode(size_t i);
  // Tries the attempt's addresses in turn ("localhost" may give ::1 first while Redis listens on
  // 127.0.0.1 only; a replica is passed over); the attempt fails when none will do.
  void connectNext();
  void onTcpConnected(const std::shared_ptr<Conn>& c);
  void onTransportUp();
  void sendHandshake();
  void onHandshakeReply(int step, const redisReply& reply);
  void becomeReady();
  void armConnectTimer();
  // Drops the connection and what is in its pipeline (calls fail with `why`).
  void closeConn(const std::string& why);
  void onDown(const std::string& why);
  void lose(const std::string& why) { onDown(why); }
  void shutdown(const std::string& why);
  void startRead();
  void onRead(size_t n);
  // Writes RESP for argv into the output buffer.
  void appendCommand(const std::vector<std::string_view>& argv);
  void flushWrites();

  // ---- calls (redis_client.cc) ----
  Error unavailable(const std::string& detail) const;
  boost::asio::awaitable<Result<RedisReply>> execute(const std::shared_ptr<Call>& call);
  void submit(const std::shared_ptr<Call>& call);
  void send(const std::shared_ptr<Call>& call);
  void onCallReply(const std::shared_ptr<Call>& call, const redisReply& reply);
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
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // rediss:// only
  State state_ = State::kConnecting;
  bool down_ = false;        // a failure happened since the connection was last ready
  std::string stopped_why_;  // the detail of calls made after shutdown
  uint64_t attempt_ = 0;     // the current connection attempt, for timers and posted work
  std::shared_ptr<Conn> conn_;
  redisReader* reader_ = nullptr;
  std::string out_;  // RESP not yet handed to the socket
  bool write_busy_ = false;
  std::deque<Pending> pending_;   // sent (or in out_), reply not yet read, in order
  size_t calls_in_pipeline_ = 0;  // kStepCall entries of pending_
  tcp::resolver resolver_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::milliseconds backoff_ = kBackoffMin;
  // The scripts' digests on this connection; each empty until its SCRIPT LOAD answers.
  std::vector<std::string> shas_;
  bool handshake_failed_ = false;
  int last_handshake_step_ = kStepRole;
  std::vector<Address> addresses_;  // of the current attempt, in resolver order
  size_t next_address_ = 0;
  std::string attempt_failure_;                 // why the last address of the attempt failed
  std::deque<std::shared_ptr<Call>> inflight_;  // submitted and not yet timed out, in order
  std::vector<std::shared_ptr<Call>> unsent_;   // submitted before the connection was ready
  Clock::time_point progress_at_;               // last reply, or the send that ended an idle period
  std::string last_failure_;
};

}  // namespace tollgate::ratelimit
