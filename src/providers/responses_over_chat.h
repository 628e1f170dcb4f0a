// OpenAI Responses client → a backend reached through a chat completions translator: an
// OpenAI-schema server without /v1/responses (tollgate.io/responses-api: translate), or Bedrock
// Converse through the chat→Converse translator. A pivot (over_chat.h): the Responses body
// becomes a chat body (formats/chat_request_from_responses.h), the chat answer a Response or the
// Responses event stream (formats/responses_from_chat*.h). Stateless towards the client: a
// request that needs a stored response (previous_response_id, store:true) is a 400.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

// `chat`: the backend's translator for ApiKind::kChatCompletions.
std::unique_ptr<Translator> makeResponsesOverChat(std::unique_ptr<Translator> chat);

}  // namespace tollgate::providers
