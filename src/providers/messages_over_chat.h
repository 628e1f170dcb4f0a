// Anthropic Messages client → any backend reached through a chat completions translator (vLLM and
// other OpenAI-compatible servers through the OpenAI pass-through, Bedrock Converse through the
// chat→Converse translator): a pivot. The Messages body becomes a chat body
// (formats/chat_request_from_anthropic.h), which the inner translator sends as it sends any chat
// request; its chat answer (JSON, SSE, errors) becomes the Messages answer
// (formats/anthropic_from_chat*.h). Usage is the inner translator's.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

// `chat`: the backend's translator for ApiKind::kChatCompletions.
std::unique_ptr<Translator> makeMessagesOverChat(std::unique_ptr<Translator> chat);

}  // namespace tollgate::providers
