#include "providers/count_tokens_aws_anthropic.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "common/base64.h"
#include "providers/count_tokens_passthrough.h"
#include "providers/count_tokens_request.h"
#include "providers/formats/json_fields.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

// InvokeModel requires max_tokens (and above a thinking budget); CountTokens validates the body
// the same way, though nothing is generated. The value never changes the count.
void ensureMaxTokens(json::object& body) {
  if (body.contains("max_tokens")) return;
  int64_t budget = 0;
  if (const json::value* b = formats::field(body.if_contains("thinking"), "budget_tokens");
      b && b->is_int64())
    budget = b->get_int64();
  body["max_tokens"] = std::max<int64_t>(1, budget + 1);
}

class CountTokensOnBedrock final : public Translator {
 public:
  explicit CountTokensOnBedrock(std::unique_ptr<Translator> inner) : inner_(std::move(inner)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    model_ = model_override.empty() ? req.model : model_override;
    const std::string foundation = bedrockFoundationModel(model_);
    auto up = countRequestVia(*inner_, req, client_body,
                              foundation == model_ ? model_override : foundation, "/invoke",
                              "/count-tokens");
    if (!up) return up;
    boost::system::error_code ec;
    json::value invoke_body = json::parse(up->body, ec);
    if (ec || !invoke_body.is_object())
      return Error::internal("the InvokeModel body built for a count is not a JSON object");
    ensureMaxTokens(invoke_body.get_object());
    std::string encoded;
    base64Encode(json::serialize(invoke_body), encoded);
    json::object wrapped;
    wrapped["input"] = json::object{{"invokeModel", json::object{{"body", encoded}}}};
    up->body = json::serialize(wrapped);
    up->body_unchanged = false;
    return up;
  }

  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    status_ = status;
    content_type_ = content_type;
    headers_ = headers;
    return {false, "application/json", output()};
  }

  ResponseOutput onBody(std::string& body) override {
    if (status_ < 200 || status_ >= 300) {
      // Bedrock's error body and x-amzn-errortype: the Messages translator already rewrites
      // them into Anthropic's error shape.
      inner_->onResponseStart(status_, content_type_, headers_);
      inner_->onBody(body);
      return output();
    }
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    const json::value* n = ec ? nullptr : formats::field(&v, "inputTokens");
    if (n != nullptr && n->is_int64() && n->get_int64() >= 0) {
      body = countAnswerBody(api::ApiKind::kAnthropicCountTokens,
                             static_cast<uint64_t>(n->get_int64()));
      return output();
    }
    replaceUnusableBody(body,
                        api::renderAnthropicError(Error::upstream(
                            ErrorCode::kUpstreamBadResponse, "the upstream answered no token count",
                            "Bedrock CountTokens 2xx body without inputTokens", false)));
    return output();
  }

  ResponseOutput onChunk(std::string_view piece, bool /*end_of_stream*/,
                         std::string& out) override {
    out.append(piece);
    return output();
  }

  ResponseOutput onFailure(const Error& /*err*/, std::string& /*out*/) override { return output(); }

 private:
  // No usage: counting consumes no tokens.
  ResponseOutput output() const { return makeOutput(status_, {}, model_, false); }

  std::unique_ptr<Translator> inner_;
  int status_ = 0;
  std::string content_type_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string model_;
};

}  // namespace

std::string bedrockFoundationModel(std::string_view model) {
  constexpr std::string_view kVendor = "anthropic.";
  const size_t p = model.find(kVendor);
  if (p == std::string_view::npos || p < 2 || model[p - 1] != '.') return std::string(model);
  for (char c : model.substr(0, p - 1)) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return std::string(model);
  }
  return std::string(model.substr(p));
}

std::unique_ptr<Translator> makeCountTokensOnBedrock(api::ApiKind /*client_api*/,
                                                     const config::AIServiceBackend& backend,
                                                     std::string_view anthropic_beta) {
  auto inner =
      createTranslator(api::ApiKind::kAnthropicMessages, backend.schema, backend, anthropic_beta);
  if (!inner) return nullptr;
  return std::make_unique<CountTokensOnBedrock>(std::move(inner));
}

}  // namespace tollgate::providers
