#include "gateway/retry_state.h"

namespace tollgate::gateway {

RetryState::RetryState(std::span<const router::Candidate* const> order, uint32_t max_attempts,
                       Clock::time_point deadline)
    : order_(order), max_attempts_(max_attempts), deadline_(deadline) {}

const router::Candidate* RetryState::next(Clock::time_point now) {
  if (done_ || next_ >= order_.size() || attempts_ >= max_attempts_) {
    done_ = true;
    return nullptr;
  }
  if (now >= deadline_) {
    last_error_ = Error::upstream(ErrorCode::kUpstreamTimeout, "upstream request timeout",
                                  "route timeout reached before attempt", false);
    done_ = true;
    return nullptr;
  }
  return order_[next_++];
}

void RetryState::skip(Error why) { last_error_ = std::move(why); }

void RetryState::stop(Error why) {
  last_error_ = std::move(why);
  done_ = true;
}

void RetryState::fail(Error why) {
  done_ = !why.retryable;
  last_error_ = std::move(why);
}

bool RetryState::isFallback() const {
  return next_ > 0 && order_[next_ - 1]->priority > order_.front()->priority;
}

bool RetryState::retriesStatus(int status) const {
  const bool can_retry = next_ < order_.size() && attempts_ < max_attempts_;
  return (status == 429 || status >= 500) && can_retry;
}

}  // namespace tollgate::gateway
