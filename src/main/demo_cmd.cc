// `tollgate demo`: the gateway with the project's example configuration, in front of three mock
// model servers started in the same process.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "http/server.h"
#include "main/run_internal.h"
#include "mock/mock_server.h"

namespace tollgate::cli {

void printDemoBanner(const std::string& url) {
  std::fprintf(stderr,
               "\n  tollgate demo is running at %s (models: Qwen/Qwen3-1.7B, openai/gpt-oss-20b,\n"
               "  anthropic.claude-3-haiku-20240307-v1:0 on a fake Bedrock)\n\n"
               "  curl %s/v1/chat/completions -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"Qwen/Qwen3-1.7B\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"Hello!\"}]}'\n\n"
               "  curl -N %s/v1/chat/completions -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"openai/gpt-oss-20b\",\"stream\":true,\"messages\":"
               "[{\"role\":\"user\",\"content\":\"Stream please\"}]}'\n\n"
               "  curl %s/anthropic/v1/messages -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"anthropic.claude-3-haiku-20240307-v1:0\",\"max_tokens\":50,"
               "\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'\n\n"
               "  curl %s/v1/responses -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"Qwen/Qwen3-1.7B\",\"input\":\"Hello!\"}'\n\n"
               "  curl %s/v1/models\n\n"
               "  OpenAI SDK (Node): new OpenAI({ baseURL: '%s/v1', apiKey: 'unused' })\n"
               "  OpenAI SDK (Python): OpenAI(base_url='%s/v1', api_key='unused')\n"
               "  tollgate client --url %s\n\n"
               "  Claude Code:\n"
               "    ANTHROPIC_BASE_URL=%s/anthropic ANTHROPIC_API_KEY=unused \\\n"
               "    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \\\n"
               "    claude --model anthropic.claude-3-haiku-20240307-v1:0 -p 'say hi'\n\n"
               "  Codex CLI: in $CODEX_HOME/config.toml (default ~/.codex/config.toml)\n"
               "    model = \"Qwen/Qwen3-1.7B\"\n"
               "    model_provider = \"tollgate\"\n"
               "    [model_providers.tollgate]\n"
               "    name = \"tollgate\"\n"
               "    base_url = \"%s/v1\"\n"
               "    env_key = \"TOLLGATE_API_KEY\"\n"
               "    wire_api = \"responses\"\n"
               "  then: TOLLGATE_API_KEY=unused codex exec --skip-git-repo-check 'say hi'\n\n"
               "  Ctrl-C stops it.\n\n",
               url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(),
               url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str());
}

int runDemo(const DemoOptions& opts) {
  log::init(opts.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  // Three mock model servers on free loopback ports stand in for the two vLLM deployments and
  // AWS Bedrock. The Bedrock one checks SigV4 with demo credentials, which the gateway's default
  // credential chain picks up from the environment set here.
  static constexpr const char* kDemoAccessKey = "AKIDTOLLGATEDEMO";
  static constexpr const char* kDemoSecretKey = "tollgate-demo-secret-not-a-real-key";
  ::setenv("AWS_ACCESS_KEY_ID", kDemoAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kDemoSecretKey, 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  mock::MockServerOptions mo;
  mo.itl = std::chrono::milliseconds(20);  // streams visibly token by token
  mock::MockServerOptions bo = mo;
  bo.aws_access_key_id = kDemoAccessKey;
  bo.aws_secret_access_key = kDemoSecretKey;
  mock::MockHandler qwen(mo), gptoss(mo), bedrock(bo);
  http::EventLoops mock_loops(1);
  http::Server qwen_server(mock_loops, qwen, http::ServerOptions{});
  http::Server gptoss_server(mock_loops, gptoss, http::ServerOptions{});
  http::Server bedrock_server(mock_loops, bedrock, http::ServerOptions{});
  http::tcp::endpoint qwen_ep, gptoss_ep, bedrock_ep;
  for (auto [server, ep] :
       {std::pair{&qwen_server, &qwen_ep}, std::pair{&gptoss_server, &gptoss_ep},
        std::pair{&bedrock_server, &bedrock_ep}}) {
    if (auto err = server->listen("127.0.0.1", 0, ep); !err.empty()) {
      spdlog::error("demo: {}", err);
      return 1;
    }
  }
  mock_loops.start();
  spdlog::info(
      "demo: mock model servers qwen3-backend=127.0.0.1:{} gpt-oss-backend=127.0.0.1:{} "
      "bedrock-backend=127.0.0.1:{}",
      qwen_ep.port(), gptoss_ep.port(), bedrock_ep.port());

  RunOptions run;
  run.listen = opts.listen;
  run.admin = opts.admin;
  run.threads = opts.threads;
  run.log_level = opts.log_level;
  run.embedded_configs = embeddedDemoConfigs();
  run.backend_endpoints = {"qwen3-backend=127.0.0.1:" + std::to_string(qwen_ep.port()),
                           "gpt-oss-backend=127.0.0.1:" + std::to_string(gptoss_ep.port()),
                           "bedrock-backend=127.0.0.1:" + std::to_string(bedrock_ep.port())};
  run.demo_banner = true;
  spdlog::drop("tollgate");  // runGateway sets the logger up again
  int rc = runGateway(run);
  mock_loops.stop();
  mock_loops.join();
  return rc;
}

}  // namespace tollgate::cli
