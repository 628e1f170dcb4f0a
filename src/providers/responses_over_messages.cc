#include "providers/responses_over_messages.h"

#include <ctime>

#include "api/errors.h"
#include "api/sse.h"
#include "providers/formats/anthropic_request_from_responses.h"
#include "providers/formats/responses_from_anthropic.h"

namespace tollgate::providers {

namespace {

class ResponsesOverMessages final : public Translator {
 public:
  ResponsesOverMessages(std::unique_ptr<Translator> inner, config::Schema schema)
      : inner_(std::move(inner)), schema_(schema), writer_({}) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    auto pivot = formats::anthropicRequestFromResponses(
        client_body, model_override.empty() ? std::string_view(req.model) : model_override);
    if (!pivot) return pivot.error();
    auto parsed = api::parseRequest(api::ApiKind::kAnthropicMessages, pivot->body);
    if (!parsed) return parsed.error();
    ctx_.model = model_override.empty() ? req.model : model_override;
    ctx_.created_at = static_cast<int64_t>(std::time(nullptr));
    ctx_.custom_tools = std::move(pivot->custom_tools);
    pivot_body_ = std::move(pivot->body);
    auto up = inner_->translateRequest(*parsed, pivot_body_, model_override);
    if (!up) return up;
    if (up->body_unchanged) {  // the inner sends the pivot body as it is: that is the body now
      up->body = std::move(pivot_body_);
      up->body_unchanged = false;
    }
    // The client's query belongs to the Responses API, not to the Messages request built here.
    up->forward_client_query = false;
    if (schema_ == config::Schema::kAnthropic)
      up->headers.emplace_back("anthropic-version", "2023-06-01");
    return up;
  }

  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    ResponseStart s = inner_->onResponseStart(status, content_type, headers);
    stream_ = s.stream;
    s.content_type = stream_ ? "text/event-stream" : "application/json";
    writer_ = formats::ResponsesStreamWriter(ctx_);
    return s;
  }

  ResponseOutput onBody(std::string& body) override {
    const ResponseOutput o = inner_->onBody(body);
    if (o.status < 200 || o.status >= 300) {
      body = formats::openAIErrorFromAnthropic(body, o.status);
    } else if (!formats::responsesFromAnthropicMessage(ctx_, body)) {
      replaceUnusableBody(body, api::renderOpenAIError(Error::upstream(
                                    ErrorCode::kUpstreamBadResponse,
                                    "the upstream response is not an Anthropic message",
                                    "2xx body without a content array", false)));
    }
    return makeOutput(o.status, o.usage, o.model, o.failed);
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = inner_->onChunk(piece, end_of_stream, scratch_);
    relay(out);
    // The inner ends a cut stream with an error event; this covers any other early end.
    if (end_of_stream)
      writer_.fail("server_error", "the upstream stream ended before the response was complete",
                   out);
    return makeOutput(o.status, o.usage, o.model, o.failed || writer_.failed());
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = inner_->onFailure(err, scratch_);
    if (stream_) {
      relay(out);
      writer_.fail("server_error", err.public_message, out);
    } else {
      out += api::renderOpenAIError(err);
    }
    return makeOutput(o.status, o.usage, o.model, true);
  }

 private:
  // The inner's Anthropic events, as Responses events.
  void relay(std::string& out) {
    sse_.feed(scratch_, [&](const api::SseEvent& ev) { writer_.onEvent(ev.event, ev.data, out); });
  }

  std::unique_ptr<Translator> inner_;
  config::Schema schema_;
  formats::ResponsesContext ctx_;
  formats::ResponsesStreamWriter writer_;
  std::string pivot_body_;
  std::string scratch_;  // the inner's output for one call
  api::SseParser sse_;
  bool stream_ = false;
};

}  // namespace

std::unique_ptr<Translator> makeResponsesOverMessages(std::unique_ptr<Translator> inner,
                                                      config::Schema schema) {
  return std::make_unique<ResponsesOverMessages>(std::move(inner), schema);
}

}  // namespace tollgate::providers
