#include "providers/over_chat.h"

#include <boost/json/parse.hpp>
#include <utility>

namespace tollgate::providers {

namespace {

class OverChat final : public Translator {
 public:
  OverChat(std::unique_ptr<Translator> chat, std::unique_ptr<ChatPivot> pivot)
      : chat_(std::move(chat)), pivot_(std::move(pivot)) {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& /*req*/,
                                           std::string_view client_body,
                                           const std::string& model_override) override {
    auto chat_body = pivot_->chatRequest(client_body);
    if (!chat_body) return chat_body.error();
    auto chat_req = api::parseRequest(api::ApiKind::kChatCompletions, *chat_body);
    if (!chat_req) return chat_req.error();
    auto up = chat_->translateRequest(*chat_req, *chat_body, model_override);
    if (!up) return up;
    // "Unchanged" means the chat body here, not the client's body.
    if (up->body_unchanged) {
      up->body = std::move(*chat_body);
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
      body = pivot_->errorFromChat(body, o.status);
    } else if (auto answer = pivot_->answerFromChat(body)) {
      body = std::move(*answer);
    } else {
      replaceUnusableBody(body, pivot_->unusableAnswer());
    }
    return merged(o);
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = chat_->onChunk(piece, end_of_stream, scratch_);
    pivot_->feed(scratch_, out);
    if (end_of_stream) pivot_->finish(out);
    return merged(o);
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    scratch_.clear();
    const ResponseOutput o = chat_->onFailure(err, scratch_);
    pivot_->feed(scratch_, out);  // the chat error event becomes the client API's
    pivot_->fail(err.public_message, out);
    return merged(o);
  }

 private:
  ResponseOutput merged(const ResponseOutput& o) const {
    return makeOutput(o.status, o.usage, o.model, o.failed || pivot_->failed());
  }

  std::unique_ptr<Translator> chat_;
  std::unique_ptr<ChatPivot> pivot_;
  std::string scratch_;  // the inner translator's chat SSE of one piece
};

}  // namespace

Result<boost::json::value> parseBodyObject(std::string_view body, boost::json::storage_ptr sp) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, std::move(sp));
  if (ec || !v.is_object()) {
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
  }
  return v;
}

std::unique_ptr<Translator> makeOverChat(std::unique_ptr<Translator> chat,
                                         std::unique_ptr<ChatPivot> pivot) {
  return std::make_unique<OverChat>(std::move(chat), std::move(pivot));
}

}  // namespace tollgate::providers
