#include "api/usage.h"

#include <simdjson.h>

namespace tollgate::api {

namespace {
thread_local simdjson::dom::parser t_parser;
}

bool extractOpenAIUsage(std::string_view json, TokenUsage& usage, std::string* model) {
  simdjson::dom::element doc;
  if (t_parser.parse(json.data(), json.size()).get(doc)) return false;
  if (model) {
    std::string_view m;
    if (doc["model"].get_string().get(m) == simdjson::SUCCESS) *model = std::string(m);
  }
  simdjson::dom::object u;
  if (doc["usage"].get_object().get(u)) return false;
  uint64_t v = 0;
  TokenUsage out;
  if (u["prompt_tokens"].get_uint64().get(v) == simdjson::SUCCESS) out.input_tokens = v;
  if (u["completion_tokens"].get_uint64().get(v) == simdjson::SUCCESS) out.output_tokens = v;
  if (u["total_tokens"].get_uint64().get(v) == simdjson::SUCCESS) {
    out.total_tokens = v;
  } else {
    out.total_tokens = out.input_tokens + out.output_tokens;
  }
  if (u["prompt_tokens_details"]["cached_tokens"].get_uint64().get(v) == simdjson::SUCCESS)
    out.cached_input_tokens = v;
  out.known = true;
  usage = out;
  return true;
}

bool isJsonDocument(std::string_view text) {
  simdjson::dom::element doc;
  return t_parser.parse(text.data(), text.size()).get(doc) == simdjson::SUCCESS;
}

}  // namespace tollgate::api
