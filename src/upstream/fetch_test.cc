#include "upstream/fetch.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string>

#include "upstream/client.h"

namespace tollgate::upstream {
namespace {

// A loopback peer that answers each request on a connection with `answer` (raw bytes), closing
// the connection afterwards when `close_after` is set. Runs on the test's io_context.
class RawServer {
 public:
  RawServer(asio::io_context& io, std::string answer, bool close_after)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        answer_(std::move(answer)),
        close_after_(close_after) {
    asio::co_spawn(io, accept(), asio::detached);
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted = 0;

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++accepted;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(sock)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket sock) {
    asio::streambuf in;
    for (;;) {
      auto [ec, n] = co_await asio::async_read_until(sock, in, "\r\n\r\n",
                                                     asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      in.consume(n);
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(answer_),
                                                  asio::as_tuple(asio::use_awaitable));
      if (wec || close_after_) co_return;
    }
  }

  tcp::acceptor acceptor_;
  std::string answer_;
  bool close_after_;
};

struct FetchRun {
  asio::io_context io;
  Pool pool{io, PoolOptions{}};

  Result<FetchResponse> run(uint16_t port, const FetchLimits& limits) {
    std::optional<Result<FetchResponse>> out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          UpstreamTarget target;
          target.host = "127.0.0.1";
          target.port = port;
          OutgoingRequest req;
          req.method = "GET";
          req.target = "/x";
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          auto r = co_await fetch(pool, target, req, deadline, limits);
          out.emplace(std::move(r));
        },
        asio::detached);
    while (!out) io.run_one();
    return std::move(*out);
  }
};

TEST(Fetch, ReadsStatusHeadersAndBodyAndReusesTheConnection) {
  FetchRun t;
  RawServer server(t.io,
                   "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Thing: yes\r\n"
                   "Connection: keep-alive\r\n\r\nhello",
                   false);
  FetchLimits limits;
  auto r = t.run(server.port(), limits);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r.value().status, 201);
  EXPECT_EQ(r.value().body, "hello");
  EXPECT_FALSE(r.value().cut);
  bool found = false;
  for (const auto& [k, v] : r.value().headers) {
    EXPECT_NE(k, "Content-Length");  // framing headers are not end-to-end
    if (k == "X-Thing" && v == "yes") found = true;
  }
  EXPECT_TRUE(found);
  auto again = t.run(server.port(), limits);
  ASSERT_TRUE(again);
  EXPECT_EQ(server.accepted, 1);
  EXPECT_EQ(t.pool.stats().reuses.load(), 1u);
}

TEST(Fetch, TooLargeFailsWithTheCallersDetail) {
  FetchRun t;
  RawServer server(t.io, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false);
  FetchLimits limits;
  limits.max_body = 4;
  limits.too_large = "response from x is larger than 4 B";
  auto r = t.run(server.port(), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "response from x is larger than 4 B");
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

TEST(Fetch, WithoutTooLargeTheBodyIsCutAndTheConnectionKept) {
  FetchRun t;
  RawServer server(t.io, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false);
  FetchLimits limits;
  limits.max_body = 4;
  auto r = t.run(server.port(), limits);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r.value().body, "0123");
  EXPECT_TRUE(r.value().cut);
  ASSERT_TRUE(t.run(server.port(), limits));
  EXPECT_EQ(server.accepted, 1);
}

TEST(Fetch, CutBodyFailsUnlessPartialIsWanted) {
  FetchRun t;
  RawServer server(t.io, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 10\r\n\r\nabc", true);
  FetchLimits limits;
  auto r = t.run(server.port(), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamBadResponse);

  limits.keep_partial = true;
  auto p = t.run(server.port(), limits);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p.value().status, 502);
  EXPECT_EQ(p.value().body, "abc");
  EXPECT_TRUE(p.value().cut);
}

TEST(Fetch, NoAnswerIsAnError) {
  FetchRun t;
  uint16_t port = 0;
  {
    tcp::acceptor a(t.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  FetchLimits limits;
  auto r = t.run(port, limits);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().retryable);
}

}  // namespace
}  // namespace tollgate::upstream
