// A chat.completion.chunk SSE stream → Anthropic's Messages event stream, in the grammar Claude
// Code and the SDKs need (recordings README 5.2): `event:` lines; message_start (id, model,
// usage), then ping; every block opened with content_block_start and closed with
// content_block_stop; text as text_delta, reasoning as thinking_delta then one signature_delta,
// tool arguments only as input_json_delta with `input:{}` in the start event; message_delta with
// stop_reason and the usage of the include_usage chunk; message_stop. An error event of the chat
// stream, or its end before a finish_reason, becomes `event: error` (nothing after it): a client
// must not take a cut answer for a complete one.
//
// One object per stream; pieces may split events anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/sse.h"
#include "providers/formats/chat_answer.h"

namespace boost::json {
class value;
}

namespace tollgate::providers::formats {

class ChatSseToAnthropicSse {
 public:
  // Appends the Anthropic events for the complete chat events in `chat_sse` to `out`.
  void feed(std::string_view chat_sse, std::string& out);
  // The chat stream ended: closes the message, or reports it cut.
  void finish(std::string& out);
  // Reports `message` as an error event (an upstream failure), unless the stream already ended.
  void fail(std::string_view message, std::string& out);
  bool failed() const { return failed_; }

 private:
  enum class Block { kNone, kText, kThinking, kToolUse };

  void onChunk(const boost::json::value& chunk, std::string& out);
  void start(std::string_view id, std::string_view model, std::string& out);
  void openBlock(Block kind, std::string_view tool_id, std::string_view tool_name,
                 std::string& out);
  void closeBlock(std::string& out);
  void delta(std::string_view type, std::string_view key, std::string_view text, std::string& out);
  void complete(std::string& out);

  api::SseParser sse_;
  bool started_ = false;
  bool ended_ = false;  // message_stop or error sent: nothing more goes out
  bool failed_ = false;
  Block block_ = Block::kNone;
  int block_index_ = -1;
  int64_t tool_index_ = -1;  // the chat tool_calls index of the open tool_use block
  std::string stop_reason_;
  std::string stop_sequence_;
  ChatUsage usage_;
};

}  // namespace tollgate::providers::formats
