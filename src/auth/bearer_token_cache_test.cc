// BearerTokenCache on one io_context with a scripted fetch and a fake clock: one fetch for
// concurrent first requests, a background refresh that no request waits for, failures held.
#include "auth/bearer_token_cache.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <vector>

namespace tollgate::auth {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

struct Script {
  int fetches = 0;
  bool fail = false;
  std::chrono::milliseconds delay{5};
  std::chrono::system_clock::time_point now{std::chrono::hours(1000)};
};

std::shared_ptr<BearerTokenCache> makeCache(Script& s) {
  BearerTokenOptions o;
  o.refresh_before = seconds(300);
  o.failure_hold = std::chrono::milliseconds(1000);
  o.clock = [&s] { return s.now; };
  return std::make_shared<BearerTokenCache>(
      "test",
      [&s]() -> asio::awaitable<Result<FetchedToken>> {
        const int n = ++s.fetches;
        asio::steady_timer t(co_await asio::this_coro::executor, s.delay);
        co_await t.async_wait(asio::use_awaitable);
        if (s.fail) co_return Error::internal("refused " + std::to_string(n));
        co_return FetchedToken{"token-" + std::to_string(n), seconds(3600)};
      },
      o);
}

// Runs `n` concurrent get()s to completion; their results in order.
std::vector<std::string> getAll(asio::io_context& io, BearerTokenCache& cache, int n) {
  std::vector<std::string> out(n);
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        io,
        [&cache, &out, i]() -> asio::awaitable<void> {
          auto r = co_await cache.get();
          out[i] = r ? r.value() : "error: " + r.error().detail;
        },
        asio::detached);
  }
  io.restart();
  io.run();
  return out;
}

TEST(BearerTokenCache, ConcurrentFirstRequestsShareOneFetch) {
  asio::io_context io;
  Script s;
  auto cache = makeCache(s);
  EXPECT_EQ(getAll(io, *cache, 5), std::vector<std::string>(5, "token-1"));
  EXPECT_EQ(s.fetches, 1);
  EXPECT_EQ(getAll(io, *cache, 1)[0], "token-1");
  EXPECT_EQ(s.fetches, 1);
}

TEST(BearerTokenCache, NearExpiryTheOldTokenServesWhileOneRefreshRunsBehind) {
  asio::io_context io;
  Script s;
  auto cache = makeCache(s);
  ASSERT_EQ(getAll(io, *cache, 1)[0], "token-1");
  s.now += seconds(3600 - 200);  // inside refresh_before
  // Every request gets the old token at once; one refresh runs in the background.
  EXPECT_EQ(getAll(io, *cache, 3), std::vector<std::string>(3, "token-1"));
  EXPECT_EQ(s.fetches, 2);
  EXPECT_EQ(getAll(io, *cache, 1)[0], "token-2");
  EXPECT_EQ(s.fetches, 2);
}

TEST(BearerTokenCache, TheCacheOutlivesItsOwnerDuringABackgroundRefresh) {
  asio::io_context io;
  Script s;
  auto cache = makeCache(s);
  ASSERT_EQ(getAll(io, *cache, 1)[0], "token-1");
  s.now += seconds(3600 - 200);
  asio::co_spawn(
      io, [&cache]() -> asio::awaitable<void> { (void)co_await cache->get(); }, asio::detached);
  io.restart();
  io.run_one();   // the get() returns and spawns the refresh
  cache.reset();  // the snapshot that owned it is gone
  io.run();       // the refresh finishes on a cache it keeps alive
  EXPECT_EQ(s.fetches, 2);
}

TEST(BearerTokenCache, AFailureIsHeldThenRetried) {
  asio::io_context io;
  Script s;
  s.fail = true;
  auto cache = makeCache(s);
  EXPECT_EQ(getAll(io, *cache, 3), std::vector<std::string>(3, "error: refused 1"));
  EXPECT_EQ(getAll(io, *cache, 1)[0], "error: refused 1");  // held: no new fetch
  EXPECT_EQ(s.fetches, 1);
  s.now += seconds(2);
  s.fail = false;
  EXPECT_EQ(getAll(io, *cache, 1)[0], "token-2");
}

}  // namespace
}  // namespace tollgate::auth
