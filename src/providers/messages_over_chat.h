// Anthropic Messages client → any backend reached through a chat completions translator (vLLM
// and other OpenAI-compatible servers through the OpenAI pass-through, Bedrock Converse through
// the chat→Converse translator), as a pivot (over_chat.h): the Messages body becomes a chat body
// (formats/chat_request_from_anthropic.h), the chat answer a Messages answer
// (formats/anthropic_from_chat*.h).
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

// `chat`: the backend's translator for ApiKind::kChatCompletions.
std::unique_ptr<Translator> makeMessagesOverChat(std::unique_ptr<Translator> chat);

}  // namespace tollgate::providers
