// What the chat pivot translators cost per request (Google Benchmark), next to the chat
// completions pass-through they wrap: the whole translator work of one request (parse the
// client body, translateRequest, onResponseStart, then onBody for a JSON answer or onChunk per
// upstream piece for a stream), with the same conversation in each API's shape.
//   cmake --build build --target micro_bench && build/micro_bench --benchmark_filter=Translate
// Instructions per request (deterministic, unlike time), with callgrind counting only inside the
// per-request functions; TOLLGATE_BENCH_COUNTS=1 prints how many requests each one ran:
//   TOLLGATE_BENCH_COUNTS=1 valgrind --tool=callgrind --toggle-collect='*oneRequest*'
//     build/micro_bench --benchmark_filter='Translate/messages_stream' --benchmark_min_time=0.01
//   then Ir (callgrind_annotate's PROGRAM TOTALS) / the printed count.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "providers/translator.h"

namespace {

using tollgate::api::ApiKind;
using tollgate::config::AIServiceBackend;
using tollgate::config::Schema;

// A Claude Code-sized turn: a 7 KB system prompt, three tools, two user blocks.
std::string longText(size_t bytes) {
  std::string t;
  while (t.size() < bytes) t += "The gateway reads the model name from the body and relays it. ";
  return t;
}

const std::string kSystem = longText(7000);
const std::string kUser = longText(880);
const std::string kTool =
    R"({"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}})";

std::string messagesBody(bool stream) {
  return R"({"model":"Qwen/Qwen3-1.7B","max_tokens":4096,"stream":)" +
         std::string(stream ? "true" : "false") +
         R"(,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.328;"},{"type":"text","text":")" +
         kSystem + R"(","cache_control":{"type":"ephemeral"}}],"tools":[)" + kTool + "," + kTool +
         "," + kTool +
         R"(],"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>hi</system-reminder>"},{"type":"text","text":")" +
         kUser + R"("}]}]})";
}

std::string chatTool() {
  return R"({"type":"function","function":{"name":"Bash","description":"Run a command","parameters":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}}})";
}

std::string chatBody(bool stream) {
  return R"({"model":"Qwen/Qwen3-1.7B","max_tokens":4096,"stream":)" +
         std::string(stream ? "true,\"stream_options\":{\"include_usage\":true}" : "false") +
         R"(,"messages":[{"role":"system","content":")" + kSystem +
         R"("},{"role":"user","content":[{"type":"text","text":"<system-reminder>hi</system-reminder>"},{"type":"text","text":")" +
         kUser + R"("}]}],"tools":[)" + chatTool() + "," + chatTool() + "," + chatTool() +
         R"(],"reasoning_effort":"medium"})";
}

std::string responsesBody(bool stream) {
  return R"({"model":"Qwen/Qwen3-1.7B","stream":)" + std::string(stream ? "true" : "false") +
         R"(,"store":false,"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":")" +
         kSystem +
         R"("}]},{"type":"message","role":"user","content":[{"type":"input_text","text":")" +
         kUser +
         R"("}]}],"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}}],"reasoning":{"effort":"medium"}})";
}

// vLLM's answer: 40 words (one chunk each in the stream), then usage.
const std::string kAnswerWords = longText(250);

std::string chatAnswer() {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"Qwen/Qwen3-1.7B","choices":[{"index":0,"message":{"role":"assistant","content":")" +
         kAnswerWords +
         R"(","tool_calls":[]},"finish_reason":"stop"}],"usage":{"prompt_tokens":2200,"completion_tokens":40,"total_tokens":2240}})";
}

std::vector<std::string> chatStream() {
  const std::string head =
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen3-1.7B","choices":[{"index":0,"delta":{)";
  std::vector<std::string> pieces{
      head + R"("role":"assistant","content":""},"finish_reason":null}]})" + "\n\n"};
  for (int i = 0; i < 40; ++i)
    pieces.push_back(head + R"("content":"word "},"finish_reason":null}]})" + "\n\n");
  pieces.push_back(head + R"(},"finish_reason":"stop"}]})" + "\n\n");
  pieces.push_back(
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen3-1.7B","choices":[],"usage":{"prompt_tokens":2200,"completion_tokens":40,"total_tokens":2240}})"
      "\n\n");
  pieces.push_back("data: [DONE]\n\n");
  return pieces;
}

struct Case {
  ApiKind api;
  std::string body;
  bool stream;
};

uint64_t g_requests[8] = {};

// One request's whole translator work; noinline so callgrind can count inside it alone.
__attribute__((noinline)) size_t oneRequest(const Case& c, const AIServiceBackend& backend,
                                            const std::string& answer,
                                            const std::vector<std::string>& pieces) {
  auto t = tollgate::providers::createTranslator(c.api, backend.schema, backend);
  auto req = tollgate::api::parseRequest(c.api, c.body);
  auto up = t->translateRequest(*req, c.body, "");
  size_t bytes = up->body.size();
  t->onResponseStart(200, c.stream ? "text/event-stream" : "application/json", {});
  if (c.stream) {
    std::string out;
    for (const std::string& p : pieces) t->onChunk(p, false, out);
    t->onChunk({}, true, out);
    bytes += out.size();
  } else {
    std::string body = answer;
    t->onBody(body);
    bytes += body.size();
  }
  return bytes;
}

void BM_Translate(benchmark::State& state, ApiKind api, bool stream, int slot) {
  AIServiceBackend backend;
  backend.schema = Schema::kOpenAI;
  backend.serves_responses = false;
  const Case c{api,
               api == ApiKind::kAnthropicMessages ? messagesBody(stream)
               : api == ApiKind::kResponses       ? responsesBody(stream)
                                                  : chatBody(stream),
               stream};
  const std::string answer = chatAnswer();
  const std::vector<std::string> pieces = chatStream();
  for (auto _ : state) {
    benchmark::DoNotOptimize(oneRequest(c, backend, answer, pieces));
    ++g_requests[slot];
  }
}

BENCHMARK_CAPTURE(BM_Translate, chat_passthrough_json, ApiKind::kChatCompletions, false, 0);
BENCHMARK_CAPTURE(BM_Translate, messages_json, ApiKind::kAnthropicMessages, false, 1);
BENCHMARK_CAPTURE(BM_Translate, responses_json, ApiKind::kResponses, false, 2);
BENCHMARK_CAPTURE(BM_Translate, chat_passthrough_stream, ApiKind::kChatCompletions, true, 3);
BENCHMARK_CAPTURE(BM_Translate, messages_stream, ApiKind::kAnthropicMessages, true, 4);
BENCHMARK_CAPTURE(BM_Translate, responses_stream, ApiKind::kResponses, true, 5);

struct PrintCounts {
  ~PrintCounts() {
    if (std::getenv("TOLLGATE_BENCH_COUNTS") == nullptr) return;
    for (int i = 0; i < 6; ++i)
      std::fprintf(stderr, "requests[%d]=%llu\n", i,
                   static_cast<unsigned long long>(g_requests[i]));
  }
} g_print_counts;

}  // namespace
