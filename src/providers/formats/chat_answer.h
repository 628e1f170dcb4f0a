// Reading a chat completions answer (a chat.completion body, a chat.completion.chunk event, a
// chat error body) for the translators that turn it into another API's answer
// (anthropic_from_chat*.h, responses_from_chat*.h). Pure; any thread.
#pragma once

#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "providers/formats/json_fields.h"

namespace tollgate::providers::formats {

// The chat id without its "chatcmpl-" prefix (vLLM's and OpenAI's), for the ids made from it.
std::string_view chatIdSuffix(std::string_view chat_id);

// The first choice of a chat.completion (or chunk) `root`, nullptr when `choices` is empty. False
// when `root` is no object with a `choices` array: not a chat answer at all.
bool firstChoice(const boost::json::value& root, const boost::json::value*& choice);

// A message's or delta's reasoning text: vLLM's reasoning parsers put it in reasoning_content,
// newer servers in reasoning.
std::string_view reasoningOf(const boost::json::value* message);

// A chat usage object's counts.
struct ChatUsage {
  uint64_t prompt = 0;  // cached tokens included
  uint64_t cached = 0;
  uint64_t completion = 0;
  uint64_t reasoning = 0;
  bool known = false;
  void read(const boost::json::value* usage);
};

// What a chat backend's error body says: its message ({"error":{"message"}}, vLLM's
// {"message"}, FastAPI's {"detail"}), else the status and the start of the body.
std::string chatErrorText(std::string_view chat_body, int status);
// The message of a parsed error body, empty when it has none.
std::string_view chatErrorMessage(const boost::json::value& v);

// One chat SSE event's data: "[DONE]" calls on_done(); an event that is no JSON object, or an
// error event, calls on_fail(message); a chunk calls on_chunk(const value&).
template <class Done, class Chunk, class Fail>
void readChatEvent(std::string_view data, Done&& on_done, Chunk&& on_chunk, Fail&& on_fail) {
  if (data.empty()) return;
  if (data == "[DONE]") {
    on_done();
    return;
  }
  std::array<unsigned char, kParseBufferSize> buf;
  boost::json::monotonic_resource mr(buf.data(), buf.size());
  const boost::json::value v = parseObject(data, &mr);
  if (!v.is_object()) {
    on_fail(std::string_view("the backend sent a stream event that is not JSON"));
    return;
  }
  if (v.get_object().contains("error")) {
    const std::string_view message = chatErrorMessage(v);
    on_fail(message.empty() ? std::string_view("the backend reported an error mid-stream")
                            : message);
    return;
  }
  on_chunk(v);
}

}  // namespace tollgate::providers::formats
