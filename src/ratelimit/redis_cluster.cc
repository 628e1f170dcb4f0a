#include "ratelimit/redis_cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "common/numbers.h"

namespace tollgate::ratelimit {

namespace asio = boost::asio;

namespace {

constexpr size_t kSlots = 16384;
// Redirects one call follows before giving up: a slot migrating while the map settles takes
// one or two; more means the cluster is reconfiguring faster than we can follow.
constexpr int kMaxRedirects = 5;
// A node that cannot be reached refreshes the map at most this often.
constexpr std::chrono::milliseconds kFailureRefreshInterval{250};

constexpr std::array<uint16_t, 256> makeCrcTable() {
  std::array<uint16_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    auto crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      crc = static_cast<uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    t[i] = crc;
  }
  return t;
}
constexpr std::array<uint16_t, 256> kCrcTable = makeCrcTable();

uint16_t crc16(std::string_view s) {
  uint16_t crc = 0;
  for (char c : s) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrcTable[((crc >> 8) ^ static_cast<uint8_t>(c)) & 0xff]);
  }
  return crc;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": the node, or nullopt.
std::optional<RedisNode> redirectTarget(std::string_view msg, std::string_view fallback_host) {
  size_t sp2 = msg.find(' ', msg.find(' ') + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  std::string_view hp = msg.substr(sp2 + 1);
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  RedisNode n;
  n.host = std::string(hp.substr(0, colon));
  if (n.host.empty()) n.host = std::string(fallback_host);  // "unknown endpoint": the same host
  if (!parseDecimal(hp.substr(colon + 1), n.port) || n.port == 0) return std::nullopt;
  return n;
}

// Built outside the coroutines: GCC 12 fails on braced string literals inside one.
std::vector<std::string> clusterSlots() { return {"CLUSTER", "SLOTS"}; }
RedisCallFlags errorReplies() { return {.asking = false, .error_replies = true}; }

}  // namespace

uint16_t redisKeySlot(std::string_view key) {
  if (size_t open = key.find('{'); open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<uint16_t>(crc16(key) % kSlots);
}

struct RedisRouter::State : std::enable_shared_from_this<State> {
  enum class Mode { kUnknown, kSingle, kCluster };
  using Clock = std::chrono::steady_clock;

  State(asio::io_context& i, RedisOptions o, std::string r, std::vector<std::string> s)
      : io(i), opts(std::move(o)), role(std::move(r)), scripts(std::move(s)), refreshed(i) {
    seed = std::make_shared<RedisClient>(io, opts, role, scripts);
    refreshed.expires_at(Clock::time_point::max());
  }

  std::shared_ptr<RedisClient> clientFor(const RedisNode& n) {
    if (n.host == opts.host && n.port == opts.port) return seed;
    auto& c = nodes[n];
    if (!c) {
      RedisOptions o = opts;
      o.host = n.host;
      o.port = n.port;
      o.more_nodes.clear();
      c = std::make_shared<RedisClient>(io, std::move(o), role, scripts);
    }
    return c;
  }

  // Reads the slot map from the first node that answers (the seed, then the others).
  asio::awaitable<Result<bool>> refresh() {
    if (refreshing) {
      boost::system::error_code ec;
      co_await refreshed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_return mode != Mode::kUnknown ? Result<bool>(mode == Mode::kCluster) : last_error;
    }
    refreshing = true;
    auto self = shared_from_this();
    std::vector<std::shared_ptr<RedisClient>> ask{seed};
    for (auto& [n, c] : nodes) ask.push_back(c);
    Error failure = Error::internal("redis: no node to ask for the slot map");
    bool done = false;
    for (auto& c : ask) {
      Result<RedisReply> r = co_await c->command(clusterSlots(), errorReplies());
      if (!r.ok()) {
        failure = r.error();
        continue;
      }
      if (r->type == RedisReply::Type::kError) {
        if (r->str.find("cluster support disabled") != std::string::npos) {
          mode = Mode::kSingle;
          done = true;
          break;
        }
        failure = c->errorReply(r->str);
        continue;
      }
      if (applySlots(*r, c->endpoint())) {
        mode = Mode::kCluster;
        done = true;
        break;
      }
      failure = c->unexpectedReply("CLUSTER SLOTS");
    }
    last_refresh = Clock::now();
    if (!done) last_error = failure;
    refreshing = false;
    refreshed.cancel();  // wakes the waiters
    refreshed.expires_at(Clock::time_point::max());
    if (!done) co_return failure;
    co_return mode == Mode::kCluster;
  }

  bool applySlots(const RedisReply& r, const std::string& asked) {
    if (r.type != RedisReply::Type::kArray) return false;
    std::string asked_host = asked.substr(0, asked.rfind(':'));
    std::vector<std::shared_ptr<RedisClient>> map(kSlots);
    for (const RedisReply& range : r.elements) {
      if (range.type != RedisReply::Type::kArray || range.elements.size() < 3) return false;
      const RedisReply& node = range.elements[2];
      if (range.elements[0].type != RedisReply::Type::kInteger ||
          range.elements[1].type != RedisReply::Type::kInteger ||
          node.type != RedisReply::Type::kArray || node.elements.size() < 2 ||
          node.elements[0].type != RedisReply::Type::kString ||
          node.elements[1].type != RedisReply::Type::kInteger) {
        return false;
      }
      int64_t from = range.elements[0].integer;
      int64_t to = range.elements[1].integer;
      if (from < 0 || to >= static_cast<int64_t>(kSlots) || from > to) return false;
      RedisNode n{node.elements[0].str, static_cast<uint16_t>(node.elements[1].integer)};
      if (n.host.empty() || n.host == "?") n.host = asked_host;
      auto client = clientFor(n);
      for (int64_t s = from; s <= to; ++s) map[static_cast<size_t>(s)] = client;
    }
    slots = std::move(map);
    seed_serves = std::find(slots.begin(), slots.end(), seed) != slots.end();
    // Nodes that serve no slot any more (failed over, removed) are let go; a call still on one
    // keeps its own reference.
    for (auto it = nodes.begin(); it != nodes.end();) {
      bool used = std::find(slots.begin(), slots.end(), it->second) != slots.end();
      it = used ? std::next(it) : nodes.erase(it);
    }
    redisStats().slot_map_refreshes.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void refreshInBackground() {
    if (refreshing) return;
    asio::co_spawn(
        io, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->refresh(); },
        asio::detached);
  }

  // The call on the owner of the slot, following redirects. `run` makes one attempt on a client.
  template <typename Run>
  asio::awaitable<Result<RedisReply>> routed(const std::string& slot_key, Run run) {
    auto self = shared_from_this();  // the router may be destroyed while this call waits
    if (mode == Mode::kUnknown) {
      Result<bool> m = co_await refresh();
      if (!m.ok()) co_return m.error();
    }
    if (mode == Mode::kSingle) co_return co_await run(*seed, RedisCallFlags{});
    const uint16_t slot = redisKeySlot(slot_key);
    std::shared_ptr<RedisClient> target;
    RedisCallFlags flags = errorReplies();
    for (int i = 0;; ++i) {
      if (!flags.asking) target = slots[slot];
      if (!target) {
        Result<bool> m = co_await refresh();
        if (!m.ok()) co_return m.error();
        target = slots[slot];
        if (!target) co_return seed->errorReply("no node serves slot " + std::to_string(slot));
      }
      Result<RedisReply> r = co_await run(*target, flags);
      if (!r.ok()) {
        // Unreachable or silent: a failover may be under way, and the map will say so.
        if (Clock::now() - last_refresh >= kFailureRefreshInterval) refreshInBackground();
        co_return r;
      }
      if (r->type != RedisReply::Type::kError) co_return r;
      const std::string& msg = r->str;
      bool moved = msg.starts_with("MOVED ");
      bool ask = msg.starts_with("ASK ");
      if ((!moved && !ask) || i >= kMaxRedirects) co_return target->errorReply(msg);
      std::string from = target->endpoint();
      auto node = redirectTarget(msg, from.substr(0, from.rfind(':')));
      if (!node) co_return target->unexpectedReply(msg);
      target = clientFor(*node);
      flags.asking = ask;
      if (moved) {
        redisStats().moved.fetch_add(1, std::memory_order_relaxed);
        slots[slot] = target;
        refreshInBackground();
      } else {
        redisStats().asked.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  void close(const std::string& why) {
    seed->close(why);
    for (auto& [n, c] : nodes) c->close(why);
  }

  asio::io_context& io;
  const RedisOptions opts;
  const std::string role;
  const std::vector<std::string> scripts;
  Mode mode = Mode::kUnknown;
  std::shared_ptr<RedisClient> seed;  // the URL's nodes
  struct NodeLess {
    bool operator()(const RedisNode& a, const RedisNode& b) const {
      return a.host != b.host ? a.host < b.host : a.port < b.port;
    }
  };
  std::map<RedisNode, std::shared_ptr<RedisClient>, NodeLess> nodes;  // the other primaries
  std::vector<std::shared_ptr<RedisClient>> slots;                    // owner per slot
  bool seed_serves = false;  // the seed owns slots in the current map
  bool refreshing = false;
  asio::steady_timer refreshed;  // cancelled when a refresh ends: the waiters' signal
  Clock::time_point last_refresh;
  Error last_error = Error::internal("redis: the slot map was never read");
};

RedisRouter::RedisRouter(asio::io_context& io, RedisOptions opts, std::string role,
                         std::vector<std::string> scripts)
    : state_(std::make_shared<State>(io, std::move(opts), std::move(role), std::move(scripts))) {
  // Found out now, behind the first connection, rather than on the first request.
  state_->refreshInBackground();
}

RedisRouter::~RedisRouter() { state_->close("the store was destroyed"); }

asio::awaitable<Result<RedisReply>> RedisRouter::evalScript(size_t script,
                                                            std::vector<std::string> args,
                                                            std::string slot_key) {
  std::shared_ptr<State> s = state_;
  co_return co_await s->routed(slot_key, [&](RedisClient& c, RedisCallFlags flags) {
    return c.evalScript(script, args, flags);
  });
}

asio::awaitable<Result<RedisReply>> RedisRouter::command(std::vector<std::string> args,
                                                         std::string slot_key) {
  std::shared_ptr<State> s = state_;
  co_return co_await s->routed(
      slot_key, [&](RedisClient& c, RedisCallFlags flags) { return c.command(args, flags); });
}

bool RedisRouter::clustered() const { return state_->mode == State::Mode::kCluster; }

asio::awaitable<Result<bool>> RedisRouter::ensureMode() {
  std::shared_ptr<State> s = state_;
  if (s->mode != State::Mode::kUnknown) co_return s->mode == State::Mode::kCluster;
  co_return co_await s->refresh();
}

bool RedisRouter::connected() const {
  const State& s = *state_;
  if (s.mode == State::Mode::kUnknown) return false;
  // In a cluster the seed matters only while it serves slots (a dead seed is not one).
  if ((s.mode == State::Mode::kSingle || s.seed_serves) && !s.seed->connected()) return false;
  for (const auto& [n, c] : s.nodes) {
    if (!c->connected()) return false;
  }
  return true;
}

void RedisRouter::close(const std::string& why) { state_->close(why); }

const RedisClient& RedisRouter::seed() const { return *state_->seed; }

}  // namespace tollgate::ratelimit
