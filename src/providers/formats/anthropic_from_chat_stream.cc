#include "providers/formats/anthropic_from_chat_stream.h"

#include <boost/json.hpp>

#include "common/strings.h"
#include "providers/formats/anthropic_from_chat.h"
#include "providers/formats/chat_answer.h"
#include "providers/formats/json_fields.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

void appendEvent(std::string& out, std::string_view name, std::string_view data) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
}

}  // namespace

void ChatSseToAnthropicSse::feed(std::string_view chat_sse, std::string& out) {
  sse_.feed(chat_sse, [&](const api::SseEvent& ev) {
    if (ended_) return;
    readChatEvent(
        ev.data, [&] { complete(out); }, [&](const json::value& chunk) { onChunk(chunk, out); },
        [&](std::string_view why) { fail(why, out); });
  });
}

void ChatSseToAnthropicSse::start(std::string_view id, std::string_view model, std::string& out) {
  started_ = true;
  std::string data = "{\"type\":\"message_start\",\"message\":{\"id\":";
  appendJsonString(data, anthropicMessageId(id));
  data += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  appendJsonString(data, model);
  // The prompt's size comes with the include_usage chunk at the end: message_delta carries it.
  data +=
      ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
      "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}";
  appendEvent(out, "message_start", data);
  appendEvent(out, "ping", "{\"type\":\"ping\"}");
}

void ChatSseToAnthropicSse::openBlock(Block kind, std::string_view tool_id,
                                      std::string_view tool_name, std::string& out) {
  closeBlock(out);
  block_ = kind;
  ++block_index_;
  std::string data = "{\"type\":\"content_block_start\",\"index\":";
  data += std::to_string(block_index_);
  data += ",\"content_block\":";
  if (kind == Block::kText) {
    data += "{\"type\":\"text\",\"text\":\"\"}}";
  } else if (kind == Block::kThinking) {
    data += "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}";
  } else {
    data += "{\"type\":\"tool_use\",\"id\":";
    appendJsonString(data, tool_id);
    data += ",\"name\":";
    appendJsonString(data, tool_name);
    data += ",\"input\":{}}}";
  }
  appendEvent(out, "content_block_start", data);
}

void ChatSseToAnthropicSse::delta(std::string_view type, std::string_view key,
                                  std::string_view text, std::string& out) {
  std::string data = "{\"type\":\"content_block_delta\",\"index\":";
  data += std::to_string(block_index_);
  data += ",\"delta\":{\"type\":\"";
  data += type;
  data += "\",\"";
  data += key;
  data += "\":";
  appendJsonString(data, text);
  data += "}}";
  appendEvent(out, "content_block_delta", data);
}

void ChatSseToAnthropicSse::closeBlock(std::string& out) {
  if (block_ == Block::kNone) return;
  if (block_ == Block::kThinking)
    delta("signature_delta", "signature", kChatReasoningSignature, out);
  std::string data = "{\"type\":\"content_block_stop\",\"index\":";
  data += std::to_string(block_index_);
  data += '}';
  appendEvent(out, "content_block_stop", data);
  block_ = Block::kNone;
}

void ChatSseToAnthropicSse::onChunk(const json::value& root, std::string& out) {
  if (!started_) start(stringOf(field(&root, "id")), stringOf(field(&root, "model")), out);
  usage_.read(field(&root, "usage"));
  const json::value* choice = nullptr;
  if (!firstChoice(root, choice) || choice == nullptr) return;
  // Anthropic has one answer per message: choice 0 (a Messages client never asks for n > 1).
  const json::value* d = field(choice, "delta");

  if (const std::string_view reasoning = reasoningOf(d); !reasoning.empty()) {
    if (block_ != Block::kThinking) openBlock(Block::kThinking, {}, {}, out);
    delta("thinking_delta", "thinking", reasoning, out);
  }
  if (const std::string_view text = stringOf(field(d, "content")); !text.empty()) {
    if (block_ != Block::kText) openBlock(Block::kText, {}, {}, out);
    delta("text_delta", "text", text, out);
  }
  if (const json::value* calls = field(d, "tool_calls"); calls != nullptr && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      const json::value* idx = field(&call, "index");
      const int64_t index = idx != nullptr && idx->is_int64() ? idx->get_int64() : tool_index_;
      const json::value* fn = field(&call, "function");
      // Servers stream one call after the other (vLLM, OpenAI, the Converse translator): a new
      // index opens the next tool_use block; Anthropic cannot reopen a closed one.
      if (block_ != Block::kToolUse || index != tool_index_) {
        tool_index_ = index;
        openBlock(Block::kToolUse, stringOf(field(&call, "id")), stringOf(field(fn, "name")), out);
      }
      if (const std::string_view args = stringOf(field(fn, "arguments")); !args.empty())
        delta("input_json_delta", "partial_json", args, out);
    }
  }
  if (const std::string_view finish = stringOf(field(choice, "finish_reason")); !finish.empty()) {
    const std::string_view matched = stringOf(field(choice, "stop_reason"));
    if (finish == "stop" && !matched.empty()) {
      stop_reason_ = "stop_sequence";
      stop_sequence_ = matched;
    } else {
      stop_reason_ = anthropicStopReason(finish);
    }
  }
}

void ChatSseToAnthropicSse::complete(std::string& out) {
  if (ended_) return;
  if (!started_) start({}, {}, out);
  closeBlock(out);
  std::string data = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":";
  appendJsonString(data, stop_reason_.empty() ? std::string_view("end_turn") : stop_reason_);
  data += ",\"stop_sequence\":";
  if (stop_sequence_.empty()) {
    data += "null";
  } else {
    appendJsonString(data, stop_sequence_);
  }
  data += "},\"usage\":";
  appendAnthropicUsage(data, usage_.prompt, usage_.cached, usage_.completion);
  data += '}';
  appendEvent(out, "message_delta", data);
  appendEvent(out, "message_stop", "{\"type\":\"message_stop\"}");
  ended_ = true;
}

void ChatSseToAnthropicSse::finish(std::string& out) {
  if (ended_) return;
  // Without [DONE] the finish_reason is what says the answer was whole.
  if (!stop_reason_.empty() && sse_.pending().empty()) {
    complete(out);
    return;
  }
  fail("the backend's stream ended before the answer was complete", out);
}

void ChatSseToAnthropicSse::fail(std::string_view message, std::string& out) {
  if (ended_) return;
  ended_ = true;
  failed_ = true;
  sse_.clear();
  std::string data = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":";
  appendJsonString(data, message);
  data += "}}";
  appendEvent(out, "error", data);
}

}  // namespace tollgate::providers::formats
