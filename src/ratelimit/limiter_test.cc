#include "ratelimit/limiter.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <map>

#include "common/header_map_test_util.h"
#include "config/model.h"
#include "ratelimit/local_store.h"

namespace tollgate::ratelimit {
namespace {

template <typename T>
T runSync(boost::asio::awaitable<T> a) {
  boost::asio::io_context io;
  std::optional<T> out;
  // Result<T> has no default constructor, which co_spawn's value handler needs: store it here.
  auto wrapper = [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(a)); };
  boost::asio::co_spawn(io, wrapper, [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return std::move(*out);
}

void runSync(boost::asio::awaitable<void> a) {
  boost::asio::io_context io;
  boost::asio::co_spawn(io, std::move(a), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}

using Headers = MapHeaders;

config::Config makeConfig(const std::string& yaml) {
  auto lr = config::loadString(yaml, "test.yaml");
  EXPECT_FALSE(lr.hasErrors());
  for (const auto& d : lr.diagnostics)
    if (d.severity == config::Severity::kError) ADD_FAILURE() << d.toString();
  return lr.config;
}

const char* kPolicy = R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route, namespace: default }
spec:
  rules:
  - backendRefs: [{ name: b }]
  llmRequestCosts:
  - { metadataKey: in, type: InputToken }
  - { metadataKey: out, type: OutputToken }
  - { metadataKey: total, type: TotalToken }
  - { metadataKey: weighted, type: CEL, cel: "input_tokens + output_tokens * 3" }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: p, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors: [{ headers: [{ name: x-user-id, type: Distinct }] }]
        limit: { requests: 100, unit: Hour }
        cost:
          request: { from: Number, number: 0 }
          response: { from: Metadata, metadata: { namespace: io.envoy.ai_gateway, key: total } }
      - clientSelectors: [{ headers: [{ name: x-user-id, type: Distinct }, { name: x-ai-eg-model, type: Exact, value: big }] }]
        limit: { requests: 2, unit: Minute }
      - clientSelectors: [{ headers: [{ name: x-tier, type: RegularExpression, value: "gold|silver" , invert: true }] }]
        limit: { requests: 1000, unit: Day }
        cost:
          request: { from: Number, number: 0 }
          response: { from: Metadata, metadata: { namespace: io.envoy.ai_gateway, key: weighted } }
)";

RequestFacts facts(const Headers& h, std::string model = "m") {
  RequestFacts f;
  f.headers = &h;
  f.route = "default/route";
  f.model = std::move(model);
  f.body_bytes = 400;
  return f;
}

TEST(Windows, AlignedToTheUnit) {
  const int64_t t = 1764100000;  // 2025-11-25T19:46:40Z
  EXPECT_EQ(windowFor(config::RateLimitUnit::kMinute, t).start, t - t % 60);
  EXPECT_EQ(windowFor(config::RateLimitUnit::kHour, t).end -
                windowFor(config::RateLimitUnit::kHour, t).start,
            3600);
  auto month = windowFor(config::RateLimitUnit::kMonth, t);
  EXPECT_EQ(month.start, 1761955200);  // 2025-11-01T00:00:00Z
  EXPECT_EQ(month.end, 1764547200);    // 2025-12-01T00:00:00Z
  auto year = windowFor(config::RateLimitUnit::kYear, t);
  EXPECT_EQ(year.start, 1735689600);  // 2025-01-01
  EXPECT_EQ(year.end, 1767225600);    // 2026-01-01
}

TEST(Limiter, SelectorsDecideWhichRulesApply) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  ASSERT_TRUE(p.errors().empty());
  ASSERT_EQ(p.rules().size(), 3u);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "alice";
  h.h["x-ai-eg-model"] = "small";
  auto d = runSync(lim.check(p, facts(h)));
  // rule 0 (user), rule 2 (no gold/silver tier); not rule 1 (model is not "big").
  ASSERT_EQ(d.buckets.size(), 2u);
  EXPECT_EQ(d.buckets[0].rule->index, 0u);
  EXPECT_EQ(d.buckets[1].rule->index, 2u);
  h.h["x-tier"] = "gold";
  h.h["x-ai-eg-model"] = "big";
  d = runSync(lim.check(p, facts(h)));
  ASSERT_EQ(d.buckets.size(), 2u);
  EXPECT_EQ(d.buckets[1].rule->index, 1u);
  Headers anonymous;
  anonymous.h["x-tier"] = "silver";
  d = runSync(lim.check(p, facts(anonymous)));
  EXPECT_EQ(d.verdict, Verdict::kNoLimits) << "Distinct needs the header present";
}

TEST(Limiter, DistinctValuesGetTheirOwnBuckets) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  Limiter lim({}, nullptr);
  Headers a, b;
  a.h["x-user-id"] = "a:b";
  b.h["x-user-id"] = "a";
  b.h["x-tier"] = "gold";
  auto da = runSync(lim.check(p, facts(a)));
  auto db = runSync(lim.check(p, facts(b)));
  EXPECT_NE(da.buckets[0].key, db.buckets[0].key);
}

TEST(Limiter, RequestCountLimitRefusesTheRequestAfterTheLimit) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "bob";
  h.h["x-ai-eg-model"] = "big";
  h.h["x-tier"] = "gold";
  EXPECT_EQ(runSync(lim.check(p, facts(h, "big"))).verdict, Verdict::kAllowed);
  auto second = runSync(lim.check(p, facts(h, "big")));
  EXPECT_EQ(second.verdict, Verdict::kAllowed);
  std::vector<std::pair<std::string, std::string>> hdrs;
  Limiter::appendHeaders(second, hdrs);
  ASSERT_GE(hdrs.size(), 3u);
  EXPECT_EQ(hdrs[0], (std::pair<std::string, std::string>{"x-ratelimit-limit", "2"}));
  EXPECT_EQ(hdrs[1], (std::pair<std::string, std::string>{"x-ratelimit-remaining", "0"}));
  auto third = runSync(lim.check(p, facts(h, "big")));
  EXPECT_EQ(third.verdict, Verdict::kLimited);
  hdrs.clear();
  Limiter::appendHeaders(third, hdrs);
  EXPECT_EQ(hdrs.back().first, "retry-after");
}

TEST(Limiter, TokensAreChargedAtCompletionAndTheCrossingRequestPasses) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "carol";
  h.h["x-tier"] = "gold";
  api::TokenUsage u;
  u.input_tokens = 30;
  u.output_tokens = 50;
  u.total_tokens = 80;
  u.known = true;
  auto d1 = runSync(lim.check(p, facts(h)));
  ASSERT_EQ(d1.verdict, Verdict::kAllowed);
  runSync(lim.complete(p, d1, facts(h), u, false));  // spent 80 of 100
  auto d2 = runSync(lim.check(p, facts(h)));
  ASSERT_EQ(d2.verdict, Verdict::kAllowed) << "80 < 100: the crossing request still passes";
  runSync(lim.complete(p, d2, facts(h), u, false));  // 160
  EXPECT_EQ(runSync(lim.check(p, facts(h))).verdict, Verdict::kLimited);
}

TEST(Limiter, CelCostsAndUnknownUsageChargesTheEstimate) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "dave";
  auto d = runSync(lim.check(p, facts(h)));
  api::TokenUsage u;
  u.input_tokens = 10;
  u.output_tokens = 5;
  u.total_tokens = 15;
  u.known = true;
  runSync(lim.complete(p, d, facts(h), u, false));
  auto views = runSync(lim.describe(p, facts(h)));
  ASSERT_TRUE(views.ok());
  ASSERT_EQ(views->size(), 2u);
  EXPECT_EQ((*views)[0].spent, 15);
  EXPECT_EQ((*views)[1].spent, 10 + 5 * 3);
  // A stream whose client left before usage: body 400 bytes → 100 input, no max_tokens → 1024.
  auto d2 = runSync(lim.check(p, facts(h)));
  runSync(lim.complete(p, d2, facts(h), api::TokenUsage{}, true));
  views = runSync(lim.describe(p, facts(h)));
  EXPECT_EQ((*views)[0].spent, 15 + 100 + 1024);
}

TEST(Limiter, ReserveModeNeverOverAdmitsAndReconciles) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kReserve);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "erin";
  h.h["x-tier"] = "gold";
  RequestFacts f = facts(h);
  f.body_bytes = 40;  // 10 input tokens estimated
  f.max_tokens = 30;  // estimate 40 total
  auto d1 = runSync(lim.check(p, f));
  ASSERT_EQ(d1.verdict, Verdict::kAllowed);
  EXPECT_EQ(d1.buckets[0].reserved, 40);
  auto d2 = runSync(lim.check(p, f));
  ASSERT_EQ(d2.verdict, Verdict::kAllowed);  // 80 reserved
  auto d3 = runSync(lim.check(p, f));
  EXPECT_EQ(d3.verdict, Verdict::kLimited) << "80 + 40 > 100 refused up front";
  api::TokenUsage u;
  u.input_tokens = 10;
  u.output_tokens = 5;
  u.total_tokens = 15;
  u.known = true;
  runSync(lim.complete(p, d1, f, u, false));  // 80 - 40 + 15 = 55
  auto views = runSync(lim.describe(p, f));
  EXPECT_EQ((*views)[0].spent, 55);
  auto d4 = runSync(lim.check(p, f));
  EXPECT_EQ(d4.verdict, Verdict::kAllowed);  // 55 + 40 <= 100
  // An upstream error with no usage gives the reservation back.
  runSync(lim.complete(p, d4, f, api::TokenUsage{}, false));
  views = runSync(lim.describe(p, f));
  EXPECT_EQ((*views)[0].spent, 55);
}

TEST(Limiter, RefusedRequestsCostNothing) {
  auto cfg = makeConfig(kPolicy);
  Policies p(cfg, Mode::kEnvoy);
  Limiter lim({}, nullptr);
  Headers h;
  h.h["x-user-id"] = "frank";
  h.h["x-ai-eg-model"] = "big";
  h.h["x-tier"] = "gold";
  for (int i = 0; i < 5; ++i) runSync(lim.check(p, facts(h, "big")));
  auto views = runSync(lim.describe(p, facts(h, "big")));
  EXPECT_EQ((*views)[1].spent, 2);
}

TEST(Limiter, BadCelIsAConfigErrorWithItsPosition) {
  auto cfg = makeConfig(R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route, namespace: default }
spec:
  rules: [{ backendRefs: [{ name: b }] }]
  llmRequestCosts:
  - { metadataKey: bad, type: CEL, cel: "input_tokens + nope" }
)");
  Policies p(cfg, Mode::kEnvoy);
  ASSERT_EQ(p.errors().size(), 1u);
  const std::string text = p.errors()[0].toString();
  EXPECT_NE(text.find("llmRequestCosts[0].cel"), std::string::npos) << text;
  EXPECT_NE(text.find("column"), std::string::npos) << text;
  EXPECT_EQ(p.errors()[0].object, "AIGatewayRoute default/route") << text;
}

TEST(LocalStore, AllOrNothingAcrossBuckets) {
  LocalStore s;
  std::vector<BucketOp> ops = {{"a", 100, 5, 60, false}, {"b", 3, 1, 60, false}};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.checkAndAddNow(ops).allowed);
  auto r = s.checkAndAddNow(ops);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.refused_index, 1);
  EXPECT_EQ(s.getNow({"a", "b"}), (std::vector<int64_t>{15, 3}));
}

}  // namespace
}  // namespace tollgate::ratelimit
