// Redis counter store: hiredis async, driven by the owning event loop through an Asio adapter
// (no extra thread, never blocks the loop). One connection per event loop. Every request's
// buckets travel in one round trip: a Lua script (SCRIPT LOAD once per connection, EVALSHA,
// EVAL again on NOSCRIPT) checks and adds atomically. Keys expire with their window.
//
// Failures (unreachable, timeout, error reply) come back as an Error with source kUpstream; the
// limiter decides fail-open or fail-closed. A lost connection is re-established with backoff
// (100 ms doubling to 5 s) in the background; while it is down, calls fail at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "ratelimit/store.h"

namespace tollgate::ratelimit {

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string password;  // AUTH when non-empty (never logged)
  std::string username;  // AUTH username (Redis 6 ACL), optional
  int db = 0;            // SELECT when non-zero
  std::chrono::milliseconds timeout{50};           // per command round trip
  std::chrono::milliseconds connect_timeout{1000};
};

// Parses redis://[[user]:password@]host[:port][/db]. nullopt on a malformed URL.
std::optional<RedisOptions> parseRedisUrl(std::string_view url);

// Counters shared by all RedisStores of the process (read by metrics).
struct RedisStats {
  std::atomic<uint64_t> round_trips{0};
  std::atomic<uint64_t> errors{0};     // error replies, disconnects while waiting
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> rtt_micros_total{0};
  std::atomic<int> connected{0};       // connections currently up
};
RedisStats& redisStats();

class RedisStore final : public Store {
 public:
  // Starts connecting right away (asynchronously, on `io`). Construct it on the loop's thread or
  // before the loop runs. Calls made while the first connection is being set up wait for it
  // (each bounded by opts.timeout); after any failure, calls fail at once until it is ready again.
  // Destroying the store completes calls in flight with an error (delivered through the loop).
  RedisStore(boost::asio::io_context& io, RedisOptions opts);
  ~RedisStore() override;

  boost::asio::awaitable<Result<CheckOutcome>> checkAndAdd(const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> add(const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> get(const std::vector<std::string>& keys) override;

  bool connected() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight hiredis callbacks
};

}  // namespace tollgate::ratelimit
