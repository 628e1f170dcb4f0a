// Redis counter store: the bucket semantics on a RedisClient (redis_client.h: connection,
// pipelining, timeouts, reconnect). One client, so one connection, per event loop. Every
// request's buckets travel in one round trip: a Lua script (loaded once per connection, EVALSHA,
// EVAL again on NOSCRIPT) checks and adds atomically. Keys expire with their window.
//
// Failures (unreachable, timeout, error reply) come back as an Error with source kUpstream; the
// limiter decides fail-open or fail-closed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "ratelimit/redis_client.h"
#include "ratelimit/store.h"

namespace tollgate::ratelimit {

class RedisStore final : public Store {
 public:
  // Starts connecting right away (asynchronously, on `io`). Construct it on the loop's thread or
  // before the loop runs. Calls made while the first connection is being set up wait for it
  // (each bounded by opts.timeout); after any failure, calls fail at once until it is ready again.
  // Destroying the store completes calls in flight with an error (delivered through the loop).
  RedisStore(boost::asio::io_context& io, RedisOptions opts);
  ~RedisStore() override;

  boost::asio::awaitable<Result<CheckOutcome>> checkAndAdd(
      const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> add(
      const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> get(
      const std::vector<std::string>& keys) override;

  bool connected() const;

 private:
  // Shared with the calls in flight, which may outlive the store; the destructor closes it.
  std::shared_ptr<RedisClient> client_;
};

}  // namespace tollgate::ratelimit
