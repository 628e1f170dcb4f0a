// Test support for the Redis tests (not a test itself): redis-server child processes on free
// loopback ports, a plain synchronous hiredis connection to look behind the store's back, a
// test CA made with the openssl tool, and bounded ways to drive an io_context. Every wait is
// bounded.
#pragma once

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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "ratelimit/redis_store.h"

namespace tollgate::ratelimit::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- a redis-server child process ----

inline uint16_t freePort() {
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

// n distinct free loopback ports: all bound at once, then released (one freePort() after
// another may hand out the same port twice).
inline std::vector<uint16_t> freePorts(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0) break;
    fds.push_back(fd);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
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
  explicit RedisServer(std::vector<std::string> extra = {}, uint16_t port = 0)
      : port_(port != 0 ? port : freePort()), extra_(std::move(extra)) {
    // Its own working directory: a replica writes the primary's snapshot there (dump.rdb),
    // which must not land in the directory the tests run from.
    dir_ = std::filesystem::temp_directory_path() /
           ("tollgate-redis-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
    std::filesystem::create_directories(dir_);
    start();
  }
  ~RedisServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Starts (again) on the same port and waits until it answers, at most 5 s.
  void start() {
    ASSERT_NE(port_, 0);
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--enable-debug-command",
                                     "local",
                                     "--daemonize",
                                     "no",
                                     "--dir",
                                     dir_.string()};
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
  std::filesystem::path dir_;
};

// ---- a throwaway CA, made at run time (no key is ever committed) ----

// A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, made with
// the openssl tool in a fresh temporary directory (removed with the object).
class TestCa {
 public:
  TestCa() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tollgate-redis-ca-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    ok_ = run("openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d +
              "/ca.crt -days 2 -subj /CN=tollgate-test-ca") &&
          leaf("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1") &&
          leaf("client", "tollgate-client", "extendedKeyUsage=clientAuth");
  }
  ~TestCa() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  bool ok() const { return ok_; }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // redis-server arguments for a TLS port beside the plain one (which the test's own look
  // behind the store keeps using).
  std::vector<std::string> serverArgs(uint16_t tls_port, bool client_certs) const {
    return {
        "--tls-port",         std::to_string(tls_port),   "--tls-cert-file",    file("server.crt"),
        "--tls-key-file",     file("server.key"),         "--tls-ca-cert-file", file("ca.crt"),
        "--tls-auth-clients", client_certs ? "yes" : "no"};
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  static bool run(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool leaf(const std::string& name, const std::string& cn, const std::string& ext) {
    const std::string d = dir_.string();
    {
      std::FILE* f = std::fopen((d + "/" + name + ".ext").c_str(), "w");
      if (f == nullptr) return false;
      std::fputs((ext + "\n").c_str(), f);
      std::fclose(f);
    }
    return run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d +
               "/" + name + ".key -out " + d + "/" + name + ".csr -subj /CN=" + cn) &&
           run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/ca.crt -CAkey " + d +
               "/ca.key -CAcreateserial -days 2 -out " + d + "/" + name + ".crt -extfile " + d +
               "/" + name + ".ext");
  }

  std::filesystem::path dir_;
  bool ok_ = false;
};

// Three masters (and `replicas` replicas of each), made into a cluster by `redis-cli --cluster
// create` (which spreads the 16384 slots evenly). Their nodes.conf files live in a temporary
// directory. With a CA, every node also serves TLS (its bus and replication too): a client on
// the TLS port is told the nodes' TLS ports, one on the plain port their plain ports.
class RedisClusterNodes {
 public:
  explicit RedisClusterNodes(int replicas = 0, const TestCa* tls = nullptr) {
    dir_ = std::filesystem::temp_directory_path() /
           ("tollgate-redis-cluster-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    std::string create = "timeout 30 redis-cli --cluster create";
    const size_t count = 3 * (1 + static_cast<size_t>(replicas));
    // Client, bus and TLS port each.
    const std::vector<uint16_t> ports = freePorts(3 * count);
    if (ports.size() != 3 * count) return;
    for (size_t i = 0; i < count; ++i) {
      uint16_t port = ports[3 * i];
      std::vector<std::string> args{"--cluster-enabled", "yes", "--cluster-config-file",
                                    "nodes-" + std::to_string(port) + ".conf", "--dir",
                                    dir_.string(), "--cluster-node-timeout", "2000",
                                    "--repl-diskless-sync-delay", "0",
                                    // The default bus port (port + 10000) may be past 65535.
                                    "--cluster-port", std::to_string(ports[3 * i + 1])};
      if (tls != nullptr) {
        auto t = tls->serverArgs(ports[3 * i + 2], false);
        args.insert(args.end(), t.begin(), t.end());
        args.insert(args.end(), {"--tls-cluster", "yes", "--tls-replication", "yes"});
        tls_ports_.push_back(ports[3 * i + 2]);
      }
      servers_.push_back(std::make_unique<RedisServer>(std::move(args), port));
      create += " 127.0.0.1:" + std::to_string(port);
    }
    create += " --cluster-replicas " + std::to_string(replicas);
    ok_ = std::system((create + " --cluster-yes >/dev/null 2>&1").c_str()) == 0;
    // Every node must agree the cluster is up (slots assigned, gossip settled): at most 10 s.
    auto deadline = Clock::now() + 10s;
    while (ok_ && !allOk()) {
      if (Clock::now() >= deadline) ok_ = false;
      std::this_thread::sleep_for(50ms);
    }
  }
  ~RedisClusterNodes() {
    servers_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RedisClusterNodes(const RedisClusterNodes&) = delete;
  RedisClusterNodes& operator=(const RedisClusterNodes&) = delete;

  bool ok() const { return ok_; }
  size_t size() const { return servers_.size(); }
  uint16_t port(size_t i) const { return servers_[i]->port(); }
  uint16_t tlsPort(size_t i) const { return tls_ports_.at(i); }
  std::string id(size_t i) const { return SyncConn(port(i)).string({"CLUSTER", "MYID"}); }
  void stop(size_t i) { servers_[i]->stop(); }
  // The node that owns the slot, as the cluster itself says (CLUSTER SLOTS on the first node
  // still running), or nullopt.
  std::optional<size_t> owner(uint16_t slot) const {
    for (size_t ask = 0; ask < size(); ++ask) {
      if (servers_[ask]->pid() <= 0) continue;
      SyncConn c(port(ask));
      auto r = c.cmd({"CLUSTER", "SLOTS"});
      for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
        const redisReply* range = r->element[i];
        if (slot < range->element[0]->integer || slot > range->element[1]->integer) continue;
        auto p = static_cast<uint16_t>(range->element[2]->element[1]->integer);
        for (size_t n = 0; n < size(); ++n) {
          if (port(n) == p) return n;
        }
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  size_t ownerOf(uint16_t slot) const {
    auto n = owner(slot);
    if (!n) ADD_FAILURE() << "no owner for slot " << slot;
    return n.value_or(0);
  }

 private:
  bool allOk() const {
    for (size_t i = 0; i < size(); ++i) {
      SyncConn c(port(i));
      auto r = c.cmd({"CLUSTER", "INFO"});
      if (!r || r->type != REDIS_REPLY_STRING ||
          std::string(r->str, r->len).find("cluster_state:ok") == std::string::npos) {
        return false;
      }
    }
    return true;
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<uint16_t> tls_ports_;
  bool ok_ = false;
};

// ---- driving the store's event loop from the test ----

template <typename Pred>
inline bool pumpUntil(asio::io_context& io, Pred done, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(5ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

inline void pumpFor(asio::io_context& io, std::chrono::milliseconds d) {
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

inline BucketOp bucket(std::string key, uint64_t limit, int64_t amount, bool reserve = false,
                       uint32_t ttl = 60) {
  BucketOp b;
  b.key = std::move(key);
  b.limit = limit;
  b.amount = amount;
  b.reserve = reserve;
  b.ttl_seconds = ttl;
  return b;
}

inline std::string describe(const Error& e) { return std::string(e.name()) + ": " + e.detail; }

// The store tests' fixture: their io_context and bounded calls on a store.
class RedisTest : public ::testing::Test {
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
  Result<std::vector<int64_t>> add(RedisStore& store, std::vector<BucketOp> ops) {
    return runCall<std::vector<int64_t>>(
        io_, [&store, ops = std::move(ops)] { return store.add(ops); }, 5s);
  }
  Result<std::vector<int64_t>> get(RedisStore& store, std::vector<std::string> keys) {
    return runCall<std::vector<int64_t>>(
        io_, [&store, keys = std::move(keys)] { return store.get(keys); }, 5s);
  }
  bool waitConnected(RedisStore& store, std::chrono::milliseconds limit = 3s) {
    return pumpUntil(
        io_, [&] { return store.connected(); }, limit);
  }

  // `calls` checks at once, each adding 1 to `key` (and 0 to a second key of the same user):
  // each call must see its own increment (atomic, none lost) and the total must be exact.
  void expectConcurrentChecksExact(RedisStore& store, const std::string& key, int calls) {
    std::vector<uint64_t> seen;
    int failed = 0;
    int finished = 0;
    const std::string cold = key + ":cold";
    for (int i = 0; i < calls; ++i) {
      asio::co_spawn(
          io_,
          [&]() -> asio::awaitable<void> {
            std::vector<BucketOp> ops = {bucket(key, 1000000, 1), bucket(cold, 1000000, 0)};
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
        io_, [&] { return finished == calls; }, 20s))
        << finished << " finished";
    EXPECT_EQ(failed, 0);
    std::sort(seen.begin(), seen.end());
    std::vector<uint64_t> want(static_cast<size_t>(calls));
    for (int i = 0; i < calls; ++i) want[static_cast<size_t>(i)] = static_cast<uint64_t>(i) + 1;
    EXPECT_EQ(seen, want);
    auto g = get(store, {key, cold});
    ASSERT_TRUE(g.ok()) << describe(g.error());
    EXPECT_EQ(*g, (std::vector<int64_t>{calls, 0}));
  }

  asio::io_context io_;
};

}  // namespace tollgate::ratelimit::testing
