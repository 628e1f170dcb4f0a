#include "providers/formats/chat_from_anthropic.h"

#include <boost/json/serialize.hpp>
#include <string>

#include "common/strings.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

api::TokenUsage usageFromAnthropic(const json::value* u) {
  api::TokenUsage usage;
  if (u == nullptr || !u->is_object()) return usage;
  uint64_t input = 0, cache_read = 0, cache_write = 0, output = 0;
  usage.known |= readTokenCount(field(u, "input_tokens"), input);
  readTokenCount(field(u, "cache_read_input_tokens"), cache_read);
  readTokenCount(field(u, "cache_creation_input_tokens"), cache_write);
  usage.known |= readTokenCount(field(u, "output_tokens"), output);
  usage.input_tokens = input + cache_read + cache_write;
  usage.cached_input_tokens = cache_read;
  usage.output_tokens = output;
  usage.total_tokens = usage.input_tokens + usage.output_tokens;
  return usage;
}

json::object chatCompletionFromAnthropic(const json::value& v, std::string_view model,
                                         int64_t created, const api::TokenUsage& usage) {
  std::string text, reasoning;
  bool has_text = false;
  json::array tool_calls;
  if (const json::value* content = field(&v, "content"); content && content->is_array()) {
    for (const json::value& b : content->get_array()) {
      const std::string_view type = stringOf(field(&b, "type"));
      if (type == "text") {
        text += stringOf(field(&b, "text"));
        has_text = true;
      } else if (type == "thinking") {
        reasoning += stringOf(field(&b, "thinking"));
      } else if (type == "tool_use") {
        const json::value* input = field(&b, "input");
        tool_calls.push_back(json::object{
            {"id", stringOf(field(&b, "id"))},
            {"type", "function"},
            {"function",
             json::object{{"name", stringOf(field(&b, "name"))},
                          {"arguments", input != nullptr ? json::serialize(*input) : "{}"}}}});
      }
      // Server-side tool blocks ran inside Anthropic: nothing for the client to call.
    }
  }

  json::object message{{"role", "assistant"}};
  if (has_text) {
    message["content"] = text;
  } else {
    message["content"] = nullptr;
  }
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  const bool client_tools = !tool_calls.empty();
  if (client_tools) message["tool_calls"] = std::move(tool_calls);
  message["refusal"] = nullptr;

  const std::string id(stringOf(field(&v, "id")));
  json::object out{
      {"id", "chatcmpl-" + (id.empty() ? randomHexId() : id)},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"message", std::move(message)},
                      {"logprobs", nullptr},
                      {"finish_reason", finishReasonForAnthropicStop(
                                            stringOf(field(&v, "stop_reason")), client_tools)}}}}};
  if (usage.known) {
    out["usage"] = json::object{
        {"prompt_tokens", usage.input_tokens},
        {"completion_tokens", usage.output_tokens},
        {"total_tokens", usage.total_tokens},
        {"prompt_tokens_details", json::object{{"cached_tokens", usage.cached_input_tokens}}}};
  }
  return out;
}

}  // namespace tollgate::providers::formats
