#include "providers/messages_over_chat.h"

#include <boost/json.hpp>
#include <utility>

#include "api/errors.h"
#include "providers/formats/anthropic_from_chat.h"
#include "providers/formats/anthropic_from_chat_stream.h"
#include "providers/formats/chat_request_from_anthropic.h"

namespace tollgate::providers {

namespace {

namespace json = boost::json;

class MessagesOverChat final : public Translator {
 public:
  explicit MessagesOverChat(std::unique_ptr<Translator> chat) : chat_(std::move(chat)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& /*req*/,
                                           std::string_view client_body,
                                           const std::string& model_override) override {
    boost::system::error_code ec;
    const json::value v = json::parse(client_body, ec);
    if (ec || !v.is_object()) {
      return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
    }
    auto chat = formats::chatRequestFromAnthropic(v.get_object());
    if (!chat) return chat.error();
    std::string chat_body = json::serialize(*chat);
    auto chat_req = api::parseRequest(api::ApiKind::kChatCompletions, chat_body);
    if (!chat_req) return chat_req.error();
    auto up = chat_->translateRequest(*chat_req, chat_body, model_override);
    if (!up) return up;
    // "Unchanged" means the chat body here, not the client's Messages body.
    if (up->body_unchanged) {
      up->body = std::move(chat_body);
      up->body_unchanged = false;
    }
    return up;
  }

  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    ResponseStart start = chat_->onResponseStart(status, content_type, headers);
    start.content_type = start.stream ? "text/event-stream" : "application/json";
    return start;
  }

  ResponseOutput onBody(std::string& body) override {
    const ResponseOutput o = chat_->onBody(body);  // body: the chat answer, or a chat error
    if (o.status < 200 || o.status >= 300) {
      body = formats::anthropicErrorFromChat(body, o.status);
    } else if (auto message = formats::anthropicMessageFromChat(body)) {
      body = std::move(*message);
    } else {
      replaceUnusableBody(body, api::renderAnthropicError(
                                    Error::upstream(ErrorCode::kUpstreamBadResponse,
                                                    "the backend's answer is not a chat completion",
                                                    "2xx chat body without choices", false)));
    }
    return merged(o);
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = chat_->onChunk(piece, end_of_stream, scratch_);
    stream_.feed(scratch_, out);
    if (end_of_stream) stream_.finish(out);
    return merged(o);
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = chat_->onFailure(err, scratch_);
    stream_.feed(scratch_, out);  // the chat error event becomes an Anthropic one
    stream_.fail(err.public_message, out);
    return merged(o);
  }

 private:
  ResponseOutput merged(const ResponseOutput& o) const {
    return makeOutput(o.status, o.usage, o.model, o.failed || stream_.failed());
  }

  std::unique_ptr<Translator> chat_;
  formats::ChatSseToAnthropicSse stream_;
  std::string scratch_;  // the inner translator's chat SSE of one piece
};

}  // namespace

std::unique_ptr<Translator> makeMessagesOverChat(std::unique_ptr<Translator> chat) {
  return std::make_unique<MessagesOverChat>(std::move(chat));
}

}  // namespace tollgate::providers
