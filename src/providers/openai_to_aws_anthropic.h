// OpenAI chat completions client → Claude on AWS Bedrock InvokeModel (schema AWSAnthropic), so
// that OpenAI-SDK users reach Claude on Bedrock without changing their code.
//
// Request: the OpenAI body becomes an Anthropic Messages body for Bedrock
// (formats/anthropic_request_from_openai.h lists what is kept, dropped and refused); the model goes
// into the path, percent-encoded.
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

#include "providers/formats/anthropic_request_from_openai.h"
#include "providers/formats/event_stream.h"
#include "providers/openai_to_aws_anthropic_stream.h"
#include "providers/translator.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

class OpenAIToAwsAnthropicTranslator final : public Translator {
 public:
  // What Anthropic needs and OpenAI may leave out.
  static constexpr int64_t kDefaultMaxTokens = formats::kAnthropicDefaultMaxTokens;

  // version: the AIServiceBackend schema version (bedrock-2023-05-31 when empty).
  explicit OpenAIToAwsAnthropicTranslator(std::string version);

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override;
  ResponseOutput onBody(std::string& body) override;
  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override;
  ResponseOutput onFailure(const Error& err, std::string& out) override;

 private:
  ResponseOutput output() const {
    if (stream_) return makeOutput(status_, stream_->usage(), stream_->model(), stream_->failed());
    return makeOutput(status_, usage_, response_model_, false);
  }
  void convertBody(std::string& body);
  std::string version_;
  std::string request_model_;
  bool include_usage_ = false;
  int64_t created_ = 0;
  int status_ = 0;
  bool event_stream_ = false;
  transports::ResponseHeaders headers_;
  std::string body_;  // a non-stream body arriving through onChunk in pieces

  std::optional<formats::EventStreamDecoder> decoder_;
  std::optional<InvokeStreamToOpenAISse> stream_;
  std::string* stream_out_ = nullptr;  // where decoded frames write during one onChunk

  // Non-stream results; a stream's are its converter's.
  api::TokenUsage usage_;
  std::string response_model_;
};

}  // namespace tollgate::providers
