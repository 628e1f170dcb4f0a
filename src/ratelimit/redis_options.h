// Where and how to reach a Redis server, and the redis:// URL that says it (--redis-url).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::ratelimit {

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string password;                   // AUTH when non-empty (never logged)
  std::string username;                   // AUTH username (Redis 6 ACL), optional
  int db = 0;                             // SELECT when non-zero
  std::chrono::milliseconds timeout{50};  // per command round trip
  std::chrono::milliseconds connect_timeout{1000};
};

// Parses redis://[[user]:password@]host[:port][/db]. nullopt on a malformed URL.
std::optional<RedisOptions> parseRedisUrl(std::string_view url);

// host:port/db ([v6]:port/db) for logs and error details; never the password.
std::string formatEndpoint(const RedisOptions& o);

}  // namespace tollgate::ratelimit
