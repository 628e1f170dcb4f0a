// Failover on a primary/replica pair of real redis-servers, the way ElastiCache (or Sentinel)
// does it: the primary dies and its replica is promoted, or a switchover demotes the primary.
// The store, given both nodes, passes over the replica, finds the new primary, and the counts
// continue where replication left them.
#include "ratelimit/redis_store.h"
#include "ratelimit/redis_test_support.h"

// In the support header's namespace: its helpers need no using-declarations.
namespace tollgate::ratelimit::testing {
namespace {

using namespace std::chrono_literals;

class RedisFailoverTest : public testing::RedisTest {
 protected:
  // Without the delay a replica's first sync waits 5 s for more replicas to come.
  RedisFailoverTest()
      : primary_({"--repl-diskless-sync-delay", "0"}),
        replica_({"--replicaof", "127.0.0.1", std::to_string(primary_.port())}) {}

  void SetUp() override {
    auto deadline = testing::Clock::now() + 5s;
    while (
        SyncConn(replica_.port()).string({"INFO", "replication"}).find("master_link_status:up") ==
        std::string::npos) {
      ASSERT_LT(testing::Clock::now(), deadline) << "the replica never synced";
      std::this_thread::sleep_for(20ms);
    }
  }
  RedisOptions bothNodes() {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = primary_.port();
    o.more_nodes = {{"127.0.0.1", replica_.port()}};
    o.timeout = 2000ms;
    o.connect_timeout = 500ms;
    return o;
  }
  // The primary's writes are on the replica (WAIT), so a failover loses none of them.
  void replicated() { EXPECT_EQ(SyncConn(primary_.port()).integer({"WAIT", "1", "2000"}), 1); }

  RedisServer primary_;
  RedisServer replica_;
};

TEST_F(RedisFailoverTest, ReplicaIsPassedOverUntilPromoted) {
  RedisStore store(io_, bothNodes());
  ASSERT_TRUE(waitConnected(store));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(check(store, {bucket("f", 100, 1)}).ok());
  replicated();

  primary_.stop();
  auto r = check(store, {bucket("f", 100, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect) << describe(r.error());
  // Reconnecting finds only the replica, which ROLE rules out: still down.
  uint64_t reconnects = redisStats().reconnects.load();
  ASSERT_TRUE(testing::pumpUntil(
      io_, [&] { return redisStats().reconnects.load() >= reconnects + 2; }, 5s));
  EXPECT_FALSE(store.connected());

  EXPECT_EQ(SyncConn(replica_.port()).string({"REPLICAOF", "NO", "ONE"}), "OK");
  ASSERT_TRUE(waitConnected(store, 8s)) << "the promoted replica was not found";
  r = check(store, {bucket("f", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{4});  // the three before the failover, and this one
}

TEST_F(RedisFailoverTest, DemotedPrimaryIsLeftForTheNewOne) {
  RedisStore store(io_, bothNodes());
  ASSERT_TRUE(waitConnected(store));
  ASSERT_TRUE(check(store, {bucket("s", 100, 5)}).ok());
  replicated();
  // A switchover: the replica becomes primary, the old primary its replica. The store's
  // connection to the old one stays open, and only a write tells it what happened.
  EXPECT_EQ(SyncConn(replica_.port()).string({"REPLICAOF", "NO", "ONE"}), "OK");
  EXPECT_EQ(
      SyncConn(primary_.port()).string({"REPLICAOF", "127.0.0.1", std::to_string(replica_.port())}),
      "OK");
  auto r = check(store, {bucket("s", 100, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("became a replica"), std::string::npos) << describe(r.error());
  ASSERT_TRUE(waitConnected(store, 8s));
  r = check(store, {bucket("s", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{6});
  EXPECT_EQ(SyncConn(replica_.port()).string({"GET", "s"}), "6");  // written on the new primary
}

}  // namespace
}  // namespace tollgate::ratelimit::testing
