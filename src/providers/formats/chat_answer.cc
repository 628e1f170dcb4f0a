#include "providers/formats/chat_answer.h"

#include <boost/json.hpp>

#include "common/strings.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

std::string_view chatIdSuffix(std::string_view chat_id) {
  if (chat_id.starts_with("chatcmpl-")) chat_id.remove_prefix(9);
  return chat_id;
}

bool firstChoice(const json::value& root, const json::value*& choice) {
  const json::value* choices = field(&root, "choices");
  if (choices == nullptr || !choices->is_array()) return false;
  choice = choices->get_array().empty() ? nullptr : &choices->get_array().front();
  return true;
}

std::string_view reasoningOf(const json::value* message) {
  const std::string_view r = stringOf(field(message, "reasoning_content"));
  return r.empty() ? stringOf(field(message, "reasoning")) : r;
}

void ChatUsage::read(const json::value* usage) {
  if (usage == nullptr || !usage->is_object()) return;
  known = true;
  readTokenCount(field(usage, "prompt_tokens"), prompt);
  readTokenCount(field(field(usage, "prompt_tokens_details"), "cached_tokens"), cached);
  readTokenCount(field(usage, "completion_tokens"), completion);
  readTokenCount(field(field(usage, "completion_tokens_details"), "reasoning_tokens"), reasoning);
}

std::string_view chatErrorMessage(const json::value& v) {
  if (const json::value* e = field(&v, "error")) {
    if (e->is_string()) return e->get_string();
    return stringOf(field(e, "message"));
  }
  if (const std::string_view m = stringOf(field(&v, "message")); !m.empty())
    return m;                            // vLLM's {"object":"error","message":...}
  return stringOf(field(&v, "detail"));  // FastAPI's own 404/405 ({"detail":"Not Found"})
}

std::string chatErrorText(std::string_view chat_body, int status) {
  boost::system::error_code ec;
  const json::value v = json::parse(chat_body, ec);
  std::string message = ec ? std::string() : std::string(chatErrorMessage(v));
  if (message.empty()) {
    constexpr size_t kQuoted = 512;
    message = "the backend answered " + std::to_string(status);
    if (const std::string_view shown = trim(chat_body); !shown.empty())
      message += ": " + std::string(shown.substr(0, kQuoted));
  }
  return message;
}

}  // namespace tollgate::providers::formats
