// The stream half of Anthropic Messages → Claude on Bedrock InvokeModel: the event-stream frames
// of InvokeModelWithResponseStream (already split by EventStreamDecoder) become Anthropic SSE.
//
// Each converter belongs to one response stream (one request's coroutine); not thread-safe.
// Output is appended to the caller's `out`, so the caller owns and reuses the buffer. Pure: no
// networking, no clock. docs/aws-eventstream.md lists every mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "providers/formats/event_stream.h"
#include "providers/formats/stream_state.h"
#include "providers/formats/usage.h"

namespace tollgate::providers {

// InvokeModelWithResponseStream of an Anthropic model -> Anthropic Messages SSE.
//
// Each `chunk` event carries {"bytes":"<base64 of one Anthropic event JSON>","p":"<padding>"}.
// The decoded JSON is forwarded byte for byte as `event: <type>\ndata: <json>\n\n`, including the
// `amazon-bedrock-invocationMetrics` object Bedrock adds to message_stop (clients ignore unknown
// fields, and forwarding saves a re-serialisation). Exception frames become an Anthropic `error`
// event and end the stream.
class InvokeStreamToAnthropicSse final : public formats::StreamState {
 public:
  void onMessage(const formats::Message& msg, std::string& out);
  // End of the upstream body: an error event when it stopped before message_stop.
  void onEnd(std::string& out);
  // The stream could not be read (decoder error, connection lost): an error event, then nothing.
  void onStreamError(std::string_view detail, std::string& out);

  // message_stop was seen: the client has the whole answer.
  bool finished() const { return finished_; }
  // message_start.message.model, when seen.
  const std::string& model() const { return model_; }

 private:
  void fail(Error err, std::string& out);

  uint64_t input_uncached_ = 0, cache_read_ = 0, cache_write_ = 0;
  bool output_from_events_ = false;
  std::string model_;
  std::string decoded_;  // reused base64 scratch
  bool finished_ = false;
};

}  // namespace tollgate::providers
