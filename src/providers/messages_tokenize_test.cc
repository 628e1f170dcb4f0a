// Anthropic count_tokens on an OpenAI-schema backend through vLLM's /tokenize: golden cases under
// tests/fixtures/translators/messages_tokenize/ (see golden_cases_test_util.h), through the
// registry as the gateway creates the translator.
#include <gtest/gtest.h>

#include "providers/golden_cases_test_util.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

TEST(MessagesTokenize, GoldenCases) {
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kOpenAI;
  const int cases = golden::runGoldenCases(
      "messages_tokenize",
      [&] {
        return createTranslator(api::ApiKind::kAnthropicCountTokens, backend.schema, backend);
      },
      api::ApiKind::kAnthropicCountTokens);
  EXPECT_GE(cases, 4);
}

}  // namespace
}  // namespace tollgate::providers
