#include "ratelimit/redis_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "common/numbers.h"

namespace tollgate::ratelimit {

namespace asio = boost::asio;

namespace {

using Values = std::vector<int64_t>;

// One round trip per call; docs/redis.md states the contract. Amounts and TTLs are handed to
// INCRBY/EXPIRE as the caller's decimal strings: Lua would print large numbers as 1e+15.
constexpr std::string_view kScript = R"lua(
local n = #KEYS
local function bump(key, amount, ttl, fresh)
  local v = redis.call('INCRBY', key, amount)
  if tonumber(ttl) > 0 and (fresh or redis.call('TTL', key) == -1) then
    redis.call('EXPIRE', key, ttl)
  end
  return v
end
local function current(key)
  local raw = redis.call('GET', key)
  if not raw then return 0, true end
  local v = tonumber(raw)
  if not v then error('tollgate: key ' .. key .. ' does not hold an integer') end
  return v, false
end
local out = {}
if ARGV[1] == 'check' then
  local refused = -1
  local fresh = {}
  for i = 1, n do
    local b = 4 * i - 2
    local v, missing = current(KEYS[i])
    out[i + 2] = v
    fresh[i] = missing
    local spent = v
    if spent < 0 then spent = 0 end
    local limit = tonumber(ARGV[b])
    local refuse
    if ARGV[b + 3] == '1' then
      refuse = spent + tonumber(ARGV[b + 1]) > limit
    else
      refuse = spent >= limit
    end
    if refuse and refused < 0 then refused = i - 1 end
  end
  out[1] = 0
  out[2] = refused
  if refused < 0 then
    out[1] = 1
    for i = 1, n do
      local b = 4 * i - 2
      if tonumber(ARGV[b + 1]) ~= 0 then
        out[i + 2] = bump(KEYS[i], ARGV[b + 1], ARGV[b + 2], fresh[i])
      end
    end
  end
  return out
elseif ARGV[1] == 'add' then
  for i = 1, n do
    local b = 4 * i - 2
    if tonumber(ARGV[b + 1]) ~= 0 then
      out[i] = bump(KEYS[i], ARGV[b + 1], ARGV[b + 2], false)
    else
      out[i] = current(KEYS[i])
    end
  end
  return out
end
return redis.error_reply('ERR tollgate: unknown op')
)lua";

}  // namespace

RedisStore::RedisStore(asio::io_context& io, RedisOptions opts)
    : router_(std::make_shared<RedisRouter>(io, std::move(opts), "rate limit store",
                                            std::vector<std::string>{std::string(kScript)})) {}

RedisStore::~RedisStore() { router_->close("the store was destroyed"); }

bool RedisStore::connected() const { return router_->connected(); }

bool RedisStore::clustered() const { return router_->clustered(); }

namespace {

std::vector<std::string> scriptArgs(std::string_view op, const std::vector<BucketOp>& ops) {
  std::vector<std::string> args;
  args.reserve(2 + ops.size() * 5);
  args.push_back(std::to_string(ops.size()));
  for (const auto& b : ops) args.push_back(b.key);
  args.emplace_back(op);
  for (const auto& b : ops) {
    args.push_back(std::to_string(b.limit));
    args.push_back(std::to_string(b.amount));
    args.push_back(std::to_string(b.ttl_seconds));
    args.emplace_back(b.reserve ? "1" : "0");
  }
  return args;
}

// An array reply's elements as integers; `element` reads one or says why it cannot (then the
// whole reply is an unexpected one).
template <typename ReadElement>
Result<Values> arrayValues(const RedisClient& client, Result<RedisReply> r, ReadElement element) {
  if (!r.ok()) return r.error();
  const RedisReply& reply = r.value();
  if (reply.type != RedisReply::Type::kArray) return client.unexpectedReply("not an array");
  Values out;
  out.reserve(reply.elements.size());
  std::string why;
  for (const RedisReply& e : reply.elements) {
    int64_t v = 0;
    if (!element(e, v, why)) return client.unexpectedReply(why);
    out.push_back(v);
  }
  return out;
}

// The script answers an array of integers.
Result<Values> scriptValues(const RedisClient& client, Result<RedisReply> r) {
  return arrayValues(client, std::move(r), [](const RedisReply& e, int64_t& v, std::string& why) {
    if (e.type != RedisReply::Type::kInteger) {
      why = "non-integer in script result";
      return false;
    }
    v = e.integer;
    return true;
  });
}

// MGET answers a bulk string per key, nil for a missing one.
Result<Values> mgetValues(const RedisClient& client, Result<RedisReply> r) {
  return arrayValues(client, std::move(r), [](const RedisReply& e, int64_t& v, std::string& why) {
    if (e.type == RedisReply::Type::kNil) return true;  // v stays 0
    if (e.type == RedisReply::Type::kString) {
      if (parseDecimal(e.str, v)) return true;
      why = "non-integer value";
      return false;
    }
    why = "MGET element type " + std::to_string(static_cast<int>(e.type));
    return false;
  });
}

Error shapeError(size_t got, size_t want) {
  return Error::upstream(
      ErrorCode::kUpstreamBadResponse, "rate limit store error",
      "redis: script returned " + std::to_string(got) + " values, expected " + std::to_string(want),
      false);
}

// Indices of the keys per cluster slot, in first-seen order: one group unless clustered.
template <typename KeyOf>
std::vector<std::vector<size_t>> slotGroups(const RedisRouter& router, size_t n, KeyOf key_of) {
  std::vector<std::vector<size_t>> groups;
  if (!router.clustered()) {
    groups.emplace_back(n);
    for (size_t i = 0; i < n; ++i) groups[0][i] = i;
    return groups;
  }
  std::vector<uint16_t> slots;
  for (size_t i = 0; i < n; ++i) {
    uint16_t slot = redisKeySlot(key_of(i));
    auto it = std::find(slots.begin(), slots.end(), slot);
    if (it == slots.end()) {
      slots.push_back(slot);
      groups.emplace_back();
      it = slots.end() - 1;
    }
    groups[static_cast<size_t>(it - slots.begin())].push_back(i);
  }
  return groups;
}

std::vector<BucketOp> select(const std::vector<BucketOp>& ops, const std::vector<size_t>& idx) {
  std::vector<BucketOp> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(ops[i]);
  return out;
}

// The script on one slot's buckets; `want` values expected.
asio::awaitable<Result<Values>> runScript(std::shared_ptr<RedisRouter> router, std::string_view op,
                                          std::vector<BucketOp> ops, size_t want) {
  std::string slot_key = ops[0].key;
  Result<Values> r = scriptValues(
      router->seed(), co_await router->evalScript(0, scriptArgs(op, ops), std::move(slot_key)));
  if (r.ok() && r.value().size() != want) co_return shapeError(r.value().size(), want);
  co_return r;
}

// Undoes the charges of slot groups already admitted (a later one refused or failed) and
// returns their values after that, or the current ones of groups never run (amount 0).
asio::awaitable<void> settleGroups(std::shared_ptr<RedisRouter> router,
                                   const std::vector<BucketOp>& ops,
                                   const std::vector<std::vector<size_t>>& groups, bool undo,
                                   CheckOutcome& out) {
  for (const auto& g : groups) {
    std::vector<BucketOp> sub = select(ops, g);
    for (auto& b : sub) b.amount = undo ? -b.amount : 0;
    Result<Values> r = co_await runScript(router, "add", sub, sub.size());
    if (!r.ok()) {
      spdlog::warn("rate limit: cannot give back a refused request's charge: {}", r.error().detail);
      continue;
    }
    for (size_t j = 0; j < g.size(); ++j) out.spent[g[j]] = r.value()[j] < 0 ? 0 : r.value()[j];
  }
}

}  // namespace

asio::awaitable<Result<CheckOutcome>> RedisStore::checkAndAdd(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    CheckOutcome none;
    none.allowed = true;
    co_return none;
  }
  std::shared_ptr<RedisRouter> router = router_;  // the store may be destroyed while this waits
  if (Result<bool> m = co_await router->ensureMode(); !m.ok()) co_return m.error();
  const auto groups = slotGroups(*router, ops.size(), [&](size_t i) { return ops[i].key; });
  CheckOutcome out;
  out.allowed = true;
  out.spent.assign(ops.size(), 0);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    Result<Values> r = co_await runScript(router, "check", select(ops, g), g.size() + 2);
    const std::vector<std::vector<size_t>> before(groups.begin(), groups.begin() + gi);
    if (!r.ok()) {
      CheckOutcome ignored;
      ignored.spent.assign(ops.size(), 0);
      co_await settleGroups(router, ops, before, true, ignored);
      co_return r.error();
    }
    const Values& v = r.value();
    for (size_t j = 0; j < g.size(); ++j) {
      out.spent[g[j]] = v[j + 2] < 0 ? 0 : static_cast<uint64_t>(v[j + 2]);
    }
    if (v[0] != 1) {
      out.allowed = false;
      out.refused_index = static_cast<int>(g.at(static_cast<size_t>(v[1])));
      co_await settleGroups(router, ops, before, true, out);
      co_await settleGroups(router, ops,
                            std::vector<std::vector<size_t>>(groups.begin() + gi + 1, groups.end()),
                            false, out);
      break;
    }
  }
  co_return out;
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::add(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<RedisRouter> router = router_;
  if (Result<bool> m = co_await router->ensureMode(); !m.ok()) co_return m.error();
  Values out(ops.size(), 0);
  for (const auto& g : slotGroups(*router, ops.size(), [&](size_t i) { return ops[i].key; })) {
    Result<Values> r = co_await runScript(router, "add", select(ops, g), g.size());
    if (!r.ok()) co_return r.error();
    for (size_t j = 0; j < g.size(); ++j) out[g[j]] = r.value()[j];
  }
  co_return out;
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::get(
    const std::vector<std::string>& keys) {
  if (keys.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<RedisRouter> router = router_;
  if (Result<bool> m = co_await router->ensureMode(); !m.ok()) co_return m.error();
  Values out(keys.size(), 0);
  for (const auto& g : slotGroups(*router, keys.size(), [&](size_t i) { return keys[i]; })) {
    std::vector<std::string> args;
    args.reserve(g.size() + 1);
    args.emplace_back("MGET");
    for (size_t i : g) args.push_back(keys[i]);
    Result<Values> r =
        mgetValues(router->seed(), co_await router->command(std::move(args), keys[g[0]]));
    if (!r.ok()) co_return r.error();
    if (r.value().size() != g.size()) co_return shapeError(r.value().size(), g.size());
    for (size_t j = 0; j < g.size(); ++j) out[g[j]] = r.value()[j];
  }
  co_return out;
}

}  // namespace tollgate::ratelimit
