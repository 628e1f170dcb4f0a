// OpenAI-compatible backends (vLLM): the pass-through translator's response side, for chat,
// completions and embeddings. The top two bits of byte 1 pick the API (see translator_driver.h
// for the rest of the layout).
#include "tests/fuzz/translator_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr tollgate::api::ApiKind kKinds[] = {
      tollgate::api::ApiKind::kChatCompletions, tollgate::api::ApiKind::kCompletions,
      tollgate::api::ApiKind::kEmbeddings, tollgate::api::ApiKind::kChatCompletions};
  tollgate::fuzz::runTranslator(kKinds[data[1] >> 6], tollgate::config::Schema::kOpenAI, data,
                                size);
  return 0;
}
