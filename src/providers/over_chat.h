// A client API served through a backend's chat completions translator (a pivot): the client body
// becomes a chat body, the inner translator sends it as it sends any chat request (to vLLM, or to
// Bedrock Converse through the chat→Converse translator), and its chat answer (JSON, SSE, errors)
// becomes the client API's answer. Usage and model are the inner translator's. The client API's
// side is a ChatPivot; messages_over_chat.h and responses_over_chat.h make the two there are.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "providers/translator.h"

namespace tollgate::providers {

// One request's conversion to and from chat completions, for one client API. Stateful (the
// stream's), one per request.
class ChatPivot {
 public:
  virtual ~ChatPivot() = default;
  // The chat completion body for the client's body; a client error when it cannot be mapped.
  virtual Result<std::string> chatRequest(std::string_view client_body) = 0;
  // The client's answer for a 2xx chat.completion body; nullopt when it is not one.
  virtual std::optional<std::string> answerFromChat(std::string_view chat_body) = 0;
  // The client's error body for a chat backend's error (its status kept).
  virtual std::string errorFromChat(std::string_view chat_body, int status) = 0;
  // The client's error body for a 2xx answer that is no chat completion (sent with a 502).
  virtual std::string unusableAnswer() = 0;
  // Stream: chat SSE text in, the client's events out; finish at its end, fail on a cut.
  virtual void feed(std::string_view chat_sse, std::string& out) = 0;
  virtual void finish(std::string& out) = 0;
  virtual void fail(std::string_view message, std::string& out) = 0;
  virtual bool failed() const = 0;
};

// A ChatPivot whose stream conversion is a `Stream` (feed, finish, fail, failed): the
// forwarding every pivot shares.
template <class Stream>
class StreamingPivot : public ChatPivot {
 public:
  template <class... Args>
  explicit StreamingPivot(Args&&... args) : stream_(std::forward<Args>(args)...) {}
  void feed(std::string_view chat_sse, std::string& out) override { stream_.feed(chat_sse, out); }
  void finish(std::string& out) override { stream_.finish(out); }
  void fail(std::string_view message, std::string& out) override { stream_.fail(message, out); }
  bool failed() const override { return stream_.failed(); }

 private:
  Stream stream_;
};

// The client's body as a JSON object, or the 400 every client API gives when it is not one. The
// converters only read it and copy what they keep: a monotonic `sp` makes its many small
// allocations and its destruction nearly free.
Result<boost::json::value> parseBodyObject(std::string_view body, boost::json::storage_ptr sp = {});

// `chat`: the backend's translator for ApiKind::kChatCompletions.
std::unique_ptr<Translator> makeOverChat(std::unique_ptr<Translator> chat,
                                         std::unique_ptr<ChatPivot> pivot);

}  // namespace tollgate::providers
