#include "ratelimit/limiter.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/log.h"
#include "common/strings.h"
#include "ratelimit/local_store.h"

namespace tollgate::ratelimit {

namespace {

constexpr std::string_view kModeAnnotation = "tollgate.io/rate-limit-mode";
constexpr std::string_view kDefaultMaxTokensAnnotation = "tollgate.io/default-max-tokens";

int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view nameOf(std::string_view ns_name) {
  auto slash = ns_name.find('/');
  return slash == std::string_view::npos ? ns_name : ns_name.substr(slash + 1);
}

// A compile problem of one object, located like the loader's diagnostics.
config::Diagnostic policyError(const config::Origin& origin, std::string field,
                               std::string message) {
  config::Diagnostic d;
  d.severity = config::Severity::kError;
  d.file = origin.file;
  d.line = origin.line;
  d.object = origin.kind + " " + origin.ns + "/" + origin.name;
  d.field = std::move(field);
  d.message = std::move(message);
  return d;
}

// Store problems are logged at most once per second per thread: Redis down must not flood logs.
bool shouldLogStoreError() {
  thread_local std::chrono::steady_clock::time_point last{};
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(1)) return false;
  last = now;
  return true;
}

}  // namespace

std::string_view unitName(config::RateLimitUnit unit) {
  switch (unit) {
    case config::RateLimitUnit::kSecond:
      return "Second";
    case config::RateLimitUnit::kMinute:
      return "Minute";
    case config::RateLimitUnit::kHour:
      return "Hour";
    case config::RateLimitUnit::kDay:
      return "Day";
    case config::RateLimitUnit::kMonth:
      return "Month";
    case config::RateLimitUnit::kYear:
      return "Year";
  }
  return "Minute";
}

Window windowFor(config::RateLimitUnit unit, int64_t now) {
  auto fixed = [now](int64_t len) { return Window{now - now % len, now - now % len + len}; };
  switch (unit) {
    case config::RateLimitUnit::kSecond:
      return fixed(1);
    case config::RateLimitUnit::kMinute:
      return fixed(60);
    case config::RateLimitUnit::kHour:
      return fixed(3600);
    case config::RateLimitUnit::kDay:
      return fixed(86400);
    case config::RateLimitUnit::kMonth:
    case config::RateLimitUnit::kYear: {
      // Calendar windows in UTC.
      std::time_t t = static_cast<std::time_t>(now);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::tm start{};
      start.tm_year = tm.tm_year;
      start.tm_mon = unit == config::RateLimitUnit::kMonth ? tm.tm_mon : 0;
      start.tm_mday = 1;
      std::tm end = start;
      if (unit == config::RateLimitUnit::kMonth) {
        end.tm_mon += 1;
      } else {
        end.tm_year += 1;
      }
      return Window{static_cast<int64_t>(timegm(&start)), static_cast<int64_t>(timegm(&end))};
    }
  }
  return fixed(60);
}

std::string_view verdictName(Verdict v) {
  switch (v) {
    case Verdict::kNoLimits:
      return "";
    case Verdict::kAllowed:
      return "allowed";
    case Verdict::kLimited:
      return "limited";
    case Verdict::kFailOpen:
      return "fail_open";
    case Verdict::kFailClosed:
      return "fail_closed";
  }
  return "";
}

Policies::Policies(const config::Config& cfg, Mode default_mode) {
  for (const auto& p : cfg.traffic_policies) {
    Mode mode = default_mode;
    uint64_t default_max = 1024;
    if (auto it = p.annotations.find(std::string(kModeAnnotation)); it != p.annotations.end()) {
      if (it->second == "reserve") {
        mode = Mode::kReserve;
      } else if (it->second == "envoy") {
        mode = Mode::kEnvoy;
      } else {
        errors_.push_back(policyError(p.origin,
                                      "metadata.annotations." + std::string(kModeAnnotation),
                                      "must be 'envoy' or 'reserve', got '" + it->second + "'"));
      }
    }
    if (auto it = p.annotations.find(std::string(kDefaultMaxTokensAnnotation));
        it != p.annotations.end()) {
      try {
        default_max = std::stoull(it->second);
      } catch (const std::exception&) {
        errors_.push_back(policyError(
            p.origin, "metadata.annotations." + std::string(kDefaultMaxTokensAnnotation),
            "must be a number"));
      }
    }
    for (size_t i = 0; i < p.rules.size(); ++i) {
      const auto& r = p.rules[i];
      CompiledRule cr;
      cr.policy = p.origin.ns + "/" + p.origin.name;
      cr.index = i;
      cr.local = !p.global;
      cr.mode = mode;
      cr.limit = r.limit;
      cr.unit = r.unit;
      cr.request_cost = r.request_cost;
      cr.response_key = r.response_metadata_key;
      cr.target_routes = p.target_routes;
      cr.default_max_tokens = default_max;
      for (const auto& selector : r.client_selectors) {
        for (const auto& h : selector) {
          cr.headers.emplace_back(toLower(h.name), h.type, h.value, h.invert);
        }
      }
      rules_.push_back(std::move(cr));
    }
  }
  for (const auto& route : cfg.routes) {
    auto& keys = costs_[route.origin.ns + "/" + route.origin.name];
    for (size_t i = 0; i < route.llm_request_costs.size(); ++i) {
      const auto& c = route.llm_request_costs[i];
      CostFunction fn;
      fn.type = c.type;
      if (c.type == config::CostType::kCEL) {
        auto prog = CelProgram::compile(c.cel);
        if (!prog) {
          errors_.push_back(policyError(route.origin,
                                        "spec.llmRequestCosts[" + std::to_string(i) + "].cel",
                                        prog.error().public_message));
          continue;
        }
        fn.cel = std::move(prog.value());
      }
      keys[c.metadata_key] = std::move(fn);
    }
  }
}

const CostFunction* Policies::cost(const std::string& route, const std::string& key) const {
  auto r = costs_.find(route);
  if (r == costs_.end()) return nullptr;
  auto k = r->second.find(key);
  return k == r->second.end() ? nullptr : &k->second;
}

Limiter::Limiter(LimiterOptions opts, std::function<Store*()> global_store)
    : opts_(opts), global_store_(std::move(global_store)), local_(std::make_unique<LocalStore>()) {}

Limiter::~Limiter() = default;

std::vector<Bucket> Limiter::matchBuckets(const Policies& policies,
                                          const RequestFacts& facts) const {
  std::vector<Bucket> out;
  const int64_t now = nowUnix();
  for (const auto& rule : policies.rules()) {
    if (!rule.target_routes.empty() &&
        std::find(rule.target_routes.begin(), rule.target_routes.end(), nameOf(facts.route)) ==
            rule.target_routes.end()) {
      continue;
    }
    std::string distinct;
    std::string_view tag;  // the first Distinct value: the key's cluster hash tag
    bool applies = true;
    for (const auto& h : rule.headers) {
      auto v = facts.headers ? facts.headers->get(h.name()) : std::nullopt;
      if (!h.matches(v)) {
        applies = false;
        break;
      }
      if (h.kind() == HeaderMatchKind::kDistinct) {
        if (distinct.empty()) tag = *v;
        // Length-prefixed, so values with separators can never collide.
        distinct += std::to_string(v->size());
        distinct += ':';
        distinct += *v;
        distinct += ':';
      }
    }
    if (!applies) continue;
    Window w = windowFor(rule.unit, now);
    Bucket b;
    b.rule = &rule;
    b.key.reserve(52 + rule.policy.size() + distinct.size() + tag.size());
    b.key += "tg:rl:";
    // A Redis Cluster hashes only what is inside the first {...}: every bucket of one user (the
    // first Distinct header, x-user-id in the usual rules) lands in one slot, so one script call
    // checks them all atomically. Buckets without a Distinct header hash on their whole key.
    // docs/redis.md has the key format.
    if (!distinct.empty()) {
      b.key += '{';
      b.key += tag;
      b.key += "}:";
    }
    b.key += rule.policy;
    b.key += ':';
    b.key += std::to_string(rule.index);
    b.key += ':';
    b.key += distinct;
    b.key += std::to_string(w.start);
    b.window_end_unix = w.end;
    b.ttl_seconds = static_cast<uint32_t>(std::max<int64_t>(1, w.end - now + 1));
    out.push_back(std::move(b));
  }
  return out;
}

api::TokenUsage Limiter::estimateUsage(const RequestFacts& facts, uint64_t default_max_tokens) {
  api::TokenUsage u;
  // About four bytes of JSON per prompt token: deliberately generous, reconciled at completion.
  u.input_tokens = (facts.body_bytes + 3) / 4;
  u.output_tokens = facts.max_tokens && *facts.max_tokens > 0
                        ? static_cast<uint64_t>(*facts.max_tokens)
                        : default_max_tokens;
  u.total_tokens = u.input_tokens + u.output_tokens;
  u.known = false;
  return u;
}

uint64_t Limiter::responseCost(const CostFunction* fn, const RequestFacts& facts,
                               const api::TokenUsage& usage) {
  const uint64_t total =
      usage.total_tokens ? usage.total_tokens : usage.input_tokens + usage.output_tokens;
  if (!fn) return 0;  // the route does not define this key: nothing to charge
  switch (fn->type) {
    case config::CostType::kInputToken:
      return usage.input_tokens;
    case config::CostType::kCachedInputToken:
      return usage.cached_input_tokens;
    case config::CostType::kOutputToken:
      return usage.output_tokens;
    case config::CostType::kTotalToken:
      return total;
    case config::CostType::kCEL: {
      if (!fn->cel) return total;
      CelInputs in;
      in.model = facts.model;
      in.backend = facts.backend;
      in.input_tokens = usage.input_tokens;
      in.cached_input_tokens = usage.cached_input_tokens;
      in.output_tokens = usage.output_tokens;
      in.total_tokens = total;
      auto r = fn->cel->evaluate(in);
      if (!r) {
        // Never charge nothing for tokens that were produced: fall back to the total.
        spdlog::warn("rate limit: CEL cost failed for model {}: {}; charging total tokens",
                     facts.model, r.error().public_message);
        return total;
      }
      return r.value();
    }
  }
  return total;
}

boost::asio::awaitable<Decision> Limiter::check(const Policies& policies,
                                                const RequestFacts& facts) {
  Decision d;
  d.buckets = matchBuckets(policies, facts);
  if (d.buckets.empty()) co_return d;

  // Global buckets first (Redis), then Local ones (in-process); if the second set refuses, the
  // first set's amounts are given back so a refused request costs nothing.
  std::vector<BucketOp> global_ops, local_ops;
  std::vector<size_t> global_idx, local_idx;
  for (size_t i = 0; i < d.buckets.size(); ++i) {
    auto& b = d.buckets[i];
    const auto& rule = *b.rule;
    BucketOp op;
    op.key = b.key;
    op.limit = rule.limit;
    op.ttl_seconds = b.ttl_seconds;
    op.reserve = rule.mode == Mode::kReserve;
    op.amount = static_cast<int64_t>(rule.request_cost);
    if (op.reserve && rule.response_key) {
      auto est = estimateUsage(facts, rule.default_max_tokens);
      b.reserved = static_cast<int64_t>(
          responseCost(policies.cost(facts.route, *rule.response_key), facts, est));
      op.amount += b.reserved;
    }
    if (rule.local) {
      local_ops.push_back(std::move(op));
      local_idx.push_back(i);
    } else {
      global_ops.push_back(std::move(op));
      global_idx.push_back(i);
    }
  }

  Store* global = global_store_ ? global_store_() : nullptr;
  if (!global) global = local_.get();
  bool allowed = true;
  bool store_failed = false;
  bool global_added = false;
  if (!global_ops.empty()) {
    auto r = co_await global->checkAndAdd(global_ops);
    if (!r) {
      store_failed = true;
      stats_.store_errors.fetch_add(1, std::memory_order_relaxed);
      if (shouldLogStoreError())
        spdlog::warn("rate limit store error ({}): {}",
                     opts_.fail_closed ? "failing closed" : "failing open", r.error().detail);
    } else {
      for (size_t j = 0; j < global_idx.size(); ++j) d.buckets[global_idx[j]].spent = r->spent[j];
      allowed = r->allowed;
      global_added = r->allowed;
    }
  }
  if (allowed && !local_ops.empty()) {
    auto r = local_->checkAndAddNow(local_ops);
    for (size_t j = 0; j < local_idx.size(); ++j) d.buckets[local_idx[j]].spent = r.spent[j];
    if (!r.allowed) {
      allowed = false;
      if (global_added) {
        for (auto& op : global_ops) op.amount = -op.amount;
        auto undo = co_await global->add(global_ops);
        (void)undo;
      }
    }
  }

  if (store_failed) {
    d.verdict = opts_.fail_closed ? Verdict::kFailClosed : Verdict::kFailOpen;
    (opts_.fail_closed ? stats_.fail_closed : stats_.fail_open)
        .fetch_add(1, std::memory_order_relaxed);
    if (!allowed) d.verdict = Verdict::kLimited;  // a Local bucket refused on its own
  } else {
    d.verdict = allowed ? Verdict::kAllowed : Verdict::kLimited;
  }
  if (d.verdict == Verdict::kLimited || d.verdict == Verdict::kFailClosed) {
    // Nothing was reserved: completion must not reconcile.
    for (auto& b : d.buckets) b.reserved = 0;
  }
  (allowed ? stats_.allowed : stats_.limited).fetch_add(1, std::memory_order_relaxed);

  // The tightest bucket: least remaining, then soonest reset.
  int64_t best_remaining = INT64_MAX;
  for (size_t i = 0; i < d.buckets.size(); ++i) {
    const auto& b = d.buckets[i];
    int64_t remaining = static_cast<int64_t>(b.rule->limit) - static_cast<int64_t>(b.spent);
    if (remaining < best_remaining || (remaining == best_remaining &&
                                       b.window_end_unix < d.buckets[d.tightest].window_end_unix)) {
      best_remaining = remaining;
      d.tightest = static_cast<int>(i);
    }
  }
  co_return d;
}

boost::asio::awaitable<void> Limiter::complete(const Policies& policies, Decision& d,
                                               const RequestFacts& facts,
                                               const api::TokenUsage& usage, bool charge_estimate) {
  if (!d.allowed() || d.buckets.empty()) co_return;
  std::vector<BucketOp> global_ops, local_ops;
  for (auto& b : d.buckets) {
    const auto& rule = *b.rule;
    if (!rule.response_key) continue;
    const CostFunction* fn = policies.cost(facts.route, *rule.response_key);
    uint64_t actual = 0;
    if (usage.known) {
      actual = responseCost(fn, facts, usage);
    } else if (charge_estimate) {
      actual = responseCost(fn, facts, estimateUsage(facts, rule.default_max_tokens));
    }
    int64_t amount = static_cast<int64_t>(actual) - b.reserved;
    b.reserved = 0;
    if (amount == 0) continue;
    BucketOp op;
    op.key = b.key;
    op.limit = rule.limit;
    op.amount = amount;
    op.ttl_seconds = b.ttl_seconds;
    (rule.local ? local_ops : global_ops).push_back(std::move(op));
  }
  if (!local_ops.empty()) local_->addNow(local_ops);
  if (!global_ops.empty()) {
    Store* global = global_store_ ? global_store_() : nullptr;
    if (!global) global = local_.get();
    auto r = co_await global->add(global_ops);
    if (!r) {
      stats_.store_errors.fetch_add(1, std::memory_order_relaxed);
      if (shouldLogStoreError())
        spdlog::warn("rate limit store error while charging {} token bucket(s): {}",
                     global_ops.size(), r.error().detail);
    }
  }
}

void Limiter::appendHeaders(const Decision& d,
                            std::vector<std::pair<std::string, std::string>>& out) {
  if (d.tightest < 0) return;
  const Bucket& b = d.buckets[static_cast<size_t>(d.tightest)];
  int64_t remaining =
      std::max<int64_t>(0, static_cast<int64_t>(b.rule->limit) - static_cast<int64_t>(b.spent));
  int64_t reset = std::max<int64_t>(0, b.window_end_unix - nowUnix());
  out.emplace_back("x-ratelimit-limit", std::to_string(b.rule->limit));
  out.emplace_back("x-ratelimit-remaining", std::to_string(remaining));
  out.emplace_back("x-ratelimit-reset", std::to_string(reset));
  if (d.verdict == Verdict::kLimited)
    out.emplace_back("retry-after", std::to_string(std::max<int64_t>(1, reset)));
}

boost::asio::awaitable<Result<std::vector<Limiter::BucketView>>> Limiter::describe(
    const Policies& policies, const RequestFacts& facts) {
  auto buckets = matchBuckets(policies, facts);
  std::vector<std::string> global_keys, local_keys;
  for (const auto& b : buckets) (b.rule->local ? local_keys : global_keys).push_back(b.key);
  Store* global = global_store_ ? global_store_() : nullptr;
  if (!global) global = local_.get();
  std::vector<int64_t> global_vals, local_vals = local_->getNow(local_keys);
  if (!global_keys.empty()) {
    auto r = co_await global->get(global_keys);
    if (!r) co_return r.error();
    global_vals = std::move(r.value());
  }
  std::vector<BucketView> out;
  size_t gi = 0, li = 0;
  const int64_t now = nowUnix();
  for (const auto& b : buckets) {
    BucketView v;
    v.policy = b.rule->policy;
    v.rule = b.rule->index;
    v.key = b.key;
    v.limit = b.rule->limit;
    v.spent = b.rule->local ? local_vals[li++] : global_vals[gi++];
    v.reset_seconds = b.window_end_unix - now;
    v.unit = std::string(unitName(b.rule->unit));
    out.push_back(std::move(v));
  }
  co_return out;
}

}  // namespace tollgate::ratelimit
