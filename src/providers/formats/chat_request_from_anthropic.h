// Anthropic Messages request → OpenAI chat completion request body, for clients of the Messages API
// (Claude Code, the Anthropic SDKs) served by a chat-completions backend (vLLM, or Bedrock Converse
// through the chat→Converse translator). Pure; any thread. docs/api-anthropic-messages.md has the
// table; in short:
//
// - `system` (string or text blocks) → one leading system message; the
//   `x-anthropic-billing-header:` block Claude Code sends is dropped (it changes with every client
//   version and would defeat the backend's prefix cache). `role:"system"` entries inside
//   `messages` stay where they are, as system messages (their `output_config` is dropped).
// - text, image (base64 or url) and document (base64 PDF, plain text, content blocks) blocks →
//   text / image_url / file parts. tool_use → assistant tool_calls (arguments serialized);
//   tool_result → role "tool" messages placed before the rest of the same user message (images
//   in a tool result follow as user content: chat tool messages carry text only). thinking and
//   redacted_thinking blocks are dropped: the backend never made their signatures.
// - tools (input_schema → parameters); `defer_loading:true` tools dropped; an empty list omitted;
//   Anthropic server tools (web_search_20250305, bash_20250124, ...) → 400, they only run on
//   Anthropic's servers. tool_choice auto/any/tool/none → auto/required/function/none;
//   disable_parallel_tool_use → parallel_tool_calls:false.
// - thinking (enabled/adaptive) and output_config.effort → reasoning_effort; output_config.format
//   → response_format json_schema; stop_sequences → stop; metadata.user_id → user; temperature,
//   top_p, top_k (a vLLM sampling parameter) and max_tokens as they are.
// - Dropped: cache_control, context_management, safeguards, service_tier, container, mcp_servers
//   and any field this list does not know.
// - stream:true always asks for stream_options.include_usage (the usage chunk feeds the Anthropic
//   message_delta usage).
#pragma once

#include <boost/json/object.hpp>

#include "common/error.h"

namespace tollgate::providers::formats {

// The chat completion body for an Anthropic Messages body (model and stream included). A client
// error (400, naming the offending field) when the request cannot be mapped: a malformed block, a
// server tool, a tool_result whose tool_use is not in the conversation.
Result<boost::json::object> chatRequestFromAnthropic(const boost::json::object& body);

}  // namespace tollgate::providers::formats
