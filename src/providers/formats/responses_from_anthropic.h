// Anthropic Messages answers → OpenAI Responses answers, for the Responses pivot over the
// Messages translators: a message JSON becomes a response object, an Anthropic SSE stream the
// Responses event grammar (response.created … output_item.done for every item …
// response.completed), an Anthropic error a response.failed event or an OpenAI error body.
//
// Text blocks become `message` items, tool_use blocks `function_call` items (or
// `custom_tool_call` for the request's freeform tools), thinking blocks `reasoning` items whose
// encrypted_content carries the block back on the next request (encodeThinkingBlob).
// One writer per response; not thread-safe. Pure: the clock is the caller's (created_at).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::providers::formats {

struct ResponsesContext {
  std::string model;  // reported when the upstream names none
  int64_t created_at = 0;
  std::vector<std::string> custom_tools;  // see MessagesPivotRequest::custom_tools
};

// A 2xx Anthropic message body rewritten as a Responses object; false (body untouched) when it
// is not a message.
bool responsesFromAnthropicMessage(const ResponsesContext& ctx, std::string& body);

// An Anthropic error body ({"type":"error","error":{...}}, or anything else) as an OpenAI error
// body for the same status.
std::string openAIErrorFromAnthropic(std::string_view body, int status);

// Anthropic SSE events in, Responses SSE events out.
class ResponsesStreamWriter {
 public:
  explicit ResponsesStreamWriter(ResponsesContext ctx) : ctx_(std::move(ctx)) {}

  // One Anthropic event (its `event:` name and its data).
  void onEvent(std::string_view event, std::string_view data, std::string& out);
  // Ends the stream with response.failed (the upstream broke or sent an error event).
  void fail(std::string_view code, std::string_view message, std::string& out);
  // response.completed, response.incomplete or response.failed was written.
  bool finished() const { return finished_; }
  bool failed() const { return failed_; }

 private:
  struct Block {
    enum Kind { kSkip, kText, kThinking, kRedacted, kTool } kind = kSkip;
    int output_index = 0;
    std::string item_id, text, signature, call_id, name;
    bool custom = false;
  };

  void start(const boost::json::object& message, std::string& out);
  void blockStart(int64_t index, const boost::json::object& block, std::string& out);
  void blockDelta(int64_t index, const boost::json::object& delta, std::string& out);
  void blockStop(int64_t index, std::string& out);
  void complete(std::string& out);
  void emit(std::string_view type, boost::json::object fields, std::string& out);
  void emitDelta(std::string_view type, const Block& b, std::string_view index_key,
                 std::string_view delta, std::string& out);
  boost::json::object response(std::string_view status) const;
  Block* block(int64_t index);

  ResponsesContext ctx_;
  std::string id_base_;
  std::vector<Block> blocks_;  // by Anthropic content index
  boost::json::array output_;  // the items done so far
  std::string stop_reason_;
  uint64_t input_ = 0, cache_read_ = 0, cache_write_ = 0, output_tokens_ = 0;
  int64_t sequence_ = 0;
  int items_ = 0;  // output items opened
  bool started_ = false;
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace tollgate::providers::formats
