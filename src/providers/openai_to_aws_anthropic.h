// OpenAI chat completions client → Claude on AWS Bedrock InvokeModel (schema AWSAnthropic), so
// that OpenAI-SDK users reach Claude on Bedrock without changing their code.
//
// Request: the OpenAI body becomes an Anthropic Messages body for Bedrock
// (formats/anthropic_request_from_openai.h lists what is kept, dropped and refused); the model goes
// into the path, percent-encoded.
// Response: an Anthropic message becomes a chat.completion; a Bedrock event stream of Anthropic
// events becomes chat.completion.chunk SSE ending in `data: [DONE]`; Bedrock errors become OpenAI
// error bodies (non-stream) or a `data: {"error":...}` event that ends the stream (no [DONE]), as
// the ConverseStream translator does.
//
// One object per request attempt, owned by that request's coroutine; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "providers/translator.h"

namespace tollgate::providers {

// version: the AIServiceBackend schema version (bedrock-2023-05-31 when empty).
std::unique_ptr<Translator> makeOpenAIToAwsAnthropic(std::string version);

}  // namespace tollgate::providers
