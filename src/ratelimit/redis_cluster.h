// Routes Redis calls to the node that owns their keys: one RedisClient (redis_client.h) per
// primary of a Redis Cluster, or the one client of a single node. Whether the server is a
// cluster is found out at the start, once connected (CLUSTER SLOTS; a node without cluster
// support says so; again on the next call if that failed), so --redis needs no flag for
// ElastiCache cluster mode or MemoryDB.
//
// Cluster mode: the slot map comes from CLUSTER SLOTS; a MOVED reply updates the slot's owner,
// retries there and refreshes the whole map in the background; an ASK reply retries once on the
// named node behind ASKING; a node that cannot be reached refreshes the map too (a failover
// promotes a replica and the map names it). Only primaries are written, so counts stay exact:
// Redis replicates a script's effects, replicas never run it on their own.
//
// Threading: like RedisClient, one event loop; construct and call it there.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ratelimit/redis_client.h"

namespace tollgate::ratelimit {

// The cluster hash slot of a key (CRC16/XMODEM mod 16384 of the key, or of its {hash tag}: the
// part between the first '{' and the next '}' when that part is not empty).
uint16_t redisKeySlot(std::string_view key);

class RedisRouter {
 public:
  RedisRouter(boost::asio::io_context& io, RedisOptions opts, std::string role,
              std::vector<std::string> scripts);
  ~RedisRouter();
  RedisRouter(const RedisRouter&) = delete;
  RedisRouter& operator=(const RedisRouter&) = delete;

  // Runs scripts[script] (args = numkeys, keys..., argv...) on the node owning `slot_key`'s slot;
  // in a cluster all its keys must share that slot. Error replies come back as Errors.
  boost::asio::awaitable<Result<RedisReply>> evalScript(size_t script,
                                                        std::vector<std::string> args,
                                                        std::string slot_key);
  // One command (keys of one slot) on the node owning `slot_key`.
  boost::asio::awaitable<Result<RedisReply>> command(std::vector<std::string> args,
                                                     std::string slot_key);
  // Known once the first call found out (before: false).
  bool clustered() const;
  // Resolves cluster or not (a round trip on the first call; later at once). An error while the
  // seed cannot be reached.
  boost::asio::awaitable<Result<bool>> ensureMode();

  bool connected() const;  // cluster or not is known, and every node's connection is up
  void close(const std::string& why);
  // For the store's reply checks (error texts name the seed).
  const RedisClient& seed() const;

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with calls in flight, which may outlive the router
};

}  // namespace tollgate::ratelimit
