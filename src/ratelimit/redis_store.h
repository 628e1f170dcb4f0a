// Redis counter store: the bucket semantics on a RedisRouter (redis_cluster.h: one node or a
// Redis Cluster's primaries; redis_client.h: connection, pipelining, timeouts, reconnect). One
// connection per node per event loop. A request's buckets travel in one round trip per cluster
// slot (one in all on a single node; the limiter's {hash tag} keeps one user's buckets in one
// slot): a Lua script (loaded once per connection, EVALSHA, EVAL again on NOSCRIPT) checks and
// adds atomically. Buckets spread over several slots are checked slot after slot; when a later
// slot refuses (or fails), what the earlier ones charged is given back, so a budget is never
// over-admitted. Keys expire with their window.
//
// Failures (unreachable, timeout, error reply) come back as an Error with source kUpstream; the
// limiter decides fail-open or fail-closed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "ratelimit/redis_cluster.h"
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
  bool clustered() const;  // known after the first call

 private:
  // Shared with the calls in flight, which may outlive the store; the destructor closes it.
  std::shared_ptr<RedisRouter> router_;
};

}  // namespace tollgate::ratelimit
