#include "api/usage.h"

#include <simdjson.h>

namespace tollgate::api {

namespace {
thread_local simdjson::dom::parser t_parser;

uint64_t countOr0(simdjson::simdjson_result<simdjson::dom::element> v) {
  uint64_t n = 0;
  return v.get_uint64().get(n) == simdjson::SUCCESS ? n : 0;
}

// The total when reported, else input + output (some OpenAI-compatible servers omit it).
uint64_t totalOf(simdjson::dom::object u, const TokenUsage& t) {
  uint64_t v = 0;
  return u["total_tokens"].get_uint64().get(v) == simdjson::SUCCESS
             ? v
             : t.input_tokens + t.output_tokens;
}

// Where an API puts its counts: chat says prompt/completion, Responses input/output.
struct UsageNames {
  const char* input;
  const char* output;
  const char* input_details;
  const char* output_details;
};
constexpr UsageNames kChatNames{"prompt_tokens", "completion_tokens", "prompt_tokens_details",
                                "completion_tokens_details"};
constexpr UsageNames kResponsesNames{"input_tokens", "output_tokens", "input_tokens_details",
                                     "output_tokens_details"};

TokenUsage usageOf(simdjson::dom::object u, const UsageNames& n) {
  TokenUsage out;
  out.input_tokens = countOr0(u[n.input]);
  out.output_tokens = countOr0(u[n.output]);
  out.cached_input_tokens = countOr0(u[n.input_details]["cached_tokens"]);
  out.reasoning_tokens = countOr0(u[n.output_details]["reasoning_tokens"]);
  out.total_tokens = totalOf(u, out);
  out.known = true;
  return out;
}

// Reads model and usage of a response object; true when it had usage.
bool readResponseObject(simdjson::dom::element resp, TokenUsage& usage, std::string* model) {
  std::string_view m;
  if (model && resp["model"].get_string().get(m) == simdjson::SUCCESS) *model = std::string(m);
  simdjson::dom::object u;
  if (resp["usage"].get_object().get(u)) return false;
  usage = usageOf(u, kResponsesNames);
  return true;
}

ResponsesEventType eventTypeOf(std::string_view t) {
  if (t == "response.created" || t == "response.in_progress") return ResponsesEventType::kCreated;
  if (t == "response.completed") return ResponsesEventType::kCompleted;
  if (t == "response.incomplete") return ResponsesEventType::kIncomplete;
  if (t == "response.failed") return ResponsesEventType::kFailed;
  if (t == "error") return ResponsesEventType::kError;
  return ResponsesEventType::kOther;
}

}  // namespace

bool extractOpenAIUsage(std::string_view json, TokenUsage& usage, std::string* model) {
  simdjson::dom::element doc;
  if (t_parser.parse(json.data(), json.size()).get(doc)) return false;
  if (model) {
    std::string_view m;
    if (doc["model"].get_string().get(m) == simdjson::SUCCESS) *model = std::string(m);
  }
  simdjson::dom::object u;
  if (doc["usage"].get_object().get(u)) return false;
  usage = usageOf(u, kChatNames);
  return true;
}

bool extractResponsesUsage(std::string_view json, TokenUsage& usage, std::string* model) {
  simdjson::dom::element doc;
  if (t_parser.parse(json.data(), json.size()).get(doc)) return false;
  return readResponseObject(doc, usage, model);
}

bool readResponsesEvent(std::string_view data, ResponsesEvent& ev, TokenUsage& usage,
                        std::string& model, std::string& response_id) {
  simdjson::dom::element doc;
  if (t_parser.parse(data.data(), data.size()).get(doc) || !doc.is_object()) return false;
  ev = {};
  std::string_view type;
  if (doc["type"].get_string().get(type) == simdjson::SUCCESS) {
    ev.type = eventTypeOf(type);
  } else if (doc["error"].is_object()) {
    ev.type = ResponsesEventType::kError;  // {"error":{...}} without a type: vLLM's error shape
  }
  int64_t seq = 0;
  if (doc["sequence_number"].get_int64().get(seq) == simdjson::SUCCESS) ev.sequence_number = seq;
  if (ev.type == ResponsesEventType::kOther || ev.type == ResponsesEventType::kError) return true;
  simdjson::dom::element resp;
  if (doc["response"].get(resp) || !resp.is_object()) return true;
  std::string_view id;
  if (resp["id"].get_string().get(id) == simdjson::SUCCESS) response_id = std::string(id);
  readResponseObject(resp, usage, &model);
  return true;
}

bool isJsonDocument(std::string_view text) {
  simdjson::dom::element doc;
  return t_parser.parse(text.data(), text.size()).get(doc) == simdjson::SUCCESS;
}

}  // namespace tollgate::api
