// `tollgate mock-llm`: a mock model server (OpenAI, Anthropic and Bedrock shapes) for tests,
// benchmarks and the demo.
#include <csignal>
#include <iostream>

#include "common/log.h"
#include "common/strings.h"
#include "http/server.h"
#include "main/run_internal.h"
#include "mock/mock_server.h"

namespace tollgate::cli {

int runMockLlm(const MockOptions& opts) {
  log::init(opts.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  auto hp = parseHostPort(opts.listen);
  if (!hp) {
    std::cerr << "tollgate: error: --listen expects HOST:PORT\n";
    return 2;
  }
  mock::MockServerOptions mo;
  mo.engine.served_models_csv = opts.models;
  mo.latency = std::chrono::milliseconds(opts.latency_ms);
  mo.ttft = std::chrono::milliseconds(opts.ttft_ms);
  mo.itl = std::chrono::milliseconds(opts.itl_ms);
  mo.fail_rate = opts.fail_rate;
  mo.stream_error_rate = opts.stream_error_rate;
  if (!opts.aws_credentials.empty()) {
    auto colon = opts.aws_credentials.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == opts.aws_credentials.size()) {
      std::cerr << "tollgate: error: --aws-credentials expects ACCESS_KEY:SECRET\n";
      return 2;
    }
    mo.aws_access_key_id = opts.aws_credentials.substr(0, colon);
    mo.aws_secret_access_key = opts.aws_credentials.substr(colon + 1);
  }
  mock::MockHandler handler(mo);
  http::EventLoops loops(opts.threads == 0 ? 1 : opts.threads);
  http::Server server(loops, handler, http::ServerOptions{});
  http::tcp::endpoint bound;
  if (auto err = server.listen(hp->host, hp->port, &bound); !err.empty()) {
    spdlog::error("mock-llm: {}", err);
    return 1;
  }
  loops.start();
  spdlog::info("mock-llm ready listen={}",
               formatHostPort(bound.address().to_string(), bound.port()));
  waitForSignal();
  server.stopAccepting();
  loops.stop();
  loops.join();
  // As in runGateway: suspended sessions must not be unwound after their server is gone.
  exitWithoutUnwinding();
}

}  // namespace tollgate::cli
