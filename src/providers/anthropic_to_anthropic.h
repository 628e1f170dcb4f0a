// Anthropic Messages client → Anthropic API (schema Anthropic, e.g. api.anthropic.com): the body
// passes through byte for byte to /v1/messages (the model rewritten only for modelNameOverride);
// the AnthropicAPIKey policy adds x-api-key; usage is read from the JSON body or from the stream's
// message_start and last message_delta events.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

std::unique_ptr<Translator> makeAnthropicToAnthropic();

}  // namespace tollgate::providers
