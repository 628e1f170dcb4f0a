// Where and how to reach a Redis server (or the seed nodes of a Redis Cluster), and the
// redis:// / rediss:// URL that says it (--redis).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace tollgate::ratelimit {

struct RedisNode {
  std::string host;
  uint16_t port = 6379;
  bool operator==(const RedisNode&) const = default;
};

// TLS for rediss:// (ElastiCache in-transit encryption, MemoryDB): the server's certificate is
// verified against the system CAs, or only against ca_file when set, and its name (the node's
// host, or server_name) checked; the same name goes out as SNI.
struct RedisTls {
  bool enabled = false;
  std::string ca_file;      // PEM bundle; empty: the system CAs
  std::string cert_file;    // client certificate chain (PEM), optional
  std::string key_file;     // its private key (PEM), with cert_file
  std::string server_name;  // name to verify and send as SNI; empty: each node's host
  // Made from the files above by makeRedisTlsContext (redis_client.h) and shared by every
  // client; a client without one makes its own.
  std::shared_ptr<boost::asio::ssl::context> context;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  // Further nodes from the URL (redis://h1:p1,h2:p2): tried in turn after host:port when it is
  // unreachable or a replica; in cluster mode all are seeds for the slot map.
  std::vector<RedisNode> more_nodes;
  std::string password;                   // AUTH when non-empty (never logged)
  std::string username;                   // AUTH username (Redis 6 ACL), optional
  int db = 0;                             // SELECT when non-zero
  std::chrono::milliseconds timeout{50};  // per command round trip
  std::chrono::milliseconds connect_timeout{1000};
  RedisTls tls;

  // host:port first, then more_nodes.
  std::vector<RedisNode> nodes() const;
};

// Parses redis[s]://[[user]:password@]host[:port][,host[:port]...][/db]. nullopt on a malformed
// URL. rediss:// turns TLS on (the other TLS settings come from flags).
std::optional<RedisOptions> parseRedisUrl(std::string_view url);

// The usage line of that grammar, for error messages.
inline constexpr std::string_view kRedisUrlUsage =
    "redis[s]://[[user]:password@]HOST:PORT[,HOST:PORT...][/db]";

// host:port/db ([v6]:port/db) for logs and error details; never the password.
std::string formatEndpoint(const RedisOptions& o);

}  // namespace tollgate::ratelimit
