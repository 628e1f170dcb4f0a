// Anthropic Messages client → Anthropic API (schema Anthropic, e.g. api.anthropic.com): the body
// passes through byte for byte to /v1/messages (the model rewritten only for modelNameOverride);
// the AnthropicAPIKey policy adds x-api-key; usage is read from the JSON body or from the stream's
// message_start and last message_delta events.
#pragma once

#include <string>

#include "api/sse.h"
#include "providers/translator.h"

namespace tollgate::providers {

class AnthropicToAnthropicTranslator final : public Translator {
 public:
  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override;
  ResponseOutput onBody(std::string& body) override;
  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override;
  ResponseOutput onFailure(const Error& err, std::string& out) override;

 private:
  ResponseOutput output() const { return makeOutput(status_, usage_, response_model_, failed_); }
  bool readUsage(std::string_view event_json);
  void appendError(const Error& err, std::string& out);

  int status_ = 0;
  bool event_stream_ = false;
  bool saw_stop_ = false;  // message_stop seen: the stream is complete
  bool failed_ = false;    // an error event was sent (ours or the upstream's)
  api::SseParser sse_;
  api::TokenUsage usage_;
  std::string response_model_;
};

}  // namespace tollgate::providers
