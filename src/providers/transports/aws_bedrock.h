// Pure conversions of Bedrock's two streaming responses (already split into event-stream messages
// by EventStreamDecoder) into what the client's API streams: no networking, no clock.
// docs/aws-eventstream.md lists every mapping.
//
// Each converter belongs to one response stream (one request's coroutine); not thread-safe.
// Output is appended to the caller's `out`, so the caller owns and reuses the buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/error.h"
#include "providers/formats/event_stream.h"
#include "providers/formats/openai_chunk_writer.h"

namespace boost::json {
class value;
}

namespace tollgate::providers::transports {

// Token usage read from a Bedrock stream. input_tokens counts every prompt token, cached ones
// included (Anthropic and Bedrock report the cached parts separately; they are added here);
// cached_input_tokens is the part read from the prompt cache.
struct Usage {
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t cached_input_tokens = 0;
  bool known = false;  // false: the stream carried no usage (charge an estimate instead)
};

// A token count from JSON: non-negative integers (or doubles); absent, null, negative or a double
// past uint64's range reads as unset (false). Shared by every Bedrock translator.
bool readTokenCount(const boost::json::value* v, uint64_t& out);
// A Converse `usage` object (inputTokens excludes cache reads and writes; the result's
// input_tokens includes them, as OpenAI's prompt_tokens does). `total` is the larger of
// totalTokens and input + output. False when it has neither input nor output tokens.
bool readConverseUsage(const boost::json::value& usage, Usage& out, uint64_t& total);
// A Bedrock model id (":" in ids, "/" in ARNs) as one path segment: every byte outside RFC 3986's
// unreserved set percent-encoded ("...-v1:0" → "...-v1%3A0").
std::string encodeModelId(std::string_view model);

// The gateway error for a Bedrock exception (`:exception-type`, or the x-amzn-errortype of a
// non-stream response, with or without its ":..." suffix) and its message. Messages of
// authorization failures stay in `detail`: they name the gateway's own IAM identity.
Error bedrockExceptionToError(std::string_view exception_type, std::string_view message);

// OpenAI finish_reason for a Converse stopReason (unknown reasons map to "stop").
std::string_view finishReasonForStopReason(std::string_view stop_reason);

// InvokeModelWithResponseStream of an Anthropic model -> Anthropic Messages SSE.
//
// Each `chunk` event carries {"bytes":"<base64 of one Anthropic event JSON>","p":"<padding>"}.
// The decoded JSON is forwarded byte for byte as `event: <type>\ndata: <json>\n\n`, including the
// `amazon-bedrock-invocationMetrics` object Bedrock adds to message_stop (clients ignore unknown
// fields, and forwarding saves a re-serialisation). Exception frames become an Anthropic `error`
// event and end the stream.
class InvokeStreamToAnthropicSse {
 public:
  void onMessage(const formats::Message& msg, std::string& out);
  // End of the upstream body: an error event when it stopped before message_stop.
  void onEnd(std::string& out);
  // The stream could not be read (decoder error, connection lost): an error event, then nothing.
  void onStreamError(std::string_view detail, std::string& out);

  Usage usage() const { return usage_; }
  bool failed() const { return failed_; }
  // message_stop was seen: the client has the whole answer.
  bool finished() const { return finished_; }
  const Error& error() const { return error_; }
  // message_start.message.model, when seen.
  const std::string& model() const { return model_; }

 private:
  void fail(Error err, std::string& out);

  Usage usage_;
  uint64_t input_uncached_ = 0, cache_read_ = 0, cache_write_ = 0;
  bool output_from_events_ = false;
  std::string model_;
  std::string decoded_;  // reused base64 scratch
  Error error_;
  bool failed_ = false;
  bool finished_ = false;
};

// ConverseStream -> OpenAI chat.completion.chunk SSE.
//
// Emits: a role chunk first; content deltas; reasoning deltas as `reasoning_content`; tool calls
// as tool_calls deltas (index counts client tool calls from 0; the first delta of each carries id,
// type and function.name); on messageStop a chunk with finish_reason; with include_usage a chunk
// with `choices: []` and usage; then `data: [DONE]`. Bedrock may send metadata before or after
// messageStop; the usage chunk and [DONE] follow once both arrived (or at onEnd).
// Server-side tools (toolUse of type server_tool_use, toolResult blocks) ran inside Bedrock and
// are not the client's to call: they are not forwarded. Exception frames become an OpenAI-shaped
// `data: {"error":{...}}` event and end the stream (no [DONE]).
class ConverseStreamToOpenAISse {
 public:
  ConverseStreamToOpenAISse(std::string_view model, std::string_view id, int64_t created,
                            bool include_usage);

  void onMessage(const formats::Message& msg, std::string& out);
  // End of the upstream body: [DONE] when messageStop was seen (and not yet sent), else an error.
  void onEnd(std::string& out);
  void onStreamError(std::string_view detail, std::string& out);

  Usage usage() const { return usage_; }
  bool failed() const { return failed_; }
  bool finished() const { return done_sent_; }
  const Error& error() const { return error_; }
  // The finish_reason sent (empty before messageStop).
  const std::string& finishReason() const { return finish_reason_; }

 private:
  void fail(Error err, std::string& out);
  void beginChunk(std::string& out);
  void endChunk(std::string_view finish_reason, std::string& out);
  void ensureRole(std::string& out);
  void finishIfComplete(std::string& out);

  formats::ChunkWriter chunks_;
  bool include_usage_;
  bool stop_seen_ = false;
  bool metadata_seen_ = false;
  bool done_sent_ = false;
  bool failed_ = false;
  std::string finish_reason_;
  // Bedrock contentBlockIndex -> OpenAI tool call index; -1 marks a server-side tool block.
  std::unordered_map<int64_t, int> tool_index_;
  int next_tool_index_ = 0;
  Usage usage_;
  uint64_t total_tokens_ = 0;
  Error error_;
};

}  // namespace tollgate::providers::transports
