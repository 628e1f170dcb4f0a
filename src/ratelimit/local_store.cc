#include "ratelimit/local_store.h"

#include <algorithm>
#include <functional>

namespace tollgate::ratelimit {

class LocalStore::MultiLock {
 public:
  MultiLock(LocalStore& store, const std::vector<size_t>& shard_ids) {
    for (size_t id : shard_ids) {
      if (!locked_.empty() && locked_.back() == id) continue;
      store.shards_[id].mu.lock();
      locked_.push_back(id);
      store_ = &store;
    }
  }
  ~MultiLock() {
    for (auto it = locked_.rbegin(); it != locked_.rend(); ++it) store_->shards_[*it].mu.unlock();
  }

 private:
  LocalStore* store_ = nullptr;
  std::vector<size_t> locked_;
};

size_t LocalStore::shardOf(const std::string& key) {
  return std::hash<std::string>{}(key) % kShards;
}

LocalStore::Entry& LocalStore::entryFor(Shard& s, const std::string& key, uint32_t ttl_seconds,
                                        Clock::time_point now) {
  auto [it, inserted] = s.map.try_emplace(key);
  if (inserted || it->second.expires <= now) {
    it->second.value = 0;
    it->second.expires = now + std::chrono::seconds(ttl_seconds);
  }
  return it->second;
}

void LocalStore::maybeSweep(Shard& s, Clock::time_point now) {
  if (++s.ops_since_sweep < 4096) return;
  s.ops_since_sweep = 0;
  std::erase_if(s.map, [now](const auto& kv) { return kv.second.expires <= now; });
}

CheckOutcome LocalStore::checkAndAddNow(const std::vector<BucketOp>& ops) {
  std::vector<size_t> ids;
  ids.reserve(ops.size());
  for (const auto& op : ops) ids.push_back(shardOf(op.key));
  std::vector<size_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  MultiLock lock(*this, sorted);
  auto now = Clock::now();
  CheckOutcome out;
  out.spent.resize(ops.size());
  std::vector<Entry*> entries(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    Shard& s = shards_[ids[i]];
    entries[i] = &entryFor(s, ops[i].key, ops[i].ttl_seconds, now);
    int64_t spent = std::max<int64_t>(entries[i]->value, 0);
    out.spent[i] = static_cast<uint64_t>(spent);
    const auto limit = static_cast<int64_t>(ops[i].limit);
    bool refuse = ops[i].reserve ? spent + ops[i].amount > limit : spent >= limit;
    if (refuse && out.refused_index < 0) out.refused_index = static_cast<int>(i);
  }
  out.allowed = out.refused_index < 0;
  if (out.allowed) {
    for (size_t i = 0; i < ops.size(); ++i) {
      entries[i]->value += ops[i].amount;
      out.spent[i] = static_cast<uint64_t>(std::max<int64_t>(entries[i]->value, 0));
    }
  }
  for (size_t id : ids) maybeSweep(shards_[id], now);
  return out;
}

std::vector<int64_t> LocalStore::addNow(const std::vector<BucketOp>& ops) {
  std::vector<int64_t> out;
  out.reserve(ops.size());
  auto now = Clock::now();
  for (const auto& op : ops) {
    Shard& s = shards_[shardOf(op.key)];
    std::lock_guard lock(s.mu);
    Entry& e = entryFor(s, op.key, op.ttl_seconds, now);
    e.value += op.amount;
    out.push_back(e.value);
  }
  return out;
}

std::vector<int64_t> LocalStore::getNow(const std::vector<std::string>& keys) {
  std::vector<int64_t> out;
  auto now = Clock::now();
  for (const auto& k : keys) {
    Shard& s = shards_[shardOf(k)];
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    out.push_back(it == s.map.end() || it->second.expires <= now ? 0 : it->second.value);
  }
  return out;
}

size_t LocalStore::size() {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.map.size();
  }
  return n;
}

boost::asio::awaitable<Result<CheckOutcome>> LocalStore::checkAndAdd(
    const std::vector<BucketOp>& ops) {
  co_return checkAndAddNow(ops);
}

boost::asio::awaitable<Result<std::vector<int64_t>>> LocalStore::add(
    const std::vector<BucketOp>& ops) {
  co_return addNow(ops);
}

boost::asio::awaitable<Result<std::vector<int64_t>>> LocalStore::get(
    const std::vector<std::string>& keys) {
  co_return getNow(keys);
}

}  // namespace tollgate::ratelimit
