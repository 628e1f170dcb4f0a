// AWS Signature Version 4, header form (the Authorization header), for non-S3 services such as
// Bedrock. Pure functions over a request description: no I/O, no allocation beyond the strings
// returned, safe to call from any thread.
//
// The canonical URI follows the rule for every service but S3: the path as it travels on the
// wire is URI-encoded once more, segment by segment, so a Bedrock model id sent as `v1%3A0` is
// signed as `v1%253A0` (the form Bedrock's own error messages print). Secrets never leave this
// module except inside the signature.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::auth {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never log
  std::string session_token;      // secret: never log; empty for long-term keys
  // When temporary credentials stop working; unset for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

struct SignRequest {
  std::string method;
  std::string path;   // as sent on the wire, already percent-encoded
  std::string query;  // raw query string without '?'
  // Every header that will be sent, including host, in the exact form it will be sent (the Host
  // value must equal the one on the wire, port included when the wire carries one).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct SignOptions {
  std::string region;
  std::string service;  // credential scope name: "bedrock" for bedrock-runtime
  std::chrono::system_clock::time_point now;
  bool normalize_path = true;      // remove dot segments and collapse "//" (off for S3)
  bool double_encode_path = true;  // encode the wire path once more (off for S3)
  bool sign_body_header = false;   // add and sign x-amz-content-sha256
  // Add X-Amz-Security-Token after signing, unsigned (a few services want it so).
  bool omit_session_token_from_signature = false;
};

// What signing computed, for tests and debugging. Holds no secret (the signature is derived).
struct SigningDetails {
  std::string canonical_request;
  std::string signed_headers;
  std::string string_to_sign;
  std::string signature;      // lower-case hex
  std::string authorization;  // the header value
};

// Adds x-amz-date, (x-amz-security-token), (x-amz-content-sha256) and authorization to
// req.headers, replacing any such headers already there (a client's own must never leak
// through). `details` is optional.
void signRequest(SignRequest& req, const AwsCredentials& creds, const SignOptions& opts,
                 SigningDetails* details = nullptr);

// The canonical request of `req` as it is (x-amz-date etc. must already be among its headers).
// `signed_headers` (optional) receives the "host;x-amz-date" list.
std::string canonicalRequest(const SignRequest& req, const SignOptions& opts,
                             std::string* signed_headers);
std::string canonicalUri(std::string_view path, const SignOptions& opts);
std::string canonicalQuery(std::string_view query);
// "20150830/us-east-1/service/aws4_request"; `date` is YYYYMMDD.
std::string credentialScope(std::string_view date, std::string_view region,
                            std::string_view service);
std::string stringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);
// Lower-case hex HMAC of the string to sign with the derived signing key.
std::string signature(std::string_view secret_access_key, std::string_view date,
                      std::string_view region, std::string_view service,
                      std::string_view string_to_sign);

// Helpers shared with the credential providers and tests.
std::string sha256Hex(std::string_view data);
std::string hmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hexEncode(std::string_view bytes);
// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash).
std::string uriEncode(std::string_view s, bool keep_slash);
std::string percentDecode(std::string_view s);
// "20150830T123600Z" (UTC, whole seconds).
std::string formatAmzDate(std::chrono::system_clock::time_point t);
// ISO 8601 / RFC 3339 date-time: "2015-08-30T12:36:00Z", fractional seconds and "+hh:mm"
// offsets accepted. nullopt when malformed. Times past what system_clock holds (before 1678,
// after 2261) give time_point::min() / max().
std::optional<std::chrono::system_clock::time_point> parseIso8601(std::string_view s);

}  // namespace tollgate::auth
