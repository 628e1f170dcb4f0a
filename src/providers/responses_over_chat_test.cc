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

// On Bedrock: messages_over_chat_test.cc tests both pivots.

}  // namespace
}  // namespace tollgate::providers
