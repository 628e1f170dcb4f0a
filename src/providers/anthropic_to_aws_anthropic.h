// Anthropic Messages client → AWS Bedrock InvokeModel (schema AWSAnthropic).
//
// Request: `model` and `stream` leave the body (the model goes into the path, percent-encoded;
// `stream` picks /invoke or /invoke-with-response-stream), `anthropic_version` is set from the
// schema version unless the client sent one, the `anthropic-beta` header becomes the body's
// `anthropic_beta` array; everything else (system, tools, thinking, cache_control, unknown
// fields) passes unchanged.
// Response: JSON bodies are already Anthropic messages (usage read from them); streams arrive as
// AWS event-stream frames and leave as Anthropic SSE; Bedrock errors become Anthropic errors.
#pragma once

#include <optional>
#include <string>

#include "providers/anthropic_to_aws_anthropic_stream.h"
#include "providers/formats/event_stream.h"
#include "providers/translator.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

class AnthropicToAwsAnthropicTranslator final : public Translator {
 public:
  // version: the AIServiceBackend schema version (bedrock-2023-05-31 when empty);
  // anthropic_beta: the client's anthropic-beta header, empty when absent.
  AnthropicToAwsAnthropicTranslator(std::string version, std::string anthropic_beta);

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
    return makeOutput(status_, usage_, response_model_, event_stream_ && stream_.failed());
  }
  void copyUsage();

  std::string version_;
  std::string anthropic_beta_;
  std::string request_model_;
  int status_ = 0;
  bool event_stream_ = false;
  transports::ResponseHeaders headers_;
  std::optional<formats::EventStreamDecoder> decoder_;
  InvokeStreamToAnthropicSse stream_;
  std::string* stream_out_ = nullptr;  // where decoded events go during one onChunk call
  api::TokenUsage usage_;
  std::string response_model_;
};

}  // namespace tollgate::providers
