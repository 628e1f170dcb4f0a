// A chat.completion.chunk SSE stream → the Responses event stream, the full grammar Codex and
// the SDKs read (recordings README 5.2): response.created, response.in_progress; per item
// response.output_item.added ... response.output_item.done (Codex builds the turn from the done
// events); for a message content_part.added, output_text.delta/.done, content_part.done; for a
// function call function_call_arguments.delta/.done; for a custom tool call
// custom_tool_call_input.delta/.done (sent whole at the end: chat streams its JSON wrapper); for
// reasoning reasoning_text.delta/.done; then response.completed (response.incomplete on a length
// or content_filter finish) with the output and usage. sequence_number on every event. An error
// event of the chat stream, or its end before a finish_reason, becomes response.failed with
// error {code:"server_error", message}.
//
// One object per stream; pieces may split events anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/sse.h"
#include "providers/formats/chat_answer.h"
#include "providers/formats/chat_request_from_responses.h"

namespace boost::json {
class value;
}

namespace tollgate::providers::formats {

class ChatSseToResponsesSse {
 public:
  explicit ChatSseToResponsesSse(const ResponsesRequestInfo& info) : info_(info) {}

  void feed(std::string_view chat_sse, std::string& out);
  void finish(std::string& out);
  void fail(std::string_view message, std::string& out);
  bool failed() const { return failed_; }

 private:
  enum class Item { kNone, kReasoning, kMessage, kFunction, kCustom };

  void onChunk(const boost::json::value& chunk, std::string& out);
  void start(std::string_view chat_id, std::string_view model, int64_t created, std::string& out);
  void event(std::string_view type, std::string_view body, std::string& out);
  void openItem(Item kind, std::string_view call_id, std::string_view name, std::string& out);
  void closeItem(std::string& out);
  std::string itemRef() const;  // "item_id":...,"output_index":N
  std::string response(std::string_view status, std::string_view usage,
                       std::string_view extra) const;
  void complete(std::string& out);

  const ResponsesRequestInfo& info_;
  api::SseParser sse_;
  bool started_ = false;
  bool ended_ = false;
  bool failed_ = false;
  uint64_t sequence_ = 0;
  std::string id_;
  std::string model_;
  int64_t created_ = 0;
  Item item_ = Item::kNone;
  std::string item_id_;
  std::string call_id_;
  std::string name_;
  std::string text_;  // the open item's text or arguments so far
  int64_t tool_index_ = -1;
  std::vector<std::string> done_items_;  // the JSON of every finished item, in order
  std::string finish_;
  ChatUsage usage_;
};

}  // namespace tollgate::providers::formats
