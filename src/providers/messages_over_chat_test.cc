// Anthropic Messages over a chat backend: golden cases under
// tests/fixtures/translators/messages_over_chat/ (see golden_cases_test_util.h), run through the
// registry exactly as the gateway creates the translator for an OpenAI-schema backend.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "providers/golden_cases_test_util.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

config::AIServiceBackend openAIBackend(bool native_messages) {
  config::AIServiceBackend b;
  b.schema = config::Schema::kOpenAI;
  b.serves_anthropic_messages = native_messages;
  return b;
}

TEST(MessagesOverChat, GoldenCases) {
  const config::AIServiceBackend backend = openAIBackend(false);
  const int cases = golden::runGoldenCases(
      "messages_over_chat",
      [&] { return createTranslator(api::ApiKind::kAnthropicMessages, backend.schema, backend); },
      api::ApiKind::kAnthropicMessages);
  EXPECT_GE(cases, 10);
}

TEST(MessagesOverChat, NativeAnnotationPassesMessagesThrough) {
  const config::AIServiceBackend backend = openAIBackend(true);
  auto t = createTranslator(api::ApiKind::kAnthropicMessages, backend.schema, backend);
  ASSERT_NE(t, nullptr);
  const std::string body =
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  auto req = api::parseRequest(api::ApiKind::kAnthropicMessages, body);
  ASSERT_TRUE(req.ok());
  auto up = t->translateRequest(*req, body, "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/v1/messages");
  EXPECT_TRUE(up->body_unchanged);
}

// Both pivots reach Bedrock Converse through the chat→Converse translator.
TEST(MessagesOverChat, PivotsRegisteredOnBedrockOverTheConverseTranslator) {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAWSBedrock;
  const std::pair<api::ApiKind, std::string> cases[] = {
      {api::ApiKind::kAnthropicMessages,
       R"({"model":"us.amazon.nova-lite-v1:0","max_tokens":5,"system":"Be brief.","messages":[{"role":"user","content":"hi"}],"stream":true})"},
      {api::ApiKind::kResponses,
       R"({"model":"us.amazon.nova-lite-v1:0","instructions":"Be brief.","input":"hi","stream":true})"},
  };
  for (const auto& [kind, body] : cases) {
    auto t = createTranslator(kind, backend.schema, backend);
    ASSERT_NE(t, nullptr);
    auto req = api::parseRequest(kind, body);
    ASSERT_TRUE(req.ok());
    auto up = t->translateRequest(*req, body, "");
    ASSERT_TRUE(up.ok()) << up.error().public_message;
    EXPECT_EQ(up->path, "/model/us.amazon.nova-lite-v1%3A0/converse-stream");
    EXPECT_NE(up->body.find(R"("system":[{"text":"Be brief."}])"), std::string::npos) << up->body;
  }
}

}  // namespace
}  // namespace tollgate::providers
