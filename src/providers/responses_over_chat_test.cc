// Responses over a chat-completions-only backend: golden cases under
// tests/fixtures/translators/responses_over_chat/ (see golden_cases_test_util.h), run through the
// registry as the gateway creates the translator for an OpenAI backend annotated
// tollgate.io/responses-api: translate.
#include <gtest/gtest.h>

#include "providers/golden_cases_test_util.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

TEST(ResponsesOverChat, GoldenCases) {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kOpenAI;
  backend.serves_responses = false;
  const int cases = golden::runGoldenCases(
      "responses_over_chat",
      [&] { return createTranslator(api::ApiKind::kResponses, backend.schema, backend); },
      api::ApiKind::kResponses);
  EXPECT_GE(cases, 10);
}

TEST(ResponsesOverChat, RegisteredOnBedrockOverTheConverseTranslator) {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAWSBedrock;
  auto t = createTranslator(api::ApiKind::kResponses, backend.schema, backend);
  ASSERT_NE(t, nullptr);
  const std::string body =
      R"({"model":"us.amazon.nova-lite-v1:0","instructions":"Be brief.","input":"hi","stream":true})";
  auto req = api::parseRequest(api::ApiKind::kResponses, body);
  ASSERT_TRUE(req.ok());
  auto up = t->translateRequest(*req, body, "");
  ASSERT_TRUE(up.ok()) << up.error().public_message;
  EXPECT_EQ(up->path, "/model/us.amazon.nova-lite-v1%3A0/converse-stream");
  EXPECT_NE(up->body.find(R"("system":[{"text":"Be brief."}])"), std::string::npos) << up->body;
}

}  // namespace
}  // namespace tollgate::providers
