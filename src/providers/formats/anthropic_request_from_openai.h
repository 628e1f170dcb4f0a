// OpenAI chat completion request → Anthropic Messages request body, for translators from OpenAI
// clients to a backend that speaks Anthropic's schema (Claude on Bedrock today).
//
// OpenAI fields Anthropic has no equivalent for (penalties, seed, logprobs, logit_bias, ...) are
// dropped, since Anthropic rejects unknown keys; requests the model could only answer differently
// from what the client asked (n > 1, response_format json_*, legacy `functions`) are refused with
// a 400 rather than silently answered otherwise. The Anthropic fields `top_k`, `thinking` and
// `anthropic_beta` (OpenAI SDKs send them through `extra_body`) pass through. Pure; any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace tollgate::providers::formats {

// What Anthropic needs and OpenAI may leave out.
constexpr int64_t kAnthropicDefaultMaxTokens = 4096;

// The Anthropic body for an OpenAI chat completion body: `anthropic_version` set to `version`,
// `max_tokens` always set, no `model` or `stream` (the caller puts those where its backend wants
// them). A client error (400, naming the offending param) when the request cannot be mapped.
Result<boost::json::object> anthropicRequestFromOpenAI(const boost::json::object& body,
                                                       const std::string& version);

}  // namespace tollgate::providers::formats
