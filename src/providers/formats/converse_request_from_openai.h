// OpenAI chat completion request → Bedrock Converse request body, built with Boost.JSON. Pure;
// any thread.
//
// - system and developer messages, wherever they appear, → top-level `system: [{text}]` in order.
// - user / assistant content (string or parts): text → {text}; image_url with a base64 data: URL
//   → {image:{format, source:{bytes}}}; a remote image URL is a 400 (Converse takes images only
//   inline, and the gateway does not fetch URLs for clients). Other part types are a 400 rather
//   than silently lost. Empty assistant texts are skipped (Converse rejects blank text and
//   clients send `"content": ""` beside tool_calls).
// - assistant tool_calls → toolUse {toolUseId, name, input: the parsed arguments}.
// - tool messages → toolResult {toolUseId, content: [{text}]} in a user turn: text rather than
//   json because every tool-capable Bedrock model accepts text, and the client's string reaches
//   the model unchanged.
// - Consecutive turns of one role (tool results followed by user text, say) merge into one
//   message: Converse requires user and assistant to alternate.
// - A content part (or a tool) carrying `cache_control` is followed by {cachePoint:{type:default}}.
// - tools (type function) → toolConfig.tools[{toolSpec:{name, description, inputSchema:{json}}}];
//   tool_choice auto → {auto:{}}, required → {any:{}}, {function:{name}} → {tool:{name}},
//   none → no toolConfig, unless the conversation already holds toolUse/toolResult blocks
//   (Bedrock then insists on toolConfig): the tools stay, without toolChoice.
// - inferenceConfig: maxTokens (max_completion_tokens, else max_tokens), temperature, topP,
//   stopSequences (stop, string or array).
// - Dropped (Converse has no equivalent, or only per model): n, presence_penalty,
//   frequency_penalty, logit_bias, logprobs, top_logprobs, seed, user, response_format,
//   parallel_tool_calls, reasoning_effort, service_tier, store, metadata, modalities, audio,
//   prediction, web_search_options, functions, function_call, the messages' `name`, assistant
//   `reasoning_content`/`refusal`, and any field this list does not know. stream_options only
//   decides whether the client gets a usage chunk.
#pragma once

#include <boost/json/object.hpp>

#include "common/error.h"

namespace tollgate::providers::formats {

// The Converse body for an OpenAI chat completion body (no model: it goes into the path). A
// client error (400, naming the offending param) when the request cannot be mapped.
Result<boost::json::object> converseRequestFromOpenAI(const boost::json::object& body);

}  // namespace tollgate::providers::formats
