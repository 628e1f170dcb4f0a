// Token-count requests in the pipeline (POST /anthropic/v1/messages/count_tokens,
// /v1/messages/count_tokens, /v1/responses/input_tokens): routed by the body's model like the
// generation they count, rate limited by request cost only, answered by the backend when it can
// count and by the gateway's estimate when it cannot (docs/api-count-tokens.md). What the
// pipeline decides for them, free of any I/O: gateway.cc runs it.
#pragma once

#include <string>
#include <string_view>

#include "api/request.h"
#include "api/usage.h"

namespace tollgate::gateway {

// The response header that says who counted: "backend" (the upstream's own count) or "estimate".
inline constexpr std::string_view kTokenCountHeader = "x-tollgate-token-count";

// An upstream status that means the backend has no count endpoint (not found, method not allowed,
// not implemented): the client gets the estimate instead of an error.
bool countEndpointMissing(int status);

// The estimate answer for a count request the gateway parsed and checked.
std::string estimateAnswer(api::ApiKind kind, std::string_view body);

// The usage a count completes with for the rate limiter: known and zero, so that a count is never
// charged tokens (nor the estimate charged for a response with no usage) and a reserve-mode
// reservation made at check time is given back.
api::TokenUsage countUsageForLimits();

}  // namespace tollgate::gateway
