// OpenAI chat completions on Anthropic's own API: golden cases under
// tests/fixtures/translators/chat_to_anthropic/ (see golden_cases_test_util.h), run through the
// registry as the gateway creates the translator for an Anthropic-schema backend; and the
// request head Anthropic's API needs (path, version and beta headers), which the cases do not
// show.
#include <gtest/gtest.h>

#include <string>

#include "providers/golden_cases_test_util.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

std::unique_ptr<Translator> chatOnAnthropic() {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAnthropic;
  return createTranslator(api::ApiKind::kChatCompletions, backend.schema, backend);
}

TEST(ChatOverMessages, GoldenCases) {
  const int cases =
      golden::runGoldenCases("chat_to_anthropic", chatOnAnthropic, api::ApiKind::kChatCompletions);
  EXPECT_GE(cases, 6);
}

std::string header(const UpstreamRequest& up, std::string_view name) {
  for (const auto& [n, v] : up.headers)
    if (n == name) return v;
  return "(absent)";
}

TEST(ChatOverMessages, SendsMessagesWithAnthropicHeadersAndNoClientQuery) {
  const std::string body =
      R"({"model":"claude","messages":[{"role":"user","content":"Hi"}],)"
      R"("anthropic_beta":["context-1m-2025-08-07","interleaved-thinking-2025-05-14"]})";
  auto parsed = api::parseRequest(api::ApiKind::kChatCompletions, body);
  ASSERT_TRUE(parsed.ok());
  auto t = chatOnAnthropic();
  auto up = t->translateRequest(*parsed, body, "");
  ASSERT_TRUE(up.ok()) << up.error().public_message;
  EXPECT_EQ(up->path, "/v1/messages");
  EXPECT_FALSE(up->forward_client_query);
  EXPECT_FALSE(up->body_unchanged);
  EXPECT_EQ(header(*up, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(header(*up, "anthropic-beta"), "context-1m-2025-08-07,interleaved-thinking-2025-05-14");
  EXPECT_EQ(up->body.find("anthropic_beta"), std::string::npos) << up->body;
  EXPECT_EQ(up->body.find("anthropic_version"), std::string::npos) << up->body;
}

TEST(ChatOverMessages, AStreamCutBeforeMessageStopEndsWithAnErrorNotDone) {
  const std::string body =
      R"({"model":"claude","stream":true,"messages":[{"role":"user","content":"Hi"}]})";
  auto parsed = api::parseRequest(api::ApiKind::kChatCompletions, body);
  ASSERT_TRUE(parsed.ok());
  auto t = chatOnAnthropic();
  ASSERT_TRUE(t->translateRequest(*parsed, body, "").ok());
  ASSERT_TRUE(t->onResponseStart(200, "text/event-stream", {}).stream);
  std::string out;
  t->onChunk(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
      "\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
      false, out);
  const ResponseOutput o = t->onChunk({}, true, out);
  EXPECT_TRUE(o.failed);
  EXPECT_NE(out.find("\"error\""), std::string::npos) << out;
  EXPECT_EQ(out.find("[DONE]"), std::string::npos) << out;
}

}  // namespace
}  // namespace tollgate::providers
