#include "kube/status.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "kube/backoff.h"
#include "kube/lease.h"

namespace tollgate::kube {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(KubeStatus, FirstVerdictIsWrittenWithReasonAndGeneration) {
  Verdict v{false, "spec.rules[0].backendRefs[0].weight: must be between 0 and 2147483647", 4};
  auto c = conditionsFor(v, json::value(), "2025-03-01T10:00:00Z");
  ASSERT_TRUE(c);
  EXPECT_EQ(statusPatch(*c),
            R"({"status":{"conditions":[{"type":"Accepted","status":"False",)"
            R"("reason":"ReconciliationFailed","message":"spec.rules[0].backendRefs[0].weight: )"
            R"(must be between 0 and 2147483647","observedGeneration":4,)"
            R"("lastTransitionTime":"2025-03-01T10:00:00Z"}]}})");
}

TEST(KubeStatus, NothingToWriteWhenTheServerAlreadySaysIt) {
  Verdict v{true, "accepted by tollgate", 2};
  auto first = conditionsFor(v, json::value(), "2025-03-01T10:00:00Z");
  ASSERT_TRUE(first);
  const json::value on_server = *first;
  EXPECT_FALSE(conditionsFor(v, on_server, "2025-03-01T11:00:00Z"));
}

TEST(KubeStatus, TransitionTimeMovesOnlyWhenTheStatusFlips) {
  const json::value on_server =
      json::parse(R"([{"type":"Accepted","status":"True","reason":"ReconciliationSucceeded",)"
                  R"("message":"accepted by tollgate","observedGeneration":2,)"
                  R"("lastTransitionTime":"2025-03-01T10:00:00Z"}])");
  // Still accepted, newer generation: same transition time.
  auto same = conditionsFor({true, "accepted by tollgate", 3}, on_server, "2025-03-02T00:00:00Z");
  ASSERT_TRUE(same);
  EXPECT_EQ((*same)[0].as_object().at("lastTransitionTime").as_string(), "2025-03-01T10:00:00Z");
  EXPECT_EQ((*same)[0].as_object().at("observedGeneration").as_int64(), 3);
  // Rejected now: the transition is now.
  auto flipped = conditionsFor({false, "bad", 3}, on_server, "2025-03-02T00:00:00Z");
  ASSERT_TRUE(flipped);
  EXPECT_EQ((*flipped)[0].as_object().at("lastTransitionTime").as_string(), "2025-03-02T00:00:00Z");
  EXPECT_EQ((*flipped)[0].as_object().at("reason").as_string(), kReasonRejected);
}

TEST(KubeStatus, OtherConditionsAreReplacedByTheOneAcceptedCondition) {
  // Envoy AI Gateway's controller writes type NotAccepted; tollgate's single condition replaces
  // whatever list is there (a merge patch replaces lists whole).
  const json::value on_server = json::parse(
      R"([{"type":"NotAccepted","status":"False","message":"x"},)"
      R"({"type":"Accepted","status":"True","reason":"ReconciliationSucceeded",)"
      R"("message":"accepted by tollgate","observedGeneration":1,"lastTransitionTime":"t0"}])");
  auto c = conditionsFor({true, "accepted by tollgate", 1}, on_server, "t1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].as_object().at("lastTransitionTime").as_string(), "t0");
}

TEST(KubeStatus, LongMessagesAreCutAtACharacterBoundary) {
  std::string message(kMaxConditionMessage, 'x');
  // An é whose second byte would be the first one cut: the whole character goes.
  message.replace(kMaxConditionMessage - 4, 2, "\xC3\xA9");
  auto c = conditionsFor({false, message + "tail", 1}, json::value(), "t");
  ASSERT_TRUE(c);
  const std::string text((*c)[0].as_object().at("message").as_string());
  EXPECT_EQ(text, std::string(kMaxConditionMessage - 4, 'x') + "...");
}

TEST(KubeStatus, Times) {
  const auto t = parseTime("2025-03-01T10:20:30.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(formatTime(*t, true), "2025-03-01T10:20:30.123456Z");
  EXPECT_EQ(formatTime(*t, false), "2025-03-01T10:20:30Z");
  EXPECT_EQ(parseTime("2025-03-01T12:20:30+02:00"), parseTime("2025-03-01T10:20:30Z"));
  EXPECT_EQ(*parseTime("2025-03-01T10:20:30.5Z") - *parseTime("2025-03-01T10:20:30Z"),
            milliseconds(500));
  EXPECT_FALSE(parseTime(""));
  EXPECT_FALSE(parseTime("2025-03-01 10:20:30Z"));
  EXPECT_FALSE(parseTime("2025-02-30T10:20:30Z"));
  EXPECT_FALSE(parseTime("2025-03-01T10:20:30"));
}

TEST(KubeLease, Decisions) {
  const auto now = *parseTime("2025-03-01T10:00:00Z");
  LeaseRecord lease;
  EXPECT_EQ(decideLease(lease, "me", now), LeaseStep::kTakeOver);  // released
  lease.holder = "other";
  lease.duration_s = 15;
  lease.renew_time = now - seconds(10);
  EXPECT_EQ(decideLease(lease, "me", now), LeaseStep::kFollow);
  lease.renew_time = now - seconds(16);
  EXPECT_EQ(decideLease(lease, "me", now), LeaseStep::kTakeOver);
  lease.holder = "me";
  EXPECT_EQ(decideLease(lease, "me", now), LeaseStep::kRenew);
}

TEST(KubeLease, BodyRoundTrips) {
  LeaseWrite w;
  w.ns = "gw";
  w.name = "tollgate-leader";
  w.holder = "pod-a";
  w.duration_s = 15;
  w.acquire_time = *parseTime("2025-03-01T10:00:00.000001Z");
  w.renew_time = *parseTime("2025-03-01T10:00:05Z");
  w.transitions = 2;
  w.resource_version = "41";
  const json::object lease = json::parse(leaseBody(w)).as_object();
  EXPECT_EQ(lease.at("apiVersion").as_string(), "coordination.k8s.io/v1");
  EXPECT_EQ(lease.at("spec").as_object().at("renewTime").as_string(),
            "2025-03-01T10:00:05.000000Z");
  const LeaseRecord r = parseLease(lease);
  EXPECT_EQ(r.holder, "pod-a");
  EXPECT_EQ(r.duration_s, 15);
  EXPECT_EQ(r.transitions, 2);
  EXPECT_EQ(r.resource_version, "41");
  EXPECT_EQ(r.acquire_time, w.acquire_time);
  EXPECT_EQ(r.renew_time, w.renew_time);
}

TEST(KubeBackoff, GrowsWithJitterUpToTheCapAndResets) {
  Backoff b(milliseconds(100), milliseconds(1000), 42);
  std::vector<int64_t> waits;
  waits.reserve(8);
  for (int i = 0; i < 8; ++i) waits.push_back(b.next().count());
  // base: 100, 200, 400, 800, 1000, 1000...; each wait in [base/2, base].
  const int64_t bases[] = {100, 200, 400, 800, 1000, 1000, 1000, 1000};
  for (size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], bases[i] / 2) << i;
    EXPECT_LE(waits[i], bases[i]) << i;
  }
  b.reset();
  EXPECT_LE(b.next().count(), 100);
  // Two replicas with different seeds do not retry in lockstep.
  Backoff x(milliseconds(1000), milliseconds(30000), 1),
      y(milliseconds(1000), milliseconds(30000), 2);
  std::set<bool> differ;
  for (int i = 0; i < 5; ++i) differ.insert(x.next() != y.next());
  EXPECT_TRUE(differ.count(true));
}

}  // namespace
}  // namespace tollgate::kube
