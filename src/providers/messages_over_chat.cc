#include "providers/messages_over_chat.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "providers/formats/anthropic_from_chat.h"
#include "providers/formats/anthropic_from_chat_stream.h"
#include "providers/formats/chat_request_from_anthropic.h"
#include "providers/over_chat.h"

namespace tollgate::providers {

namespace {

namespace json = boost::json;

class MessagesPivot final : public StreamingPivot<formats::ChatSseToAnthropicSse> {
 public:
  Result<std::string> chatRequest(std::string_view client_body) override {
    json::monotonic_resource mr;
    auto body = parseBodyObject(client_body, &mr);
    if (!body) return body.error();
    auto chat = formats::chatRequestFromAnthropic(body->get_object());
    if (!chat) return chat.error();
    return json::serialize(*chat);
  }
  std::optional<std::string> answerFromChat(std::string_view chat_body) override {
    return formats::anthropicMessageFromChat(chat_body);
  }
  std::string errorFromChat(std::string_view chat_body, int status) override {
    return formats::anthropicErrorFromChat(chat_body, status);
  }
  std::string unusableAnswer() override {
    return api::renderAnthropicError(Error::upstream(
        ErrorCode::kUpstreamBadResponse, "the backend's answer is not a chat completion",
        "2xx chat body without choices", false));
  }
};

}  // namespace

std::unique_ptr<Translator> makeMessagesOverChat(std::unique_ptr<Translator> chat) {
  return makeOverChat(std::move(chat), std::make_unique<MessagesPivot>());
}

}  // namespace tollgate::providers
