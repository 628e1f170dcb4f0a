// Anthropic backends: the Messages pass-through translator's response side (JSON or SSE).
#include "tests/fuzz/translator_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::runTranslator(tollgate::api::ApiKind::kAnthropicMessages,
                                tollgate::config::Schema::kAnthropic, data, size);
  return 0;
}
