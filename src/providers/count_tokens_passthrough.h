// Token counting on a backend that counts in the client's own API: Anthropic count_tokens →
// POST /v1/messages/count_tokens of an Anthropic backend, OpenAI Responses input_tokens →
// POST /{version}/responses/input_tokens of an OpenAI backend. The request is built by the
// registry's messages (or chat) translator for the same backend, so headers, the model override
// and the API version are what a generation request gets; only the path differs. The answer passes
// unchanged once it is checked to carry an `input_tokens` count; it reports no token usage (a count
// consumes none: docs/api-count-tokens.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "providers/translator.h"

namespace tollgate::providers {

// client_api: kAnthropicCountTokens (Anthropic backend) or kResponsesInputTokens (OpenAI
// backend); nullptr when the registry has no translator to build the request with.
std::unique_ptr<Translator> makeCountTokensPassThrough(api::ApiKind client_api,
                                                       const config::AIServiceBackend& backend,
                                                       std::string_view anthropic_beta);

// Builds a count's upstream request with `inner`, a generation translator of the same backend
// (never streaming: a count has no stream), and moves the path from the generation operation to
// the count one: the path must end with `from`, which becomes `to`.
Result<UpstreamRequest> countRequestVia(Translator& inner, const api::ApiRequest& req,
                                        std::string_view client_body,
                                        const std::string& model_override, std::string_view from,
                                        std::string_view to);

}  // namespace tollgate::providers
