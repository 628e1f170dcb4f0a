#include "gateway/count_tokens.h"

#include "providers/count_tokens_request.h"

namespace tollgate::gateway {

bool countEndpointMissing(int status) { return status == 404 || status == 405 || status == 501; }

std::string estimateAnswer(api::ApiKind kind, std::string_view body) {
  return providers::countAnswerBody(kind, providers::estimateInputTokens(kind, body));
}

api::TokenUsage countUsageForLimits() {
  api::TokenUsage none;
  none.known = true;
  return none;
}

}  // namespace tollgate::gateway
