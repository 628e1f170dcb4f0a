#include "providers/formats/responses_from_chat_stream.h"

#include <boost/json.hpp>
#include <ctime>

#include "common/strings.h"
#include "providers/formats/chat_answer.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/responses_from_chat.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

std::string quoted(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

}  // namespace

void ChatSseToResponsesSse::feed(std::string_view chat_sse, std::string& out) {
  sse_.feed(chat_sse, [&](const api::SseEvent& ev) {
    if (ended_) return;
    readChatEvent(
        ev.data, [&] { complete(out); }, [&](const json::value& chunk) { onChunk(chunk, out); },
        [&](std::string_view why) { fail(why, out); });
  });
}

void ChatSseToResponsesSse::event(std::string_view type, std::string_view body, std::string& out) {
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":";
  appendJsonString(out, type);
  out += ",\"sequence_number\":";
  out += std::to_string(sequence_++);
  if (!body.empty()) {
    out += ',';
    out += body;
  }
  out += "}\n\n";
}

std::string ChatSseToResponsesSse::response(std::string_view status, std::string_view usage,
                                            std::string_view extra) const {
  std::string output = "[";
  for (size_t i = 0; i < done_items_.size(); ++i) {
    if (i > 0) output += ',';
    output += done_items_[i];
  }
  output += ']';
  return responseObject(info_, id_, created_, model_, status, output, usage, extra);
}

void ChatSseToResponsesSse::start(std::string_view chat_id, std::string_view model, int64_t created,
                                  std::string& out) {
  started_ = true;
  id_ = responseId(chat_id);
  model_ = model;
  created_ = created;
  const std::string r = "\"response\":" + response("in_progress", "null",
                                                   "\"error\":null,\"incomplete_details\":null");
  event("response.created", r, out);
  event("response.in_progress", r, out);
}

std::string ChatSseToResponsesSse::itemRef() const {
  return "\"item_id\":" + quoted(item_id_) +
         ",\"output_index\":" + std::to_string(done_items_.size());
}

void ChatSseToResponsesSse::openItem(Item kind, std::string_view call_id, std::string_view name,
                                     std::string& out) {
  closeItem(out);
  item_ = kind;
  text_.clear();
  call_id_ = call_id;
  name_ = name;
  const std::string n = std::string(id_).substr(5) + "_" + std::to_string(done_items_.size());
  std::string item;
  switch (kind) {
    case Item::kReasoning:
      item_id_ = "rs_" + n;
      item =
          "{\"id\":" + quoted(item_id_) + ",\"type\":\"reasoning\",\"summary\":[],\"content\":[]}";
      break;
    case Item::kMessage:
      item_id_ = "msg_" + n;
      item =
          "{\"id\":" + quoted(item_id_) +
          ",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}";
      break;
    case Item::kFunction:
      item_id_ = "fc_" + n;
      item =
          "{\"id\":" + quoted(item_id_) +
          ",\"type\":\"function_call\",\"status\":\"in_progress\",\"call_id\":" + quoted(call_id) +
          ",\"name\":" + quoted(name) + ",\"arguments\":\"\"}";
      break;
    default:
      item_id_ = "ctc_" + n;
      item = "{\"id\":" + quoted(item_id_) +
             ",\"type\":\"custom_tool_call\",\"status\":\"in_progress\",\"call_id\":" +
             quoted(call_id) + ",\"name\":" + quoted(name) + ",\"input\":\"\"}";
      break;
  }
  event("response.output_item.added",
        "\"output_index\":" + std::to_string(done_items_.size()) + ",\"item\":" + item, out);
  if (kind == Item::kMessage) {
    event("response.content_part.added",
          itemRef() +
              ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
              "\"annotations\":[],\"logprobs\":[]}",
          out);
  }
}

void ChatSseToResponsesSse::closeItem(std::string& out) {
  const std::string index = ",\"output_index\":" + std::to_string(done_items_.size());
  std::string item;
  switch (item_) {
    case Item::kNone:
      return;
    case Item::kReasoning:
      event("response.reasoning_text.done",
            itemRef() + ",\"content_index\":0,\"text\":" + quoted(text_), out);
      item = "{\"id\":" + quoted(item_id_) +
             ",\"type\":\"reasoning\",\"summary\":[],\"content\":[{\"type\":\"reasoning_text\","
             "\"text\":" +
             quoted(text_) + "}]}";
      break;
    case Item::kMessage: {
      const std::string part = "{\"type\":\"output_text\",\"text\":" + quoted(text_) +
                               ",\"annotations\":[],\"logprobs\":[]}";
      event("response.output_text.done",
            itemRef() + ",\"content_index\":0,\"text\":" + quoted(text_) + ",\"logprobs\":[]", out);
      event("response.content_part.done", itemRef() + ",\"content_index\":0,\"part\":" + part, out);
      item = "{\"id\":" + quoted(item_id_) +
             ",\"type\":\"message\",\"status\":" + quoted(responseStatus(finish_)) +
             ",\"role\":\"assistant\",\"content\":[" + part + "]}";
      break;
    }
    case Item::kFunction:
      event("response.function_call_arguments.done", itemRef() + ",\"arguments\":" + quoted(text_),
            out);
      item =
          "{\"id\":" + quoted(item_id_) +
          ",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":" + quoted(call_id_) +
          ",\"name\":" + quoted(name_) + ",\"arguments\":" + quoted(text_) + "}";
      break;
    case Item::kCustom: {
      const std::string input = customToolInput(text_);
      event("response.custom_tool_call_input.delta", itemRef() + ",\"delta\":" + quoted(input),
            out);
      event("response.custom_tool_call_input.done", itemRef() + ",\"input\":" + quoted(input), out);
      item = "{\"id\":" + quoted(item_id_) +
             ",\"type\":\"custom_tool_call\",\"status\":\"completed\",\"call_id\":" +
             quoted(call_id_) + ",\"name\":" + quoted(name_) + ",\"input\":" + quoted(input) + "}";
      break;
    }
  }
  event("response.output_item.done", index.substr(1) + ",\"item\":" + item, out);
  done_items_.push_back(std::move(item));
  item_ = Item::kNone;
}

void ChatSseToResponsesSse::onChunk(const json::value& root, std::string& out) {
  if (!started_) {
    const json::value* created = field(&root, "created");
    start(stringOf(field(&root, "id")), stringOf(field(&root, "model")),
          created != nullptr && created->is_int64() ? created->get_int64() : std::time(nullptr),
          out);
  }
  usage_.read(field(&root, "usage"));
  const json::value* choice = nullptr;
  if (!firstChoice(root, choice) || choice == nullptr) return;
  const json::value* d = field(choice, "delta");

  if (const std::string_view reasoning = reasoningOf(d); !reasoning.empty()) {
    if (item_ != Item::kReasoning) openItem(Item::kReasoning, {}, {}, out);
    text_ += reasoning;
    event("response.reasoning_text.delta",
          itemRef() + ",\"content_index\":0,\"delta\":" + quoted(reasoning), out);
  }
  if (const std::string_view text = stringOf(field(d, "content")); !text.empty()) {
    if (item_ != Item::kMessage) openItem(Item::kMessage, {}, {}, out);
    text_ += text;
    event("response.output_text.delta",
          itemRef() + ",\"content_index\":0,\"delta\":" + quoted(text) + ",\"logprobs\":[]", out);
  }
  if (const json::value* calls = field(d, "tool_calls"); calls != nullptr && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      const json::value* idx = field(&call, "index");
      const int64_t index = idx != nullptr && idx->is_int64() ? idx->get_int64() : tool_index_;
      const json::value* fn = field(&call, "function");
      const bool open = item_ == Item::kFunction || item_ == Item::kCustom;
      if (!open || index != tool_index_) {
        tool_index_ = index;
        const std::string_view name = stringOf(field(fn, "name"));
        openItem(info_.custom_tools.contains(name) ? Item::kCustom : Item::kFunction,
                 stringOf(field(&call, "id")), name, out);
      }
      const std::string_view args = stringOf(field(fn, "arguments"));
      if (args.empty()) continue;
      text_ += args;
      if (item_ == Item::kFunction)
        event("response.function_call_arguments.delta", itemRef() + ",\"delta\":" + quoted(args),
              out);
    }
  }
  if (const std::string_view finish = stringOf(field(choice, "finish_reason")); !finish.empty())
    finish_ = finish;
}

void ChatSseToResponsesSse::complete(std::string& out) {
  if (ended_) return;
  if (!started_) start({}, {}, std::time(nullptr), out);
  closeItem(out);
  const std::string usage = usage_.known ? responsesUsage(usage_.prompt, usage_.cached,
                                                          usage_.completion, usage_.reasoning)
                                         : std::string("null");
  const std::string_view status = responseStatus(finish_);
  event(status == "completed" ? "response.completed" : "response.incomplete",
        "\"response\":" +
            response(status, usage,
                     "\"error\":null,\"incomplete_details\":" + incompleteDetails(finish_)),
        out);
  ended_ = true;
}

void ChatSseToResponsesSse::finish(std::string& out) {
  if (ended_) return;
  if (!finish_.empty() && sse_.pending().empty()) {
    complete(out);
    return;
  }
  fail("the backend's stream ended before the answer was complete", out);
}

void ChatSseToResponsesSse::fail(std::string_view message, std::string& out) {
  if (ended_) return;
  if (!started_) start({}, {}, std::time(nullptr), out);
  ended_ = true;
  failed_ = true;
  sse_.clear();
  event("response.failed",
        "\"response\":" + response("failed", "null",
                                   "\"error\":{\"code\":\"server_error\",\"message\":" +
                                       quoted(message) + "},\"incomplete_details\":null"),
        out);
}

}  // namespace tollgate::providers::formats
