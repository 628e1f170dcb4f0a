// AWS Bedrock InvokeModel of Anthropic models (schema AWSAnthropic): the Anthropic Messages
// client's translator and the OpenAI chat client's translator, fed InvokeModel JSON or
// InvokeModelWithResponseStream event-stream bodies. Bit 7 of byte 1 picks the client API.
#include "tests/fuzz/translator_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto kind = (data[1] & 0x80) ? tollgate::api::ApiKind::kChatCompletions
                                     : tollgate::api::ApiKind::kAnthropicMessages;
  tollgate::fuzz::runTranslator(kind, tollgate::config::Schema::kAWSAnthropic, data, size);
  return 0;
}
