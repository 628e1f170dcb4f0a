// The client request scanner (simdjson DOM plus the light offset scanner): finds model / stream /
// stream_options / max_tokens in an untrusted body and the byte offsets a translator splices at;
// then the OpenAI pass-through translator's splices (model override, stream_options.include_usage)
// must give a body that parses again with the new values. Also the OpenAI usage reader that runs
// on every upstream body and stream chunk.
// Input: byte 0 picks the API (bits 0-1) and whether to override the model (bit 2); the rest is
// the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/request.h"
#include "api/usage.h"
#include "providers/openai_to_openai.h"

using tollgate::api::ApiKind;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr ApiKind kKinds[] = {ApiKind::kChatCompletions, ApiKind::kCompletions,
                                       ApiKind::kEmbeddings, ApiKind::kAnthropicMessages};
  const ApiKind kind = kKinds[data[0] & 3];
  const bool override_model = (data[0] & 4) != 0;
  // A heap copy of exactly the body, so that reading past its end is an ASan report.
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto req = tollgate::api::parseRequest(kind, body);
  if (req) {
    auto located = *req;
    tollgate::api::locateSpliceOffsets(located, body);
    // The offsets must point into the body at the tokens they name.
    const auto& m = located.model_span;
    if (!(m.begin < m.end && m.end <= body.size() && body[m.begin] == '"' &&
          body[m.end - 1] == '"')) {
      std::abort();
    }
    if (located.object_end >= body.size() || body[located.object_end] != '}') std::abort();
    if (located.stream_options) {
      const auto& s = *located.stream_options;
      if (!(s.begin < s.end && s.end <= body.size())) std::abort();
    }

    // The pass-through translator splices at those offsets: the result must be JSON the
    // scanner accepts, with the override and include_usage the upstream is meant to see.
    if (kind != ApiKind::kAnthropicMessages) {
      tollgate::providers::OpenAIToOpenAITranslator t(kind, "v1");
      const std::string override_to = override_model ? "over/ride \"q\"" : "";
      auto up = t.translateRequest(*req, body, override_to);
      if (!up) std::abort();
      const std::string& sent = up->body_unchanged ? body : up->body;
      auto again = tollgate::api::parseRequest(kind, sent);
      if (!again) std::abort();
      if (again->model != (override_model ? override_to : req->model)) std::abort();
      if (again->stream != req->stream) std::abort();
      if (req->stream && kind != ApiKind::kEmbeddings && !again->include_usage) std::abort();
    }
  }

  tollgate::api::TokenUsage usage;
  std::string model;
  (void)tollgate::api::extractOpenAIUsage(body, usage, &model);
  return 0;
}
