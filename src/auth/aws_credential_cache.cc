#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "auth/aws_credentials_internal.h"
#include "common/log.h"

namespace tollgate::auth {

namespace asio = boost::asio;
using detail::fail;
using detail::formatTime;
using detail::now;
using detail::SysClock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// The cache's state lives in a shared Core so that a background refresh, which may outlive the
// request that started it, never touches a destroyed provider.
class CachingProvider final : public CredentialProvider {
 public:
  CachingProvider(asio::io_context& io, std::unique_ptr<CredentialProvider> inner,
                  ChainOptions opts)
      : core_(std::make_shared<Core>(io, std::move(inner), std::move(opts))) {}
  std::string_view name() const override { return core_->inner->name(); }

  asio::awaitable<Result<AwsCredentials>> get() override {
    std::shared_ptr<Core> core = core_;
    if (core->usable()) {
      // Due for refresh but still valid: the request signs with what is cached while a
      // background refresh fetches the next ones. Requests never wait for a refresh then.
      if (!core->fresh() && !core->refreshing && now(core->opts) >= core->retry_after) {
        asio::co_spawn(core->io, Core::refresh(core), asio::detached);
      }
      co_return *core->cached;
    }
    // Nothing usable: this request has to wait, sharing one refresh with every other waiter.
    while (core->refreshing) {
      const uint64_t gen = core->generation;
      co_await core->done.async_wait(kUseTuple);
      if (core->generation != gen) {
        if (core->usable()) co_return *core->cached;
        if (core->last_error) co_return *core->last_error;
      }
    }
    if (core->usable()) co_return *core->cached;
    // A named awaitable: GCC 12 mishandles temporaries inside a co_await expression.
    asio::awaitable<void> refreshing = Core::refresh(core);
    co_await std::move(refreshing);
    if (core->usable()) co_return *core->cached;
    if (core->last_error) co_return *core->last_error;
    co_return fail("credential refresh did not complete");
  }

 private:
  struct Core {
    Core(asio::io_context& io_, std::unique_ptr<CredentialProvider> inner_, ChainOptions opts_)
        : io(io_), inner(std::move(inner_)), opts(std::move(opts_)), done(io_) {}

    // Valid now (not necessarily fresh): signing with it works.
    bool usable() const {
      return cached && (!cached->expiration || now(opts) < *cached->expiration);
    }
    bool fresh() const { return cached && (!cached->expiration || now(opts) < refresh_at); }

    static asio::awaitable<void> refresh(std::shared_ptr<Core> self) {
      self->refreshing = true;
      self->done.expires_at(std::chrono::steady_clock::time_point::max());
      Result<AwsCredentials> r = fail("credential refresh did not complete");
      try {
        r = co_await self->inner->get();
      } catch (const std::exception& e) {
        // Waiters must be woken whatever happens, or they would wait forever.
        r = fail(std::string("credential refresh failed: ") + e.what());
      }
      self->refreshing = false;
      ++self->generation;
      self->done.cancel();
      if (!r) {
        self->last_error = r.error();
        // Not again on every request: a source that is down is asked at most every 30 s.
        self->retry_after = now(self->opts) + kRetryInterval;
        if (self->usable() && self->cached->expiration) {
          spdlog::warn("AWS credential refresh failed, using the cached ones until {}: {}",
                       formatTime(*self->cached->expiration), r.error().detail);
        }
        co_return;
      }
      self->cached = r.value();
      self->last_error.reset();
      self->refresh_at = self->refreshTime(r.value());
    }

    SysClock::time_point refreshTime(const AwsCredentials& c) const {
      if (!c.expiration) return SysClock::time_point::max();
      const auto t = now(opts);
      auto at = *c.expiration - opts.refresh_before;
      // Credentials shorter-lived than the margin: use them for half of what is left, rather
      // than refreshing on every call.
      if (at <= t) at = t + (*c.expiration - t) / 2;
      return at;
    }

    static constexpr std::chrono::seconds kRetryInterval{30};
    asio::io_context& io;
    std::unique_ptr<CredentialProvider> inner;
    ChainOptions opts;
    asio::steady_timer done;  // cancelled when a refresh ends, waking the waiters
    bool refreshing = false;
    uint64_t generation = 0;
    std::optional<AwsCredentials> cached;
    SysClock::time_point refresh_at{};
    SysClock::time_point retry_after{};
    std::optional<Error> last_error;
  };
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<CredentialProvider> makeCachingProvider(asio::io_context& io,
                                                        std::unique_ptr<CredentialProvider> inner,
                                                        ChainOptions opts) {
  return std::make_unique<CachingProvider>(io, std::move(inner), std::move(opts));
}

}  // namespace tollgate::auth
