// The response side of the agent-API translators (issue #13): chat completions answers and
// streams turned back into Anthropic Messages or Responses (the chat pivot, from OpenAI and from
// Bedrock Converse), Anthropic answers turned into Responses (from Bedrock InvokeModel and from
// api.anthropic.com), and the Responses pass-through. The top three bits of byte 1 pick the pair
// (see translator_driver.h for the rest of the layout).
#include "tests/fuzz/translator_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  using tollgate::api::ApiKind;
  using tollgate::config::Schema;
  struct Pair {
    ApiKind api;
    Schema schema;
    bool serves_responses;
  };
  static constexpr Pair kPairs[] = {
      {ApiKind::kAnthropicMessages, Schema::kOpenAI, true},
      {ApiKind::kAnthropicMessages, Schema::kAWSBedrock, true},
      {ApiKind::kResponses, Schema::kOpenAI, true},   // pass-through
      {ApiKind::kResponses, Schema::kOpenAI, false},  // over chat
      {ApiKind::kResponses, Schema::kAWSBedrock, true},
      {ApiKind::kResponses, Schema::kAWSAnthropic, true},
      {ApiKind::kResponses, Schema::kAnthropic, true},
      {ApiKind::kAnthropicMessages, Schema::kOpenAI, true},
  };
  const Pair pair = kPairs[data[1] >> 5];
  tollgate::config::AIServiceBackend backend;
  backend.schema = pair.schema;
  backend.serves_responses = pair.serves_responses;
  tollgate::fuzz::runTranslator(pair.api, pair.schema, data, size, backend);
  return 0;
}
