#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "http/server.h"
#include "tracing/otlp_exporter.h"
#include "tracing/trace_context.h"

namespace tollgate::tracing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpan = "00f067aa0ba902b7";

// ---------------------------------------------------------------------------------------------
// traceparent

TEST(Traceparent, ParsesVersion00) {
  auto ctx = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id, kTrace);
  EXPECT_EQ(ctx->span_id, kSpan);
  EXPECT_TRUE(ctx->parent_span_id.empty());
  EXPECT_EQ(ctx->flags, 1);
  EXPECT_TRUE(ctx->sampled());

  auto unsampled = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_EQ(unsampled->flags, 0);
  EXPECT_FALSE(unsampled->sampled());
}

TEST(Traceparent, IgnoresSurroundingWhitespace) {
  auto ctx = parseTraceparent(" \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id, kTrace);
}

TEST(Traceparent, ClearsReservedFlags) {
  // 0x09 = sampled + a reserved bit, which must not be propagated.
  auto ctx = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->flags, 0x01);
  auto random = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(random);
  EXPECT_EQ(random->flags, 0x03);  // level 2 "random trace id" is kept
}

TEST(Traceparent, RejectsInvalidVersion00) {
  const char* bad[] = {
      "",
      "00",
      // all-zero ids
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      // upper case
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // wrong lengths
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // version 00 has exactly four fields
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      // separators and non-hex
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
      "xx-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // version ff is forbidden
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  };
  for (const char* h : bad) EXPECT_FALSE(parseTraceparent(h)) << h;
}

TEST(Traceparent, AcceptsFutureVersionsByTheirFirstFourFields) {
  auto longer = parseTraceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like");
  ASSERT_TRUE(longer);
  EXPECT_EQ(longer->trace_id, kTrace);
  EXPECT_EQ(longer->span_id, kSpan);
  EXPECT_TRUE(longer->sampled());

  auto same = parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->flags, 0x01);  // only the sampled bit is known in a later version

  // Fields after the flags must be separated by '-'; the rest of the rules still apply.
  EXPECT_FALSE(parseTraceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like"));
  EXPECT_FALSE(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));
  EXPECT_FALSE(parseTraceparent("cc-00000000000000000000000000000000-00f067aa0ba902b7-01-x"));
  EXPECT_FALSE(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01-x"));
}

TEST(Traceparent, StartSpanInheritsTheTrace) {
  auto incoming = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(incoming);
  TraceContext ctx = startSpan(incoming);
  EXPECT_EQ(ctx.trace_id, kTrace);
  EXPECT_EQ(ctx.parent_span_id, kSpan);
  EXPECT_TRUE(isValidHexId(ctx.span_id, 16));
  EXPECT_NE(ctx.span_id, kSpan);
  EXPECT_EQ(ctx.flags, 0);  // the caller's sampling decision travels on

  // The header sent upstream names tollgate's span as the parent.
  EXPECT_EQ(formatTraceparent(ctx), "00-" + std::string(kTrace) + "-" + ctx.span_id + "-00");
}

TEST(Traceparent, StartSpanWithoutIncomingStartsATrace) {
  TraceContext a = startSpan(std::nullopt);
  TraceContext b = startSpan(std::nullopt);
  EXPECT_TRUE(isValidHexId(a.trace_id, 32));
  EXPECT_TRUE(isValidHexId(a.span_id, 16));
  EXPECT_TRUE(a.parent_span_id.empty());
  EXPECT_EQ(a.flags, 1);
  EXPECT_NE(a.trace_id, b.trace_id);
  EXPECT_NE(a.span_id, b.span_id);
}

TEST(Traceparent, FormatRoundTrips) {
  TraceContext ctx = startSpan(std::nullopt);
  std::string header = formatTraceparent(ctx);
  EXPECT_EQ(header.size(), 55u);
  auto back = parseTraceparent(header);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace_id, ctx.trace_id);
  EXPECT_EQ(back->span_id, ctx.span_id);
  EXPECT_EQ(back->flags, ctx.flags);
}

TEST(Traceparent, SpanIdsAreUniqueAcrossThreads) {
  std::mutex mu;
  std::set<std::string> ids;
  auto gen = [&] {
    std::vector<std::string> local;
    local.reserve(5000);
    for (int i = 0; i < 5000; ++i) local.push_back(startSpan(std::nullopt).span_id);
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(local.begin(), local.end());
  };
  std::thread t1(gen), t2(gen);
  t1.join();
  t2.join();
  EXPECT_EQ(ids.size(), 10000u);
}

// ---------------------------------------------------------------------------------------------
// Endpoint

TEST(OtlpEndpoint, Parses) {
  struct Case {
    const char* url;
    const char* host;
    uint16_t port;
    const char* path;
  };
  const Case cases[] = {
      {"http://127.0.0.1:4318", "127.0.0.1", 4318, "/v1/traces"},
      {"HTTP://otel-collector.observability:4318/custom/traces", "otel-collector.observability",
       4318, "/custom/traces"},
      {"http://[::1]:4318/", "::1", 4318, "/v1/traces"},
      {"http://collector", "collector", 80, "/v1/traces"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto e = parseOtlpEndpoint(c.url);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, c.host);
    EXPECT_EQ(e->port, c.port);
    EXPECT_EQ(e->path, c.path);
  }
}

TEST(OtlpEndpoint, Rejects) {
  for (const char* bad : {"", "collector:4318", "https://collector:4318", "http://", "http://:4318",
                          "http://host:0", "http://host:99999", "http://host:x", "http://::1:4318",
                          "http://user@host:4318", "grpc://host:4317"}) {
    std::string err;
    EXPECT_FALSE(parseOtlpEndpoint(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// OTLP JSON

SpanData sampleSpan(int i) {
  SpanData s;
  TraceContext ctx = startSpan(std::nullopt);
  s.trace_id = ctx.trace_id;
  s.span_id = ctx.span_id;
  s.parent_span_id = startSpan(std::nullopt).span_id;
  s.name = "chat gpt-4o-mini";
  s.start_unix_nanos = 1700000000000000000ull + static_cast<uint64_t>(i);
  s.end_unix_nanos = s.start_unix_nanos + 1234567;
  s.attributes.push_back({"gen_ai.request.model", std::string("gpt-4o-mini")});
  s.attributes.push_back({"gen_ai.usage.input_tokens", int64_t{i}});
  s.attributes.push_back({"span.index", int64_t{i}});
  return s;
}

const json::value& attributeValue(const json::object& span, std::string_view key) {
  for (const auto& a : span.at("attributes").as_array()) {
    if (a.at("key").as_string() == key) return a.at("value");
  }
  static const json::value kNull;
  ADD_FAILURE() << "no attribute " << key;
  return kNull;
}

TEST(OtlpJson, EncodesAnExportTraceServiceRequest) {
  SpanData s;
  s.trace_id = kTrace;
  s.span_id = kSpan;
  s.parent_span_id = "b7ad6b7169203331";
  s.name = "chat llama-3";
  s.kind = kSpanKindServer;
  s.start_unix_nanos = 1700000000123456789ull;
  s.end_unix_nanos = 18446744073709551615ull;  // max uint64 survives as a string
  s.error = true;
  s.status_message = "upstream \"timeout\"\n";
  s.attributes.push_back({"gen_ai.provider.name", std::string("openai")});
  s.attributes.push_back({"big", int64_t{9007199254740993}});  // 2^53 + 1: not a double
  s.attributes.push_back({"neg", int64_t{-42}});
  s.attributes.push_back({"ratio", 0.25});
  s.attributes.push_back({"nan", std::nan("")});
  s.attributes.push_back({"stream", true});
  s.attributes.push_back({"bad.utf8", std::string("a\xff\xc3(b\xe2\x82\xac")});
  s.attributes.push_back({"ctl", std::string("x\x01y")});

  SpanData root;
  root.trace_id = kTrace;
  root.span_id = "b7ad6b7169203331";
  root.name = "root";
  root.kind = kSpanKindClient;

  std::string out = encodeOtlpJson({s, root}, "tollgate-test");
  boost::system::error_code ec;
  json::value v = json::parse(out, ec);
  ASSERT_FALSE(ec) << ec.message() << "\n" << out;

  const auto& rs = v.at("resourceSpans").as_array();
  ASSERT_EQ(rs.size(), 1u);
  const auto& res_attrs = rs[0].at("resource").at("attributes").as_array();
  ASSERT_EQ(res_attrs.size(), 1u);
  EXPECT_EQ(res_attrs[0].at("key").as_string(), "service.name");
  EXPECT_EQ(res_attrs[0].at("value").at("stringValue").as_string(), "tollgate-test");

  const auto& ss = rs[0].at("scopeSpans").as_array();
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].at("scope").at("name").as_string(), "tollgate");
  const auto& spans = ss[0].at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);

  const auto& j = spans[0].as_object();
  EXPECT_EQ(j.at("traceId").as_string(), kTrace);
  EXPECT_EQ(j.at("spanId").as_string(), kSpan);
  EXPECT_EQ(j.at("parentSpanId").as_string(), "b7ad6b7169203331");
  EXPECT_EQ(j.at("name").as_string(), "chat llama-3");
  EXPECT_EQ(j.at("kind").as_int64(), 2);
  EXPECT_EQ(j.at("startTimeUnixNano").as_string(), "1700000000123456789");
  EXPECT_EQ(j.at("endTimeUnixNano").as_string(), "18446744073709551615");
  EXPECT_EQ(j.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(j.at("status").at("message").as_string(), "upstream \"timeout\"\n");

  EXPECT_EQ(attributeValue(j, "gen_ai.provider.name").at("stringValue").as_string(), "openai");
  EXPECT_EQ(attributeValue(j, "big").at("intValue").as_string(), "9007199254740993");
  EXPECT_EQ(attributeValue(j, "neg").at("intValue").as_string(), "-42");
  EXPECT_EQ(attributeValue(j, "ratio").at("doubleValue").as_double(), 0.25);
  EXPECT_EQ(attributeValue(j, "nan").at("doubleValue").as_string(), "NaN");
  EXPECT_EQ(attributeValue(j, "stream").at("boolValue").as_bool(), true);
  // Invalid UTF-8 is replaced, valid multi-byte characters are kept.
  EXPECT_EQ(attributeValue(j, "bad.utf8").at("stringValue").as_string(),
            "a\xef\xbf\xbd\xef\xbf\xbd(b\xe2\x82\xac");
  EXPECT_EQ(attributeValue(j, "ctl").at("stringValue").as_string(), "x\x01y");
  for (const auto& a : j.at("attributes").as_array())
    EXPECT_EQ(a.at("value").as_object().size(), 1u) << json::serialize(a);

  const auto& r = spans[1].as_object();
  EXPECT_FALSE(r.contains("parentSpanId"));  // root span: field omitted
  EXPECT_EQ(r.at("kind").as_int64(), 3);
  EXPECT_EQ(r.at("startTimeUnixNano").as_string(), "0");
  EXPECT_TRUE(r.at("attributes").as_array().empty());
  EXPECT_EQ(r.at("status").at("code").as_int64(), 0);  // unset, not OK
  EXPECT_FALSE(r.at("status").as_object().contains("message"));
}

TEST(OtlpJson, EmptyBatchIsStillValid) {
  json::value v = json::parse(encodeOtlpJson({}, "tollgate"));
  EXPECT_TRUE(v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().empty());
}

// ---------------------------------------------------------------------------------------------
// Exporter against a fake collector (the project's own HTTP server on a loopback port)

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s);

class FakeCollector : public http::Handler {
 public:
  struct Post {
    std::string target;
    std::string content_type;
    std::string body;
  };

  FakeCollector() : loops_(1), server_(loops_, *this, http::ServerOptions{}) {
    http::tcp::endpoint ep;
    std::string err = server_.listen("127.0.0.1", 0, &ep);
    EXPECT_TRUE(err.empty()) << err;
    port_ = ep.port();
    loops_.start();
  }
  ~FakeCollector() override {
    // Sessions still running when the loops are destroyed would touch the destroyed Server, so
    // let them end first: slow handlers cut their delay short and the exporter (destroyed
    // before the collector in every test) has closed its connections.
    closing_ = true;
    server_.stopAccepting();
    waitForActive();
    loops_.stop();
    loops_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::atomic<int> status{200};
  std::atomic<int> delay_ms{0};
  std::string answer = "{}";  // set before any export

  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Post p;
      p.target = std::string(req.target());
      p.content_type = std::string(req[boost::beast::http::field::content_type]);
      p.body = req.body();
      posts_.push_back(std::move(p));
    }
    if (int d = delay_ms.load(); d > 0) {
      // In small steps, so that tearing the collector down does not wait for the delay.
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
      auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(d);
      while (!closing_ && std::chrono::steady_clock::now() < end) {
        timer.expires_after(10ms);
        co_await timer.async_wait(boost::asio::use_awaitable);
      }
    }
    http::ResponseHead head;
    head.status = status.load();
    head.headers.emplace_back("content-type", "application/json");
    const std::string body = head.status == 200 ? answer : std::string("{\"message\":\"no\"}");
    co_await w.send(head, body);
  }

  std::string renderError(std::string_view, const Error& err, http::ResponseHead& head) override {
    head.status = err.httpStatus();
    return "{}";
  }

  std::vector<Post> posts() {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_;
  }

  // Every span received so far, in order.
  std::vector<json::object> spans() {
    std::vector<json::object> out;
    for (const auto& p : posts()) {
      json::value v = json::parse(p.body);
      for (const auto& s :
           v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array())
        out.push_back(s.as_object());
    }
    return out;
  }

 private:
  void waitForActive();

  std::atomic<bool> closing_{false};
  http::EventLoops loops_;
  http::Server server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<Post> posts_;
};

// Polls `cond` until it holds or `limit` passes (a bound on waiting, not a timing assertion).
bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

void FakeCollector::waitForActive() {
  waitFor([this] { return server_.stats().active_connections.load() == 0; }, 5s);
}

TEST(OtlpExporter, DeliversSpansInBatches) {
  FakeCollector collector;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.service_name = "tollgate-e2e";
  opts.max_batch = 4;
  opts.flush_interval = 50ms;
  OtlpExporter exporter(opts);

  std::vector<SpanData> sent;
  for (int i = 0; i < 10; ++i) {
    sent.push_back(sampleSpan(i));
    exporter.submit(sent.back());
  }
  ASSERT_TRUE(waitFor([&] { return exporter.stats().exported.load() == 10; }))
      << "exported " << exporter.stats().exported.load();
  EXPECT_EQ(exporter.stats().dropped.load(), 0u);
  EXPECT_EQ(exporter.stats().failed_batches.load(), 0u);
  EXPECT_GE(exporter.stats().sent_batches.load(), 3u);

  auto posts = collector.posts();
  for (const auto& p : posts) {
    EXPECT_EQ(p.target, "/v1/traces");
    EXPECT_EQ(p.content_type, "application/json");
    json::value v = json::parse(p.body);
    EXPECT_EQ(v.at("resourceSpans")
                  .at(0)
                  .at("resource")
                  .at("attributes")
                  .at(0)
                  .at("value")
                  .at("stringValue"),
              "tollgate-e2e");
    EXPECT_LE(v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().size(), 4u);
  }
  auto spans = collector.spans();
  ASSERT_EQ(spans.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    const auto& j = spans[static_cast<size_t>(i)];
    const auto& s = sent[static_cast<size_t>(i)];
    EXPECT_EQ(j.at("traceId").as_string(), s.trace_id);
    EXPECT_EQ(j.at("spanId").as_string(), s.span_id);
    EXPECT_EQ(j.at("parentSpanId").as_string(), s.parent_span_id);
    EXPECT_EQ(j.at("name").as_string(), "chat gpt-4o-mini");
    EXPECT_EQ(j.at("startTimeUnixNano").as_string(), std::to_string(s.start_unix_nanos));
    EXPECT_EQ(attributeValue(j, "gen_ai.request.model").at("stringValue").as_string(),
              "gpt-4o-mini");
    EXPECT_EQ(attributeValue(j, "span.index").at("intValue").as_string(), std::to_string(i));
  }
  exporter.shutdown(1s);
}

TEST(OtlpExporter, CollectorDownDropsAndCountsWithinTheQueueBound) {
  // A port with nothing listening: connect is refused.
  uint16_t port;
  {
    boost::asio::io_context io;
    http::tcp::acceptor acc(io, http::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = acc.local_endpoint().port();
  }
  OtlpOptions opts;
  opts.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  opts.max_queue = 100;
  opts.max_batch = 10;
  opts.flush_interval = 10ms;
  opts.timeout = 500ms;
  OtlpExporter exporter(opts);

  constexpr uint64_t kSubmitted = 10000;
  SpanData span = sampleSpan(0);
  for (uint64_t i = 0; i < kSubmitted; ++i) exporter.submit(span);
  exporter.shutdown(500ms);

  const auto& st = exporter.stats();
  EXPECT_EQ(st.exported.load(), 0u);
  EXPECT_EQ(st.sent_batches.load(), 0u);
  EXPECT_GE(st.dropped.load(), kSubmitted - opts.max_queue);
  EXPECT_EQ(st.dropped.load(), kSubmitted);  // every span is accounted for after the stop
  EXPECT_GE(st.failed_batches.load(), 1u);

  exporter.submit(span);  // after shutdown: dropped, not queued
  EXPECT_EQ(st.dropped.load(), kSubmitted + 1);
}

TEST(OtlpExporter, Non2xxAnswerFailsTheBatch) {
  FakeCollector collector;
  collector.status = 500;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = 20ms;
  OtlpExporter exporter(opts);
  for (int i = 0; i < 5; ++i) exporter.submit(sampleSpan(i));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().failed_batches.load() >= 1; }));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().dropped.load() == 5; }));
  EXPECT_EQ(exporter.stats().exported.load(), 0u);
  EXPECT_EQ(exporter.stats().sent_batches.load(), 0u);

  // Not retried: the collector saw the batch once, and recovers for the next one.
  collector.status = 200;
  exporter.submit(sampleSpan(9));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().exported.load() == 1; }));
  EXPECT_EQ(collector.spans().size(), 6u);
  exporter.shutdown(1s);
}

TEST(OtlpExporter, SlowCollectorTimesOut) {
  FakeCollector collector;
  collector.delay_ms = 3000;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = 10ms;
  opts.timeout = 200ms;
  OtlpExporter exporter(opts);
  for (int i = 0; i < 3; ++i) exporter.submit(sampleSpan(i));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().failed_batches.load() >= 1; }));
  EXPECT_EQ(exporter.stats().dropped.load(), 3u);
  EXPECT_EQ(exporter.stats().exported.load(), 0u);
  exporter.shutdown(100ms);
}

TEST(OtlpExporter, PartialSuccessCountsRejectedSpans) {
  FakeCollector collector;
  collector.answer = R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})";
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = 10ms;
  OtlpExporter exporter(opts);
  for (int i = 0; i < 5; ++i) exporter.submit(sampleSpan(i));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().sent_batches.load() >= 1; }));
  exporter.shutdown(1s);
  EXPECT_EQ(exporter.stats().exported.load() + exporter.stats().dropped.load(), 5u);
  EXPECT_EQ(collector.spans().size(), 5u);
  // All five arrive in one batch unless the flush timer split them; either way two per answer.
  EXPECT_GE(exporter.stats().dropped.load(), 2u);
}

TEST(OtlpExporter, ShutdownFlushesTheQueue) {
  FakeCollector collector;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.max_batch = 3;
  opts.flush_interval = std::chrono::hours(1);  // only full batches or the shutdown send
  OtlpExporter exporter(opts);
  for (int i = 0; i < 7; ++i) exporter.submit(sampleSpan(i));
  exporter.shutdown(5s);
  EXPECT_EQ(exporter.stats().exported.load(), 7u);
  EXPECT_EQ(exporter.stats().dropped.load(), 0u);
  EXPECT_EQ(collector.spans().size(), 7u);
}

TEST(OtlpExporter, ShutdownIsBoundedWhenTheCollectorHangs) {
  FakeCollector collector;
  collector.delay_ms = 5000;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = std::chrono::hours(1);
  opts.timeout = std::chrono::seconds(30);
  OtlpExporter exporter(opts);
  for (int i = 0; i < 4; ++i) exporter.submit(sampleSpan(i));
  exporter.shutdown(100ms);  // returns (the test would hang otherwise) and accounts for all
  EXPECT_EQ(exporter.stats().exported.load(), 0u);
  EXPECT_EQ(exporter.stats().dropped.load(), 4u);
}

TEST(OtlpExporter, ShutdownStopsAnInFlightExportAtTheDeadline) {
  FakeCollector collector;
  collector.delay_ms = 5000;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = 10ms;
  opts.timeout = std::chrono::seconds(30);  // the request alone would outlive the flush
  OtlpExporter exporter(opts);
  for (int i = 0; i < 4; ++i) exporter.submit(sampleSpan(i));
  ASSERT_TRUE(waitFor([&] { return collector.posts().size() == 1; }));
  exporter.submit(sampleSpan(4));  // queued behind the hung request
  exporter.shutdown(100ms);
  EXPECT_EQ(exporter.stats().exported.load(), 0u);
  EXPECT_EQ(exporter.stats().dropped.load(), 5u);
}

TEST(OtlpExporter, FullBatchIsSentWithoutWaitingForTheTimer) {
  FakeCollector collector;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.max_batch = 5;
  opts.flush_interval = std::chrono::hours(1);
  OtlpExporter exporter(opts);
  for (int i = 0; i < 10; ++i) exporter.submit(sampleSpan(i));
  ASSERT_TRUE(waitFor([&] { return exporter.stats().exported.load() == 10; }));
  EXPECT_EQ(exporter.stats().sent_batches.load(), 2u);
  exporter.submit(sampleSpan(10));  // a partial batch waits for the timer (or shutdown)
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(collector.spans().size(), 10u);
  exporter.shutdown(2s);
  EXPECT_EQ(collector.spans().size(), 11u);
}

TEST(OtlpExporter, ConcurrentSubmitAccountsForEverySpan) {
  FakeCollector collector;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.max_queue = 512;
  opts.max_batch = 64;
  opts.flush_interval = 5ms;
  OtlpExporter exporter(opts);
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&exporter, t] {
      for (int i = 0; i < kPerThread; ++i) exporter.submit(sampleSpan(t * kPerThread + i));
    });
  }
  for (auto& t : threads) t.join();
  exporter.shutdown(5s);
  const auto& st = exporter.stats();
  EXPECT_EQ(st.exported.load() + st.dropped.load(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(collector.spans().size(), st.exported.load());
  EXPECT_EQ(st.failed_batches.load(), 0u);
  EXPECT_GT(st.exported.load(), 0u);
}

TEST(OtlpExporter, DropsSpansWithMalformedIds) {
  FakeCollector collector;
  OtlpOptions opts;
  opts.endpoint = collector.endpoint();
  opts.flush_interval = 10ms;
  OtlpExporter exporter(opts);
  SpanData bad = sampleSpan(0);
  bad.trace_id = "not-hex";
  exporter.submit(bad);
  SpanData upper = sampleSpan(1);
  upper.span_id = "00F067AA0BA902B7";
  exporter.submit(upper);
  exporter.submit(sampleSpan(2));
  exporter.shutdown(2s);
  EXPECT_EQ(exporter.stats().dropped.load(), 2u);
  EXPECT_EQ(exporter.stats().exported.load(), 1u);
  EXPECT_EQ(collector.spans().size(), 1u);
}

TEST(OtlpExporter, InvalidEndpointDropsEverything) {
  OtlpOptions opts;
  opts.endpoint = "collector:4318";
  OtlpExporter exporter(opts);
  exporter.submit(sampleSpan(0));
  EXPECT_EQ(exporter.stats().dropped.load(), 1u);
  // The destructor shuts down by itself.
}

}  // namespace
}  // namespace tollgate::tracing
