// Client-facing error bodies in each API's shape.
#pragma once

#include <string>

#include "common/error.h"

namespace tollgate::api {

// {"error":{"message":...,"type":...,"param":...,"code":...}}
std::string renderOpenAIError(const Error& err);
// {"type":"error","error":{"type":...,"message":...}}
std::string renderAnthropicError(const Error& err);

// The same, for an upstream error relayed with the upstream's own status (as Envoy AI Gateway
// does): the error type follows that status (403 → permission_error, ...) so that the body
// never contradicts the status line. Statuses without a fixed type keep err's type.
std::string renderOpenAIError(const Error& err, int status);
std::string renderAnthropicError(const Error& err, int status);

}  // namespace tollgate::api
