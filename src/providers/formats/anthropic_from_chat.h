// OpenAI chat completion answers → Anthropic Messages answers, for Messages clients served by a
// chat backend (the other half of chat_request_from_anthropic.h). Pure; any thread.
//
// - A chat.completion becomes a `type:"message"`: reasoning_content (vLLM's reasoning parsers;
//   also `reasoning`) → a thinking block first, with a signature the gateway makes (the backend
//   has none; thinking blocks sent back are dropped from the next request, so the value only has
//   to be present and opaque); content → a text block; tool_calls → tool_use blocks with the
//   arguments parsed into `input`.
// - finish_reason stop → end_turn (stop_sequence when vLLM reports the stop string it matched in
//   `stop_reason`), length → max_tokens, tool_calls → tool_use, content_filter → refusal.
// - usage: input_tokens = prompt_tokens − cached tokens (Anthropic counts cache reads apart),
//   cache_read_input_tokens = prompt_tokens_details.cached_tokens, output_tokens.
// - Chat error bodies (OpenAI's {"error":{...}}, vLLM's {"object":"error",...}) become Anthropic
//   error bodies, the type following the status.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::providers::formats {

// The signature given to thinking blocks made from a chat backend's reasoning text.
inline constexpr std::string_view kChatReasoningSignature = "tollgate.chat-reasoning.v1";

// The Anthropic stop_reason for a chat finish_reason ("end_turn" for unknown ones).
std::string_view anthropicStopReason(std::string_view finish_reason);

// The Anthropic message id for a chat completion id ("chatcmpl-abc" → "msg_abc").
std::string anthropicMessageId(std::string_view chat_id);

// Anthropic's usage object from a chat usage's counts.
void appendAnthropicUsage(std::string& out, uint64_t prompt_tokens, uint64_t cached_tokens,
                          uint64_t completion_tokens);

// The Anthropic message for a chat.completion body; nullopt when `chat_body` is not one.
std::optional<std::string> anthropicMessageFromChat(std::string_view chat_body);

// The Anthropic error body for a chat backend's error body (any text: a body that is no JSON
// error is quoted as the message, cut to a readable length).
std::string anthropicErrorFromChat(std::string_view chat_body, int status);

}  // namespace tollgate::providers::formats
