// The stream half of OpenAI chat completions → Claude on Bedrock InvokeModel: the event-stream
// frames of InvokeModelWithResponseStream (each `chunk` a base64 Anthropic event, already split
// by EventStreamDecoder) become chat.completion.chunk SSE ending in `data: [DONE]`. Errors become
// a `data: {"error":...}` event that ends the stream (no [DONE]), as ConverseStreamToOpenAISse
// does.
//
// One converter per response stream (one request's coroutine); not thread-safe. Output is
// appended to the caller's `out`. Pure: no networking, no clock.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/usage.h"
#include "common/error.h"
#include "providers/formats/event_stream.h"
#include "providers/formats/openai_chunk_writer.h"

namespace tollgate::providers {

class InvokeStreamToOpenAISse {
 public:
  // request_model: the model the chunks name; created: their `created` time.
  InvokeStreamToOpenAISse(std::string request_model, int64_t created, bool include_usage);

  // One decoded event-stream frame.
  void onMessage(const formats::Message& msg, std::string& out);
  // One Anthropic stream event (the JSON object a frame's chunk carries, or an SSE event's data
  // from Anthropic's own API).
  void onAnthropicEvent(const boost::json::value& ev, std::string& out);
  // End of the upstream body: [DONE] when the answer is whole, else an error event.
  void onEnd(std::string& out);
  // The stream could not be read (decoder error, cut frame): an error event, then nothing.
  void onStreamError(std::string_view detail, std::string& out);
  // Ends the stream with `err` as an OpenAI error event (nothing when it already ended).
  void fail(const Error& err, std::string& out);
  // Recomputes usage() from the counts seen so far.
  void updateUsage();

  // [DONE] sent, or the stream failed: nothing more goes to the client.
  bool done() const { return done_; }
  bool failed() const { return failed_; }
  // Still taking input: neither [DONE] nor an error sent.
  bool open() const { return !done_; }
  const api::TokenUsage& usage() const { return usage_; }
  // message_start.message.model, when seen.
  const std::string& model() const { return response_model_; }

 private:
  void ensurePrefix(std::string_view message_id);
  void beginChunk(std::string& out);
  void endChunk(std::string_view finish_reason, std::string& out);
  void ensureRole(std::string& out);
  void sendFinish(std::string& out);
  void sendUsageAndDone(std::string& out);

  std::string request_model_;
  bool include_usage_ = false;
  int64_t created_ = 0;
  std::string decoded_;  // reused base64 scratch
  formats::ChunkWriter chunks_;
  bool finish_sent_ = false;
  bool done_ = false;
  bool failed_ = false;
  std::string stop_reason_;
  // Anthropic content block index → OpenAI tool call index, -1 for blocks the client does not
  // get as tool calls (server-side tools and their results).
  std::unordered_map<int64_t, int> tool_index_;
  struct ToolState {
    bool arguments_sent = false;
    std::string start_input;  // the input of content_block_start, sent if no delta comes
  };
  std::unordered_map<int, ToolState> tools_;
  int next_tool_index_ = 0;
  uint64_t input_uncached_ = 0, cache_read_ = 0, cache_write_ = 0, output_ = 0;
  bool usage_seen_ = false;
  bool output_from_events_ = false;  // message_delta gave the output count (beats Bedrock's)
  bool usage_final_ = false;         // no later event will change the counts

  api::TokenUsage usage_;
  std::string response_model_;
};

}  // namespace tollgate::providers
