// Reading a token-count request (Anthropic's POST /v1/messages/count_tokens, OpenAI's POST
// /v1/responses/input_tokens) apart from any backend: what makes one malformed, the gateway's own
// estimate for a backend that cannot count (docs/api-count-tokens.md gives the rule), and the
// answer in the client API's shape. Pure functions on text parseRequest already accepted as JSON;
// any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/request.h"
#include "common/error.h"

namespace tollgate::providers {

// Estimate constants, documented in docs/api-count-tokens.md.
inline constexpr uint64_t kEstimateBytesPerToken = 4;
inline constexpr uint64_t kEstimateTokensPerMessage = 4;   // role and turn separators
inline constexpr uint64_t kEstimateTokensPerTool = 8;      // the tool's framing in the prompt
inline constexpr uint64_t kEstimateTokensPerImage = 1600;  // images, documents and files

// Whether `kind` is one of the token-count APIs.
bool isCountApi(api::ApiKind kind);

// The client error (400) for a count request that is malformed: Anthropic's needs a non-empty
// `messages` array of objects; `system` and `tools` must have their types. A Responses count may
// leave `input` out (it counts `instructions` and `tools` alone), but one given must be a string
// or an array. nullopt: well formed.
std::optional<Error> checkCountRequest(api::ApiKind kind, std::string_view body);

// The gateway's estimate of the input tokens of a well-formed count request: the bytes of every
// text the model reads (message text, tool use input and results, tool names, descriptions and
// schemas, the system prompt or instructions) divided by kEstimateBytesPerToken rounded up, plus
// the fixed costs above.
uint64_t estimateInputTokens(api::ApiKind kind, std::string_view body);

// The count answer in the client API's shape: {"input_tokens":N} (Anthropic) or
// {"object":"response.input_tokens","input_tokens":N} (OpenAI Responses).
std::string countAnswerBody(api::ApiKind kind, uint64_t input_tokens);

}  // namespace tollgate::providers
