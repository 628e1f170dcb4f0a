// The request side of the agent-API translators (issue #13): Anthropic Messages and Responses
// rebuilt as chat completions (the chat pivot, onto OpenAI and Bedrock Converse), Responses
// rebuilt as Anthropic Messages (Bedrock InvokeModel, api.anthropic.com), the Responses
// pass-through, and the token-count translators. Any body the scanner accepts either translates
// to a JSON body (or passes unchanged) or is refused with a client error that says why; no
// exception may escape (the pipeline does not expect one).
// Input: byte 0 picks the pair (low four bits, modulo the table) and a model override (bit 4);
// the rest is the client body.
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
    bool serves_responses;
    bool serves_anthropic_messages;
  };
  static constexpr Pair kPairs[] = {
      {ApiKind::kAnthropicMessages, Schema::kOpenAI, true, false},  // Messages over chat
      {ApiKind::kAnthropicMessages, Schema::kAWSBedrock, true, false},
      {ApiKind::kAnthropicMessages, Schema::kOpenAI, true, true},  // the server's own /v1/messages
      {ApiKind::kResponses, Schema::kOpenAI, true, false},         // pass-through
      {ApiKind::kResponses, Schema::kOpenAI, false, false},        // Responses over chat
      {ApiKind::kResponses, Schema::kAWSBedrock, true, false},
      {ApiKind::kResponses, Schema::kAWSAnthropic, true, false},  // Responses over Messages
      {ApiKind::kResponses, Schema::kAnthropic, true, false},
      {ApiKind::kAnthropicCountTokens, Schema::kAnthropic, true, false},
      {ApiKind::kAnthropicCountTokens, Schema::kAWSAnthropic, true, false},
      {ApiKind::kAnthropicCountTokens, Schema::kOpenAI, true, false},  // vLLM /tokenize
      {ApiKind::kResponsesInputTokens, Schema::kOpenAI, true, false},
  };
  constexpr size_t kCount = sizeof(kPairs) / sizeof(kPairs[0]);
  const Pair pair = kPairs[(data[0] & 15) % kCount];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto req = tollgate::api::parseRequest(pair.api, body);
  if (!req) return 0;
  tollgate::config::AIServiceBackend backend;
  backend.schema = pair.schema;
  backend.serves_responses = pair.serves_responses;
  backend.serves_anthropic_messages = pair.serves_anthropic_messages;
  auto t = tollgate::providers::createTranslator(pair.api, pair.schema, backend, "");
  if (!t) std::abort();  // every pair of the table is registered
  auto up = t->translateRequest(*req, body, (data[0] & 16) ? "anthropic.claude:0/x" : "");
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
