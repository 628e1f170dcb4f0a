// The retry and priority-fallback decisions of one request, in one place (as Envoy keeps its
// retry state beside the router): which candidate is considered next, whether a failure or an
// upstream status moves on to it, and the attempt budget and route deadline that end trying.
// Pure logic over the route's attempt order; one per request, used on the request's coroutine.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "common/error.h"
#include "router/router.h"

namespace tollgate::gateway {

class RetryState {
 public:
  using Clock = std::chrono::steady_clock;

  // `order`: the route's candidates in attempt order (router::RouteTable::attemptOrder); not
  // copied, so it must outlive this object.
  RetryState(std::span<const router::Candidate* const> order, uint32_t max_attempts,
             Clock::time_point deadline);

  // The candidate to consider next, or null when trying is over: every candidate considered, the
  // attempt budget spent, the route deadline reached (recorded as the error), or a failure that
  // ends the request. Then lastError() is what the client gets.
  const router::Candidate* next(Clock::time_point now);

  // The current candidate cannot serve this request (not defined, no translator, an answer that
  // goes to the next choice): the next one is considered.
  void skip(Error why);
  // The request cannot succeed anywhere (its body cannot be translated): trying ends.
  void stop(Error why);
  // The attempt failed before a response (no credentials, connect refused, timeout): the next
  // candidate is considered when `why` is retryable, otherwise trying ends.
  void fail(Error why);

  // Counts an attempt on the current candidate; returns the number of attempts so far.
  uint32_t beginAttempt() { return ++attempts_; }
  uint32_t attempts() const { return attempts_; }
  // Whether the current candidate has a lower priority than the first choice.
  bool isFallback() const;
  // Whether a response with `status` goes to the next candidate instead of the client:
  // throttling (429) and server errors while a candidate and an attempt are left. A client error
  // (other 4xx) would fail the same way anywhere and is passed on.
  bool retriesStatus(int status) const;

  // The error of the last candidate that did not answer; nullopt when none was recorded (a rule
  // without candidates).
  std::optional<Error>& lastError() { return last_error_; }

 private:
  std::span<const router::Candidate* const> order_;
  uint32_t max_attempts_;
  Clock::time_point deadline_;
  size_t next_ = 0;  // index of the candidate after the current one
  uint32_t attempts_ = 0;
  bool done_ = false;
  std::optional<Error> last_error_;
};

}  // namespace tollgate::gateway
