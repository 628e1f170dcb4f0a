// `tollgate limits`: one user's buckets as the Redis store has them, so an operator can answer
// "why am I limited" without the gateway's admin port.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>

#include "config/model.h"
#include "main/admin.h"
#include "main/commands.h"
#include "ratelimit/limiter.h"
#include "ratelimit/redis_store.h"

namespace tollgate::cli {

int showLimits(const LimitsOptions& o) {
  namespace asio = boost::asio;
  std::string error;
  auto redis = ratelimit::redisOptionsFrom(o.redis_url, o.redis_tls, &error);
  if (!redis) {
    std::cerr << "tollgate: error: " << error << "\n";
    return 2;
  }
  auto lr = config::loadFiles(o.config_paths);
  if (lr.hasErrors()) {
    std::cerr << "tollgate: error: the configuration has errors (run 'tollgate validate')\n";
    return 1;
  }
  ratelimit::Policies policies(lr.config, ratelimit::Mode::kEnvoy);
  asio::io_context io(1);
  ratelimit::RedisStore store(io, *redis);
  ratelimit::Limiter limiter({}, [&store] { return static_cast<ratelimit::Store*>(&store); });
  int rc = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Give the connection a moment to come up (bounded).
        for (int i = 0; i < 50 && !store.connected(); ++i) {
          asio::steady_timer t(io, std::chrono::milliseconds(20));
          co_await t.async_wait(asio::use_awaitable);
        }
        const UserHeaders headers(o.user, o.model);
        ratelimit::RequestFacts facts;
        facts.headers = &headers;
        facts.model = o.model;
        auto views = co_await limiter.describe(policies, facts);
        if (!views) {
          std::cerr << "tollgate: error: " << views.error().public_message << ": "
                    << views.error().detail << "\n";
          rc = 1;
          io.stop();
          co_return;
        }
        if (views->empty()) std::cout << "no rate-limit rule applies to user '" << o.user << "'\n";
        std::printf("%-40s %5s %10s %10s %10s %8s %9s\n", "policy", "rule", "spent", "limit",
                    "remaining", "unit", "reset(s)");
        for (const auto& v : views.value()) {
          std::printf(
              "%-40s %5zu %10lld %10llu %10lld %8s %9lld\n", v.policy.c_str(), v.rule,
              static_cast<long long>(v.spent), static_cast<unsigned long long>(v.limit),
              static_cast<long long>(std::max<int64_t>(0, static_cast<int64_t>(v.limit) - v.spent)),
              v.unit.c_str(), static_cast<long long>(v.reset_seconds));
        }
        io.stop();
      },
      asio::detached);
  io.run();
  return rc;
}

}  // namespace tollgate::cli
