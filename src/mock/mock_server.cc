#include "mock/mock_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "api/errors.h"
#include "mock/bedrock_fake.h"

namespace tollgate::mock {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleepFor(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

bool drawFailure(double rate) {
  if (rate <= 0) return false;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < rate;
}

}  // namespace

namespace {

EngineOptions anyModel(EngineOptions o) {
  o.served_models_csv.clear();
  return o;
}

}  // namespace

MockHandler::MockHandler(MockServerOptions opts)
    : opts_(std::move(opts)), engine_(opts_.engine), bedrock_engine_(anyModel(opts_.engine)) {}

std::string MockHandler::renderError(std::string_view, const Error& err, http::ResponseHead& head) {
  head.status = err.httpStatus();
  head.headers.emplace_back("content-type", "application/json");
  return api::renderOpenAIError(err);
}

asio::awaitable<void> MockHandler::handle(http::Request& req, http::ResponseWriter& w) {
  served_.fetch_add(1, std::memory_order_relaxed);
  std::string_view target = req.target();
  auto q = target.find('?');
  std::string_view path = q == std::string_view::npos ? target : target.substr(0, q);
  http::ResponseHead head;
  head.headers.emplace_back("server", "tollgate-mock-llm");

  if (bedrock::isBedrockPath(path)) {
    bedrock::Result br;
    bool answered = false;
    if (!opts_.aws_access_key_id.empty() && !opts_.aws_secret_access_key.empty()) {
      const std::string problem =
          bedrock::verifySigV4(req, opts_.aws_access_key_id, opts_.aws_secret_access_key);
      if (!problem.empty()) {
        spdlog::warn("mock-llm: bedrock request refused: {}", problem);
        br = bedrock::invalidSignature();
        answered = true;
      }
    }
    if (!answered && drawFailure(opts_.fail_rate)) {
      br = bedrock::throttled();
      answered = true;
    }
    if (!answered) {
      br = bedrock::handle(bedrock_engine_, req.method_string(), path, req.body());
      if (br.stream && drawFailure(opts_.stream_error_rate)) {
        br = bedrock::cutByException(std::move(br));
      }
    }
    head.status = br.status;
    for (auto& h : br.headers) head.headers.push_back(std::move(h));
    if (!br.stream) {
      if (br.status == 200) co_await sleepFor(opts_.latency);
      co_await w.send(head, br.body);
      co_return;
    }
    co_await sleepFor(opts_.ttft);
    if (!co_await w.begin(head)) co_return;
    // One write per frame, like Bedrock flushing each event.
    for (size_t i = 0; i < br.frames.size(); ++i) {
      if (i > 0) co_await sleepFor(opts_.itl);
      if (!co_await w.writeChunk(br.frames[i])) co_return;
    }
    co_await w.finish();
    co_return;
  }

  if (drawFailure(opts_.fail_rate)) {
    head.status = 503;
    head.headers.emplace_back("content-type", "application/json");
    const std::string body = api::renderOpenAIError(
        Error::upstream(ErrorCode::kUpstreamConnect, "mock-llm injected failure", "", true));
    co_await w.send(head, body);
    co_return;
  }

  EngineResult r = engine_.handle(req.method_string(), path, req.body());
  head.status = r.status;
  if (!r.stream) {
    co_await sleepFor(opts_.latency);
    head.headers.emplace_back("content-type", "application/json");
    co_await w.send(head, r.body);
    co_return;
  }
  head.headers.emplace_back("content-type", "text/event-stream; charset=utf-8");
  head.headers.emplace_back("cache-control", "no-cache");
  co_await sleepFor(opts_.ttft);
  if (!co_await w.begin(head)) co_return;
  // One write per event, like a model server flushing each token.
  std::string event;
  if (drawFailure(opts_.stream_error_rate)) {
    // vLLM's shape when generation fails mid-stream: an error object as the last data event,
    // no [DONE].
    // A Responses stream ends with its API's `error` event instead (its sequence number is the
    // next one: events are numbered from 0).
    r.events.resize(r.events.size() / 2);
    if (r.event_types.empty()) {
      r.events.push_back(
          R"({"error":{"object":"error","message":"mock-llm injected a stream error","type":"InternalServerError","param":null,"code":500}})");
    } else {
      r.event_types.resize(r.events.size());
      r.events.push_back(
          R"({"type":"error","code":"server_error","message":"mock-llm injected a stream error","param":null,"sequence_number":)" +
          std::to_string(r.events.size()) + "}");
      r.event_types.push_back("error");
    }
  }
  for (size_t i = 0; i < r.events.size(); ++i) {
    if (i > 0) co_await sleepFor(opts_.itl);
    event.clear();
    if (i < r.event_types.size()) {
      event += "event: ";
      event += r.event_types[i];
      event += '\n';
    }
    event += "data: ";
    event += r.events[i];
    event += "\n\n";
    if (!co_await w.writeChunk(event)) co_return;
  }
  co_await w.finish();
}

}  // namespace tollgate::mock
