#include "api/errors.h"

#include "common/strings.h"

namespace tollgate::api {

namespace {

// The error types both APIs give the common statuses (OpenAI's documented types, and Anthropic's,
// which use the same names for these); empty for the others.
std::string_view sharedTypeForStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      return {};
  }
}

std::string_view openaiTypeForStatus(int status, const Error& err) {
  const std::string_view shared = sharedTypeForStatus(status);
  return shared.empty() ? err.openaiType() : shared;
}

// Anthropic's documented error types by status: the shared ones, and three of its own.
std::string_view anthropicTypeForStatus(int status, const Error& err) {
  if (const std::string_view shared = sharedTypeForStatus(status); !shared.empty()) return shared;
  switch (status) {
    case 413:
      return "request_too_large";
    case 500:
      return "api_error";
    case 529:
      return "overloaded_error";
    default:
      return err.anthropicType();
  }
}

std::string openaiBody(const Error& err, std::string_view type) {
  std::string out;
  out.reserve(128 + err.public_message.size());
  out += R"({"error":{"message":)";
  appendJsonString(out, err.public_message);
  out += R"(,"type":)";
  appendJsonString(out, type);
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

std::string anthropicBody(const Error& err, std::string_view type) {
  std::string out;
  out.reserve(96 + err.public_message.size());
  out += R"({"type":"error","error":{"type":)";
  appendJsonString(out, type);
  out += R"(,"message":)";
  appendJsonString(out, err.public_message);
  out += "}}";
  return out;
}

}  // namespace

std::string renderOpenAIError(const Error& err) { return openaiBody(err, err.openaiType()); }
std::string renderAnthropicError(const Error& err) {
  return anthropicBody(err, err.anthropicType());
}
std::string renderOpenAIError(const Error& err, int status) {
  return openaiBody(err, openaiTypeForStatus(status, err));
}
std::string renderAnthropicError(const Error& err, int status) {
  return anthropicBody(err, anthropicTypeForStatus(status, err));
}

}  // namespace tollgate::api
