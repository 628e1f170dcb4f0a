// The mock OpenAI-compatible model server's brain (vLLM-like), free of any networking so it can be
// unit-tested: a request body in, a complete response or a list of SSE events out. The HTTP side
// (mock_server.cc) only moves bytes and applies latency.
//
// Token rule (documented in docs/mock-llm.md): a token is a maximal run of non-whitespace
// characters. Prompt tokens are counted over every message's text content (chat) or the prompt
// (completions, embeddings input); completion tokens are the words generated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::mock {

struct EngineOptions {
  std::string served_models_csv;  // empty = accept any model name
  uint32_t default_max_tokens = 16;
  // Context window reported by /v1/models and enforced like vLLM: prompt + max_tokens above it is
  // a 400.
  uint32_t max_model_len = 32768;
};

struct EngineResult {
  int status = 200;
  // Non-stream: the JSON body. Stream: empty.
  std::string body;
  // Stream: each element is one SSE event's data (a JSON chunk, or "[DONE]"), in order.
  std::vector<std::string> events;
  // Stream: the SSE event name of each event (the Responses API names every event); empty for
  // data-only streams (chat, completions). Views of string literals.
  std::vector<std::string_view> event_types;
  bool stream = false;
};

class LlmEngine {
 public:
  explicit LlmEngine(EngineOptions opts);
  // path: "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses",
  // "/v1/models", "/health"
  // (a query string is ignored). Any invalid request yields a 400 in OpenAI error shape; an unknown
  // path a 404, a known path with the wrong method a 405. Never throws. Stateless apart from the
  // options, so any number of threads may call it at once.
  EngineResult handle(std::string_view method, std::string_view path, std::string_view body) const;

 private:
  EngineOptions opts_;
  std::vector<std::string> served_models_;  // opts_.served_models_csv split and trimmed
};

// Counts tokens by the mock's rule (maximal runs of non-whitespace).
uint32_t countTokens(std::string_view text);

}  // namespace tollgate::mock
