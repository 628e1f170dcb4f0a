// Internal to the mock engine (llm_*.cc): reading an OpenAI-shaped request (the fields the
// endpoints share, generation parameters, prompts) and the errors it answers, worded as OpenAI and
// vLLM word them. Stateless.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mock/llm_engine.h"

namespace tollgate::mock::engine {

namespace json = boost::json;

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // empty: null
  std::string_view type = "invalid_request_error";
  bool numeric_code = false;  // vLLM puts the status in "code"; OpenAI's 400s have null
};

ApiError apiError(int status, std::string message, std::string param = {});
ApiError badRequest(std::string message, std::string param = {});
EngineResult errorResult(const ApiError& e);
EngineResult errorResult(std::optional<ApiError> e);
// A 200 with `body` serialized.
EngineResult jsonResult(const boost::json::object& body, int status = 200);

struct Context {
  const EngineOptions& opts;
  const std::vector<std::string>& served_models;
};

// Integer value of a JSON number that is an integer; a double (even 16.0) is not.
std::optional<int64_t> asInteger(const json::value& v);
// Absent and null are the same thing for every optional field, as in the OpenAI API.
const json::value* field(const json::object& obj, std::string_view key);
std::optional<ApiError> requireModel(const json::object& req, std::string_view& model);
// 404 when the server serves a fixed list of models and this is not one of them.
std::optional<ApiError> checkServed(const Context& ctx, std::string_view model);
// 400 when the prompt (plus max_tokens, when asked for) exceeds the context window.
std::optional<ApiError> checkContext(const Context& ctx, uint64_t prompt_tokens,
                                     std::optional<uint64_t> max_tokens);

struct GenParams {
  uint64_t max_tokens = 0;
  std::optional<uint64_t> requested_max_tokens;  // what the client asked for, if anything
  uint32_t n = 1;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;  // vLLM: usage on every chunk (only with include_usage)
  bool return_token_ids = false;
};

// max_tokens (chat: max_completion_tokens first), n, stream, stream_options, vLLM's extensions.
std::optional<ApiError> parseGenParams(const json::object& req, bool chat, uint64_t default_max,
                                       GenParams& p);

// A prompt given as text or token ids (completions' prompt, embeddings' input).
struct Prompt {
  std::string_view text;
  const json::array* ids = nullptr;  // set: a list of token ids, text unused

  uint64_t tokens() const;
  uint64_t seed() const;  // what the reply (or embedding) depends on
};

// Accepts a string, an array of strings, an array of token ids, or an array of arrays of token ids.
std::optional<ApiError> parsePrompts(const json::object& req, std::string_view key,
                                     std::vector<Prompt>& out);
// requireModel, then parsePrompts: the completions and embeddings requests begin alike.
std::optional<ApiError> parseModelAndPrompts(const json::object& req, std::string_view key,
                                             std::string_view& model, std::vector<Prompt>& out);

}  // namespace tollgate::mock::engine
