#include "providers/transports/aws_bedrock.h"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/percent_encoding.h"
#include "common/strings.h"
#include "providers/formats/json_fields.h"

namespace tollgate::providers::transports {

namespace json = boost::json;
using formats::field;
using formats::stringOf;

namespace {

// The human message of an exception payload ({"message":...}; some services spell it Message).
std::string exceptionMessage(std::string_view payload) {
  json::value v = formats::parseObject(payload, {});
  if (v.is_object()) {
    std::string_view m = stringOf(field(&v, "message"));
    if (m.empty()) m = stringOf(field(&v, "Message"));
    return std::string(m);
  }
  return std::string(payload.substr(0, 512));
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// A Bedrock error without x-amzn-errortype (a proxy in the way, say): classify by status.
Error errorFromStatus(int status, std::string message) {
  if (message.empty()) message = "upstream error (HTTP " + std::to_string(status) + ")";
  if (status == 429) return Error::upstream(ErrorCode::kRateLimited, message, "bedrock 429", true);
  if (status >= 500) {
    return Error::upstream(ErrorCode::kUpstreamConnect, message,
                           "bedrock " + std::to_string(status), true);
  }
  return Error::client(ErrorCode::kBadRequest, message);
}

std::optional<uint64_t> headerNumber(std::string_view s) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

UpstreamRequest modelRequest(std::string_view model, bool stream, std::string_view operation,
                             std::string_view stream_operation, std::string body) {
  UpstreamRequest out;
  out.path = "/model/" + encodeModelId(model);
  out.path += stream ? stream_operation : operation;
  out.headers.emplace_back("content-type", "application/json");
  out.headers.emplace_back("accept",
                           stream ? "application/vnd.amazon.eventstream" : "application/json");
  out.body_unchanged = false;
  out.body = std::move(body);
  return out;
}

bool isEventStream(std::string_view content_type) {
  return content_type.find("application/vnd.amazon.eventstream") != std::string_view::npos;
}

void ResponseHeaders::read(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [n, val] : headers) {
    if (iequals(n, "x-amzn-errortype")) error_type = val;
    if (iequals(n, "x-amzn-bedrock-input-token-count")) input_tokens = headerNumber(val);
    if (iequals(n, "x-amzn-bedrock-output-token-count")) output_tokens = headerNumber(val);
  }
}

Error responseError(int status, std::string_view error_type, std::string message) {
  return error_type.empty() ? errorFromStatus(status, std::move(message))
                            : bedrockExceptionToError(error_type, message);
}

std::string encodeModelId(std::string_view model) { return percentEncodeSegment(model); }

// ---- errors and stop reasons ----

Error bedrockExceptionToError(std::string_view exception_type, std::string_view message) {
  // x-amzn-errortype carries "Name:namespace-url"; event-stream frames carry "name" in lowerCamel.
  std::string_view name = exception_type.substr(0, exception_type.find(':'));
  const std::string key = lower(name);
  std::string msg(message.empty() ? name : message);
  if (msg.empty()) msg = "upstream error";
  std::string detail = "bedrock " + std::string(name) + ": " + std::string(message);

  struct Mapping {
    std::string_view key;
    ErrorCode code;
    bool retryable;
  };
  static constexpr Mapping kMappings[] = {
      {"throttlingexception", ErrorCode::kRateLimited, true},
      {"servicequotaexceededexception", ErrorCode::kRateLimited, false},
      {"validationexception", ErrorCode::kBadRequest, false},
      {"modelstreamerrorexception", ErrorCode::kUpstreamBadResponse, false},
      {"modelerrorexception", ErrorCode::kUpstreamBadResponse, false},
      {"internalserverexception", ErrorCode::kUpstreamBadResponse, true},
      {"serviceunavailableexception", ErrorCode::kUpstreamConnect, true},
      {"modelnotreadyexception", ErrorCode::kUpstreamConnect, true},
      {"modeltimeoutexception", ErrorCode::kUpstreamTimeout, true},
      {"resourcenotfoundexception", ErrorCode::kModelNotFound, true},
  };
  for (const Mapping& m : kMappings) {
    if (m.key == key)
      return Error::upstream(m.code, std::move(msg), std::move(detail), m.retryable);
  }
  // Credential failures (AccessDenied, UnrecognizedClient, ExpiredToken...) and anything unknown:
  // the text may name the gateway's role or account, so the client sees a generic message.
  const bool auth = key.find("accessdenied") != std::string::npos ||
                    key.find("unrecognizedclient") != std::string::npos ||
                    key.find("token") != std::string::npos ||
                    key.find("signature") != std::string::npos;
  return Error::upstream(
      ErrorCode::kUpstreamBadResponse,
      auth ? "the upstream provider rejected the gateway's credentials" : "upstream provider error",
      std::move(detail), auth);
}

std::string awsErrorMessage(const json::value& v) {
  for (const char* k : {"message", "Message"}) {
    if (std::string_view m = stringOf(field(&v, k)); !m.empty()) return std::string(m);
  }
  return std::string(stringOf(field(field(&v, "error"), "message")));
}

Error malformedStreamEvent(std::string detail) {
  return Error::upstream(ErrorCode::kUpstreamBadResponse, "malformed event in the Bedrock stream",
                         std::move(detail), false);
}

Error streamExceptionToError(const formats::Message& msg) {
  if (msg.header(":message-type") == "error") {
    return bedrockExceptionToError(msg.header(":error-code"), msg.header(":error-message"));
  }
  return bedrockExceptionToError(msg.header(":exception-type"), exceptionMessage(msg.payload));
}

bool isExceptionFrame(const formats::Message& msg) {
  const std::string_view t = msg.header(":message-type");
  return t == "exception" || t == "error";
}

}  // namespace tollgate::providers::transports
