#include "providers/openai_to_azure_openai.h"

#include <utility>

#include "common/percent_encoding.h"

namespace tollgate::providers {

namespace {

std::string_view endpointOf(api::ApiKind api) {
  switch (api) {
    case api::ApiKind::kChatCompletions:
      return "chat/completions";
    case api::ApiKind::kCompletions:
      return "completions";
    case api::ApiKind::kEmbeddings:
      return "embeddings";
    case api::ApiKind::kResponses:
      return "responses";
    default:
      return "";
  }
}

// Everything but the path is the OpenAI pass-through's.
class OpenAIToAzureOpenAI final : public Translator {
 public:
  OpenAIToAzureOpenAI(std::unique_ptr<Translator> openai, std::string version)
      : openai_(std::move(openai)), version_(std::move(version)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    auto up = openai_->translateRequest(req, client_body, model_override);
    if (!up) return up;
    up->path =
        azureOpenAIPath(req.kind, model_override.empty() ? req.model : model_override, version_);
    return up;
  }
  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    return openai_->onResponseStart(status, content_type, headers);
  }
  ResponseOutput onBody(std::string& body) override { return openai_->onBody(body); }
  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    return openai_->onChunk(piece, end_of_stream, out);
  }
  ResponseOutput onFailure(const Error& err, std::string& out) override {
    return openai_->onFailure(err, out);
  }

 private:
  std::unique_ptr<Translator> openai_;
  std::string version_;
};

}  // namespace

std::string azureOpenAIPath(api::ApiKind api, std::string_view model, std::string_view version) {
  const std::string_view endpoint = endpointOf(api);
  std::string path;
  if (version.empty() || version == "v1") {
    path = "/openai/v1/";
    path += endpoint;
    return path;
  }
  if (api == api::ApiKind::kResponses) {
    path = "/openai/responses";
  } else {
    path = "/openai/deployments/";
    path += percentEncodeSegment(model);
    path += '/';
    path += endpoint;
  }
  path += "?api-version=";
  path += percentEncodeSegment(version);
  return path;
}

std::unique_ptr<Translator> makeOpenAIToAzureOpenAI(std::unique_ptr<Translator> openai,
                                                    std::string version) {
  return std::make_unique<OpenAIToAzureOpenAI>(std::move(openai), std::move(version));
}

}  // namespace tollgate::providers
