#include "providers/chat_over_messages.h"

#include <boost/json.hpp>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "api/errors.h"
#include "api/sse.h"
#include "providers/formats/anthropic_request_from_openai.h"
#include "providers/formats/chat_from_anthropic.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/responses_from_anthropic.h"
#include "providers/openai_to_aws_anthropic_stream.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

// Anthropic's API versions its request format with this header (Bedrock with a body field); the
// mapping was written against it.
constexpr std::string_view kAnthropicVersion = "2023-06-01";

class ChatOverMessages final : public Translator {
 public:
  explicit ChatOverMessages(std::unique_ptr<Translator> inner)
      : inner_(std::move(inner)), created_(static_cast<int64_t>(std::time(nullptr))) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    boost::system::error_code ec;
    const json::value v = json::parse(client_body, ec);
    if (ec || !v.is_object())
      return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object", "");
    auto body = formats::anthropicRequestFromOpenAI(v.get_object(), std::string(kAnthropicVersion));
    if (!body.ok()) return body.error();
    model_ = model_override.empty() ? req.model : model_override;
    include_usage_ = req.stream && req.include_usage;
    json::object& messages = *body;
    messages.erase("anthropic_version");  // a header on Anthropic's own API
    // Betas a chat client asks for through extra_body go where Anthropic's API reads them.
    std::string betas;
    if (const json::value* b = messages.if_contains("anthropic_beta"); b && b->is_array()) {
      for (const json::value& beta : b->get_array()) {
        if (!beta.is_string()) continue;
        if (!betas.empty()) betas += ',';
        betas += beta.get_string();
      }
    }
    messages.erase("anthropic_beta");
    messages["model"] = model_;
    if (req.stream) messages["stream"] = true;
    pivot_body_ = json::serialize(messages);

    auto parsed = api::parseRequest(api::ApiKind::kAnthropicMessages, pivot_body_);
    if (!parsed) return parsed.error();
    // The model is in the pivot body already: no override for the inner to splice.
    auto up = inner_->translateRequest(*parsed, pivot_body_, std::string());
    if (!up) return up;
    up->body = std::move(pivot_body_);
    up->body_unchanged = false;
    // The client's query belongs to the chat API, not to the Messages request built here.
    up->forward_client_query = false;
    up->headers.emplace_back("anthropic-version", kAnthropicVersion);
    if (!betas.empty()) up->headers.emplace_back("anthropic-beta", std::move(betas));
    return up;
  }

  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    ResponseStart s = inner_->onResponseStart(status, content_type, headers);
    status_ = status;
    if (s.stream) stream_.emplace(model_, created_, include_usage_);
    s.content_type = s.stream ? "text/event-stream" : "application/json";
    return s;
  }

  ResponseOutput onBody(std::string& body) override {
    const ResponseOutput o = inner_->onBody(body);
    if (o.status < 200 || o.status >= 300) {
      body = formats::openAIErrorFromAnthropic(body, o.status);
      return makeOutput(o.status, o.usage, o.model, o.failed);
    }
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object() || !v.get_object().contains("content")) {
      replaceUnusableBody(body, api::renderOpenAIError(Error::upstream(
                                    ErrorCode::kUpstreamBadResponse,
                                    "the upstream response is not an Anthropic message",
                                    "2xx body without a content array", false)));
      return makeOutput(o.status, o.usage, o.model, o.failed);
    }
    const api::TokenUsage usage = formats::usageFromAnthropic(formats::field(&v, "usage"));
    body = json::serialize(formats::chatCompletionFromAnthropic(v, model_, created_, usage));
    return makeOutput(o.status, usage, o.model, o.failed);
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = inner_->onChunk(piece, end_of_stream, scratch_);
    relay(out);
    if (end_of_stream && stream_) stream_->onEnd(out);
    return streamOutput(o);
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = inner_->onFailure(err, scratch_);
    if (stream_) {
      relay(out);
      stream_->fail(err, out);
      return streamOutput(o);
    }
    out += api::renderOpenAIError(err);
    return makeOutput(o.status, o.usage, o.model, true);
  }

 private:
  // The inner's Anthropic SSE events, as chat chunks. An event that is no JSON object is not
  // Anthropic's: the stream fails rather than pass for a complete answer.
  void relay(std::string& out) {
    if (!stream_) return;
    sse_.feed(scratch_, [&](const api::SseEvent& ev) {
      if (ev.data.empty()) return;
      boost::system::error_code ec;
      const json::value event = json::parse(ev.data, ec);
      if (ec || !event.is_object()) {
        stream_->fail(Error::upstream(ErrorCode::kUpstreamBadResponse,
                                      "the upstream stream could not be read",
                                      "Anthropic stream event that is not a JSON object", false),
                      out);
        return;
      }
      stream_->onAnthropicEvent(event, out);
    });
  }

  ResponseOutput streamOutput(const ResponseOutput& inner) {
    stream_->updateUsage();
    const std::string_view model = stream_->model().empty() ? inner.model : stream_->model();
    return makeOutput(status_, stream_->usage(), model, inner.failed || stream_->failed());
  }

  std::unique_ptr<Translator> inner_;
  int64_t created_ = 0;
  std::string model_;
  bool include_usage_ = false;
  int status_ = 0;
  std::string pivot_body_;
  std::string scratch_;  // the inner's output for one call
  api::SseParser sse_;
  std::optional<InvokeStreamToOpenAISse> stream_;
};

}  // namespace

std::unique_ptr<Translator> makeChatOverMessages(std::unique_ptr<Translator> inner) {
  return std::make_unique<ChatOverMessages>(std::move(inner));
}

}  // namespace tollgate::providers
