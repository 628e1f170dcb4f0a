// rediss://: the store over TLS to a real redis-server with a TLS port, its certificates from a
// CA the test makes with openssl: verification against the CA file, the name checked (for a
// host name and an IP), refusal of a server it cannot verify, client certificates, ACL users.
#include "ratelimit/redis_client.h"
#include "ratelimit/redis_store.h"
#include "ratelimit/redis_test_support.h"

// In the support header's namespace: its helpers need no using-declarations.
namespace tollgate::ratelimit::testing {
namespace {

using namespace std::chrono_literals;

class RedisTlsTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.ok()) << "the openssl tool could not make a test CA";
    ASSERT_EQ(ports_.size(), 2u);
  }

  RedisOptions tlsOptions(uint16_t tls_port, const std::string& host = "127.0.0.1") {
    RedisOptions o;
    o.host = host;
    o.port = tls_port;
    o.timeout = 2000ms;
    o.tls.enabled = true;
    o.tls.ca_file = ca_.file("ca.crt");
    return o;
  }
  // The first call's outcome (it waits for the first connection attempt).
  Result<CheckOutcome> firstCheck(const RedisOptions& o) {
    RedisStore store(io_, o);
    return check(store, {bucket("k", 100, 1)});
  }

  TestCa ca_;
  const std::vector<uint16_t> ports_ = testing::freePorts(2);  // the server's plain and TLS ports
};

TEST_F(RedisTlsTest, VerifiesTheServerByIpAndByName) {
  const uint16_t tls_port = ports_[1];
  RedisServer server(ca_.serverArgs(tls_port, false), ports_[0]);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    RedisStore store(io_, tlsOptions(tls_port, host));
    ASSERT_TRUE(waitConnected(store)) << host;
    auto r = check(store, {bucket("tls:" + host, 10, 3)});
    ASSERT_TRUE(r.ok()) << host << ": " << describe(r.error());
    EXPECT_TRUE(r->allowed);
    // The count went through the TLS port into the same server.
    EXPECT_EQ(SyncConn(server.port()).string({"GET", "tls:" + host}), "3");
  }
}

TEST_F(RedisTlsTest, RefusesAServerItCannotVerify) {
  const uint16_t tls_port = ports_[1];
  RedisServer server(ca_.serverArgs(tls_port, false), ports_[0]);
  RedisOptions system_cas = tlsOptions(tls_port);
  system_cas.tls.ca_file.clear();  // the test CA is not among the system's
  RedisOptions other_name = tlsOptions(tls_port);
  other_name.tls.server_name = "redis.elsewhere.test";
  RedisOptions plain = tlsOptions(tls_port);
  plain.tls.enabled = false;  // a plain client on the TLS port: no RESP reply ever comes
  plain.connect_timeout = 300ms;
  for (const RedisOptions& o : {system_cas, other_name}) {
    auto r = firstCheck(o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect) << describe(r.error());
    EXPECT_NE(r.error().detail.find("TLS handshake"), std::string::npos) << r.error().detail;
  }
  auto r = firstCheck(plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(SyncConn(server.port()).string({"GET", "k"}), "<none>");  // nothing was counted
}

TEST_F(RedisTlsTest, ClientCertificateAndAclUser) {
  const uint16_t tls_port = ports_[1];
  std::vector<std::string> args = ca_.serverArgs(tls_port, true);
  args.insert(args.end(), {"--user", "limiter", "on", ">s3cr@t", "~tg:*", "+@all"});
  RedisServer server(args, ports_[0]);
  RedisOptions o = tlsOptions(tls_port);
  o.username = "limiter";
  o.password = "s3cr@t";
  auto no_cert = firstCheck(o);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_EQ(no_cert.error().code, ErrorCode::kUpstreamConnect) << describe(no_cert.error());

  o.tls.cert_file = ca_.file("client.crt");
  o.tls.key_file = ca_.file("client.key");
  RedisStore store(io_, o);
  ASSERT_TRUE(waitConnected(store));
  auto r = check(store, {bucket("tg:acl", 10, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  // The ACL user may touch tg:* only: the AUTH really ran as that user.
  auto denied = check(store, {bucket("other", 10, 1)});
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.error().detail.find("NOPERM"), std::string::npos) << denied.error().detail;
}

TEST_F(RedisTlsTest, ManyConcurrentCallsStayExact) {
  const uint16_t tls_port = ports_[1];
  RedisServer server(ca_.serverArgs(tls_port, false), ports_[0]);
  RedisStore store(io_, tlsOptions(tls_port));
  ASSERT_TRUE(waitConnected(store));
  expectConcurrentChecksExact(store, "tls-hot", 2000);
}

TEST_F(RedisTlsTest, OptionsFromTheUrlAndFlags) {
  std::string error;
  RedisTls files;
  files.ca_file = ca_.file("ca.crt");
  auto o = redisOptionsFrom("rediss://u:p@a@localhost:6380,127.0.0.1:6381/2", files, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_TRUE(o->tls.context);
  EXPECT_EQ(o->password, "p@a");
  EXPECT_EQ(o->nodes(), (std::vector<RedisNode>{{"localhost", 6380}, {"127.0.0.1", 6381}}));
  EXPECT_EQ(o->db, 2);
  EXPECT_FALSE(redisOptionsFrom("redis://localhost", files, &error));
  EXPECT_NE(error.find("rediss://"), std::string::npos) << error;
  files.ca_file = ca_.file("missing.crt");
  EXPECT_FALSE(redisOptionsFrom("rediss://localhost", files, &error));
  EXPECT_NE(error.find("missing.crt"), std::string::npos) << error;
}

}  // namespace
}  // namespace tollgate::ratelimit::testing
