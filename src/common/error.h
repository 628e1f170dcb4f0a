// The one error value type. It carries what the client may see (public_message) apart from what
// only the log may see (detail). gateway/error_response.cc is the only place that turns it into an
// HTTP response, shaped for the client's API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tollgate {

enum class ErrorCode {
  kBadRequest,           // 400 malformed JSON, missing model
  kNotFound,             // 404 unknown path
  kModelNotFound,        // 404 no route matches the model
  kMethodNotAllowed,     // 405
  kRequestTimeout,       // 408 client too slow
  kPayloadTooLarge,      // 413
  kHeadersTooLarge,      // 431
  kRateLimited,          // 429
  kNotImplemented,       // 501 API/schema pair not supported yet
  kNoBackend,            // 503 no (healthy/defined) backend for the route
  kUpstreamConnect,      // 503 connect refused / reset before response
  kUpstreamBadResponse,  // 502 unparsable upstream response
  kUpstreamTimeout,      // 504
  kInternal,             // 500
};

enum class ErrorSource { kClient, kUpstream, kInternal };

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  ErrorSource source = ErrorSource::kInternal;
  bool retryable = false;      // another backend/attempt may succeed
  std::string public_message;  // safe to show to the client
  std::string detail;          // for the log only (addresses, upstream text, errno)
  std::string param;           // the request field at fault, when known (OpenAI "param")

  int httpStatus() const;
  // OpenAI error "type" and Anthropic error "type" names for this code.
  std::string_view openaiType() const;
  std::string_view anthropicType() const;
  // A stable snake_case name for logs and metrics (error_type label).
  std::string_view name() const;

  static Error client(ErrorCode c, std::string msg, std::string param = {});
  static Error upstream(ErrorCode c, std::string msg, std::string detail, bool retryable);
  static Error internal(std::string detail);
};

// A minimal expected<T, Error> (std::expected is C++23).
template <typename T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}           // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}       // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace tollgate
