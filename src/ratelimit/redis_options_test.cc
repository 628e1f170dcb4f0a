#include "ratelimit/redis_options.h"

#include <gtest/gtest.h>

namespace tollgate::ratelimit {
namespace {

TEST(ParseRedisUrl, HostPortDbDefaults) {
  auto o = parseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->password.empty());
  EXPECT_TRUE(o->username.empty());

  o = parseRedisUrl("redis://10.0.0.7:6380/5");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "10.0.0.7");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 5);

  o = parseRedisUrl("REDIS://h/");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->db, 0);
}

TEST(ParseRedisUrl, Credentials) {
  auto o = parseRedisUrl("redis://:s3cret@h:1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_TRUE(o->username.empty());

  o = parseRedisUrl("redis://alice:pw@h");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->username, "alice");
  EXPECT_EQ(o->password, "pw");

  // Percent-decoding, and the last '@' ends the user info.
  o = parseRedisUrl("redis://:p%40ss%3Aw%2Frd%25@h:7/2");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->password, "p@ss:w/rd%");
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->port, 7);
  EXPECT_EQ(o->db, 2);
  o = parseRedisUrl("redis://:a@b:c@h");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->password, "a@b:c");
  EXPECT_EQ(o->host, "h");
}

TEST(ParseRedisUrl, Ipv6) {
  auto o = parseRedisUrl("redis://[::1]:6390/1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 1);
  o = parseRedisUrl("redis://:pw@[fe80::1]");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "fe80::1");
  EXPECT_EQ(o->port, 6379);
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
