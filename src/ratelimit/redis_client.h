// Async Redis client on the owning event loop (Asio sockets, plain or TLS; hiredis' reader parses
// the replies; no extra thread, never blocks the loop). One connection per client, to one node;
// commands are pipelined on it and their replies come back in order. It knows commands and
// replies, nothing of what its owner keeps in Redis (ratelimit/redis_store.h holds the bucket
// semantics) nor of cluster slots (ratelimit/redis_cluster.h routes between clients).
//
// Scripts handed to the constructor are loaded on every new connection (SCRIPT LOAD, part of the
// handshake with AUTH, SELECT and ROLE) and run with EVALSHA, EVAL again on NOSCRIPT. ROLE makes
// a replica unacceptable: the next node of the options is tried instead, and a connection whose
// node turns into a replica (READONLY: a failover demoted it) is dropped and made again, which
// finds the new primary (by DNS, as ElastiCache's primary endpoint moves, or in the node list).
//
// Failures (unreachable, timeout, error reply) come back as an Error with source kUpstream. A lost
// connection is re-established with backoff (100 ms doubling to 5 s) in the background; while it
// is down, calls fail at once.
//
// Threading: a client belongs to one event loop; construct it on that loop's thread (or before
// the loop runs) and call it only from there.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ratelimit/redis_options.h"

namespace tollgate::ratelimit {

// Counters shared by all Redis clients of the process (read by metrics).
struct RedisStats {
  std::atomic<uint64_t> round_trips{0};
  std::atomic<uint64_t> errors{0};  // error replies, disconnects while waiting, bad replies
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> reconnects{0};
  // Replies that arrived after their call had timed out: Redis did the work (a budget was
  // charged), the caller had given up. Not errors.
  std::atomic<uint64_t> late_replies{0};
  std::atomic<uint64_t> moved{0};               // cluster MOVED redirects followed
  std::atomic<uint64_t> asked{0};               // cluster ASK redirects followed
  std::atomic<uint64_t> slot_map_refreshes{0};  // CLUSTER SLOTS read (start, redirect, failure)
  std::atomic<uint64_t> rtt_micros_total{0};
  std::atomic<int> connected{0};  // connections currently up
};
RedisStats& redisStats();

// A reply copied out of hiredis' reader, so callers need no hiredis header. The type numbers are
// RESP2's as hiredis numbers them (REDIS_REPLY_*), which error texts show.
struct RedisReply {
  enum class Type : int {
    kString = 1,
    kArray = 2,
    kInteger = 3,
    kNil = 4,
    kStatus = 5,
    kError = 6
  };
  Type type = Type::kNil;
  int64_t integer = 0;               // kInteger
  std::string str;                   // kString, kStatus, kError
  std::vector<RedisReply> elements;  // kArray
};

// The TLS client context for rediss://: TLS 1.2+, the server verified against the system CAs or
// only tls.ca_file, the client certificate when given. nullptr and *error when a file does not
// load. Build it once and share it (RedisTls::context): loading CAs is not free.
std::shared_ptr<boost::asio::ssl::context> makeRedisTlsContext(const RedisTls& tls,
                                                               std::string* error);

// --redis and its TLS flags as options: the URL parsed, the TLS files applied (rediss:// only)
// and their context made. nullopt and *error (a whole sentence) when something does not do.
std::optional<RedisOptions> redisOptionsFrom(std::string_view url, const RedisTls& files,
                                             std::string* error);

// How a call goes out and how its error reply comes back.
struct RedisCallFlags {
  bool asking = false;         // send ASKING first (following a cluster ASK redirect)
  bool error_replies = false;  // a top-level error reply comes back as a kError reply
};

class RedisClient {
 public:
  // Starts connecting right away (asynchronously, on `io`). Calls made while the first connection
  // is being set up wait for it (each bounded by opts.timeout); after any failure, calls fail at
  // once until it is ready again. `role` names what the connection serves in the public messages
  // of its errors ("<role> unavailable", "<role> error", "<role> timeout"). `scripts` are Lua
  // texts, run by their index with evalScript().
  RedisClient(boost::asio::io_context& io, RedisOptions opts, std::string role,
              std::vector<std::string> scripts = {});
  // Closes the client ("the client was destroyed") unless close() already did.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command, name first ({"MGET", "a", "b"}). A top-level error reply comes back as an Error;
  // every other reply as it is. The client may be destroyed while a call waits: the call then
  // completes with an error, through the loop.
  boost::asio::awaitable<Result<RedisReply>> command(std::vector<std::string> args,
                                                     RedisCallFlags flags = {});
  // Runs scripts[script] with args = numkeys, keys..., argv... (EVALSHA, or EVAL with the text
  // while the digest is unknown or the server lost it).
  boost::asio::awaitable<Result<RedisReply>> evalScript(size_t script,
                                                        std::vector<std::string> args,
                                                        RedisCallFlags flags = {});

  // Completes every call in flight and every later call with an error whose detail is `why`, and
  // stops reconnecting. Idempotent.
  void close(const std::string& why);

  bool connected() const;
  // host:port/db, for logs and error details; never the password.
  const std::string& endpoint() const;
  // The error for a reply whose shape the caller did not expect (counts in redisStats().errors).
  Error unexpectedReply(const std::string& what) const;
  // The error for an error reply the caller got with error_replies (counts as an error too).
  Error errorReply(const std::string& message) const;

 private:
  struct Call;
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight Asio handlers
};

}  // namespace tollgate::ratelimit
