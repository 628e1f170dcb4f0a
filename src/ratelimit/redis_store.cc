#include "ratelimit/redis_store.h"

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
    : client_(std::make_shared<RedisClient>(io, std::move(opts), "rate limit store",
                                            std::vector<std::string>{std::string(kScript)})) {}

RedisStore::~RedisStore() { client_->close("the store was destroyed"); }

bool RedisStore::connected() const { return client_->connected(); }

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

}  // namespace

asio::awaitable<Result<CheckOutcome>> RedisStore::checkAndAdd(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    CheckOutcome none;
    none.allowed = true;
    co_return none;
  }
  std::shared_ptr<RedisClient> client = client_;  // the store may be destroyed while this waits
  Result<Values> r =
      scriptValues(*client, co_await client->evalScript(0, scriptArgs("check", ops)));
  if (!r.ok()) co_return r.error();
  const Values& v = r.value();
  if (v.size() != ops.size() + 2) co_return shapeError(v.size(), ops.size() + 2);
  CheckOutcome out;
  out.allowed = v[0] == 1;
  out.refused_index = out.allowed ? -1 : static_cast<int>(v[1]);
  out.spent.reserve(ops.size());
  for (size_t i = 2; i < v.size(); ++i) {
    out.spent.push_back(v[i] < 0 ? 0 : static_cast<uint64_t>(v[i]));
  }
  co_return out;
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::add(const std::vector<BucketOp>& ops) {
  if (ops.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<RedisClient> client = client_;
  Result<Values> r = scriptValues(*client, co_await client->evalScript(0, scriptArgs("add", ops)));
  if (r.ok() && r.value().size() != ops.size()) co_return shapeError(r.value().size(), ops.size());
  co_return std::move(r);
}

asio::awaitable<Result<std::vector<int64_t>>> RedisStore::get(
    const std::vector<std::string>& keys) {
  if (keys.empty()) {
    Values none;
    co_return none;
  }
  std::shared_ptr<RedisClient> client = client_;
  std::vector<std::string> args;
  args.reserve(keys.size() + 1);
  args.emplace_back("MGET");
  args.insert(args.end(), keys.begin(), keys.end());
  Result<Values> r = mgetValues(*client, co_await client->command(std::move(args)));
  if (r.ok() && r.value().size() != keys.size()) {
    co_return shapeError(r.value().size(), keys.size());
  }
  co_return std::move(r);
}

}  // namespace tollgate::ratelimit
