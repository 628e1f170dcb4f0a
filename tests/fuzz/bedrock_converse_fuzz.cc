// AWS Bedrock Converse (schema AWSBedrock): the OpenAI chat client's translator, fed Converse
// JSON bodies or ConverseStream event-stream bodies.
#include "tests/fuzz/translator_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::runTranslator(tollgate::api::ApiKind::kChatCompletions,
                                tollgate::config::Schema::kAWSBedrock, data, size);
  return 0;
}
