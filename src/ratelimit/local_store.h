// In-process counter store for a single replica. Keys are spread over 64 shards, each with its
// own mutex, so requests of different users rarely touch the same lock; the shards a request
// needs are locked in index order, which makes a multi-bucket check atomic without deadlock.
// Expired keys are swept lazily, a shard at a time.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ratelimit/store.h"

namespace tollgate::ratelimit {

class LocalStore final : public Store {
 public:
  using Clock = std::chrono::steady_clock;

  boost::asio::awaitable<Result<CheckOutcome>> checkAndAdd(
      const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> add(
      const std::vector<BucketOp>& ops) override;
  boost::asio::awaitable<Result<std::vector<int64_t>>> get(
      const std::vector<std::string>& keys) override;

  // The synchronous cores (the awaitables above just wrap them); tests use them directly.
  CheckOutcome checkAndAddNow(const std::vector<BucketOp>& ops);
  std::vector<int64_t> addNow(const std::vector<BucketOp>& ops);
  std::vector<int64_t> getNow(const std::vector<std::string>& keys);
  size_t size();

 private:
  static constexpr size_t kShards = 64;
  struct Entry {
    int64_t value = 0;
    Clock::time_point expires;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Entry> map;
    uint32_t ops_since_sweep = 0;
  };
  static size_t shardOf(const std::string& key);
  // Locks the shards of `keys` in index order; unlocks on destruction.
  class MultiLock;
  Entry& entryFor(Shard& s, const std::string& key, uint32_t ttl_seconds, Clock::time_point now);
  static void maybeSweep(Shard& s, Clock::time_point now);

  std::array<Shard, kShards> shards_;
};

}  // namespace tollgate::ratelimit
