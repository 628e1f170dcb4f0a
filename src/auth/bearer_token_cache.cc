#include "auth/bearer_token_cache.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "common/log.h"

namespace tollgate::auth {

namespace asio = boost::asio;
using SysClock = std::chrono::system_clock;

namespace {
// How often a request that found the first fetch under way looks again.
constexpr std::chrono::milliseconds kWaitStep{20};
}  // namespace

BearerTokenCache::BearerTokenCache(std::string label, Fetch fetch, BearerTokenOptions opts)
    : label_(std::move(label)), fetch_(std::move(fetch)), opts_(std::move(opts)) {}

SysClock::time_point BearerTokenCache::now() const {
  return opts_.clock ? opts_.clock() : SysClock::now();
}

BearerTokenCache::Step BearerTokenCache::nextStep() {
  std::lock_guard lock(mu_);
  const SysClock::time_point t = now();
  Step step;
  if (token_ && t < token_->expires) step.token = token_->value;
  if (!step.token.empty() && t < token_->refresh_at) return step;  // kUse
  const bool failed_lately = last_error_ && t < failed_at_ + opts_.failure_hold;
  if (fetching_) {
    // Someone refreshes: a token still valid serves until it expires; else wait for the fetch.
    if (step.token.empty()) step.action = Step::kWait;
    return step;
  }
  if (failed_lately) {
    // Retried after the hold; meanwhile a valid token serves, else the failure is the answer.
    if (step.token.empty()) {
      step.action = Step::kFail;
      step.error = *last_error_;
    }
    return step;
  }
  fetching_ = true;
  step.action = step.token.empty() ? Step::kFetch : Step::kUseAndRefresh;
  return step;
}

void BearerTokenCache::store(Result<FetchedToken> fetched) {
  std::lock_guard lock(mu_);
  fetching_ = false;
  if (fetched && fetched.value().lifetime.count() > 0 && !fetched.value().value.empty()) {
    const SysClock::time_point t = now();
    const std::chrono::seconds lifetime = fetched.value().lifetime;
    token_ = Token{std::move(fetched.value().value), t + lifetime,
                   t + std::max(lifetime - opts_.refresh_before, lifetime / 2)};
    last_error_.reset();
    spdlog::debug("{}: token refreshed", label_);
    return;
  }
  last_error_ =
      fetched ? Error::internal("the token answer has no token or lifetime") : fetched.error();
  failed_at_ = now();
  // The token in hand (if any) stays in use until it expires.
  spdlog::warn("{}: token request failed: {}", label_, last_error_->detail);
}

// The decisions are taken under the lock in plain functions (nextStep, store): no lock is held
// across a suspension, and no coroutine returns from inside a locked scope.
asio::awaitable<Result<std::string>> BearerTokenCache::get() {
  const auto give_up = std::chrono::steady_clock::now() + opts_.fetch_timeout + kWaitStep;
  for (;;) {
    Step step = nextStep();
    switch (step.action) {
      case Step::kUse:
        co_return std::move(step.token);
      case Step::kFail:
        co_return std::move(*step.error);
      case Step::kUseAndRefresh:
        asio::co_spawn(co_await asio::this_coro::executor, refresh(shared_from_this()),
                       asio::detached);
        co_return std::move(step.token);
      case Step::kFetch:
        co_await refresh(shared_from_this());
        continue;  // read what the fetch left: a token or its error
      case Step::kWait:
        break;
    }
    // Another request is fetching the first token: wait for it, not for a fetch of our own.
    if (std::chrono::steady_clock::now() > give_up)
      co_return Error::internal("a token request for " + label_ + " is still under way");
    asio::steady_timer timer(co_await asio::this_coro::executor, kWaitStep);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

// Static, taking the cache by value: a background refresh keeps it alive.
asio::awaitable<void> BearerTokenCache::refresh(std::shared_ptr<BearerTokenCache> self) {
  Result<FetchedToken> fetched = co_await self->fetch_();
  self->store(std::move(fetched));
}

}  // namespace tollgate::auth
