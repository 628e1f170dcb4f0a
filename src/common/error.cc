#include "common/error.h"

namespace tollgate {

int Error::httpStatus() const {
  switch (code) {
    case ErrorCode::kBadRequest: return 400;
    case ErrorCode::kNotFound:
    case ErrorCode::kModelNotFound: return 404;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kRequestTimeout: return 408;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kHeadersTooLarge: return 431;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kNotImplemented: return 501;
    case ErrorCode::kNoBackend:
    case ErrorCode::kUpstreamConnect: return 503;
    case ErrorCode::kUpstreamBadResponse: return 502;
    case ErrorCode::kUpstreamTimeout: return 504;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string_view Error::openaiType() const {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kHeadersTooLarge:
    case ErrorCode::kMethodNotAllowed:
    case ErrorCode::kRequestTimeout: return "invalid_request_error";
    case ErrorCode::kNotFound:
    case ErrorCode::kModelNotFound: return "not_found_error";
    case ErrorCode::kRateLimited: return "rate_limit_error";
    case ErrorCode::kNotImplemented: return "not_implemented_error";
    case ErrorCode::kNoBackend:
    case ErrorCode::kUpstreamConnect: return "service_unavailable_error";
    case ErrorCode::kUpstreamBadResponse: return "bad_gateway_error";
    case ErrorCode::kUpstreamTimeout: return "timeout_error";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

std::string_view Error::anthropicType() const {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kMethodNotAllowed:
    case ErrorCode::kHeadersTooLarge:
    case ErrorCode::kRequestTimeout: return "invalid_request_error";
    case ErrorCode::kPayloadTooLarge: return "request_too_large";
    case ErrorCode::kNotFound:
    case ErrorCode::kModelNotFound: return "not_found_error";
    case ErrorCode::kRateLimited: return "rate_limit_error";
    case ErrorCode::kNoBackend:
    case ErrorCode::kUpstreamConnect:
    case ErrorCode::kUpstreamBadResponse:
    case ErrorCode::kUpstreamTimeout: return "overloaded_error";
    case ErrorCode::kNotImplemented:
    case ErrorCode::kInternal: return "api_error";
  }
  return "api_error";
}

std::string_view Error::name() const {
  switch (code) {
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kModelNotFound: return "model_not_found";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
    case ErrorCode::kRequestTimeout: return "request_timeout";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kHeadersTooLarge: return "headers_too_large";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kNotImplemented: return "not_implemented";
    case ErrorCode::kNoBackend: return "no_backend";
    case ErrorCode::kUpstreamConnect: return "upstream_connect";
    case ErrorCode::kUpstreamBadResponse: return "upstream_bad_response";
    case ErrorCode::kUpstreamTimeout: return "upstream_timeout";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

Error Error::client(ErrorCode c, std::string msg, std::string param) {
  Error e;
  e.code = c;
  e.source = ErrorSource::kClient;
  e.public_message = std::move(msg);
  e.param = std::move(param);
  return e;
}

Error Error::upstream(ErrorCode c, std::string msg, std::string detail, bool retryable) {
  Error e;
  e.code = c;
  e.source = ErrorSource::kUpstream;
  e.retryable = retryable;
  e.public_message = std::move(msg);
  e.detail = std::move(detail);
  return e;
}

Error Error::internal(std::string detail) {
  Error e;
  e.code = ErrorCode::kInternal;
  e.source = ErrorSource::kInternal;
  e.public_message = "internal error";
  e.detail = std::move(detail);
  return e;
}

}  // namespace tollgate
