// An Anthropic Messages answer (a `message` object) → an OpenAI chat.completion, for the
// translators that serve OpenAI chat clients from Claude: on Bedrock InvokeModel
// (openai_to_aws_anthropic.cc) and on Anthropic's own API (chat_over_messages.cc). The stream
// half is InvokeStreamToOpenAISse (openai_to_aws_anthropic_stream.h). Pure; any thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string_view>

#include "api/usage.h"

namespace tollgate::providers::formats {

// A message's `usage` in the gateway's terms: Anthropic counts cache reads and writes apart from
// input_tokens, OpenAI's prompt_tokens (and the gateway's input) include them. Not known when
// `usage` has neither an input nor an output count.
api::TokenUsage usageFromAnthropic(const boost::json::value* usage);

// The chat.completion for `message`: text blocks joined into content, thinking into
// reasoning_content, tool_use blocks into tool_calls (server-side tool blocks ran inside
// Anthropic and are dropped), the stop reason mapped; `usage` goes in when known. `model` is the
// model the client asked for, `created` the completion's time.
boost::json::object chatCompletionFromAnthropic(const boost::json::value& message,
                                                std::string_view model, int64_t created,
                                                const api::TokenUsage& usage);

}  // namespace tollgate::providers::formats
