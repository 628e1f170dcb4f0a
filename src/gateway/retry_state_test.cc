#include "gateway/retry_state.h"

#include <gtest/gtest.h>

#include <vector>

namespace tollgate::gateway {
namespace {

using Clock = RetryState::Clock;
using namespace std::chrono_literals;

Error retryable(std::string detail) {
  return Error::upstream(ErrorCode::kUpstreamConnect, "upstream unavailable", std::move(detail),
                         true);
}

Error notRetryable(std::string detail) {
  return Error::upstream(ErrorCode::kUpstreamConnect, "upstream unavailable", std::move(detail),
                         false);
}

struct Route {
  explicit Route(std::vector<uint32_t> priorities) {
    candidates.resize(priorities.size());
    for (size_t i = 0; i < priorities.size(); ++i) {
      candidates[i].ref_name = "b" + std::to_string(i);
      candidates[i].priority = priorities[i];
    }
    for (const auto& c : candidates) order.push_back(&c);
  }
  std::vector<router::Candidate> candidates;
  std::vector<const router::Candidate*> order;
};

const Clock::time_point kNow = Clock::time_point{} + 1h;
const Clock::time_point kDeadline = kNow + 60s;

TEST(RetryState, ConsidersEachCandidateInOrderThenEnds) {
  Route r({0, 0, 1});
  RetryState retry(r.order, 5, kDeadline);
  for (const auto* want : r.order) {
    EXPECT_EQ(retry.next(kNow), want);
    retry.skip(retryable(want->ref_name));
  }
  EXPECT_EQ(retry.next(kNow), nullptr);
  EXPECT_EQ(retry.next(kNow), nullptr);
  ASSERT_TRUE(retry.lastError().has_value());
  EXPECT_EQ(retry.lastError()->detail, "b2");  // the last candidate's reason
}

TEST(RetryState, NoCandidatesNoError) {
  Route r({});
  RetryState retry(r.order, 5, kDeadline);
  EXPECT_EQ(retry.next(kNow), nullptr);
  EXPECT_FALSE(retry.lastError().has_value());
}

TEST(RetryState, SkipMovesOnEvenWhenTheReasonIsNotRetryable) {
  // An unsupported API/schema pair on one backend says nothing about the next one.
  Route r({0, 0});
  RetryState retry(r.order, 5, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.skip(Error::client(ErrorCode::kNotImplemented, "no translator"));
  EXPECT_EQ(retry.next(kNow), r.order[1]);
}

TEST(RetryState, StopEndsWhateverIsLeft) {
  Route r({0, 0});
  RetryState retry(r.order, 5, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.stop(Error::client(ErrorCode::kBadRequest, "bad body"));
  EXPECT_EQ(retry.next(kNow), nullptr);
  EXPECT_EQ(retry.lastError()->code, ErrorCode::kBadRequest);
}

TEST(RetryState, FailMovesOnOnlyWhenRetryable) {
  Route r({0, 0, 0});
  RetryState retry(r.order, 5, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.fail(retryable("refused"));
  ASSERT_EQ(retry.next(kNow), r.order[1]);
  retry.fail(notRetryable("TLS verification failed"));
  EXPECT_EQ(retry.next(kNow), nullptr);
  EXPECT_EQ(retry.lastError()->detail, "TLS verification failed");
}

TEST(RetryState, AttemptBudgetEndsTrying) {
  Route r({0, 0, 0});
  RetryState retry(r.order, 2, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  EXPECT_EQ(retry.beginAttempt(), 1u);
  retry.fail(retryable("refused"));
  ASSERT_EQ(retry.next(kNow), r.order[1]);
  EXPECT_EQ(retry.beginAttempt(), 2u);
  retry.fail(retryable("refused"));
  EXPECT_EQ(retry.next(kNow), nullptr);
  EXPECT_EQ(retry.attempts(), 2u);
  EXPECT_EQ(retry.lastError()->detail, "refused");
}

TEST(RetryState, SkippedCandidatesCostNoAttempt) {
  Route r({0, 0, 0});
  RetryState retry(r.order, 1, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.skip(retryable("not defined"));
  ASSERT_EQ(retry.next(kNow), r.order[1]);
  retry.beginAttempt();
  retry.fail(retryable("refused"));
  EXPECT_EQ(retry.next(kNow), nullptr);
}

TEST(RetryState, DeadlineEndsTryingWithATimeout) {
  Route r({0, 0});
  RetryState retry(r.order, 5, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.fail(retryable("refused"));
  EXPECT_EQ(retry.next(kDeadline), nullptr);
  ASSERT_TRUE(retry.lastError().has_value());
  EXPECT_EQ(retry.lastError()->code, ErrorCode::kUpstreamTimeout);
  EXPECT_EQ(retry.lastError()->public_message, "upstream request timeout");
  EXPECT_EQ(retry.lastError()->detail, "route timeout reached before attempt");
  EXPECT_FALSE(retry.lastError()->retryable);
}

TEST(RetryState, ThrottlingAndServerErrorsGoToTheNextChoiceWhileOneIsLeft) {
  Route r({0, 1});
  RetryState retry(r.order, 5, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.beginAttempt();
  EXPECT_FALSE(retry.isFallback());
  for (int status : {429, 500, 502, 503, 504}) EXPECT_TRUE(retry.retriesStatus(status)) << status;
  for (int status : {200, 400, 401, 403, 404, 413}) EXPECT_FALSE(retry.retriesStatus(status));
  retry.skip(retryable("answered 503"));
  ASSERT_EQ(retry.next(kNow), r.order[1]);
  retry.beginAttempt();
  EXPECT_TRUE(retry.isFallback());
  // The last choice's answer is the client's, whatever it is.
  EXPECT_FALSE(retry.retriesStatus(503));
  EXPECT_FALSE(retry.retriesStatus(429));
}

TEST(RetryState, NoStatusRetryWhenTheBudgetIsSpent) {
  Route r({0, 0});
  RetryState retry(r.order, 1, kDeadline);
  ASSERT_EQ(retry.next(kNow), r.order[0]);
  retry.beginAttempt();
  EXPECT_FALSE(retry.retriesStatus(503));
}

TEST(RetryState, SamePriorityIsNotAFallback) {
  Route r({1, 1, 2});
  RetryState retry(r.order, 5, kDeadline);
  retry.next(kNow);
  retry.skip(retryable("x"));
  retry.next(kNow);
  EXPECT_FALSE(retry.isFallback());
  retry.skip(retryable("x"));
  retry.next(kNow);
  EXPECT_TRUE(retry.isFallback());
}

}  // namespace
}  // namespace tollgate::gateway
