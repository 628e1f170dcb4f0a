#include "gateway/error_response.h"

#include "api/errors.h"

namespace tollgate::gateway {

std::string renderErrorResponse(bool anthropic_api, const Error& err, http::ResponseHead& head) {
  head.status = err.httpStatus();
  head.headers.emplace_back("content-type", "application/json");
  return anthropic_api ? api::renderAnthropicError(err) : api::renderOpenAIError(err);
}

}  // namespace tollgate::gateway
