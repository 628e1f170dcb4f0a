#include "providers/messages_tokenize.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "providers/formats/anthropic_from_chat.h"
#include "providers/formats/chat_request_from_anthropic.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/usage.h"
#include "providers/over_chat.h"

namespace tollgate::providers {

namespace {

namespace json = boost::json;

class MessagesTokenize final : public Translator {
 public:
  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    json::monotonic_resource mr;
    auto v = parseBodyObject(client_body, &mr);
    if (!v) return v.error();
    auto chat = formats::chatRequestFromAnthropic(v->get_object());
    if (!chat) return chat.error();
    // /tokenize takes the chat request's prompt parts only; the generation parameters would
    // be refused or ignored.
    model_ = model_override.empty() ? req.model : model_override;
    json::object body{{"model", model_}, {"messages", std::move(chat->at("messages"))}};
    if (json::value* tools = chat->if_contains("tools")) body["tools"] = std::move(*tools);
    // The count a Messages request is charged includes the assistant turn's opening.
    body["add_generation_prompt"] = true;
    UpstreamRequest out;
    out.path = "/tokenize";  // vLLM serves it at the root, not under /v1
    out.body_unchanged = false;
    out.body = json::serialize(body);
    out.headers.emplace_back("content-type", "application/json");
    return out;
  }

  ResponseStart onResponseStart(
      int status, std::string_view /*content_type*/,
      const std::vector<std::pair<std::string, std::string>>& /*headers*/) override {
    status_ = status;
    return {false, "application/json", output()};
  }

  ResponseOutput onBody(std::string& body) override {
    if (status_ < 200 || status_ >= 300) {
      body = formats::anthropicErrorFromChat(body, status_);
      return output();
    }
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    const json::value* count = ec ? nullptr : formats::field(&v, "count");
    uint64_t n = 0;
    if (!formats::readTokenCount(count, n)) {
      replaceUnusableBody(
          body, api::renderAnthropicError(Error::upstream(
                    ErrorCode::kUpstreamBadResponse, "the backend's /tokenize answer has no count",
                    "tokenize body without count", false)));
      return output();
    }
    body = "{\"input_tokens\":" + std::to_string(n) + "}";
    return output();
  }

  ResponseOutput onChunk(std::string_view piece, bool /*end_of_stream*/,
                         std::string& out) override {
    out.append(piece);  // never a stream: onResponseStart says so
    return output();
  }

  ResponseOutput onFailure(const Error& /*err*/, std::string& /*out*/) override { return output(); }

 private:
  // Counting generates nothing: no tokens to charge (known, so that no estimate is charged).
  ResponseOutput output() const {
    api::TokenUsage none;
    none.known = true;
    return makeOutput(status_, none, model_, false);
  }

  int status_ = 0;
  std::string model_;
};

}  // namespace

std::unique_ptr<Translator> makeMessagesTokenize() { return std::make_unique<MessagesTokenize>(); }

}  // namespace tollgate::providers
