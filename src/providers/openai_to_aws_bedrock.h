// OpenAI chat completions client → AWS Bedrock Converse API (schema AWSBedrock).
//
// Request: the OpenAI body becomes a Converse body (formats/converse_request_from_openai.h lists
// the mapping); path /model/{model id, percent-encoded}/converse, or /converse-stream when
// `stream`; the route's modelNameOverride replaces the client's model.
//
// Response: a Converse JSON body becomes a chat.completion (text blocks joined without separator,
// as the stream concatenates them; reasoning as message.reasoning_content; server-side tool blocks
// dropped); an event stream becomes chat.completion.chunk SSE through ConverseStreamToOpenAISse.
// Bedrock errors (non-2xx, x-amzn-errortype) become OpenAI error bodies.
// Usage: prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens (Bedrock
// counts the cached parts apart), cached_tokens = cacheReadInputTokens, total_tokens = Bedrock's
// totalTokens or prompt + completion when that is larger: the same numbers for JSON and stream.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

std::unique_ptr<Translator> makeOpenAIToAwsBedrock();

}  // namespace tollgate::providers
