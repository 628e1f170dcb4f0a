// What translating one agent request costs on the way to Claude on Bedrock (Google Benchmark),
// the Responses pivot next to the chat completions translator on the same conversation:
//   cmake --build build --target micro_bench && build/micro_bench --benchmark_filter=Translate
// For instructions per request (machine-independent): run it under callgrind and divide the
// inclusive cost of oneRequest by its call count (bench/README.md has the command).
// One request is translateRequest on Codex 0.169.0's recorded first request (as the recordings
// store it, long strings cut: 8 KB of the real 38-40 KB), then the streamed answer of
// tests/fixtures/translators/responses_to_aws_anthropic/ codex-exec-turn1-stream (thinking, text, a
// tool call) as Bedrock event-stream frames, in 512 B pieces. The chat body carries the same system
// text, messages and function tools.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "api/sse.h"
#include "common/base64.h"
#include "providers/formats/event_stream.h"
#include "providers/translator.h"

namespace {

namespace json = boost::json;
using namespace tollgate;

const std::string kCase = std::string(TOLLGATE_SOURCE_DIR) +
                          "/tests/fixtures/translators/responses_to_aws_anthropic/"
                          "codex-exec-turn1-stream/";
constexpr std::string_view kModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string frames() {
  std::string out;
  api::SseParser p;
  p.feed(slurp(kCase + "upstream_stream.txt"), [&](const api::SseEvent& ev) {
    std::string payload = R"({"bytes":")";
    base64Encode(ev.data, payload);
    payload += R"(","p":"abcdef"})";
    out += providers::formats::encodeEvent("chunk", payload);
  });
  return out;
}

// The same conversation as a chat completions request: developer texts as system messages,
// user texts, the function tools and the freeform one as a function (what the pivot sends).
std::string chatBody(const std::string& responses_body) {
  const json::object in = json::parse(responses_body).as_object();
  json::array messages;
  for (const json::value& item : in.at("input").as_array()) {
    const json::object& o = item.as_object();
    std::string text;
    for (const json::value& part : o.at("content").as_array())
      text += std::string(part.at("text").as_string()) + "\n";
    const bool system = o.at("role") == "developer";
    messages.push_back(json::object{{"role", system ? "system" : "user"}, {"content", text}});
  }
  json::array tools;
  for (const json::value& t : in.at("tools").as_array()) {
    // A freeform tool as the function the pivot makes of it; hosted tools are dropped by both.
    json::value params =
        t.at("type") == "custom"
            ? json::parse(R"({"type":"object","properties":{"input":{"type":"string"}}})")
        : t.as_object().contains("parameters") ? t.at("parameters")
                                               : json::value();
    if (t.at("type") != "function" && t.at("type") != "custom") continue;
    tools.push_back(json::object{{"type", "function"},
                                 {"function", json::object{{"name", t.at("name")},
                                                           {"description", t.at("description")},
                                                           {"parameters", params}}}});
  }
  return json::serialize(json::object{{"model", in.at("model")},
                                      {"stream", true},
                                      {"messages", std::move(messages)},
                                      {"tools", std::move(tools)},
                                      {"reasoning_effort", "medium"}});
}

// One request, kept out of line so that callgrind reports its cost and call count apart.
[[gnu::noinline]] size_t oneRequest(api::ApiKind kind, const api::ApiRequest& req,
                                    const std::string& body, const std::string& upstream,
                                    std::string& out) {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAWSAnthropic;
  auto t = providers::createTranslator(kind, config::Schema::kAWSAnthropic, backend);
  auto up = t->translateRequest(req, body, std::string(kModel));
  benchmark::DoNotOptimize(up->body.data());
  t->onResponseStart(200, "application/vnd.amazon.eventstream", {});
  out.clear();
  for (size_t pos = 0; pos < upstream.size(); pos += 512)
    t->onChunk(std::string_view(upstream).substr(pos, 512), false, out);
  return t->onChunk({}, true, out).usage.output_tokens;
}

void translateOne(benchmark::State& state, api::ApiKind kind, const std::string& body) {
  const std::string upstream = frames();
  auto req = api::parseRequest(kind, body);
  std::string out;
  for (auto _ : state) benchmark::DoNotOptimize(oneRequest(kind, *req, body, upstream, out));
  state.counters["request_bytes"] = static_cast<double>(body.size());
  state.counters["client_stream_bytes"] = static_cast<double>(out.size());
}

void BM_TranslateResponsesToAwsAnthropic(benchmark::State& state) {
  translateOne(state, api::ApiKind::kResponses, slurp(kCase + "request.json"));
}
BENCHMARK(BM_TranslateResponsesToAwsAnthropic);

void BM_TranslateChatToAwsAnthropic(benchmark::State& state) {
  translateOne(state, api::ApiKind::kChatCompletions, chatBody(slurp(kCase + "request.json")));
}
BENCHMARK(BM_TranslateChatToAwsAnthropic);

}  // namespace
