#include "providers/anthropic_to_aws_anthropic.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/anthropic_to_aws_anthropic_stream.h"
#include "providers/transports/aws_bedrock.h"
#include "providers/transports/bedrock_translator.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

class AnthropicToAwsAnthropicTranslator final
    : public transports::BedrockTranslator<InvokeStreamToAnthropicSse> {
 public:
  AnthropicToAwsAnthropicTranslator(std::string version, std::string anthropic_beta)
      : version_(version.empty() ? "bedrock-2023-05-31" : std::move(version)),
        anthropic_beta_(std::move(anthropic_beta)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  ResponseOutput onBody(std::string& body) override;

 private:
  ResponseOutput output() const override {
    return makeOutput(status_, usage_, response_model_, event_stream_ && stream_->failed());
  }
  void startStream() override { stream_.emplace(); }
  // JSON bodies are already Anthropic messages: their content type passes.
  std::string jsonContentType(std::string_view upstream) const override {
    return upstream.empty() ? "application/json" : "";
  }
  void afterStream() override;
  void failStream(const Error& err, std::string& out) override { failUnlessEnded(err, out); }
  // JSON bodies are already Anthropic messages: they pass as they come.
  void onBodyPiece(std::string_view piece, bool /*end_of_stream*/, std::string& out) override {
    out.append(piece);
  }

  std::string version_;
  std::string anthropic_beta_;
  std::string request_model_;
  api::TokenUsage usage_;
  std::string response_model_;
};

Result<UpstreamRequest> AnthropicToAwsAnthropicTranslator::translateRequest(
    const api::ApiRequest& req, std::string_view client_body, const std::string& model_override) {
  boost::system::error_code ec;
  json::value v = json::parse(client_body, ec);
  if (ec || !v.is_object()) {
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
  }
  json::object& body = v.as_object();
  request_model_ = model_override.empty() ? req.model : model_override;
  body.erase("model");
  body.erase("stream");
  if (!body.contains("anthropic_version")) body["anthropic_version"] = version_;
  if (!anthropic_beta_.empty() && !body.contains("anthropic_beta")) {
    json::array betas;
    std::string_view rest = anthropic_beta_;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view one = rest.substr(0, comma);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      if (!one.empty()) betas.emplace_back(json::string(one));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    body["anthropic_beta"] = std::move(betas);
  }
  return transports::modelRequest(request_model_, req.stream, "/invoke",
                                  "/invoke-with-response-stream", json::serialize(v));
}

void AnthropicToAwsAnthropicTranslator::afterStream() {
  auto u = stream_->usage();
  usage_.known = u.known;
  usage_.input_tokens = u.input_tokens;
  usage_.output_tokens = u.output_tokens;
  usage_.cached_input_tokens = u.cached_input_tokens;
  usage_.total_tokens = u.input_tokens + u.output_tokens;
  if (!stream_->model().empty()) response_model_ = stream_->model();
}

ResponseOutput AnthropicToAwsAnthropicTranslator::onBody(std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (status_ >= 200 && status_ < 300) {
    if (ec || !v.is_object()) {
      // A success the Anthropic client cannot parse: an error in its shape, with a 502.
      replaceUnusableBody(
          body, api::renderAnthropicError(Error::upstream(
                    ErrorCode::kUpstreamBadResponse, "the upstream response is not valid JSON",
                    "Bedrock InvokeModel 2xx body is not a JSON object", false)));
      return output();
    }
    const auto& o = v.as_object();
    if (auto* m = o.if_contains("model"); m && m->is_string()) response_model_ = m->as_string();
    if (response_model_.empty()) response_model_ = request_model_;
    if (auto* u = o.if_contains("usage"); u && u->is_object()) {
      auto num = [&](const char* k) -> uint64_t {
        auto* x = u->as_object().if_contains(k);
        return x && x->is_int64() ? static_cast<uint64_t>(x->as_int64()) : 0;
      };
      const uint64_t cache_read = num("cache_read_input_tokens");
      const uint64_t cache_write = num("cache_creation_input_tokens");
      // Anthropic counts cached prompt tokens apart from input_tokens; the gateway's input
      // includes them (as OpenAI's prompt_tokens does).
      usage_.input_tokens = num("input_tokens") + cache_read + cache_write;
      usage_.cached_input_tokens = cache_read;
      usage_.output_tokens = num("output_tokens");
      usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
      usage_.known = true;
    }
    if (!usage_.known && headers_.input_tokens && headers_.output_tokens) {
      usage_.input_tokens = *headers_.input_tokens;
      usage_.output_tokens = *headers_.output_tokens;
      usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
      usage_.known = true;
    }
    return output();
  }
  // An AWS error ({"message": "..."} or {"Message": ...}): rewrite it in Anthropic's shape.
  std::string message;
  if (!ec && v.is_object()) {
    for (const char* k : {"message", "Message"})
      if (auto* m = v.as_object().if_contains(k); m && m->is_string()) message = m->as_string();
  }
  const Error err = transports::responseError(status_, headers_.error_type, message);
  body = api::renderAnthropicError(err, status_);
  return output();
}

}  // namespace

std::unique_ptr<Translator> makeAnthropicToAwsAnthropic(std::string version,
                                                        std::string anthropic_beta) {
  return std::make_unique<AnthropicToAwsAnthropicTranslator>(std::move(version),
                                                             std::move(anthropic_beta));
}

}  // namespace tollgate::providers
