#include "ratelimit/redis_options.h"

#include <gtest/gtest.h>

namespace tollgate::ratelimit {
namespace {

// What a URL means, one row each.
struct UrlCase {
  const char* url;
  std::string host;
  uint16_t port;
  int db;
  std::string username;
  std::string password;
};

TEST(ParseRedisUrl, HostPortDbAndCredentials) {
  const UrlCase cases[] = {
      {"redis://cache.internal", "cache.internal", 6379, 0, "", ""},
      {"redis://10.0.0.7:6380/5", "10.0.0.7", 6380, 5, "", ""},
      {"REDIS://h/", "h", 6379, 0, "", ""},
      {"redis://:s3cret@h:1", "h", 1, 0, "", "s3cret"},
      {"redis://alice:pw@h", "h", 6379, 0, "alice", "pw"},
      // Percent-decoding, and the last '@' ends the user info.
      {"redis://:p%40ss%3Aw%2Frd%25@h:7/2", "h", 7, 2, "", "p@ss:w/rd%"},
      {"redis://:a@b:c@h", "h", 6379, 0, "", "a@b:c"},
      {"redis://[::1]:6390/1", "::1", 6390, 1, "", ""},
      {"redis://:pw@[fe80::1]", "fe80::1", 6379, 0, "", "pw"},
  };
  for (const UrlCase& c : cases) {
    SCOPED_TRACE(c.url);
    const std::optional<RedisOptions> o = parseRedisUrl(c.url);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->host, c.host);
    EXPECT_EQ(o->port, c.port);
    EXPECT_EQ(o->db, c.db);
    EXPECT_EQ(o->username, c.username);
    EXPECT_EQ(o->password, c.password);
    EXPECT_FALSE(o->tls.enabled);
    EXPECT_TRUE(o->more_nodes.empty());
  }
}

TEST(ParseRedisUrl, TlsSchemeAndNodeList) {
  auto o = parseRedisUrl("rediss://:p@ss@clustercfg.example.cache.amazonaws.com:6379");
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_EQ(o->password, "p@ss");
  EXPECT_EQ(o->host, "clustercfg.example.cache.amazonaws.com");
  EXPECT_TRUE(o->more_nodes.empty());
  EXPECT_FALSE(parseRedisUrl("redis://h")->tls.enabled);

  o = parseRedisUrl("REDISS://a:7000,[::1]:7001,b/3");
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_EQ(o->nodes(), (std::vector<RedisNode>{{"a", 7000}, {"::1", 7001}, {"b", 6379}}));
  EXPECT_EQ(o->db, 3);
}

TEST(ParseRedisUrl, Malformed) {
  for (const char* bad : {"",
                          "redis://",
                          "http://h",
                          "rediss://",
                          "redis://h,",
                          "redis://h,,k",
                          "redis://h,:1",
                          "redis://h:1,k:0",
                          "redis://h:",
                          "redis://h:0",
                          "redis://h:65536",
                          "redis://h:12x",
                          "redis://h/x",
                          "redis://h/-1",
                          "redis://[::1",
                          "redis://[::1]x",
                          "redis://[zz]:1",
                          "redis://[::1]:",
                          "redis://pw@h",
                          "redis://:@h",
                          "redis://:%zz@h",
                          "redis://:%4@h",
                          "redis://h?db=1",
                          "redis://h#x",
                          "redis://:pw@",
                          "redis://:pw@:6379"}) {
    EXPECT_FALSE(parseRedisUrl(bad)) << bad;
  }
}

TEST(FormatEndpoint, NeverShowsThePassword) {
  RedisOptions o;
  o.host = "::1";
  o.port = 6380;
  o.db = 2;
  o.password = "secret";
  EXPECT_EQ(formatEndpoint(o), "[::1]:6380/2");
  o.host = "cache";
  o.db = 0;
  EXPECT_EQ(formatEndpoint(o), "cache:6380");
}

}  // namespace
}  // namespace tollgate::ratelimit
