// OpenAI finish_reason values for the stop reasons of Bedrock Converse and Anthropic Messages
// (both spell theirs end_turn, tool_use, max_tokens, stop_sequence, ...).
#pragma once

#include <string_view>

namespace tollgate::providers::formats {

// OpenAI finish_reason for a Converse stopReason (unknown reasons map to "stop").
std::string_view finishReasonForStopReason(std::string_view stop_reason);
// The OpenAI finish_reason for an Anthropic stop_reason. `client_tools`: whether the answer
// holds tool calls for the client (a tool_use stop caused only by server-side tools is not one).
std::string_view finishReasonForAnthropicStop(std::string_view stop_reason, bool client_tools);

}  // namespace tollgate::providers::formats
