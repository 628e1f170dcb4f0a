// The small parsers of outside text outside the request path: the AWS shared config/credentials
// INI reader (files an operator or a mounted secret provides), the container credentials URI
// check (AWS_CONTAINER_CREDENTIALS_FULL_URI), SigV4's ISO 8601 reader (credential expirations
// from the container endpoint and STS), and the W3C traceparent header every request may carry.
// Input: byte 0 picks the parser, the rest is its text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/aws_credentials.h"
#include "auth/sigv4.h"
#include "tracing/trace_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] & 3) {
    case 0:
      (void)tollgate::auth::parseIni(text, "credentials");
      break;
    case 1:
      (void)tollgate::auth::containerUriRejection(text);
      break;
    case 2:
      (void)tollgate::auth::parseIso8601(text);
      break;
    default: {
      // An accepted header yields ids that are safe to send on as they are.
      auto tc = tollgate::tracing::parseTraceparent(text);
      if (tc && (!tollgate::tracing::isValidHexId(tc->trace_id, 32) ||
                 !tollgate::tracing::isValidHexId(tc->span_id, 16))) {
        std::abort();
      }
      break;
    }
  }
  return 0;
}
