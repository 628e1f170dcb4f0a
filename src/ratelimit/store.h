// Counter stores for rate limiting. A store keeps one integer per bucket key (the key includes
// its window, so a new window is a new key) and applies a request's operations on all of its
// buckets atomically: in-process (local_store.h) for one replica, Redis (redis_store.h) to share
// budgets across replicas.
//
// Threading: a LocalStore is shared by all loops (sharded, no global lock). A RedisStore belongs
// to one event loop (one connection per loop); call it only from that loop's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.h"

namespace tollgate::ratelimit {

struct BucketOp {
  std::string key;           // full store key, window included
  uint64_t limit = 0;        // the bucket's limit in its window
  int64_t amount = 0;        // check: the cost to add when allowed (>= 0); add: a delta (any sign)
  uint32_t ttl_seconds = 0;  // how long the key must live: to its window's end plus slack
  // check only: true refuses when spent + amount > limit ("reserve" mode: never over-admit);
  // false refuses when spent >= limit (Envoy: the request that crosses the limit still passes).
  bool reserve = false;
};

struct CheckOutcome {
  bool allowed = false;
  // Per bucket, in order: the spent value after the operation when allowed, or the current
  // value when refused. Never negative (a reconcile below zero reads as 0).
  std::vector<uint64_t> spent;
  int refused_index = -1;  // the first bucket that refused, when !allowed
};

class Store {
 public:
  virtual ~Store() = default;
  // If every bucket passes, adds each amount; all or nothing, atomically.
  virtual boost::asio::awaitable<Result<CheckOutcome>> checkAndAdd(
      const std::vector<BucketOp>& ops) = 0;
  // Adds each amount (may be negative), creating missing keys with their ttl. Returns the values
  // after adding.
  virtual boost::asio::awaitable<Result<std::vector<int64_t>>> add(
      const std::vector<BucketOp>& ops) = 0;
  // Current values (0 for missing keys).
  virtual boost::asio::awaitable<Result<std::vector<int64_t>>> get(
      const std::vector<std::string>& keys) = 0;
};

}  // namespace tollgate::ratelimit
