#include "providers/formats/anthropic_from_chat.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/formats/chat_answer.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

// A tool call's arguments as the tool_use input object. Models do emit broken JSON now and then;
// the client then gets the text under one key rather than an input silently emptied.
json::value toolInput(std::string_view arguments) {
  if (trim(arguments).empty()) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(arguments, ec);
  if (!ec && v.is_object()) return v;
  return json::object{{"_raw_arguments", arguments}};
}

}  // namespace

std::string_view anthropicStopReason(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

std::string anthropicMessageId(std::string_view chat_id) {
  const std::string_view suffix = chatIdSuffix(chat_id);
  return "msg_" + (suffix.empty() ? randomHexId() : std::string(suffix));
}

void appendAnthropicUsage(std::string& out, uint64_t prompt_tokens, uint64_t cached_tokens,
                          uint64_t completion_tokens) {
  if (cached_tokens > prompt_tokens) cached_tokens = prompt_tokens;
  out += "{\"input_tokens\":";
  out += std::to_string(prompt_tokens - cached_tokens);
  out += ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":";
  out += std::to_string(cached_tokens);
  out += ",\"output_tokens\":";
  out += std::to_string(completion_tokens);
  out += '}';
}

std::optional<std::string> anthropicMessageFromChat(std::string_view chat_body) {
  boost::system::error_code ec;
  const json::value v = json::parse(chat_body, ec);
  const json::value* choice = nullptr;
  if (ec || !firstChoice(v, choice)) return std::nullopt;
  const json::value* message = field(choice, "message");

  json::array content;
  if (const std::string_view reasoning = reasoningOf(message); !reasoning.empty()) {
    content.push_back(json::object{
        {"type", "thinking"}, {"thinking", reasoning}, {"signature", kChatReasoningSignature}});
  }
  if (const std::string_view text = stringOf(field(message, "content")); !text.empty())
    content.push_back(json::object{{"type", "text"}, {"text", text}});
  if (const json::value* calls = field(message, "tool_calls");
      calls != nullptr && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      const json::value* fn = field(&call, "function");
      content.push_back(json::object{{"type", "tool_use"},
                                     {"id", stringOf(field(&call, "id"))},
                                     {"name", stringOf(field(fn, "name"))},
                                     {"input", toolInput(stringOf(field(fn, "arguments")))}});
    }
  }
  const std::string_view finish = stringOf(field(choice, "finish_reason"));
  // vLLM names the stop string that ended the answer in `stop_reason` (a token id when it was a
  // stop token): Anthropic's stop_sequence.
  const std::string_view matched = stringOf(field(choice, "stop_reason"));
  const bool by_sequence = finish == "stop" && !matched.empty();

  std::string out;
  out.reserve(chat_body.size() + 256);
  out += "{\"id\":";
  appendJsonString(out, anthropicMessageId(stringOf(field(&v, "id"))));
  out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  appendJsonString(out, stringOf(field(&v, "model")));
  out += ",\"content\":";
  out += json::serialize(content);
  out += ",\"stop_reason\":";
  appendJsonString(out, by_sequence ? "stop_sequence" : anthropicStopReason(finish));
  out += ",\"stop_sequence\":";
  if (by_sequence) {
    appendJsonString(out, matched);
  } else {
    out += "null";
  }
  out += ",\"usage\":";
  ChatUsage usage;
  usage.read(field(&v, "usage"));
  appendAnthropicUsage(out, usage.prompt, usage.cached, usage.completion);
  out += '}';
  return out;
}

std::string anthropicErrorFromChat(std::string_view chat_body, int status) {
  return api::renderAnthropicError(
      Error::upstream(ErrorCode::kUpstreamBadResponse, chatErrorText(chat_body, status), {}, false),
      status);
}

}  // namespace tollgate::providers::formats
