#include "api/errors.h"

#include <gtest/gtest.h>

namespace tollgate::api {
namespace {

TEST(ErrorBodies, TypeFollowsTheCodeByDefault) {
  const Error err = Error::client(ErrorCode::kBadRequest, "bad \"json\"", "messages");
  EXPECT_EQ(renderOpenAIError(err),
            R"({"error":{"message":"bad \"json\"","type":"invalid_request_error",)"
            R"("param":"messages","code":"bad_request"}})");
  EXPECT_EQ(
      renderAnthropicError(err),
      R"({"type":"error","error":{"type":"invalid_request_error","message":"bad \"json\""}})");
}

TEST(ErrorBodies, RelayedUpstreamStatusDecidesTheType) {
  // A refused AWS credential is a bad-gateway error for the gateway, but relayed with Bedrock's
  // 403 the body must say what a 403 means in each API.
  const Error err = Error::upstream(ErrorCode::kUpstreamBadResponse, "rejected", "detail", false);
  EXPECT_NE(renderOpenAIError(err, 403).find(R"("type":"permission_error")"), std::string::npos);
  EXPECT_NE(renderAnthropicError(err, 403).find(R"("type":"permission_error")"), std::string::npos);
  EXPECT_NE(renderAnthropicError(err, 401).find(R"("type":"authentication_error")"),
            std::string::npos);
  EXPECT_NE(renderAnthropicError(err, 500).find(R"("type":"api_error")"), std::string::npos);
  // Statuses without a type of their own keep the error's.
  EXPECT_EQ(renderOpenAIError(err, 502), renderOpenAIError(err));
  EXPECT_EQ(renderAnthropicError(err, 503), renderAnthropicError(err));
}

}  // namespace
}  // namespace tollgate::api
