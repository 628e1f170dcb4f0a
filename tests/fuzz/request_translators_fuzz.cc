// The request side of the translators that rebuild the client's body for another schema
// (OpenAI → Bedrock Converse, OpenAI → Bedrock InvokeModel for Anthropic, Anthropic → Bedrock
// InvokeModel): any body the scanner accepts either translates to a JSON body or is refused with
// a client error; no exception may escape (the pipeline does not expect one).
// Input: byte 0 picks the pair (bits 0-1) and a model override (bit 2); the rest is the body.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/request.h"
#include "config/model.h"
#include "providers/translator.h"

using tollgate::api::ApiKind;
using tollgate::config::Schema;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  struct Pair {
    ApiKind api;
    Schema schema;
  };
  static constexpr Pair kPairs[] = {
      {ApiKind::kChatCompletions, Schema::kAWSBedrock},
      {ApiKind::kChatCompletions, Schema::kAWSAnthropic},
      {ApiKind::kAnthropicMessages, Schema::kAWSAnthropic},
      {ApiKind::kAnthropicMessages, Schema::kAnthropic},
  };
  const Pair pair = kPairs[data[0] & 3];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto req = tollgate::api::parseRequest(pair.api, body);
  if (!req) return 0;
  tollgate::config::AIServiceBackend backend;
  auto t = tollgate::providers::createTranslator(pair.api, pair.schema, backend,
                                                 (data[0] & 8) ? "beta-1,beta-2" : "");
  if (!t) std::abort();
  auto up = t->translateRequest(*req, body, (data[0] & 4) ? "anthropic.claude:0/x" : "");
  if (!up) {
    if (up.error().public_message.empty()) std::abort();  // refusals say why
    return 0;
  }
  if (up->path.empty() || up->path[0] != '/') std::abort();
  if (!up->body_unchanged) {
    boost::system::error_code ec;
    (void)boost::json::parse(up->body, ec);
    if (ec) std::abort();
  }
  return 0;
}
