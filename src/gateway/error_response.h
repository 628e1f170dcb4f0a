// The one place that turns an Error into an HTTP response for the client, in the shape of the API
// the request was made to (OpenAI or Anthropic).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "http/server.h"

namespace tollgate::gateway {

// Fills head (status, content-type) and returns the body.
std::string renderErrorResponse(bool anthropic_api, const Error& err, http::ResponseHead& head);

}  // namespace tollgate::gateway
