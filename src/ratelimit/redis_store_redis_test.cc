// RedisStore against a real redis-server that each test starts on a free loopback port (and
// kills at the end). The tests also talk to that server over a plain synchronous hiredis
// connection to look behind the store's back (TTLs, SCRIPT FLUSH, DEBUG SLEEP). Every wait is
// bounded.
#include <algorithm>

#include "ratelimit/redis_store.h"
#include "ratelimit/redis_test_support.h"

// In the support header's namespace: its helpers need no using-declarations.
namespace tollgate::ratelimit::testing {
namespace {

using namespace std::chrono_literals;
using Values = std::vector<int64_t>;

using RedisStoreTest = RedisTest;

TEST_F(RedisStoreTest, EnvoyModeLetsTheCrossingRequestPass) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));

  auto r = check(store, {bucket("envoy", 3, 2)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->refused_index, -1);
  EXPECT_EQ(r->spent, std::vector<uint64_t>{2});

  r = check(store, {bucket("envoy", 3, 2)});  // 2 < 3: passes and crosses the limit
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->spent, std::vector<uint64_t>{4});

  r = check(store, {bucket("envoy", 3, 1)});  // 4 >= 3: refused, nothing added
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->refused_index, 0);
  EXPECT_EQ(r->spent, std::vector<uint64_t>{4});

  SyncConn c(server.port());
  EXPECT_EQ(c.string({"GET", "envoy"}), "4");
}

TEST_F(RedisStoreTest, ReserveModeNeverOverAdmits) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));

  std::vector<std::pair<int64_t, bool>> steps = {{4, true}, {4, true},  {4, false},
                                                 {2, true}, {1, false}, {0, true}};
  std::vector<uint64_t> spent_after = {4, 8, 8, 10, 10, 10};
  for (size_t i = 0; i < steps.size(); ++i) {
    auto r = check(store, {bucket("reserve", 10, steps[i].first, true)});
    ASSERT_TRUE(r.ok()) << describe(r.error());
    EXPECT_EQ(r->allowed, steps[i].second) << "step " << i;
    EXPECT_EQ(r->refused_index, steps[i].second ? -1 : 0) << "step " << i;
    EXPECT_EQ(r->spent, std::vector<uint64_t>{spent_after[i]}) << "step " << i;
  }
}

TEST_F(RedisStoreTest, AllOrNothingAcrossBuckets) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));
  SyncConn c(server.port());

  ASSERT_TRUE(add(store, {bucket("b", 5, 5)}).ok());
  auto r = check(store, {bucket("a", 100, 1), bucket("b", 5, 1, true), bucket("c", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->refused_index, 1);
  EXPECT_EQ(r->spent, (std::vector<uint64_t>{0, 5, 0}));
  EXPECT_EQ(c.integer({"EXISTS", "a"}), 0);  // a refused request creates nothing
  EXPECT_EQ(c.integer({"EXISTS", "c"}), 0);

  // The first refusing bucket is reported; every bucket's value comes back.
  ASSERT_TRUE(add(store, {bucket("c", 1, 1)}).ok());
  r = check(store, {bucket("a", 100, 1), bucket("c", 1, 1), bucket("b", 5, 0)});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->refused_index, 1);
  EXPECT_EQ(r->spent, (std::vector<uint64_t>{0, 1, 5}));

  r = check(store, {bucket("a", 100, 3), bucket("d", 100, 4), bucket("b", 100, 0)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->spent, (std::vector<uint64_t>{3, 4, 5}));
  auto g = get(store, {"a", "b", "c", "d", "missing"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (Values{3, 5, 1, 4, 0}));
}

TEST_F(RedisStoreTest, AddWithNegativeDeltas) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));
  SyncConn c(server.port());

  auto a = add(store, {bucket("n", 0, 5), bucket("m", 0, 7)});
  ASSERT_TRUE(a.ok()) << describe(a.error());
  EXPECT_EQ(*a, (Values{5, 7}));
  a = add(store, {bucket("n", 0, -3)});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, Values{2});
  a = add(store, {bucket("n", 0, -10), bucket("m", 0, 0), bucket("untouched", 0, 0)});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (Values{-8, 7, 0}));
  EXPECT_EQ(c.integer({"EXISTS", "untouched"}), 0);  // a zero delta creates nothing

  auto g = get(store, {"n"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, Values{-8});

  // Below zero reads as 0, for the decision and in the outcome (as LocalStore does).
  auto r = check(store, {bucket("n", 5, 5, true)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->spent, std::vector<uint64_t>{0});
  g = get(store, {"n"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, Values{-3});

  // Large values pass exactly (Lua would print 1e+14 as a float).
  a = add(store, {bucket("big", 0, 100000000000000)});
  ASSERT_TRUE(a.ok()) << describe(a.error());
  EXPECT_EQ(*a, Values{100000000000000});
}

TEST_F(RedisStoreTest, GetAndBadValues) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));
  SyncConn c(server.port());

  auto g = get(store, {"x", "y"});
  ASSERT_TRUE(g.ok()) << describe(g.error());
  EXPECT_EQ(*g, (Values{0, 0}));
  g = get(store, {});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->empty());
  c.cmd({"SET", "y", "-12"});
  g = get(store, {"x", "y"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (Values{0, -12}));

  // A key that holds something else is an error, not a zero.
  c.cmd({"SET", "junk", "hello"});
  g = get(store, {"junk"});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::kUpstreamBadResponse);
  auto r = check(store, {bucket("junk", 10, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamBadResponse);
  EXPECT_EQ(r.error().source, ErrorSource::kUpstream);
  // The store is still fine afterwards.
  r = check(store, {bucket("fine", 10, 1)});
  ASSERT_TRUE(r.ok());

  auto e = check(store, {});
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->allowed);
}

TEST_F(RedisStoreTest, TtlRules) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));
  SyncConn c(server.port());

  ASSERT_TRUE(check(store, {bucket("t1", 10, 1, false, 30)}).ok());
  long long ttl = c.integer({"TTL", "t1"});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 30);

  // An existing TTL is kept: a key expires at its window's end, not later.
  c.cmd({"SET", "t2", "1", "EX", "1000"});
  ASSERT_TRUE(add(store, {bucket("t2", 0, 1, false, 30)}).ok());
  EXPECT_GT(c.integer({"TTL", "t2"}), 900);
  ASSERT_TRUE(check(store, {bucket("t2", 10, 1, false, 30)}).ok());
  EXPECT_GT(c.integer({"TTL", "t2"}), 900);

  // A key without a TTL gets one.
  c.cmd({"SET", "t3", "7"});
  auto a = add(store, {bucket("t3", 0, 1, false, 30)});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, Values{8});
  ttl = c.integer({"TTL", "t3"});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 30);
  c.cmd({"SET", "t4", "7"});
  ASSERT_TRUE(check(store, {bucket("t4", 10, 1, true, 30)}).ok());
  EXPECT_GT(c.integer({"TTL", "t4"}), 0);

  // Created by add (negative too).
  ASSERT_TRUE(add(store, {bucket("t5", 0, -2, false, 20)}).ok());
  ttl = c.integer({"TTL", "t5"});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 20);

  // ttl_seconds 0 sets no expiry.
  ASSERT_TRUE(add(store, {bucket("t6", 0, 1, false, 0)}).ok());
  EXPECT_EQ(c.integer({"TTL", "t6"}), -1);
}

TEST_F(RedisStoreTest, RecoversFromScriptFlush) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  ASSERT_TRUE(waitConnected(store));
  SyncConn c(server.port());

  ASSERT_TRUE(check(store, {bucket("s", 10, 1)}).ok());
  EXPECT_EQ(c.string({"SCRIPT", "FLUSH"}), "OK");
  uint64_t rt = redisStats().round_trips.load();
  auto r = check(store, {bucket("s", 10, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{2});
  EXPECT_GE(redisStats().round_trips.load() - rt, 2u);  // NOSCRIPT, then EVAL
  // EVAL cached it again: the next call is one round trip.
  rt = redisStats().round_trips.load();
  r = check(store, {bucket("s", 10, 1)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{3});
  EXPECT_EQ(redisStats().round_trips.load() - rt, 1u);
  auto g = get(store, {"s"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, Values{3});
}

TEST_F(RedisStoreTest, CallsMadeBeforeTheFirstConnectionQueueBehindIt) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server));
  EXPECT_FALSE(store.connected());
  auto r = check(store, {bucket("early", 10, 1)});  // issued before the loop ever ran
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{1});
  EXPECT_TRUE(store.connected());
}

TEST_F(RedisStoreTest, ResolvesHostNames) {
  RedisServer server;
  RedisOptions o = optionsFor(server);
  o.host = "localhost";
  RedisStore store(io_, o);
  auto r = check(store, {bucket("named", 10, 1)});  // waits for resolution and the connection
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_TRUE(store.connected());

  RedisOptions nowhere = o;
  nowhere.host = "no-such-host.invalid";
  RedisStore lost(io_, nowhere);
  r = check(lost, {bucket("named", 10, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect);
  EXPECT_NE(r.error().detail.find("resolve"), std::string::npos) << r.error().detail;
}

TEST_F(RedisStoreTest, PasswordAndDbFromUrl) {
  const std::string password = "p@ss:w/rd";
  RedisServer server({"--requirepass", password});
  for (const std::string user : {"", "default"}) {
    auto opts = parseRedisUrl("redis://" + user +
                              ":p%40ss%3Aw%2Frd@127.0.0.1:" + std::to_string(server.port()) + "/3");
    ASSERT_TRUE(opts);
    RedisStore store(io_, *opts);
    ASSERT_TRUE(waitConnected(store)) << "user '" << user << "'";
    auto a = add(store, {bucket("secret-key", 0, 7)});
    ASSERT_TRUE(a.ok()) << describe(a.error());
  }
  SyncConn db3(server.port(), password, 3);
  EXPECT_EQ(db3.string({"GET", "secret-key"}), "14");
  SyncConn db0(server.port(), password, 0);
  EXPECT_EQ(db0.integer({"EXISTS", "secret-key"}), 0);

  // A wrong password never connects; calls fail at once and never show the password.
  auto wrong = parseRedisUrl("redis://:nope-nope@127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(wrong);
  RedisStore store(io_, *wrong);
  pumpFor(io_, 300ms);
  EXPECT_FALSE(store.connected());
  auto start = Clock::now();
  auto r = check(store, {bucket("k", 1, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_LT(Clock::now() - start, 100ms);
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().public_message, "rate limit store unavailable");
  EXPECT_EQ(r.error().detail.find("nope-nope"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("AUTH"), std::string::npos) << r.error().detail;
}

TEST_F(RedisStoreTest, UnreachableServerFailsFast) {
  RedisOptions o;
  o.port = freePort();  // nobody listens there
  o.timeout = 2000ms;
  RedisStore store(io_, o);
  auto start = Clock::now();
  auto r = check(store, {bucket("k", 1, 1)});  // waits for the first attempt only
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect);
  EXPECT_LT(Clock::now() - start, 500ms);
  start = Clock::now();
  r = check(store, {bucket("k", 1, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect);
  EXPECT_LT(Clock::now() - start, 100ms);
  EXPECT_FALSE(store.connected());
}

TEST_F(RedisStoreTest, ServerKilledThenRestartedReconnects) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server, 2000ms));  // failures must not come from the timeout
  ASSERT_TRUE(waitConnected(store));
  ASSERT_TRUE(check(store, {bucket("k", 100, 1)}).ok());
  int connected_before = redisStats().connected.load();
  uint64_t reconnects_before = redisStats().reconnects.load();

  server.stop();
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    auto r = check(store, {bucket("k", 100, 1)});
    ASSERT_FALSE(r.ok()) << "call " << i;
    EXPECT_EQ(r.error().code, ErrorCode::kUpstreamConnect) << describe(r.error());
    EXPECT_LT(Clock::now() - start, 300ms) << "call " << i;
  }
  EXPECT_FALSE(store.connected());
  EXPECT_EQ(redisStats().connected.load(), connected_before - 1);

  server.start();  // same port, empty data
  ASSERT_TRUE(waitConnected(store, 8s)) << "no reconnect within 8 s";
  EXPECT_GT(redisStats().reconnects.load(), reconnects_before);
  EXPECT_EQ(redisStats().connected.load(), connected_before);
  auto r = check(store, {bucket("k", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{1});  // the new server lost the old counts
}

TEST_F(RedisStoreTest, SlowServerTimesOutThenRecovers) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server, 50ms));
  ASSERT_TRUE(waitConnected(store));
  ASSERT_TRUE(check(store, {bucket("slow", 100, 1)}).ok());
  uint64_t timeouts_before = redisStats().timeouts.load();
  uint64_t late_before = redisStats().late_replies.load();
  uint64_t errors_before = redisStats().errors.load();

  SyncConn c(server.port());
  ASSERT_EQ(redisAppendCommand(c.raw(), "DEBUG SLEEP 0.3"), REDIS_OK);
  for (int done = 0; !done;) ASSERT_EQ(redisBufferWrite(c.raw(), &done), REDIS_OK);
  std::this_thread::sleep_for(20ms);  // let the server start sleeping

  auto start = Clock::now();
  auto r = check(store, {bucket("slow", 100, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamTimeout) << describe(r.error());
  EXPECT_TRUE(r.error().retryable);
  EXPECT_LT(Clock::now() - start, 250ms);
  EXPECT_GT(redisStats().timeouts.load(), timeouts_before);

  void* reply = nullptr;
  ASSERT_EQ(redisGetReply(c.raw(), &reply), REDIS_OK);  // the sleep is over
  freeReplyObject(reply);
  // The late reply arrives, is counted as late (Redis did charge the bucket) and not as an
  // error.
  EXPECT_TRUE(pumpUntil(
      io_, [&] { return redisStats().late_replies.load() > late_before; }, 2s));
  EXPECT_EQ(redisStats().late_replies.load(), late_before + 1);
  EXPECT_EQ(redisStats().errors.load(), errors_before);
  EXPECT_TRUE(store.connected());
  r = check(store, {bucket("slow", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  // The timed-out call still reached Redis: a timeout may over-count, never under-count.
  EXPECT_EQ(r->spent, std::vector<uint64_t>{3});
}

TEST_F(RedisStoreTest, StoppedServerTimesOutThenRecovers) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server, 50ms));
  ASSERT_TRUE(waitConnected(store));
  server.pause();
  auto r = check(store, {bucket("p", 100, 1)});
  server.resume();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamTimeout) << describe(r.error());
  pumpFor(io_, 50ms);
  r = check(store, {bucket("p", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(r->spent, std::vector<uint64_t>{2});
}

TEST_F(RedisStoreTest, SilentServerIsDroppedAndReconnected) {
  RedisServer server;
  RedisOptions o = optionsFor(server, 50ms);
  o.connect_timeout = 300ms;  // also the "no reply at all" limit
  RedisStore store(io_, o);
  ASSERT_TRUE(waitConnected(store));
  server.pause();
  bool dropped = false;
  auto deadline = Clock::now() + 3s;
  while (!dropped && Clock::now() < deadline) {
    auto r = check(store, {bucket("q", 100, 1)});
    ASSERT_FALSE(r.ok());
    dropped = r.error().code == ErrorCode::kUpstreamConnect;
  }
  EXPECT_TRUE(dropped) << "a silent connection was kept";
  EXPECT_FALSE(store.connected());
  auto start = Clock::now();
  auto r = check(store, {bucket("q", 100, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_LT(Clock::now() - start, 100ms);  // down: fails at once
  // Reconnect attempts get a TCP connection (the kernel accepts) but no handshake reply: each
  // is abandoned after connect_timeout.
  uint64_t reconnects = redisStats().reconnects.load();
  pumpFor(io_, 800ms);
  EXPECT_FALSE(store.connected());
  EXPECT_GE(redisStats().reconnects.load() - reconnects, 2u);
  server.resume();
  ASSERT_TRUE(waitConnected(store, 8s));
  r = check(store, {bucket("q", 100, 1)});
  ASSERT_TRUE(r.ok()) << describe(r.error());
}

TEST_F(RedisStoreTest, ManyConcurrentCallsOnOneLoop) {
  RedisServer server;
  RedisStore store(io_, optionsFor(server, 5000ms));
  ASSERT_TRUE(waitConnected(store));
  expectConcurrentChecksExact(store, "hot", 2000);
}

TEST_F(RedisStoreTest, DestroyedWithCallsInFlight) {
  RedisServer server;
  auto store = std::make_unique<RedisStore>(io_, optionsFor(server, 2000ms));
  ASSERT_TRUE(waitConnected(*store));
  server.pause();  // replies cannot come back before the store is gone
  constexpr int kCalls = 20;
  int finished = 0;
  int failed = 0;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(
        io_,
        [&failed, &finished, s = store.get()]() -> asio::awaitable<void> {
          std::vector<BucketOp> ops = {bucket("gone", 100, 1)};
          Result<CheckOutcome> r = co_await s->checkAndAdd(ops);
          if (!r.ok()) ++failed;
          ++finished;
        },
        asio::detached);
  }
  pumpFor(io_, 30ms);  // all submitted and written
  EXPECT_EQ(finished, 0);
  store.reset();
  ASSERT_TRUE(pumpUntil(
      io_, [&] { return finished == kCalls; }, 2s));
  EXPECT_EQ(failed, kCalls);
  server.resume();
  pumpFor(io_, 50ms);  // nothing left to react to the server waking up
}

TEST_F(RedisStoreTest, DestroyedBeforeTheLoopRuns) {
  RedisServer server;
  auto store = std::make_unique<RedisStore>(io_, optionsFor(server));
  Result<CheckOutcome> first = Error::internal("not run");
  bool started = false;
  bool done = false;
  asio::co_spawn(
      io_,
      [&, s = store.get()]() -> asio::awaitable<void> {
        std::vector<BucketOp> ops = {bucket("early", 100, 1)};
        started = true;  // the call below is submitted in the same step
        first = co_await s->checkAndAdd(ops);
        done = true;
      },
      asio::detached);
  for (int i = 0; i < 100 && !started; ++i) io_.poll_one();
  ASSERT_TRUE(started);
  EXPECT_FALSE(done);
  store.reset();
  ASSERT_TRUE(pumpUntil(
      io_, [&] { return done; }, 2s));
  EXPECT_FALSE(first.ok());
}

}  // namespace
}  // namespace tollgate::ratelimit::testing
