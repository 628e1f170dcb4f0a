#include "providers/formats/responses_from_anthropic.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/errors.h"
#include "common/error.h"
#include "common/strings.h"
#include "providers/formats/anthropic_request_from_responses.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  return stringOf(o.if_contains(key));
}

uint64_t count(const json::object& o, std::string_view key) {
  uint64_t n = 0;
  return readTokenCount(o.if_contains(key), n) ? n : 0;
}

bool isCustom(const ResponsesContext& ctx, std::string_view name) {
  return std::find(ctx.custom_tools.begin(), ctx.custom_tools.end(), name) !=
         ctx.custom_tools.end();
}

// The part of a message id after "msg_", which the items' ids share.
std::string idBase(std::string_view message_id) {
  if (message_id.starts_with("msg_")) message_id.remove_prefix(4);
  return message_id.empty() ? std::string("0") : std::string(message_id);
}

json::object outputText(std::string_view text) {
  return json::object{{"type", "output_text"},
                      {"text", text},
                      {"annotations", json::array{}},
                      {"logprobs", json::array{}}};
}

json::object messageItem(std::string_view id, std::string_view status, json::array content) {
  return json::object{{"id", id},
                      {"type", "message"},
                      {"status", status},
                      {"role", "assistant"},
                      {"content", std::move(content)}};
}

json::object summaryText(std::string_view text) {
  return json::object{{"type", "summary_text"}, {"text", text}};
}

json::object reasoningItem(std::string_view id, std::string_view thinking,
                           std::string_view signature, std::string_view redacted) {
  json::array summary;
  if (!thinking.empty()) summary.push_back(summaryText(thinking));
  return json::object{{"id", id},
                      {"type", "reasoning"},
                      {"summary", std::move(summary)},
                      {"encrypted_content", encodeThinkingBlob(thinking, signature, redacted)}};
}

// A function_call (arguments: the input as JSON text) or a custom_tool_call (input: the string
// the freeform tool's `input` property holds).
json::object toolItem(std::string_view call_id, std::string_view name, bool custom,
                      std::string_view status, std::string_view payload) {
  json::object item{{"id", std::string(custom ? "ctc_" : "fc_") + std::string(call_id)},
                    {"type", custom ? "custom_tool_call" : "function_call"},
                    {"status", status},
                    {"name", name},
                    {"call_id", call_id}};
  item[custom ? "input" : "arguments"] = payload;
  return item;
}

// The string a freeform tool's JSON input carries (`{"input": "..."}`).
std::string customInput(const json::value* input) {
  return std::string(stringOf(field(input, "input")));
}

json::object usageObject(uint64_t input, uint64_t cache_read, uint64_t cache_write,
                         uint64_t output) {
  // Anthropic counts cached prompt tokens apart; Responses' input_tokens includes them.
  const uint64_t in = input + cache_read + cache_write;
  return json::object{{"input_tokens", in},
                      {"input_tokens_details", json::object{{"cached_tokens", cache_read}}},
                      {"output_tokens", output},
                      {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
                      {"total_tokens", in + output}};
}

json::object responseObject(const ResponsesContext& ctx, std::string_view id_base,
                            std::string_view status, json::array output, json::value usage) {
  json::object r{{"id", "resp_" + std::string(id_base)},
                 {"object", "response"},
                 {"created_at", ctx.created_at},
                 {"status", status},
                 {"model", ctx.model},
                 {"output", std::move(output)},
                 {"usage", std::move(usage)},
                 {"error", nullptr},
                 {"incomplete_details", nullptr},
                 {"instructions", nullptr},
                 {"previous_response_id", nullptr},
                 {"store", false},
                 {"metadata", json::object{}}};
  if (status == "incomplete")
    r["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
  return r;
}

// Anthropic's stop reason as a Responses status: a cut answer is "incomplete".
std::string_view statusFor(std::string_view stop_reason) {
  return stop_reason == "max_tokens" ? "incomplete" : "completed";
}

}  // namespace

bool responsesFromAnthropicMessage(const ResponsesContext& ctx_in, std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  const json::object* msg = ec ? nullptr : v.if_object();
  const json::value* content = msg ? msg->if_contains("content") : nullptr;
  if (!content || !content->is_array()) return false;
  ResponsesContext ctx = ctx_in;
  if (!str(*msg, "model").empty()) ctx.model = str(*msg, "model");
  const std::string base = idBase(str(*msg, "id"));
  const std::string_view status = statusFor(str(*msg, "stop_reason"));
  json::array output;
  size_t i = 0;
  for (const json::value& b : content->get_array()) {
    const json::object* o = b.if_object();
    const std::string index = base + "_" + std::to_string(i++);
    const std::string_view type = o ? str(*o, "type") : std::string_view();
    if (type == "text") {
      output.push_back(
          messageItem("msg_" + index, status, json::array{outputText(str(*o, "text"))}));
    } else if (type == "thinking") {
      output.push_back(reasoningItem("rs_" + index, str(*o, "thinking"), str(*o, "signature"), {}));
    } else if (type == "redacted_thinking") {
      output.push_back(reasoningItem("rs_" + index, {}, {}, str(*o, "data")));
    } else if (type == "tool_use") {
      const std::string_view name = str(*o, "name");
      const bool custom = isCustom(ctx, name);
      const json::value* input = o->if_contains("input");
      const std::string payload =
          custom ? customInput(input) : (input ? json::serialize(*input) : std::string("{}"));
      output.push_back(toolItem(str(*o, "id"), name, custom, "completed", payload));
    }
    // server_tool_use and the results of server tools: the request offered none.
  }
  json::value usage = nullptr;
  if (const json::value* u = msg->if_contains("usage"); u && u->is_object()) {
    const json::object& uo = u->get_object();
    usage = usageObject(count(uo, "input_tokens"), count(uo, "cache_read_input_tokens"),
                        count(uo, "cache_creation_input_tokens"), count(uo, "output_tokens"));
  }
  body = json::serialize(responseObject(ctx, base, status, std::move(output), std::move(usage)));
  return true;
}

std::string openAIErrorFromAnthropic(std::string_view body, int status) {
  json::value v = parseObject(body, {});
  std::string_view message = stringOf(field(field(&v, "error"), "message"));
  if (message.empty()) message = stringOf(field(&v, "message"));  // an AWS error
  if (message.empty()) message = "the upstream answered with an error";
  // The type follows the status (as for every relayed error); the code is the upstream's own
  // error type when it named one (overloaded_error, ThrottlingException, ...).
  json::value out = json::parse(api::renderOpenAIError(
      Error::upstream(ErrorCode::kUpstreamBadResponse, std::string(message), {}, false), status));
  const std::string_view kind = stringOf(field(field(&v, "error"), "type"));
  out.as_object()["error"].as_object()["code"] =
      kind.empty() ? json::value(nullptr) : json::value(kind);
  return json::serialize(out);
}

void ResponsesStreamWriter::emit(std::string_view type, json::object fields, std::string& out) {
  json::object ev;
  ev.reserve(fields.size() + 2);
  ev["type"] = type;
  ev["sequence_number"] = sequence_++;
  for (auto& kv : fields) ev[kv.key()] = std::move(kv.value());
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += json::serialize(ev);
  out += "\n\n";
}

// The delta events (one per token of the answer): written directly, the same JSON emit gives.
void ResponsesStreamWriter::emitDelta(std::string_view type, const Block& b,
                                      std::string_view index_key, std::string_view delta,
                                      std::string& out) {
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += "\",\"sequence_number\":";
  out += std::to_string(sequence_++);
  out += ",\"item_id\":";
  appendJsonString(out, b.item_id);
  out += ",\"output_index\":";
  out += std::to_string(b.output_index);
  if (!index_key.empty()) {
    out += ",\"";
    out += index_key;
    out += "\":0";
  }
  out += ",\"delta\":";
  appendJsonString(out, delta);
  if (b.kind == Block::kText) out += ",\"logprobs\":[]";
  out += "}\n\n";
}

json::object ResponsesStreamWriter::response(std::string_view status) const {
  json::value usage = nullptr;
  if (status != "in_progress")
    usage = usageObject(input_, cache_read_, cache_write_, output_tokens_);
  return responseObject(ctx_, id_base_, status, status == "in_progress" ? json::array{} : output_,
                        std::move(usage));
}

ResponsesStreamWriter::Block* ResponsesStreamWriter::block(int64_t index) {
  if (index < 0 || static_cast<size_t>(index) >= blocks_.size()) return nullptr;
  return &blocks_[index];
}

void ResponsesStreamWriter::start(const json::object& message, std::string& out) {
  if (started_) return;
  started_ = true;
  id_base_ = idBase(str(message, "id"));
  if (!str(message, "model").empty()) ctx_.model = str(message, "model");
  if (const json::value* u = message.if_contains("usage"); u && u->is_object()) {
    input_ = count(u->get_object(), "input_tokens");
    cache_read_ = count(u->get_object(), "cache_read_input_tokens");
    cache_write_ = count(u->get_object(), "cache_creation_input_tokens");
    output_tokens_ = count(u->get_object(), "output_tokens");
  }
  emit("response.created", {{"response", response("in_progress")}}, out);
  emit("response.in_progress", {{"response", response("in_progress")}}, out);
}

void ResponsesStreamWriter::blockStart(int64_t index, const json::object& cb, std::string& out) {
  if (index < 0 || index > 4096) return;  // Anthropic numbers blocks from 0, one by one
  if (blocks_.size() <= static_cast<size_t>(index)) blocks_.resize(index + 1);
  Block& b = blocks_[index];
  const std::string_view type = str(cb, "type");
  const std::string key = id_base_ + "_" + std::to_string(index);
  json::object item;
  if (type == "text") {
    b.kind = Block::kText;
    b.item_id = "msg_" + key;
    item = messageItem(b.item_id, "in_progress", {});
  } else if (type == "thinking" || type == "redacted_thinking") {
    b.kind = type == "thinking" ? Block::kThinking : Block::kRedacted;
    b.item_id = "rs_" + key;
    b.text = type == "thinking" ? str(cb, "thinking") : str(cb, "data");
    b.signature = str(cb, "signature");
    item = json::object{{"id", b.item_id}, {"type", "reasoning"}, {"summary", json::array{}}};
  } else if (type == "tool_use") {
    b.kind = Block::kTool;
    b.call_id = str(cb, "id");
    b.name = str(cb, "name");
    b.custom = isCustom(ctx_, b.name);
    b.item_id = std::string(b.custom ? "ctc_" : "fc_") + b.call_id;
    item = toolItem(b.call_id, b.name, b.custom, "in_progress", "");
  } else {
    return;  // server tools and their results: not the client's
  }
  // Items are numbered in the order they open.
  b.output_index = items_++;
  emit("response.output_item.added", {{"output_index", b.output_index}, {"item", std::move(item)}},
       out);
  if (b.kind == Block::kText) {
    emit("response.content_part.added",
         {{"item_id", b.item_id},
          {"output_index", b.output_index},
          {"content_index", 0},
          {"part", outputText("")}},
         out);
  }
}

void ResponsesStreamWriter::blockDelta(int64_t index, const json::object& delta, std::string& out) {
  Block* b = block(index);
  if (!b || b->kind == Block::kSkip) return;
  const std::string_view type = str(delta, "type");
  if (type == "text_delta" && b->kind == Block::kText) {
    const std::string_view text = str(delta, "text");
    b->text += text;
    emitDelta("response.output_text.delta", *b, "content_index", text, out);
  } else if (type == "thinking_delta" && b->kind == Block::kThinking) {
    const std::string_view text = str(delta, "thinking");
    if (b->text.empty() && !text.empty()) {
      emit("response.reasoning_summary_part.added",
           {{"item_id", b->item_id},
            {"output_index", b->output_index},
            {"summary_index", 0},
            {"part", summaryText("")}},
           out);
    }
    b->text += text;
    emitDelta("response.reasoning_summary_text.delta", *b, "summary_index", text, out);
  } else if (type == "signature_delta") {
    b->signature += str(delta, "signature");
  } else if (type == "input_json_delta" && b->kind == Block::kTool) {
    const std::string_view part = str(delta, "partial_json");
    b->text += part;
    // A freeform tool's string is sent whole at the end, once its JSON wrapper is complete.
    if (!b->custom && !part.empty())
      emitDelta("response.function_call_arguments.delta", *b, {}, part, out);
  }
}

void ResponsesStreamWriter::blockStop(int64_t index, std::string& out) {
  Block* b = block(index);
  if (!b || b->kind == Block::kSkip) return;
  const json::object where{{"item_id", b->item_id}, {"output_index", b->output_index}};
  json::object item;
  if (b->kind == Block::kText) {
    json::object done = where;
    done["content_index"] = 0;
    done["text"] = b->text;
    done["logprobs"] = json::array{};
    emit("response.output_text.done", done, out);
    done.erase("text");
    done.erase("logprobs");
    done["part"] = outputText(b->text);
    emit("response.content_part.done", std::move(done), out);
    item = messageItem(b->item_id, statusFor(stop_reason_), json::array{outputText(b->text)});
  } else if (b->kind == Block::kThinking || b->kind == Block::kRedacted) {
    const bool redacted = b->kind == Block::kRedacted;
    if (!redacted && !b->text.empty()) {
      json::object done = where;
      done["summary_index"] = 0;
      done["text"] = b->text;
      emit("response.reasoning_summary_text.done", done, out);
      done.erase("text");
      done["part"] = summaryText(b->text);
      emit("response.reasoning_summary_part.done", std::move(done), out);
    }
    item =
        reasoningItem(b->item_id, redacted ? "" : b->text, b->signature, redacted ? b->text : "");
  } else {
    std::string payload = b->text.empty() ? std::string("{}") : b->text;
    json::object done = where;
    if (b->custom) {
      const json::value input = parseObject(payload, {});
      payload = customInput(&input);
      done["delta"] = payload;
      emit("response.custom_tool_call_input.delta", done, out);
      done.erase("delta");
      done["input"] = payload;
      emit("response.custom_tool_call_input.done", std::move(done), out);
    } else {
      done["arguments"] = payload;
      emit("response.function_call_arguments.done", std::move(done), out);
    }
    item = toolItem(b->call_id, b->name, b->custom, "completed", payload);
  }
  b->kind = Block::kSkip;  // done: a second stop (or late delta) changes nothing
  output_.push_back(item);
  emit("response.output_item.done", {{"output_index", b->output_index}, {"item", std::move(item)}},
       out);
}

void ResponsesStreamWriter::complete(std::string& out) {
  // A block the upstream never closed still becomes an item: Codex builds the turn from them.
  for (size_t i = 0; i < blocks_.size(); ++i) blockStop(static_cast<int64_t>(i), out);
  const std::string_view status = statusFor(stop_reason_);
  finished_ = true;
  emit(status == "incomplete" ? "response.incomplete" : "response.completed",
       {{"response", response(status)}}, out);
}

void ResponsesStreamWriter::fail(std::string_view code, std::string_view message,
                                 std::string& out) {
  if (finished_) return;
  if (!started_) start(json::object{}, out);
  finished_ = failed_ = true;
  json::object r = response("failed");
  r["error"] = json::object{{"code", code}, {"message", message}};
  emit("response.failed", {{"response", std::move(r)}}, out);
}

void ResponsesStreamWriter::onEvent(std::string_view event, std::string_view data,
                                    std::string& out) {
  if (finished_) return;
  // Most events are deltas of a few hundred bytes: parsed without touching the heap.
  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::value v = parseObject(data, &mr);
  const json::object* o = v.if_object();
  if (!o) return;  // not JSON: nothing a client could use
  std::string_view type = event.empty() ? str(*o, "type") : event;
  const json::value* index_v = o->if_contains("index");
  const int64_t index = index_v && index_v->is_int64() ? index_v->get_int64() : -1;
  if (type == "message_start") {
    const json::value* m = o->if_contains("message");
    start(m && m->is_object() ? m->get_object() : json::object{}, out);
    return;
  }
  if (type == "error") {
    const std::string_view kind = stringOf(field(o->if_contains("error"), "type"));
    const std::string_view message = stringOf(field(o->if_contains("error"), "message"));
    fail(kind == "rate_limit_error" ? "rate_limit_exceeded" : "server_error",
         message.empty() ? "the upstream stream failed" : message, out);
    return;
  }
  if (!started_) start(json::object{}, out);
  if (type == "content_block_start") {
    if (const json::value* cb = o->if_contains("content_block"); cb && cb->is_object())
      blockStart(index, cb->get_object(), out);
  } else if (type == "content_block_delta") {
    if (const json::value* d = o->if_contains("delta"); d && d->is_object())
      blockDelta(index, d->get_object(), out);
  } else if (type == "content_block_stop") {
    blockStop(index, out);
  } else if (type == "message_delta") {
    if (const std::string_view reason = stringOf(field(o->if_contains("delta"), "stop_reason"));
        !reason.empty())
      stop_reason_ = reason;
    if (const json::value* u = o->if_contains("usage"); u && u->is_object()) {
      const json::object& uo = u->get_object();
      // Cumulative counts: the last event's win; input counts appear here on some backends.
      if (uo.contains("output_tokens")) output_tokens_ = count(uo, "output_tokens");
      if (uo.contains("input_tokens")) input_ = count(uo, "input_tokens");
      if (uo.contains("cache_read_input_tokens"))
        cache_read_ = count(uo, "cache_read_input_tokens");
      if (uo.contains("cache_creation_input_tokens"))
        cache_write_ = count(uo, "cache_creation_input_tokens");
    }
  } else if (type == "message_stop") {
    complete(out);
  }
}

}  // namespace tollgate::providers::formats
