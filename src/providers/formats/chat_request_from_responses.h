// OpenAI Responses request → OpenAI chat completion request body, for Responses clients (Codex,
// the openai SDK, Vercel's createOpenAI) served by a chat-completions-only backend (older vLLM,
// llama.cpp, SGLang builds, Bedrock Converse through the chat→Converse translator). Pure; any
// thread. docs/api-responses-over-chat.md has the table; in short:
//
// - `instructions` → a leading system message; input items: messages (roles user, assistant,
//   system, developer → system) with input_text / output_text / refusal / input_image /
//   input_file parts; function_call → assistant tool_calls (consecutive calls in one message);
//   function_call_output → role "tool"; custom_tool_call / custom_tool_call_output the same, the
//   freeform input carried as {"input": "<text>"}; reasoning and compaction items and hosted-tool
//   calls dropped (the chat backend cannot read them).
// - tools: function → function (strict kept); custom (Codex's apply_patch) → a function taking
//   one string `input`, its calls mapped back to custom_tool_call; tool_search (client-executed)
//   → a function; namespace tools flattened; hosted tools (web_search, file_search, mcp, ...)
//   dropped. tool_choice and parallel_tool_calls map directly.
// - max_output_tokens → max_tokens, temperature, top_p, reasoning.effort → reasoning_effort,
//   text.format json_schema / json_object → response_format, user / safety_identifier → user.
// - Dropped: include, prompt_cache_key, client_metadata, metadata, store:false, text.verbosity,
//   truncation, service_tier, background, and any field this list does not know.
// - previous_response_id and store:true ask for state kept by the server: a 400 (the chat
//   backend keeps none, and the gateway keeps no conversations).
// - stream:true always asks for stream_options.include_usage.
#pragma once

#include <boost/json/object.hpp>
#include <set>
#include <string>

#include "common/error.h"

namespace tollgate::providers::formats {

// What the answer's conversion needs from the request.
struct ResponsesRequestInfo {
  std::set<std::string, std::less<>> custom_tools;  // tools whose calls are custom_tool_call
  // The request fields a Response object repeats (instructions, tools, tool_choice, ...).
  boost::json::object echo;
};

// The chat completion body for a Responses body; a client error (400) when it cannot be mapped.
Result<boost::json::object> chatRequestFromResponses(const boost::json::object& body,
                                                     ResponsesRequestInfo& info);

}  // namespace tollgate::providers::formats
