// OpenAI Responses (POST /v1/responses) → an OpenAI-schema backend that serves it (OpenAI, vLLM
// >= 0.10): a pass-through, as Envoy AI Gateway's openai_responses.go. The body goes as sent
// (unknown fields, `include`, `store:false`, encrypted reasoning items untouched) with only
// modelNameOverride spliced in; the answer is relayed event by event while the usage is read
// from the non-stream body's `usage` or the stream's terminal response event.
#pragma once

#include <memory>
#include <string>

#include "providers/translator.h"

namespace tollgate::providers {

// version: the AIServiceBackend schema version, the path prefix ("v1" when empty).
std::unique_ptr<Translator> makeOpenAIResponsesPassThrough(std::string version);

}  // namespace tollgate::providers
