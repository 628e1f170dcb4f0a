// Client-facing error bodies in each API's shape.
#pragma once

#include <string>

#include "common/error.h"

namespace tollgate::api {

// {"error":{"message":...,"type":...,"param":...,"code":...}}
std::string renderOpenAIError(const Error& err);
// {"type":"error","error":{"type":...,"message":...}}
std::string renderAnthropicError(const Error& err);

}  // namespace tollgate::api
