#include "providers/count_tokens_passthrough.h"

#include <boost/json.hpp>

#include "api/errors.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

class CountTokensPassThrough final : public Translator {
 public:
  CountTokensPassThrough(api::ApiKind client_api, std::unique_ptr<Translator> inner)
      : client_api_(client_api), inner_(std::move(inner)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    model_ = model_override.empty() ? req.model : model_override;
    if (client_api_ == api::ApiKind::kAnthropicCountTokens)
      return countRequestVia(*inner_, req, client_body, model_override, "/messages",
                             "/messages/count_tokens");
    return countRequestVia(*inner_, req, client_body, model_override, "/chat/completions",
                           "/responses/input_tokens");
  }

  ResponseStart onResponseStart(
      int status, std::string_view /*content_type*/,
      const std::vector<std::pair<std::string, std::string>>& /*headers*/) override {
    status_ = status;
    return {false, {}, output()};
  }

  ResponseOutput onBody(std::string& body) override {
    if (status_ < 200 || status_ >= 300 || carriesCount(body)) return output();
    // A success without a count is no answer the client can use: an error in its shape, 502.
    const Error err =
        Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream answered no token count",
                        "count 2xx body without an integer input_tokens", false);
    replaceUnusableBody(body, client_api_ == api::ApiKind::kAnthropicCountTokens
                                  ? api::renderAnthropicError(err)
                                  : api::renderOpenAIError(err));
    return output();
  }

  ResponseOutput onChunk(std::string_view piece, bool /*end_of_stream*/,
                         std::string& out) override {
    out.append(piece);  // never asked for a stream; whatever comes is relayed as it is
    return output();
  }

  ResponseOutput onFailure(const Error& /*err*/, std::string& /*out*/) override { return output(); }

 private:
  // No usage: counting consumes no tokens, so nothing is metered or charged as if it had.
  ResponseOutput output() const { return makeOutput(status_, {}, model_, false); }

  static bool carriesCount(std::string_view body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return false;
    const json::value* n = v.get_object().if_contains("input_tokens");
    return n != nullptr && ((n->is_int64() && n->get_int64() >= 0) || n->is_uint64());
  }

  api::ApiKind client_api_;
  std::unique_ptr<Translator> inner_;
  int status_ = 0;
  std::string model_;
};

}  // namespace

Result<UpstreamRequest> countRequestVia(Translator& inner, const api::ApiRequest& req,
                                        std::string_view client_body,
                                        const std::string& model_override, std::string_view from,
                                        std::string_view to) {
  api::ApiRequest generation = req;
  generation.stream = false;
  generation.include_usage = false;
  auto up = inner.translateRequest(generation, client_body, model_override);
  if (!up) return up;
  if (!up->path.ends_with(from)) {
    return Error::internal("count request path '" + up->path + "' does not end with '" +
                           std::string(from) + "'");
  }
  up->path.replace(up->path.size() - from.size(), from.size(), to);
  return up;
}

std::unique_ptr<Translator> makeCountTokensPassThrough(api::ApiKind client_api,
                                                       const config::AIServiceBackend& backend,
                                                       std::string_view anthropic_beta) {
  const api::ApiKind generation = client_api == api::ApiKind::kAnthropicCountTokens
                                      ? api::ApiKind::kAnthropicMessages
                                      : api::ApiKind::kChatCompletions;
  auto inner = createTranslator(generation, backend.schema, backend, anthropic_beta);
  if (!inner) return nullptr;
  return std::make_unique<CountTokensPassThrough>(client_api, std::move(inner));
}

}  // namespace tollgate::providers
