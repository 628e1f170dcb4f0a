// OpenAI Responses client → an Anthropic Messages backend (schemas AWSAnthropic and Anthropic):
// a pivot around that schema's Messages translator. The Responses body becomes a Messages body
// (formats/anthropic_request_from_responses.h) the inner translator sends as it sends Claude
// Code's (SigV4, InvokeModel paths, event-stream → Anthropic SSE, usage); its Anthropic answer
// becomes the Responses answer (formats/responses_from_anthropic.h). Usage is the inner's.
// docs/api-responses-over-anthropic.md.
#pragma once

#include <memory>

#include "providers/translator.h"

namespace tollgate::providers {

// `inner`: the Messages translator for the backend (from createTranslator); `schema`: the
// backend's (Anthropic's own API needs an anthropic-version header Responses clients never send).
std::unique_ptr<Translator> makeResponsesOverMessages(std::unique_ptr<Translator> inner,
                                                      config::Schema schema);

}  // namespace tollgate::providers
