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

class ResponsesPivot final : public ChatPivot {
 public:
  Result<std::string> chatRequest(std::string_view client_body) override {
    boost::system::error_code ec;
    const json::value v = json::parse(client_body, ec);
    if (ec || !v.is_object()) {
      return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
    }
    auto chat = formats::chatRequestFromResponses(v.get_object(), info_);
    if (!chat) return chat.error();
    return json::serialize(*chat);
  }
  std::optional<std::string> answerFromChat(std::string_view chat_body) override {
    return formats::responseFromChat(chat_body, info_);
  }
  std::string errorFromChat(std::string_view chat_body, int status) override {
    return formats::responsesErrorFromChat(chat_body, status);
  }
  std::string unusableAnswer() override {
    return api::renderOpenAIError(Error::upstream(ErrorCode::kUpstreamBadResponse,
                                                  "the backend's answer is not a chat completion",
                                                  "2xx chat body without choices", false));
  }
  void feed(std::string_view chat_sse, std::string& out) override { stream_.feed(chat_sse, out); }
  void finish(std::string& out) override { stream_.finish(out); }
  void fail(std::string_view message, std::string& out) override { stream_.fail(message, out); }
  bool failed() const override { return stream_.failed(); }

 private:
  formats::ResponsesRequestInfo info_;            // filled by chatRequest
  formats::ChatSseToResponsesSse stream_{info_};  // reads info_: declared after it
};

}  // namespace

std::unique_ptr<Translator> makeResponsesOverChat(std::unique_ptr<Translator> chat) {
  return makeOverChat(std::move(chat), std::make_unique<ResponsesPivot>());
}

}  // namespace tollgate::providers
