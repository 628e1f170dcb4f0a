#include "providers/openai_to_aws_bedrock.h"

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <utility>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/formats/converse_request_from_openai.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"
#include "providers/openai_to_aws_bedrock_stream.h"
#include "providers/transports/aws_bedrock.h"
#include "providers/transports/bedrock_translator.h"

namespace tollgate::providers {

namespace json = boost::json;
using formats::field;
using formats::stringOf;

namespace {

bool isNull(const json::value* v) { return v == nullptr || v->is_null(); }

class OpenAIToAwsBedrockTranslator final
    : public transports::BedrockTranslator<ConverseStreamToOpenAISse> {
 public:
  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override;
  ResponseOutput onBody(std::string& body) override;

 private:
  // The model is the one sent upstream: Converse does not echo one.
  ResponseOutput output() const override {
    return makeOutput(status_, usage_, request_model_, stream_ && stream_->failed());
  }
  void onFrame(const formats::Message& msg, std::string& out) override;
  void startStream() override {
    stream_.emplace(request_model_, "chatcmpl-" + randomHexId(),
                    static_cast<int64_t>(std::time(nullptr)), include_usage_);
  }
  void afterStream() override;
  void failStream(const Error& err, std::string& out) override { failUnlessEnded(err, out); }
  void convertBody(std::string& body);

  std::string request_model_;  // the model id sent to Bedrock (Converse does not echo one)
  bool include_usage_ = false;
  uint64_t stream_total_tokens_ = 0;  // metadata.usage.totalTokens, the converter keeps it private
  api::TokenUsage usage_;
};

Result<UpstreamRequest> OpenAIToAwsBedrockTranslator::translateRequest(
    const api::ApiRequest& req, std::string_view client_body, const std::string& model_override) {
  boost::system::error_code ec;
  const json::value v = json::parse(client_body, ec);
  if (ec || !v.is_object()) {
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
  }
  const json::object& body = v.as_object();
  request_model_ = model_override.empty() ? req.model : model_override;
  include_usage_ = req.include_usage;

  auto converse = formats::converseRequestFromOpenAI(body);
  if (!converse) return converse.error();

  return transports::modelRequest(request_model_, req.stream, "/converse", "/converse-stream",
                                  json::serialize(*converse));
}

void OpenAIToAwsBedrockTranslator::onFrame(const formats::Message& msg, std::string& out) {
  // The converter renders total_tokens from metadata but does not expose it; the metering must
  // charge the same total the client is shown.
  if (msg.header(":event-type") == "metadata") {
    boost::system::error_code ec;
    const json::value v = json::parse(msg.payload, ec);
    if (!ec)
      formats::readTokenCount(field(field(&v, "usage"), "totalTokens"), stream_total_tokens_);
  }
  stream_->onMessage(msg, out);
}

void OpenAIToAwsBedrockTranslator::afterStream() {
  const formats::Usage u = stream_->usage();
  usage_.known = u.known;
  usage_.input_tokens = u.input_tokens;
  usage_.output_tokens = u.output_tokens;
  usage_.cached_input_tokens = u.cached_input_tokens;
  usage_.total_tokens =
      u.known ? std::max(stream_total_tokens_, u.input_tokens + u.output_tokens) : 0;
}

ResponseOutput OpenAIToAwsBedrockTranslator::onBody(std::string& body) {
  convertBody(body);
  return output();
}

void OpenAIToAwsBedrockTranslator::convertBody(std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (status_ < 200 || status_ >= 300) {
    // An AWS error ({"message": "..."} or {"Message": ...}): rewrite it in OpenAI's shape.
    std::string message;
    if (!ec && v.is_object()) {
      for (const char* k : {"message", "Message"}) {
        if (std::string_view m = stringOf(field(&v, k)); !m.empty()) message = std::string(m);
      }
    }
    const Error err = transports::responseError(status_, headers_.error_type, message);
    body = api::renderOpenAIError(err, status_);
    return;
  }
  const json::value* content = field(field(field(&v, "output"), "message"), "content");
  if (ec || content == nullptr || !content->is_array()) {
    // The client expects a chat.completion; a Converse body it cannot read is no use to it.
    replaceUnusableBody(
        body, api::renderOpenAIError(Error::upstream(
                  ErrorCode::kUpstreamBadResponse, "malformed response from the upstream provider",
                  "Converse response without output.message", false)));
    return;
  }

  std::string text, reasoning;
  bool has_text = false;
  json::array tool_calls;
  for (const json::value& block : content->get_array()) {
    if (const json::value* t = field(&block, "text"); t != nullptr && t->is_string()) {
      text += t->get_string();
      has_text = true;
    } else if (const json::value* r = field(&block, "reasoningContent"); r != nullptr) {
      // Only readable reasoning, as in the stream; signatures and redacted blocks are dropped.
      reasoning += stringOf(field(field(r, "reasoningText"), "text"));
    } else if (const json::value* use = field(&block, "toolUse"); use != nullptr) {
      if (stringOf(field(use, "type")) == "server_tool_use") continue;  // ran inside Bedrock
      const json::value* input = field(use, "input");
      json::object call;
      call["id"] = stringOf(field(use, "toolUseId"));
      call["type"] = "function";
      call["function"] =
          json::object{{"name", stringOf(field(use, "name"))},
                       {"arguments", isNull(input) ? std::string("{}") : json::serialize(*input)}};
      tool_calls.emplace_back(std::move(call));
    }
    // toolResult (server-side tools) and other blocks are not the client's.
  }

  const std::string_view stop = stringOf(field(&v, "stopReason"));
  const std::string_view finish =
      stop == "tool_use" && tool_calls.empty() ? "stop" : formats::finishReasonForStopReason(stop);

  json::object message;
  message["role"] = "assistant";
  message["content"] = has_text ? json::value(text) : json::value(nullptr);
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);

  json::object choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish;

  json::object out;
  out["id"] = "chatcmpl-" + randomHexId();
  out["object"] = "chat.completion";
  out["created"] = static_cast<int64_t>(std::time(nullptr));
  out["model"] = request_model_;
  out["choices"] = json::array{std::move(choice)};

  if (const json::value* u = field(&v, "usage"); u != nullptr) {
    formats::Usage parsed;
    uint64_t total = 0;
    if (formats::readConverseUsage(*u, parsed, total)) {
      usage_.input_tokens = parsed.input_tokens;
      usage_.output_tokens = parsed.output_tokens;
      usage_.cached_input_tokens = parsed.cached_input_tokens;
      usage_.total_tokens = total;
      usage_.known = true;
      json::object usage;
      usage["prompt_tokens"] = usage_.input_tokens;
      usage["completion_tokens"] = usage_.output_tokens;
      usage["total_tokens"] = usage_.total_tokens;
      usage["prompt_tokens_details"] = json::object{{"cached_tokens", usage_.cached_input_tokens}};
      out["usage"] = std::move(usage);
    }
  }
  body = json::serialize(out);
}

}  // namespace

std::unique_ptr<Translator> makeOpenAIToAwsBedrock() {
  return std::make_unique<OpenAIToAwsBedrockTranslator>();
}

}  // namespace tollgate::providers
