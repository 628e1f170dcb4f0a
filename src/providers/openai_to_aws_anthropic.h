// OpenAI chat completions client → Claude on AWS Bedrock InvokeModel (schema AWSAnthropic), so
// that OpenAI-SDK users reach Claude on Bedrock without changing their code.
//
// Request: the OpenAI body becomes an Anthropic Messages body for Bedrock (`anthropic_version`,
// no `model`/`stream`, `max_tokens` always set because Anthropic requires it); the model goes into
// the path, percent-encoded. OpenAI fields Anthropic has no equivalent for (penalties, seed,
// logprobs, logit_bias, ...) are dropped, since Anthropic rejects unknown keys; requests the model
// could only answer differently from what the client asked (n > 1, response_format json_*, legacy
// `functions`) are refused with a 400 rather than silently answered otherwise. The Anthropic
// fields `top_k`, `thinking` and `anthropic_beta` (OpenAI SDKs send them through `extra_body`)
// pass through.
// Response: an Anthropic message becomes a chat.completion; a Bedrock event stream of Anthropic
// events becomes chat.completion.chunk SSE ending in `data: [DONE]`; Bedrock errors become OpenAI
// error bodies (non-stream) or a `data: {"error":...}` event that ends the stream (no [DONE]), as
// the ConverseStream translator does.
//
// One object per request attempt, owned by that request's coroutine; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "providers/formats/event_stream.h"
#include "providers/formats/openai_chunk_writer.h"
#include "providers/translator.h"

namespace tollgate::providers {

class OpenAIToAwsAnthropicTranslator final : public Translator {
 public:
  // What Anthropic needs and OpenAI may leave out.
  static constexpr int64_t kDefaultMaxTokens = 4096;

  // version: the AIServiceBackend schema version (bedrock-2023-05-31 when empty).
  explicit OpenAIToAwsAnthropicTranslator(std::string version);

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  void onResponseHeaders(const std::vector<std::pair<std::string, std::string>>& headers) override;
  void onResponseHead(int status, std::string_view content_type) override;
  bool streamsResponse(std::string_view content_type) const override;
  void onResponseBody(std::string_view piece, bool end_of_stream, std::string& out) override;
  void onFullBody(std::string& body) override;
  void onStreamFailure(const Error& err, std::string& out) override;
  bool streamFailed() const override { return failed_; }
  const api::TokenUsage& usage() const override { return usage_; }
  const std::string& responseModel() const override { return response_model_; }
  std::string clientContentType(std::string_view upstream_content_type) const override;

 private:
  // Stream side: one decoded event-stream frame.
  void onFrame(const formats::Message& msg, std::string& out);
  void fail(const Error& err, std::string& out);
  void ensurePrefix(std::string_view message_id);
  void beginChunk(std::string& out);
  void endChunk(std::string_view finish_reason, std::string& out);
  void ensureRole(std::string& out);
  void sendFinish(std::string& out);
  void sendUsageAndDone(std::string& out);
  void endOfStream(std::string& out);
  void updateUsage();

  std::string version_;
  std::string request_model_;
  bool include_usage_ = false;
  int64_t created_ = 0;
  int status_ = 0;
  bool event_stream_ = false;
  std::string error_type_;  // x-amzn-errortype, e.g. "ThrottlingException:http://..."
  std::optional<uint64_t> header_input_tokens_, header_output_tokens_;  // X-Amzn-Bedrock-*-Count
  std::string body_;  // a non-stream body arriving through onResponseBody in pieces

  std::optional<formats::EventStreamDecoder> decoder_;
  std::string* stream_out_ = nullptr;  // where decoded frames write during one onResponseBody
  std::string decoded_;                // reused base64 scratch
  formats::ChunkWriter chunks_;
  bool finish_sent_ = false;
  bool done_ = false;  // [DONE] sent, or the stream failed: nothing more goes to the client
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
