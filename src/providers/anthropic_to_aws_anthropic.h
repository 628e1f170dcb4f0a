// Anthropic Messages client → AWS Bedrock InvokeModel (schema AWSAnthropic).
//
// Request: `model` and `stream` leave the body (the model goes into the path, percent-encoded;
// `stream` picks /invoke or /invoke-with-response-stream), `anthropic_version` is set from the
// schema version unless the client sent one, the `anthropic-beta` header becomes the body's
// `anthropic_beta` array; everything else (system, tools, thinking, cache_control, unknown
// fields) passes unchanged.
// Response: JSON bodies are already Anthropic messages (usage read from them); streams arrive as
// AWS event-stream frames and leave as Anthropic SSE; Bedrock errors become Anthropic errors.
#pragma once

#include <memory>
#include <string>

#include "providers/translator.h"

namespace tollgate::providers {

// version: the AIServiceBackend schema version (bedrock-2023-05-31 when empty);
// anthropic_beta: the client's anthropic-beta header, empty when absent.
std::unique_ptr<Translator> makeAnthropicToAwsAnthropic(std::string version,
                                                        std::string anthropic_beta);

}  // namespace tollgate::providers
