// OpenAI client API → OpenAI-compatible backend (vLLM, OpenAI): the body passes through byte for
// byte, except two splices at offsets the request scan found:
//  - modelNameOverride replaces the model string;
//  - a stream without stream_options.include_usage gets it switched on, so usage is always known;
//    the usage-only chunk this adds (and the "usage":null fields it adds to the other chunks) are
//    removed again, so the client receives exactly the stream it asked for.
#pragma once

#include <string>

#include "api/sse.h"
#include "providers/translator.h"

namespace tollgate::providers {

// The OpenAI error body that replaces a 2xx answer the client could not parse (not JSON), sent
// with a 502; shared by the OpenAI pass-through translators.
std::string unparsableSuccessError();

class OpenAIToOpenAITranslator final : public Translator {
 public:
  // version: the AIServiceBackend schema version; for OpenAI it is the path prefix ("v1" when
  // empty), as in Envoy AI Gateway.
  OpenAIToOpenAITranslator(api::ApiKind api, std::string version);

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
    return makeOutput(status_, usage_, response_model_, stream_failed_);
  }
  void onStreamEvent(const api::SseEvent& ev, std::string& out);
  void failStream(std::string_view why, std::string& out);

  api::ApiKind api_;
  std::string version_;
  bool stream_ = false;
  bool usage_injected_ = false;  // we asked for include_usage: strip what it adds
  int status_ = 0;
  bool event_stream_ = false;
  // Stream state: a chunk that is not JSON ends the relay with an error event; a stream that
  // ends with neither [DONE] nor a finish_reason gets one too.
  bool stream_failed_ = false;
  bool saw_done_ = false;
  bool saw_finish_ = false;
  api::SseParser sse_;
  api::TokenUsage usage_;
  std::string response_model_;
  std::string scratch_;
};

}  // namespace tollgate::providers
