#include "common/url.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

TEST(Url, SchemeHostPortTarget) {
  auto u = parseUrl("HTTPS://API.Example.com:8443/v1/x?a=b%20c#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_TRUE(u->explicit_port);
  EXPECT_FALSE(u->ipv6);
  EXPECT_EQ(u->path, "/v1/x");
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "a=b%20c");
  EXPECT_TRUE(u->has_fragment);
  EXPECT_EQ(u->target(), "/v1/x?a=b%20c");
  EXPECT_EQ(u->text(), "https://api.example.com:8443/v1/x?a=b%20c");
  EXPECT_FALSE(u->has_userinfo);
}

TEST(Url, DefaultPorts) {
  EXPECT_EQ(parseUrl("http://h")->port, 80);
  EXPECT_EQ(parseUrl("https://h/")->port, 443);
  EXPECT_EQ(parseUrl("redis://h")->port, 6379);
  EXPECT_EQ(parseUrl("grpc://h")->port, 0);
  auto empty_port = parseUrl("http://h:/x");
  ASSERT_TRUE(empty_port);
  EXPECT_EQ(empty_port->port, 80);
  EXPECT_FALSE(empty_port->explicit_port);
  auto u = parseUrl("http://h:80");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->explicit_port);
  EXPECT_EQ(u->text(), "http://h/");
  EXPECT_EQ(u->target(), "/");
  EXPECT_EQ(parseUrl("http://h?q")->target(), "/?q");
}

TEST(Url, Ipv6) {
  auto u = parseUrl("http://[::1]:4318/v1/traces");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->ipv6);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 4318);
  EXPECT_EQ(u->text(), "http://[::1]:4318/v1/traces");
  auto v = parseUrl("https://[FD00:EC2::23]");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->host, "fd00:ec2::23");
  EXPECT_EQ(v->port, 443);
  EXPECT_EQ(v->text(), "https://[fd00:ec2::23]/");
}

TEST(Url, Userinfo) {
  auto u = parseUrl("redis://us%40er:p%3Ass%2Fw@cache:6380/2");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->user, "us@er");
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->password, "p:ss/w");
  EXPECT_EQ(u->host, "cache");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->path, "/2");
  EXPECT_EQ(u->text(), "redis://cache:6380/2");  // never the password

  auto p = parseUrl("redis://:secret@cache");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->has_userinfo);
  EXPECT_EQ(p->user, "");
  EXPECT_EQ(p->password, "secret");

  auto at = parseUrl("http://127.0.0.1@evil.example/");
  ASSERT_TRUE(at);
  EXPECT_EQ(at->host, "evil.example");
  EXPECT_TRUE(at->has_userinfo);
  EXPECT_FALSE(at->has_password);
}

TEST(Url, RejectsBadInput) {
  for (const char* bad : {"",
                          "host:80",
                          "/just/a/path",
                          "http:host",
                          "http://",
                          "http://:80",
                          "http://h:x",
                          "http://h:0",
                          "http://h:65536",
                          "http://h:99999",
                          "http://::1:4318",
                          "http://[::1",
                          "http://[zz::1]/",
                          "http://[v1.x]/",
                          "http://h o/",
                          "http://a%2Fb/",
                          "http://a%00b/",
                          "http://h/\x01",
                          "ht tp://h/",
                          "http://127.0.0.1:x/",
                          "http://1.2.3.4:80x/",
                          "http://h:+80/",
                          "http://h:65535x/"}) {
    std::string err;
    EXPECT_FALSE(parseUrl(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_FALSE(parseUrl("http://h:0"));  // no error out-parameter needed
  EXPECT_EQ(parseUrl("http://h:65535")->port, 65535);
  // A name that starts like an IPv4 address is a name (Boost 1.81 needs help there).
  EXPECT_EQ(parseUrl("http://127.0.0.1.nip.io:8080/x")->host, "127.0.0.1.nip.io");
  EXPECT_EQ(parseUrl("http://127.0.0.1.nip.io:8080/x")->port, 8080);
  EXPECT_EQ(parseUrl("http://127.0.0.1.nip.io:8080/x")->path, "/x");
  EXPECT_EQ(parseUrl("http://u:p@10.1.2.3.example/")->host, "10.1.2.3.example");
  EXPECT_EQ(parseUrl("http://u:p@10.1.2.3.example/")->password, "p");
  EXPECT_EQ(parseUrl("http://127.0.0.1/")->host, "127.0.0.1");
}

}  // namespace
}  // namespace tollgate
