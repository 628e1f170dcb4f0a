#include "providers/formats/responses_from_chat.h"

#include <boost/json.hpp>
#include <ctime>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/formats/chat_answer.h"
#include "providers/formats/json_fields.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {}  // namespace

std::string responseId(std::string_view chat_id) {
  const std::string_view bare = chatIdSuffix(chat_id);
  return "resp_" + (bare.empty() ? randomHexId() : std::string(bare));
}

std::string customToolInput(std::string_view arguments) {
  boost::system::error_code ec;
  const json::value v = json::parse(arguments, ec);
  if (!ec) {
    if (const json::value* in = field(&v, "input"); in != nullptr && in->is_string())
      return std::string(in->get_string());
  }
  return std::string(arguments);  // the model wrote the text bare: keep it as it is
}

std::string responseObject(const ResponsesRequestInfo& info, std::string_view id, int64_t created,
                           std::string_view model, std::string_view status, std::string_view output,
                           std::string_view usage, std::string_view extra) {
  std::string out = "{\"id\":";
  appendJsonString(out, id);
  out += ",\"object\":\"response\",\"created_at\":";
  out += std::to_string(created);
  out += ",\"status\":";
  appendJsonString(out, status);
  out += ",\"model\":";
  appendJsonString(out, model);
  out += ",\"output\":";
  out += output;
  out += ",\"usage\":";
  out += usage;
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  for (const auto& kv : info.echo) {
    out += ',';
    appendJsonString(out, kv.key());
    out += ':';
    out += json::serialize(kv.value());
  }
  out += '}';
  return out;
}

std::string responsesUsage(uint64_t prompt_tokens, uint64_t cached_tokens,
                           uint64_t completion_tokens, uint64_t reasoning_tokens) {
  std::string out = "{\"input_tokens\":";
  out += std::to_string(prompt_tokens);
  out += ",\"input_tokens_details\":{\"cached_tokens\":";
  out += std::to_string(cached_tokens);
  out += "},\"output_tokens\":";
  out += std::to_string(completion_tokens);
  out += ",\"output_tokens_details\":{\"reasoning_tokens\":";
  out += std::to_string(reasoning_tokens);
  out += "},\"total_tokens\":";
  out += std::to_string(prompt_tokens + completion_tokens);
  out += '}';
  return out;
}

std::string_view responseStatus(std::string_view finish_reason) {
  return finish_reason == "length" || finish_reason == "content_filter" ? "incomplete"
                                                                        : "completed";
}

std::string incompleteDetails(std::string_view finish_reason) {
  if (finish_reason == "length") return "{\"reason\":\"max_output_tokens\"}";
  if (finish_reason == "content_filter") return "{\"reason\":\"content_filter\"}";
  return "null";
}

std::optional<std::string> responseFromChat(std::string_view chat_body,
                                            const ResponsesRequestInfo& info) {
  boost::system::error_code ec;
  const json::value v = json::parse(chat_body, ec);
  const json::value* choice = nullptr;
  if (ec || !firstChoice(v, choice)) return std::nullopt;
  const json::value* message = field(choice, "message");
  const std::string id = responseId(stringOf(field(&v, "id")));
  const std::string_view bare = std::string_view(id).substr(5);

  json::array output;
  if (const std::string_view reasoning = reasoningOf(message); !reasoning.empty()) {
    output.push_back(json::object{
        {"id", "rs_" + std::string(bare)},
        {"type", "reasoning"},
        {"summary", json::array()},
        {"content", json::array{json::object{{"type", "reasoning_text"}, {"text", reasoning}}}}});
  }
  if (const std::string_view text = stringOf(field(message, "content")); !text.empty()) {
    output.push_back(
        json::object{{"id", "msg_" + std::string(bare)},
                     {"type", "message"},
                     // A message cut by the token limit is itself incomplete.
                     {"status", responseStatus(stringOf(field(choice, "finish_reason")))},
                     {"role", "assistant"},
                     {"content", json::array{json::object{{"type", "output_text"},
                                                          {"text", text},
                                                          {"annotations", json::array()},
                                                          {"logprobs", json::array()}}}}});
  }
  if (const json::value* calls = field(message, "tool_calls");
      calls != nullptr && calls->is_array()) {
    size_t n = 0;
    for (const json::value& call : calls->get_array()) {
      const json::value* fn = field(&call, "function");
      const std::string_view name = stringOf(field(fn, "name"));
      const std::string_view arguments = stringOf(field(fn, "arguments"));
      const std::string item_id = std::string(bare) + "_" + std::to_string(n++);
      if (info.custom_tools.contains(name)) {
        output.push_back(json::object{{"id", "ctc_" + item_id},
                                      {"type", "custom_tool_call"},
                                      {"status", "completed"},
                                      {"call_id", stringOf(field(&call, "id"))},
                                      {"name", name},
                                      {"input", customToolInput(arguments)}});
      } else {
        output.push_back(json::object{{"id", "fc_" + item_id},
                                      {"type", "function_call"},
                                      {"status", "completed"},
                                      {"call_id", stringOf(field(&call, "id"))},
                                      {"name", name},
                                      {"arguments", arguments}});
      }
    }
  }
  const std::string_view finish = stringOf(field(choice, "finish_reason"));
  ChatUsage usage;
  usage.read(field(&v, "usage"));
  const std::string usage_json =
      usage.known ? responsesUsage(usage.prompt, usage.cached, usage.completion, usage.reasoning)
                  : std::string("null");
  const json::value* created = field(&v, "created");
  return responseObject(
      info, id,
      created != nullptr && created->is_int64() ? created->get_int64() : std::time(nullptr),
      stringOf(field(&v, "model")), responseStatus(finish), json::serialize(output), usage_json,
      "\"error\":null,\"incomplete_details\":" + incompleteDetails(finish));
}

std::string responsesErrorFromChat(std::string_view chat_body, int status) {
  // An OpenAI error body (OpenAI's, or one a translator made) is already the Responses shape.
  boost::system::error_code ec;
  const json::value v = json::parse(chat_body, ec);
  if (!ec && !stringOf(field(field(&v, "error"), "message")).empty()) return std::string(chat_body);
  return api::renderOpenAIError(
      Error::upstream(ErrorCode::kUpstreamBadResponse, chatErrorText(chat_body, status), {}, false),
      status);
}

}  // namespace tollgate::providers::formats
