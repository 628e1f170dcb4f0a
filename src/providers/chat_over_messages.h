// OpenAI chat completions client → Anthropic's own Messages API (schema Anthropic with an
// AnthropicAPIKey): a pivot around the Anthropic pass-through. The chat body becomes a Messages
// body (formats/anthropic_request_from_openai.h, the same mapping as for Claude on Bedrock) the
// inner translator sends to /v1/messages; its Anthropic answer becomes a chat.completion
// (formats/chat_from_anthropic.h) or chat.completion.chunk events (InvokeStreamToOpenAISse, fed
// the SSE events). docs/api-chat-over-anthropic.md.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

// `inner`: the Messages translator for the backend (from createTranslator).
std::unique_ptr<Translator> makeChatOverMessages(std::unique_ptr<Translator> inner);

}  // namespace tollgate::providers
