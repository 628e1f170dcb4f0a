// `tollgate mock-llm`: the LlmEngine behind the project's HTTP server, with the latency and
// failure knobs benchmarks and tests need.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "http/server.h"
#include "mock/llm_engine.h"

namespace tollgate::mock {

struct MockServerOptions {
  EngineOptions engine;
  std::chrono::milliseconds latency{0};  // before a non-stream response
  std::chrono::milliseconds ttft{0};     // before the first stream event
  std::chrono::milliseconds itl{0};      // between stream events
  double fail_rate = 0.0;                // fraction answered with 503 (Bedrock: 429)
  // Fraction of streams that fail after the response started: Bedrock streams end with an
  // exception frame halfway, OpenAI streams with an error event and no [DONE].
  double stream_error_rate = 0.0;
  // When both are set, every Bedrock request (/model/...) must carry a valid SigV4 signature
  // made with this key pair; otherwise none is checked.
  std::string aws_access_key_id;
  std::string aws_secret_access_key;
};

class MockHandler final : public http::Handler {
 public:
  explicit MockHandler(MockServerOptions opts);
  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override;
  std::string renderError(std::string_view target, const Error& err,
                          http::ResponseHead& head) override;
  uint64_t requestsServed() const { return served_.load(std::memory_order_relaxed); }

 private:
  MockServerOptions opts_;
  LlmEngine engine_;
  LlmEngine bedrock_engine_;  // accepts any model name: Bedrock's is in the path
  std::atomic<uint64_t> served_{0};
};

}  // namespace tollgate::mock
