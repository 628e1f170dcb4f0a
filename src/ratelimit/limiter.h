// Token and request rate limits from BackendTrafficPolicy rules (Envoy Gateway semantics by
// default; docs/rate-limiting.md):
//  - every rule whose client selectors all match the request applies; each gives one bucket per
//    window (fixed windows aligned to the unit, UTC calendar for Month and Year) and per distinct
//    value of its Distinct headers;
//  - check: a request is refused (429) when any of its buckets has spent >= limit; otherwise the
//    request costs (cost.request.number, default 1) are added, all buckets atomically;
//  - complete: response costs (cost.response.metadata.key → the route's llmRequestCosts entry:
//    InputToken, CachedInputToken, OutputToken, TotalToken or CEL) are added from the usage;
//  - reserve mode (a tollgate extension, annotation tollgate.io/rate-limit-mode: reserve): the
//    estimated response cost is reserved at check time and a request is refused when
//    spent + estimate > limit; completion adds the difference between actual and estimate.
//
// Policies are compiled once per configuration snapshot; the Limiter is shared by all threads.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/usage.h"
#include "common/header_match.h"
#include "config/model.h"
#include "ratelimit/cel.h"
#include "ratelimit/store.h"

namespace tollgate::ratelimit {

enum class Mode { kEnvoy, kReserve };

struct CompiledRule {
  std::string policy;  // "ns/name"
  size_t index = 0;
  bool local = false;  // rateLimit.type Local: always in-process
  Mode mode = Mode::kEnvoy;
  std::vector<HeaderMatcher> headers;  // all selectors' headers, ANDed
  uint64_t limit = 0;
  config::RateLimitUnit unit = config::RateLimitUnit::kMinute;
  uint64_t request_cost = 1;
  std::optional<std::string> response_key;
  std::vector<std::string> target_routes;  // empty: every route of the gateway
  uint64_t default_max_tokens = 1024;      // reserve mode estimate when max_tokens is absent
};

// A route's response costs: metadataKey → how to compute it from usage.
struct CostFunction {
  config::CostType type = config::CostType::kTotalToken;
  std::optional<CelProgram> cel;
};

class Policies {
 public:
  Policies() = default;
  Policies(const config::Config& cfg, Mode default_mode);
  bool empty() const { return rules_.empty(); }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  // Problems found while compiling (CEL errors with their position), each naming its object so a
  // controller can reject that object alone: start refuses to run.
  const std::vector<config::Diagnostic>& errors() const { return errors_; }
  const CostFunction* cost(const std::string& route, const std::string& key) const;

 private:
  std::vector<CompiledRule> rules_;
  std::map<std::string, std::map<std::string, CostFunction>> costs_;  // route "ns/name" → key →
  std::vector<config::Diagnostic> errors_;
};

// What the limiter needs to know about a request.
struct RequestFacts {
  const HeaderSource* headers = nullptr;
  std::string route;  // "ns/name" of the AIGatewayRoute that matched
  std::string model;
  std::string backend;
  uint64_t body_bytes = 0;
  std::optional<int64_t> max_tokens;
};

struct Bucket {
  const CompiledRule* rule = nullptr;
  std::string key;
  int64_t window_end_unix = 0;
  uint32_t ttl_seconds = 0;
  int64_t reserved = 0;  // reserve mode: the estimate added at check time
  uint64_t spent = 0;    // after the check
};

enum class Verdict { kNoLimits, kAllowed, kLimited, kFailOpen, kFailClosed };

struct Decision {
  Verdict verdict = Verdict::kNoLimits;
  std::vector<Bucket> buckets;
  int tightest = -1;  // the bucket with the least remaining (for x-ratelimit-* headers)
  bool allowed() const { return verdict != Verdict::kLimited && verdict != Verdict::kFailClosed; }
};
std::string_view verdictName(Verdict v);

struct LimiterOptions {
  bool fail_closed = false;  // Redis unreachable or slow: refuse (503) instead of allowing
};

struct LimiterStats {
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> limited{0};
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> fail_open{0};
  std::atomic<uint64_t> fail_closed{0};
};

class LocalStore;

class Limiter {
 public:
  // `global_store` returns the store for Global rules on the calling thread (Redis per loop, or
  // the shared in-process store); Local rules always use the in-process store.
  Limiter(LimiterOptions opts, std::function<Store*()> global_store);
  ~Limiter();

  boost::asio::awaitable<Decision> check(const Policies& policies, const RequestFacts& facts);
  // Charges the response costs. `usage_known` false: the estimate is charged for a response
  // that produced tokens we could not count (client left before usage, no usage in a 2xx).
  boost::asio::awaitable<void> complete(const Policies& policies, Decision& decision,
                                        const RequestFacts& facts, const api::TokenUsage& usage,
                                        bool charge_estimate);
  // x-ratelimit-limit / -remaining / -reset (and retry-after when limited).
  static void appendHeaders(const Decision& d,
                            std::vector<std::pair<std::string, std::string>>& out);

  // Buckets a request with these facts would use, with their current values (for `tollgate
  // limits` and the admin endpoint).
  struct BucketView {
    std::string policy;
    size_t rule = 0;
    std::string key;
    uint64_t limit = 0;
    int64_t spent = 0;
    int64_t reset_seconds = 0;
    std::string unit;
  };
  boost::asio::awaitable<Result<std::vector<BucketView>>> describe(const Policies& policies,
                                                                   const RequestFacts& facts);

  LimiterStats& stats() { return stats_; }
  LocalStore& localStore() { return *local_; }

  // The cost of a response for one metadata key (exposed for tests).
  static uint64_t responseCost(const CostFunction* fn, const RequestFacts& facts,
                               const api::TokenUsage& usage);
  static api::TokenUsage estimateUsage(const RequestFacts& facts, uint64_t default_max_tokens);

 private:
  std::vector<Bucket> matchBuckets(const Policies& policies, const RequestFacts& facts) const;

  LimiterOptions opts_;
  std::function<Store*()> global_store_;
  std::unique_ptr<LocalStore> local_;
  LimiterStats stats_;
};

// Window arithmetic (exposed for tests): the window containing `now_unix`.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
};
Window windowFor(config::RateLimitUnit unit, int64_t now_unix);
std::string_view unitName(config::RateLimitUnit unit);

}  // namespace tollgate::ratelimit
