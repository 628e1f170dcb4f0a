// OpenAI Responses request body → Anthropic Messages request body, for the Responses pivot over
// the Messages translators (Codex on Claude). Stateless only: the Responses API's stored
// conversations (store:true, previous_response_id) need a backend with its own store.
// docs/api-responses-over-anthropic.md lists every mapping and what is dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tollgate::providers::formats {

struct MessagesPivotRequest {
  std::string body;  // the Anthropic Messages body (model and stream kept)
  bool stream = false;
  // Names of the Responses `custom` (freeform) tools: a tool_use of one of them goes back to the
  // client as a custom_tool_call with a string input instead of a function_call.
  std::vector<std::string> custom_tools;
};

// `upstream_model`: the model the backend will run (the route's override, else the request's):
// it decides whether `reasoning` can become extended thinking. Errors are client errors (400) in
// the OpenAI shape, only for requests no backend could serve (not JSON, stateful mode, a
// malformed item).
Result<MessagesPivotRequest> anthropicRequestFromResponses(std::string_view responses_body,
                                                           std::string_view upstream_model);

// The opaque `encrypted_content` of the reasoning items the gateway makes from Anthropic thinking
// blocks, and back: base64 of {"thinking","signature"} (or {"redacted": data}) behind a marker,
// so the client echoes it unchanged and the next request rebuilds the block without any state.
std::string encodeThinkingBlob(std::string_view thinking, std::string_view signature,
                               std::string_view redacted_data);
// False when `blob` is not one the gateway made (another provider's reasoning: dropped).
bool decodeThinkingBlob(std::string_view blob, std::string& thinking, std::string& signature,
                        std::string& redacted_data);

}  // namespace tollgate::providers::formats
