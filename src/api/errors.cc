#include "api/errors.h"

#include "common/strings.h"

namespace tollgate::api {

std::string renderOpenAIError(const Error& err) {
  std::string out;
  out.reserve(128 + err.public_message.size());
  out += R"({"error":{"message":)";
  appendJsonString(out, err.public_message);
  out += R"(,"type":)";
  appendJsonString(out, err.openaiType());
  out += R"(,"param":)";
  if (err.param.empty()) {
    out += "null";
  } else {
    appendJsonString(out, err.param);
  }
  out += R"(,"code":)";
  appendJsonString(out, err.name());
  out += "}}";
  return out;
}

std::string renderAnthropicError(const Error& err) {
  std::string out;
  out.reserve(96 + err.public_message.size());
  out += R"({"type":"error","error":{"type":)";
  appendJsonString(out, err.anthropicType());
  out += R"(,"message":)";
  appendJsonString(out, err.public_message);
  out += "}}";
  return out;
}

}  // namespace tollgate::api
