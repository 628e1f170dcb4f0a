// What the gateway needs from a client request body, found without building a DOM the rest of
// the pipeline has to carry: the model, whether it streams, the usage option, max_tokens, and the
// byte offsets of the fields a translator may splice (model override, stream_options).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tollgate::api {

enum class ApiKind {
  kChatCompletions,       // POST /v1/chat/completions
  kCompletions,           // POST /v1/completions
  kEmbeddings,            // POST /v1/embeddings
  kModels,                // GET /v1/models
  kAnthropicMessages,     // POST /anthropic/v1/messages (also /v1/messages, Claude Code's default)
  kAnthropicCountTokens,  // POST /anthropic/v1/messages/count_tokens
  kAnthropicModels,       // GET /anthropic/v1/models (Anthropic's list shape)
  kResponses,             // POST /v1/responses (OpenAI Responses API)
  kResponsesInputTokens,  // POST /v1/responses/input_tokens
  kUnknown,
};

// Maps a request target (query string ignored) to the API it belongs to.
ApiKind apiFromTarget(std::string_view target);
bool isAnthropicApi(ApiKind k);
bool isAnthropicTarget(std::string_view target);
std::string_view apiOperationName(ApiKind k);  // "chat", "text_completion", "embeddings", ...

struct Span {
  size_t begin = 0;  // offset of the first byte of the value
  size_t end = 0;    // one past its last byte
};

struct ApiRequest {
  ApiKind kind = ApiKind::kUnknown;
  std::string model;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage == true
  std::optional<int64_t> max_tokens;  // max_tokens, max_completion_tokens or max_output_tokens
  uint64_t body_bytes = 0;
  // Offsets in the body as received, filled by locateSpliceOffsets() only when a translator
  // must splice (most requests pass through and never pay for the scan).
  Span model_span;                     // the model string token, quotes included
  std::optional<Span> stream_options;  // the stream_options value (an object, braces
                                       // included, or whatever else was sent, e.g. null)
  size_t object_end = 0;               // offset of the body's closing '}'
};

// Validates the body as JSON (UTF-8, bounded depth) and extracts the fields above. Errors are
// client errors (400) with the field at fault in `param`.
Result<ApiRequest> parseRequest(ApiKind kind, std::string_view body);

// Fills model_span, stream_options and object_end of a request parseRequest accepted.
void locateSpliceOffsets(ApiRequest& req, std::string_view body);

// The body parseRequest accepted (as `req`) with its top-level "model" value replaced by `model`
// (a route's modelNameOverride), every other byte as the client sent it.
std::string withModel(const ApiRequest& req, std::string_view body, std::string_view model);

// JSON scanning on text already known to be valid JSON. `json` starts at an object's '{'.
// Returns the span of the value of member `key` of that object (not nested ones).
std::optional<Span> findMemberValue(std::string_view json, std::string_view key);
// Offset just past the JSON value starting at json[pos] (pos at its first byte).
size_t skipValue(std::string_view json, size_t pos);

}  // namespace tollgate::api
