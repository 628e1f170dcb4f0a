// The store on a three-master Redis Cluster made by `redis-cli --cluster create`: key slots as
// Redis computes them, users spread over the nodes with every count exact, buckets of one
// request in different slots given back when a later one refuses, and MOVED and ASK followed
// while a slot migrates.
#include "ratelimit/redis_cluster.h"
#include "ratelimit/redis_store.h"
#include "ratelimit/redis_test_support.h"

// In the support header's namespace: its helpers need no using-declarations.
namespace tollgate::ratelimit::testing {
namespace {

using namespace std::chrono_literals;

class RedisClusterTest : public testing::RedisTest {
 protected:
  void SetUp() override { ASSERT_TRUE(nodes_.ok()) << "the test cluster did not come up"; }

  // Seeded with node `seed` only: the others are found through the slot map.
  RedisOptions seededAt(size_t seed) {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = nodes_.port(seed);
    o.timeout = 2000ms;
    return o;
  }
  // Moves an empty slot to another node, telling every node (as redis-cli does).
  void reassign(uint16_t slot, size_t to) {
    const std::string id = nodes_.id(to);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      EXPECT_EQ(
          SyncConn(nodes_.port(i)).string({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id}),
          "OK");
    }
  }

  RedisClusterNodes nodes_;
};

TEST_F(RedisClusterTest, KeySlotsAreRedisOwn) {
  SyncConn c(nodes_.port(0));
  for (const std::string key : {"tg:rl:{alice}:default/p:0:5:alice:1700000000", "plain-key", "{}x",
                                "a{}b{c}", "{a}{b}", "x{y", "}{z}", "", "{user-with-}-brace}"}) {
    EXPECT_EQ(redisKeySlot(key), c.integer({"CLUSTER", "KEYSLOT", key})) << key;
  }
}

TEST_F(RedisClusterTest, UsersLandOnDifferentNodesAndCountsStayExact) {
  RedisStore store(io_, seededAt(0));
  ASSERT_TRUE(waitConnected(store));
  EXPECT_TRUE(store.clustered());
  constexpr int kUsers = 24;
  constexpr uint64_t kLimit = 5;
  std::vector<int> owners(nodes_.size(), 0);
  for (int u = 0; u < kUsers; ++u) {
    const std::string tag = "{user-" + std::to_string(u) + "}";
    ++owners[nodes_.ownerOf(redisKeySlot(tag))];
    int allowed = 0;
    for (int i = 0; i < 8; ++i) {
      // Two buckets of one user (two rules): one slot, one atomic script call.
      auto r = check(store, {bucket("tg:rl:" + tag + ":day", kLimit, 1, true),
                             bucket("tg:rl:" + tag + ":minute", 100, 1, true)});
      ASSERT_TRUE(r.ok()) << describe(r.error());
      allowed += r->allowed ? 1 : 0;
    }
    EXPECT_EQ(allowed, static_cast<int>(kLimit)) << tag;
    // Read straight from the node the cluster says owns the user's slot.
    SyncConn owner(nodes_.port(nodes_.ownerOf(redisKeySlot(tag))));
    EXPECT_EQ(owner.string({"GET", "tg:rl:" + tag + ":day"}), "5") << tag;
    EXPECT_EQ(owner.string({"GET", "tg:rl:" + tag + ":minute"}), "5") << tag;
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    EXPECT_GT(owners[n], 0) << "no user on node " << n;
    EXPECT_GT(SyncConn(nodes_.port(n)).integer({"DBSIZE"}), 0) << "node " << n;
  }
  expectConcurrentChecksExact(store, "{hot-user}:tokens", 1000);
}

TEST_F(RedisClusterTest, ALaterSlotRefusingGivesTheEarlierChargesBack) {
  RedisStore store(io_, seededAt(1));
  ASSERT_TRUE(waitConnected(store));
  ASSERT_NE(redisKeySlot("{a}"), redisKeySlot("{b}"));
  auto r = check(store, {bucket("{a}:x", 10, 4, true), bucket("{b}:y", 3, 4, true)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->refused_index, 1);
  EXPECT_EQ(r->spent, (std::vector<uint64_t>{0, 0}));
  auto g = get(store, {"{a}:x", "{b}:y"});
  ASSERT_TRUE(g.ok()) << describe(g.error());
  EXPECT_EQ(*g, (std::vector<int64_t>{0, 0}));  // nothing stays charged
  r = check(store, {bucket("{a}:x", 10, 4, true), bucket("{b}:y", 5, 4, true)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->spent, (std::vector<uint64_t>{4, 4}));
}

TEST_F(RedisClusterTest, FollowsMovedAndAskWhileSlotsMove) {
  RedisStore store(io_, seededAt(2));
  ASSERT_TRUE(waitConnected(store));
  // MOVED: the store's map still names the old owner of an (empty) slot now served elsewhere.
  const uint16_t moved_slot = redisKeySlot("{moving}");
  const size_t from = nodes_.ownerOf(moved_slot);
  const size_t to = (from + 1) % nodes_.size();
  reassign(moved_slot, to);
  uint64_t moved = redisStats().moved.load();
  uint64_t refreshes = redisStats().slot_map_refreshes.load();
  auto r = check(store, {bucket("{moving}:k", 10, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(redisStats().moved.load(), moved + 1);
  EXPECT_EQ(SyncConn(nodes_.port(to)).string({"GET", "{moving}:k"}), "1");
  EXPECT_TRUE(pumpUntil(
      io_, [&] { return redisStats().slot_map_refreshes.load() > refreshes; }, 3s));
  r = check(store, {bucket("{moving}:k", 10, 1)});  // straight to the new owner now
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(redisStats().moved.load(), moved + 1);

  // ASK: a slot migrating to another node, its key not yet on the old one.
  const uint16_t ask_slot = redisKeySlot("{asking}");
  const size_t owner = nodes_.ownerOf(ask_slot);
  const size_t dest = (owner + 1) % nodes_.size();
  const std::string slot = std::to_string(ask_slot);
  ASSERT_EQ(SyncConn(nodes_.port(dest))
                .string({"CLUSTER", "SETSLOT", slot, "IMPORTING", nodes_.id(owner)}),
            "OK");
  ASSERT_EQ(SyncConn(nodes_.port(owner))
                .string({"CLUSTER", "SETSLOT", slot, "MIGRATING", nodes_.id(dest)}),
            "OK");
  uint64_t asked = redisStats().asked.load();
  r = check(store, {bucket("{asking}:k", 10, 2)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{2});
  EXPECT_EQ(redisStats().asked.load(), asked + 1);
  auto g = get(store, {"{asking}:k"});
  ASSERT_TRUE(g.ok()) << describe(g.error());
  EXPECT_EQ(*g, std::vector<int64_t>{2});  // read from where it went, behind ASKING too
  EXPECT_EQ(redisStats().asked.load(), asked + 2);
}

// A master dies; the cluster promotes its replica (cluster-node-timeout 2 s). The store was
// seeded at that very master: it must find the new owner through the other nodes.
class RedisClusterFailoverTest : public testing::RedisTest {
 protected:
  RedisClusterNodes nodes_{1};
};

TEST_F(RedisClusterFailoverTest, APromotedReplicaTakesTheDeadMastersSlots) {
  ASSERT_TRUE(nodes_.ok()) << "the test cluster did not come up";
  const uint16_t slot = redisKeySlot("{victim}");
  const size_t victim = nodes_.ownerOf(slot);
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = nodes_.port(victim);
  o.timeout = 1000ms;
  o.connect_timeout = 300ms;
  RedisStore store(io_, o);
  ASSERT_TRUE(waitConnected(store));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(check(store, {bucket("{victim}:k", 100, 1)}).ok());
  EXPECT_EQ(SyncConn(nodes_.port(victim)).integer({"WAIT", "1", "2000"}), 1);
  uint64_t refreshes = redisStats().slot_map_refreshes.load();

  nodes_.stop(victim);
  // Calls fail (open or closed is the limiter's choice) until the cluster has promoted the
  // replica and the store has read the new map: at most 30 s.
  Result<CheckOutcome> r = Error::internal("not tried");
  auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    r = check(store, {bucket("{victim}:k", 100, 1)});
    if (r.ok()) break;
    testing::pumpFor(io_, 100ms);
  }
  ASSERT_TRUE(r.ok()) << "no new owner within 30 s: " << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{4});  // the replica had the three
  auto now_owner = nodes_.owner(slot);
  ASSERT_TRUE(now_owner.has_value());
  EXPECT_NE(*now_owner, victim);
  EXPECT_GT(redisStats().slot_map_refreshes.load(), refreshes);
  // The dead seed serves no slot: the store counts as connected again.
  EXPECT_TRUE(waitConnected(store, 3s));
}

// MemoryDB's shape: a cluster that speaks TLS only to clients. The store is given one node's TLS
// port; the slot map (asked over TLS) names the others' TLS ports, each verified in turn.
class RedisTlsClusterTest : public testing::RedisTest {
 protected:
  testing::TestCa ca_;
  RedisClusterNodes nodes_{0, &ca_};
};

TEST_F(RedisTlsClusterTest, EveryNodeIsReachedOverTls) {
  ASSERT_TRUE(ca_.ok() && nodes_.ok()) << "the TLS test cluster did not come up";
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = nodes_.tlsPort(0);
  o.timeout = 2000ms;
  o.tls.enabled = true;
  o.tls.ca_file = ca_.file("ca.crt");
  RedisStore store(io_, o);
  ASSERT_TRUE(waitConnected(store));
  EXPECT_TRUE(store.clustered());
  std::vector<int> per_node(nodes_.size(), 0);
  for (int u = 0; u < 12; ++u) {
    const std::string key = "{tls-user-" + std::to_string(u) + "}:k";
    auto r = check(store, {bucket(key, 10, 2)});
    ASSERT_TRUE(r.ok()) << describe(r.error());
    const size_t owner = nodes_.ownerOf(redisKeySlot(key));
    ++per_node[owner];
    EXPECT_EQ(SyncConn(nodes_.port(owner)).string({"GET", key}), "2") << key;
  }
  for (size_t n = 0; n < nodes_.size(); ++n) EXPECT_GT(per_node[n], 0) << "node " << n;
}

using RedisSingleNodeTest = RedisTest;

TEST_F(RedisSingleNodeTest, IsNotACluster) {
  testing::RedisServer plain;
  RedisOptions o;
  o.port = plain.port();
  RedisStore store(io_, o);
  ASSERT_TRUE(waitConnected(store));
  EXPECT_FALSE(store.clustered());
}

}  // namespace
}  // namespace tollgate::ratelimit::testing
