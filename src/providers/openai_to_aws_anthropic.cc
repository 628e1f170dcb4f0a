#include "providers/openai_to_aws_anthropic.h"

#include <boost/json.hpp>
#include <ctime>
#include <utility>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/formats/anthropic_request_from_openai.h"
#include "providers/formats/chat_from_anthropic.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"
#include "providers/openai_to_aws_anthropic_stream.h"
#include "providers/transports/aws_bedrock.h"
#include "providers/transports/bedrock_translator.h"

namespace tollgate::providers {

namespace json = boost::json;
using formats::field;
using formats::stringOf;

namespace {

class OpenAIToAwsAnthropicTranslator final
    : public transports::BedrockTranslator<InvokeStreamToOpenAISse> {
 public:
  explicit OpenAIToAwsAnthropicTranslator(std::string version)
      : version_(version.empty() ? "bedrock-2023-05-31" : std::move(version)),
        created_(static_cast<int64_t>(std::time(nullptr))) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  ResponseOutput onBody(std::string& body) override;

 private:
  ResponseOutput output() const override {
    if (stream_) return makeOutput(status_, stream_->usage(), stream_->model(), stream_->failed());
    return makeOutput(status_, usage_, response_model_, false);
  }
  void startStream() override { stream_.emplace(request_model_, created_, include_usage_); }
  void afterStream() override { stream_->updateUsage(); }
  void failStream(const Error& err, std::string& out) override { stream_->fail(err, out); }
  void convertBody(std::string& body);

  std::string version_;
  std::string request_model_;
  bool include_usage_ = false;
  int64_t created_ = 0;
  // Non-stream results; a stream's are its converter's.
  api::TokenUsage usage_;
  std::string response_model_;
};

Result<UpstreamRequest> OpenAIToAwsAnthropicTranslator::translateRequest(
    const api::ApiRequest& req, std::string_view client_body, const std::string& model_override) {
  boost::system::error_code ec;
  const json::value v = json::parse(client_body, ec);
  if (ec || !v.is_object())
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object", "");
  auto body = formats::anthropicRequestFromOpenAI(v.get_object(), version_);
  if (!body.ok()) return body.error();
  request_model_ = model_override.empty() ? req.model : model_override;
  include_usage_ = req.stream && req.include_usage;
  return transports::modelRequest(request_model_, req.stream, "/invoke",
                                  "/invoke-with-response-stream", json::serialize(*body));
}

// ---- non-stream ----

ResponseOutput OpenAIToAwsAnthropicTranslator::onBody(std::string& body) {
  convertBody(body);
  return output();
}

void OpenAIToAwsAnthropicTranslator::convertBody(std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const bool is_object = !ec && v.is_object();
  if (status_ < 200 || status_ >= 300) {
    const std::string message = is_object ? transports::awsErrorMessage(v) : std::string();
    const Error err = transports::responseError(status_, headers_.error_type, message);
    body = api::renderOpenAIError(err, status_);
    return;
  }
  response_model_ = request_model_;
  if (!is_object) {
    // The client asked for a chat completion: something it cannot parse as one must not pass as
    // one.
    replaceUnusableBody(
        body, api::renderOpenAIError(Error::upstream(
                  ErrorCode::kUpstreamBadResponse, "the upstream response could not be read",
                  "Bedrock InvokeModel body is not JSON", false)));
    return;
  }
  if (std::string_view m = stringOf(field(&v, "model")); !m.empty()) response_model_ = m;

  usage_ = formats::usageFromAnthropic(field(&v, "usage"));
  if (!usage_.known && (headers_.input_tokens || headers_.output_tokens)) {
    // Bedrock's own count, for a body that carried none.
    usage_.input_tokens = headers_.input_tokens.value_or(0);
    usage_.output_tokens = headers_.output_tokens.value_or(0);
    usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
    usage_.known = true;
  }
  body = json::serialize(formats::chatCompletionFromAnthropic(v, request_model_, created_, usage_));
}

}  // namespace

std::unique_ptr<Translator> makeOpenAIToAwsAnthropic(std::string version) {
  return std::make_unique<OpenAIToAwsAnthropicTranslator>(std::move(version));
}

}  // namespace tollgate::providers
