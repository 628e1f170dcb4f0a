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
  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override;
  ResponseOutput onBody(std::string& body) override;
  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override;
  ResponseOutput onFailure(const Error& err, std::string& out) override;

 private:
  // The model is the one sent upstream: Converse does not echo one.
  ResponseOutput output() const {
    return makeOutput(status_, usage_, request_model_, stream_ && stream_->failed());
  }
  void convertBody(std::string& body);
  void onStreamMessage(const formats::Message& msg);
  void copyStreamUsage();

  std::string request_model_;  // the model id sent to Bedrock (Converse does not echo one)
  bool include_usage_ = false;
  int status_ = 0;
  bool event_stream_ = false;
  transports::ResponseHeaders headers_;
  std::optional<formats::EventStreamDecoder> decoder_;
  std::optional<ConverseStreamToOpenAISse> stream_;
  std::string* stream_out_ = nullptr;  // where decoded events go during one onChunk call
  uint64_t stream_total_tokens_ = 0;   // metadata.usage.totalTokens, the converter keeps it private
  std::string pending_body_;           // a non-stream body that arrived through onChunk
  api::TokenUsage usage_;
};

}  // namespace tollgate::providers
