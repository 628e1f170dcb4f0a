#include "providers/responses_over_chat.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "providers/formats/chat_request_from_responses.h"
#include "providers/formats/responses_from_chat.h"
#include "providers/formats/responses_from_chat_stream.h"
#include "providers/over_chat.h"

namespace tollgate::providers {

namespace {

namespace json = boost::json;

// Base-from-member: the request's info exists before the stream conversion that reads it.
struct ResponsesInfo {
  formats::ResponsesRequestInfo info;  // filled by chatRequest
};

class ResponsesPivot final : private ResponsesInfo,
                             public StreamingPivot<formats::ChatSseToResponsesSse> {
 public:
  ResponsesPivot() : StreamingPivot(info) {}

  Result<std::string> chatRequest(std::string_view client_body) override {
    json::monotonic_resource mr;
    auto body = parseBodyObject(client_body, &mr);
    if (!body) return body.error();
    auto chat = formats::chatRequestFromResponses(body->get_object(), info);
    if (!chat) return chat.error();
    return json::serialize(*chat);
  }
  std::optional<std::string> answerFromChat(std::string_view chat_body) override {
    return formats::responseFromChat(chat_body, info);
  }
  std::string errorFromChat(std::string_view chat_body, int status) override {
    return formats::responsesErrorFromChat(chat_body, status);
  }
  std::string unusableAnswer() override {
    return api::renderOpenAIError(Error::upstream(ErrorCode::kUpstreamBadResponse,
                                                  "the backend's answer is not a chat completion",
                                                  "2xx chat body without choices", false));
  }
};

}  // namespace

std::unique_ptr<Translator> makeResponsesOverChat(std::unique_ptr<Translator> chat) {
  return makeOverChat(std::move(chat), std::make_unique<ResponsesPivot>());
}

}  // namespace tollgate::providers
