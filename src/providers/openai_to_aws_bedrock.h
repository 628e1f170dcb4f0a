// OpenAI chat completions client → AWS Bedrock Converse API (schema AWSBedrock).
//
// Request: the OpenAI body becomes a Converse body (formats/converse_request_from_openai.h lists
// the mapping); path /model/{model id, percent-encoded}/converse, or /converse-stream when
// `stream`; the route's modelNameOverride replaces the client's model.
//
// Response: a Converse JSON body becomes a chat.completion (text blocks joined without separator,
// as the stream concatenates them; reasoning as message.reasoning_content; server-side tool blocks
// dropped); an event stream becomes chat.completion.chunk SSE through ConverseStreamToOpenAISse.
// Bedrock errors (non-2xx, x-amzn-errortype) become OpenAI error bodies.
// Usage: prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens (Bedrock
// counts the cached parts apart), cached_tokens = cacheReadInputTokens, total_tokens = Bedrock's
// totalTokens or prompt + completion when that is larger: the same numbers for JSON and stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "providers/formats/event_stream.h"
#include "providers/openai_to_aws_bedrock_stream.h"
#include "providers/translator.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

class OpenAIToAwsBedrockTranslator final : public Translator {
 public:
  OpenAIToAwsBedrockTranslator() = default;

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  void onResponseHeaders(const std::vector<std::pair<std::string, std::string>>& headers) override;
  void onResponseHead(int status, std::string_view content_type) override;
  bool streamsResponse(std::string_view content_type) const override;
  void onResponseBody(std::string_view piece, bool end_of_stream, std::string& out) override;
  void onFullBody(std::string& body) override;
  void onStreamFailure(const Error& err, std::string& out) override;
  bool streamFailed() const override { return stream_ && stream_->failed(); }
  const api::TokenUsage& usage() const override { return usage_; }
  const std::string& responseModel() const override { return request_model_; }
  std::string clientContentType(std::string_view upstream_content_type) const override;

 private:
  void onStreamMessage(const formats::Message& msg);
  void copyStreamUsage();

  std::string request_model_;  // the model id sent to Bedrock (Converse does not echo one)
  bool include_usage_ = false;
  int status_ = 0;
  bool event_stream_ = false;
  transports::ResponseHeaders headers_;
  std::optional<formats::EventStreamDecoder> decoder_;
  std::optional<ConverseStreamToOpenAISse> stream_;
  std::string* stream_out_ = nullptr;  // where decoded events go during one onResponseBody call
  uint64_t stream_total_tokens_ = 0;   // metadata.usage.totalTokens, the converter keeps it private
  std::string pending_body_;           // a non-stream body that arrived through onResponseBody
  api::TokenUsage usage_;
};

}  // namespace tollgate::providers
