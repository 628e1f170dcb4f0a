// OpenAI chat completion answers → OpenAI Responses answers, for Responses clients served by a
// chat-completions-only backend (the other half of chat_request_from_responses.h). Pure; any
// thread.
//
// - A chat.completion becomes a Response object (`object:"response"`): reasoning_content (or
//   `reasoning`) → a reasoning item with one reasoning_text part; content → a message item with
//   one output_text part; tool_calls → function_call items, or custom_tool_call items (the
//   `input` string unwrapped) for the request's custom tools.
// - finish_reason length → status "incomplete" with incomplete_details.reason
//   "max_output_tokens" (content_filter → "content_filter"); anything else → "completed".
// - usage: input_tokens (cached included, as chat counts them), input_tokens_details.cached_tokens,
//   output_tokens, output_tokens_details.reasoning_tokens, total_tokens.
// - The fields the request set (instructions, tools, tool_choice, text, reasoning, ...) are
//   repeated from ResponsesRequestInfo::echo.
// - Chat error bodies become OpenAI error bodies ({"error":{...}}), the status kept.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "providers/formats/chat_request_from_responses.h"

namespace tollgate::providers::formats {

// The Response id for a chat completion id ("chatcmpl-abc" → "resp_abc").
std::string responseId(std::string_view chat_id);

// A Response object. `output` is the JSON array of items, `usage` a usage object or "null",
// `extra` more members ("\"error\":...,\"incomplete_details\":..."), all written as given.
std::string responseObject(const ResponsesRequestInfo& info, std::string_view id, int64_t created,
                           std::string_view model, std::string_view status, std::string_view output,
                           std::string_view usage, std::string_view extra);

// The Responses usage object for chat usage counts.
std::string responsesUsage(uint64_t prompt_tokens, uint64_t cached_tokens,
                           uint64_t completion_tokens, uint64_t reasoning_tokens);

// The freeform text of a custom tool's call, which chat carried as {"input": "..."} (the
// arguments as they are when the model wrote the text bare).
std::string customToolInput(std::string_view arguments);

// The status and the incomplete_details JSON for a chat finish_reason.
std::string_view responseStatus(std::string_view finish_reason);
std::string incompleteDetails(std::string_view finish_reason);

// The Response for a chat.completion body; nullopt when `chat_body` is not one.
std::optional<std::string> responseFromChat(std::string_view chat_body,
                                            const ResponsesRequestInfo& info);

// The OpenAI error body for a chat backend's error body (its status kept).
std::string responsesErrorFromChat(std::string_view chat_body, int status);

}  // namespace tollgate::providers::formats
