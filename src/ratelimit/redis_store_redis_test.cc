// RedisStore against a real redis-server that each test starts on a free loopback port (and
// kills at the end). The tests also talk to that server over a plain synchronous hiredis
// connection to look behind the store's back (TTLs, SCRIPT FLUSH, DEBUG SLEEP). Every wait is
// bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "ratelimit/redis_store.h"

namespace tollgate::ratelimit {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Values = std::vector<int64_t>;

// ---- a redis-server child process ----

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

using ReplyPtr = std::unique_ptr<redisReply, void (*)(void*)>;

// A plain blocking connection for the test's own look behind the store.
class SyncConn {
 public:
  SyncConn(uint16_t port, const std::string& password = {}, int db = 0) {
    c_ = redisConnectWithTimeout("127.0.0.1", port, timeval{1, 0});
    if (c_ == nullptr || c_->err != 0) return;
    redisSetTimeout(c_, timeval{3, 0});
    if (!password.empty()) cmd({"AUTH", password});
    if (db != 0) cmd({"SELECT", std::to_string(db)});
  }
  ~SyncConn() {
    if (c_ != nullptr) redisFree(c_);
  }
  SyncConn(const SyncConn&) = delete;
  SyncConn& operator=(const SyncConn&) = delete;

  bool ok() const { return c_ != nullptr && c_->err == 0; }
  redisContext* raw() { return c_; }

  ReplyPtr cmd(const std::vector<std::string>& args) {
    if (!ok()) return ReplyPtr(nullptr, freeReplyObject);
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    void* r = redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data());
    return ReplyPtr(static_cast<redisReply*>(r), freeReplyObject);
  }
  long long integer(const std::vector<std::string>& args) {
    auto r = cmd(args);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
      ADD_FAILURE() << "no integer reply to " << args[0];
      return -999999;
    }
    return r->integer;
  }
  std::string string(const std::vector<std::string>& args) {
    auto r = cmd(args);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return "<none>";
    return std::string(r->str, r->len);
  }

 private:
  redisContext* c_ = nullptr;
};

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    port_ = freePort();
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Starts (again) on the same port and waits until it answers, at most 5 s.
  void start() {
    ASSERT_NE(port_, 0);
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_),    "--bind", "127.0.0.1",   "--save", "",
        "--appendonly", "no",     "--enable-debug-command", "local",  "--daemonize", "no"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execv("/usr/bin/redis-server", argv.data());
      ::_exit(127);
    }
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      SyncConn c(port_);
      if (c.ok()) {
        auto r = c.cmd({"PING"});  // NOAUTH is an answer too
        if (r) return;
      }
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "redis-server did not accept connections on port " << port_ << " within 5 s";
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::vector<std::string> extra_;
};

// ---- driving the store's event loop from the test ----

template <typename Pred>
bool pumpUntil(asio::io_context& io, Pred done, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(5ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

void pumpFor(asio::io_context& io, std::chrono::milliseconds d) {
  auto until = Clock::now() + d;
  pumpUntil(
      io, [&] { return Clock::now() >= until; }, d + 1s);
}

// Runs f() (returning an awaitable<Result<T>>) on io; bounded. The coroutine keeps its own state,
// so one that is abandoned after the bound cannot write into this frame later.
template <typename T, typename F>
Result<T> runCall(asio::io_context& io, F f, std::chrono::milliseconds limit) {
  auto out = std::make_shared<std::optional<Result<T>>>();
  asio::co_spawn(
      io,
      [f = std::move(f), out]() -> asio::awaitable<void> {
        Result<T> r = co_await f();
        out->emplace(std::move(r));
      },
      asio::detached);
  if (!pumpUntil(
          io, [&] { return out->has_value(); }, limit)) {
    return Error::internal("the call did not complete within the test's bound");
  }
  return std::move(**out);
}

BucketOp bucket(std::string key, uint64_t limit, int64_t amount, bool reserve = false,
                uint32_t ttl = 60) {
  BucketOp b;
  b.key = std::move(key);
  b.limit = limit;
  b.amount = amount;
  b.reserve = reserve;
  b.ttl_seconds = ttl;
  return b;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  RedisOptions optionsFor(const RedisServer& s, std::chrono::milliseconds timeout = 1000ms) {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = s.port();
    o.timeout = timeout;
    return o;
  }
  Result<CheckOutcome> check(RedisStore& store, std::vector<BucketOp> ops,
                             std::chrono::milliseconds limit = 5s) {
    return runCall<CheckOutcome>(
        io_, [&store, ops = std::move(ops)] { return store.checkAndAdd(ops); }, limit);
  }
  Result<Values> add(RedisStore& store, std::vector<BucketOp> ops) {
    return runCall<Values>(
        io_, [&store, ops = std::move(ops)] { return store.add(ops); }, 5s);
  }
  Result<Values> get(RedisStore& store, std::vector<std::string> keys) {
    return runCall<Values>(
        io_, [&store, keys = std::move(keys)] { return store.get(keys); }, 5s);
  }
  bool waitConnected(RedisStore& store, std::chrono::milliseconds limit = 3s) {
    return pumpUntil(
        io_, [&] { return store.connected(); }, limit);
  }

  asio::io_context io_;
};

std::string describe(const Error& e) { return std::string(e.name()) + ": " + e.detail; }

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
  pumpFor(io_, 50ms);  // the late reply arrives and is dropped
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
  constexpr int kCalls = 2000;
  std::vector<uint64_t> seen;
  int failed = 0;
  int finished = 0;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          std::vector<BucketOp> ops = {bucket("hot", 1000000, 1), bucket("cold", 1000000, 0)};
          Result<CheckOutcome> r = co_await store.checkAndAdd(ops);
          if (r.ok() && r->allowed) {
            seen.push_back(r->spent[0]);
          } else {
            ++failed;
          }
          ++finished;
        },
        asio::detached);
  }
  ASSERT_TRUE(pumpUntil(
      io_, [&] { return finished == kCalls; }, 20s))
      << finished << " finished";
  EXPECT_EQ(failed, 0);
  std::sort(seen.begin(), seen.end());
  std::vector<uint64_t> want(kCalls);
  for (int i = 0; i < kCalls; ++i) want[i] = i + 1;
  EXPECT_EQ(seen, want);  // each call saw its own increment: atomic and none lost
  auto g = get(store, {"hot", "cold"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (Values{kCalls, 0}));
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
}  // namespace tollgate::ratelimit
