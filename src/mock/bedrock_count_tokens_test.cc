// The fake Bedrock's CountTokens (src/mock/bedrock_fake.cc): both input kinds, counted as the
// wrapped operation charges, and its validation errors.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "mock/bedrock_fake.h"
#include "mock/llm_engine.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;

constexpr std::string_view kCountPath =
    "/model/anthropic.claude-3-haiku-20240307-v1%3A0/count-tokens";

std::string invokeBody(std::string_view messages_json) {
  return std::string(R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":)") +
         std::string(messages_json) + "}";
}

TEST(BedrockCountTokensTest, InvokeModelInputCountsWhatInvokeModelCharges) {
  LlmEngine engine{EngineOptions{}};
  const std::string invoke = invokeBody(R"([{"role":"user","content":"how many tokens here"}])");
  std::string b64;
  base64Encode(invoke, b64);
  const bedrock::Result counted = bedrock::handle(
      engine, "POST", kCountPath, R"({"input":{"invokeModel":{"body":")" + b64 + R"("}}})");
  ASSERT_EQ(counted.status, 200) << counted.body;
  const bedrock::Result invoked = bedrock::handle(
      engine, "POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke", invoke);
  ASSERT_EQ(invoked.status, 200) << invoked.body;
  const json::value c = json::parse(counted.body);
  EXPECT_EQ(c.at("inputTokens").as_int64(), 4);
  EXPECT_EQ(c.at("inputTokens"), json::parse(invoked.body).at("usage").at("input_tokens"));
  EXPECT_EQ(c.as_object().size(), 1u);  // {"inputTokens": N} and nothing else
}

TEST(BedrockCountTokensTest, ConverseInputIsCountedToo) {
  LlmEngine engine{EngineOptions{}};
  const bedrock::Result r = bedrock::handle(
      engine, "POST", kCountPath,
      R"({"input":{"converse":{"messages":[{"role":"user","content":[{"text":"a b c"}]}]}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("inputTokens").as_int64(), 3);
}

TEST(BedrockCountTokensTest, MalformedInputIsAValidationException) {
  LlmEngine engine{EngineOptions{}};
  std::string no_max_tokens;  // InvokeModel requires max_tokens, so CountTokens does too
  base64Encode(
      R"({"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"x"}]})",
      no_max_tokens);
  const std::string cases[] = {
      "not json",
      R"({})",
      R"({"input":{}})",
      R"({"input":{"invokeModel":{"body":"%%%"}}})",
      R"({"input":{"invokeModel":{"body":")" + no_max_tokens + R"("}}})",
  };
  for (const std::string& body : cases) {
    const bedrock::Result r = bedrock::handle(engine, "POST", kCountPath, body);
    EXPECT_EQ(r.status, 400) << body;
    bool validation = false;
    for (const auto& [n, v] : r.headers)
      validation |= n == "x-amzn-errortype" && v == "ValidationException";
    EXPECT_TRUE(validation) << body;
  }
  EXPECT_EQ(bedrock::handle(engine, "GET", kCountPath, "").status, 405);
}

}  // namespace
}  // namespace tollgate::mock
