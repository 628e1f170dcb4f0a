// The stream half of OpenAI chat completions → Bedrock Converse: the event-stream frames of
// ConverseStream (already split by EventStreamDecoder) become chat.completion.chunk SSE.
//
// Each converter belongs to one response stream (one request's coroutine); not thread-safe.
// Output is appended to the caller's `out`, so the caller owns and reuses the buffer. Pure: no
// networking, no clock. docs/aws-eventstream.md lists every mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/error.h"
#include "providers/formats/event_stream.h"
#include "providers/formats/openai_chunk_writer.h"
#include "providers/formats/stream_state.h"
#include "providers/formats/usage.h"

namespace tollgate::providers {

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
class ConverseStreamToOpenAISse final : public formats::StreamState {
 public:
  ConverseStreamToOpenAISse(std::string_view model, std::string_view id, int64_t created,
                            bool include_usage);

  void onMessage(const formats::Message& msg, std::string& out);
  // End of the upstream body: [DONE] when messageStop was seen (and not yet sent), else an error.
  void onEnd(std::string& out);
  void onStreamError(std::string_view detail, std::string& out);

  bool finished() const { return done_sent_; }
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
  std::string finish_reason_;
  // Bedrock contentBlockIndex -> OpenAI tool call index; -1 marks a server-side tool block.
  std::unordered_map<int64_t, int> tool_index_;
  int next_tool_index_ = 0;
  uint64_t total_tokens_ = 0;
};

}  // namespace tollgate::providers
