// Anthropic count_tokens client (POST /v1/messages/count_tokens, Claude Code's /context) → an
// OpenAI-schema backend with vLLM's tokenizer endpoint: POST /tokenize with the chat request the
// Messages body would become (formats/chat_request_from_anthropic.h: the same system prompt,
// messages and tools, so the count is what the Messages request would cost), answered
// {"input_tokens": N} from vLLM's `count`. vLLM's protocol (TokenizeChatRequest, TokenizeResponse)
// is in vllm/entrypoints/openai/protocol.py. Backend errors become Anthropic error bodies with
// their status (a 404: the server has no /tokenize; the gateway's estimate covers that).
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

std::unique_ptr<Translator> makeMessagesTokenize();

}  // namespace tollgate::providers
