// What the translators to a Bedrock runtime backend share (AnthropicToAwsAnthropic,
// OpenAIToAwsAnthropic, OpenAIToAwsBedrock): a response is either an AWS event stream, decoded
// frame by frame into a Stream converter (InvokeStreamToAnthropicSse, InvokeStreamToOpenAISse,
// ConverseStreamToOpenAISse), or a JSON body. One place feeds the decoder, ends a broken stream
// and answers a broken JSON body, so the three cannot drift apart.
//
// Stream needs open(), onMessage(msg, out), onEnd(out) and onStreamError(detail, out). One object
// per request attempt; not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "providers/formats/event_stream.h"
#include "providers/translator.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers::transports {

template <class Stream>
class BedrockTranslator : public Translator {
 public:
  // Reads the response head. An event stream's decoded frames go to onFrame and the client gets
  // SSE; a JSON body's content type for the client is jsonContentType's.
  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) final {
    headers_.read(headers);
    status_ = status;
    event_stream_ = isEventStream(content_type);
    if (event_stream_) {
      startStream();
      decoder_.emplace([this](const formats::Message& m) { onFrame(m, *stream_out_); });
      return {true, std::string(kClientStreamContentType), output()};
    }
    return {false, jsonContentType(content_type), output()};
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) final {
    if (!event_stream_) {
      onBodyPiece(piece, end_of_stream, out);
      return output();
    }
    stream_out_ = &out;
    feedEventStream(*decoder_, *stream_, piece, end_of_stream, out);
    stream_out_ = nullptr;
    afterStream();
    return output();
  }

  ResponseOutput onFailure(const Error& err, std::string& out) final {
    if (!event_stream_) {
      // A cut JSON body has nothing worth flushing: only the error.
      out += "data: ";
      out += api::renderOpenAIError(err);
      out += "\n\n";
      return output();
    }
    failStream(err, out);
    afterStream();
    return output();
  }

 protected:
  // What the client gets from the events so far (ResponseOutput for this request).
  virtual ResponseOutput output() const = 0;
  // An event stream begins: sets stream_.
  virtual void startStream() = 0;
  // The content type the client gets for a JSON body (empty: the upstream's passes). By default
  // the body is rendered anew as JSON.
  virtual std::string jsonContentType(std::string_view /*upstream*/) const {
    return "application/json";
  }
  // After each piece of a stream (and its failure): the usage read from the converter.
  virtual void afterStream() = 0;
  // One decoded event-stream frame; `out` is the caller's buffer of this onChunk.
  virtual void onFrame(const formats::Message& msg, std::string& out) {
    stream_->onMessage(msg, out);
  }
  // A piece of a body that is not an event stream. By default the JSON body is converted whole
  // (onBody) once it is complete: it is held until then.
  virtual void onBodyPiece(std::string_view piece, bool end_of_stream, std::string& out) {
    pending_body_.append(piece);
    if (end_of_stream) {
      onBody(pending_body_);
      out += pending_body_;
      pending_body_.clear();
    }
  }
  // The upstream stream broke: tell the client in its stream format.
  virtual void failStream(const Error& err, std::string& out) = 0;
  // What failStream does for a converter with finished() and onStreamError: an error event
  // unless the stream already ended. (Not the default: a member of a class template is only
  // compiled where it is used, a virtual one always.)
  void failUnlessEnded(const Error& err, std::string& out) {
    if (!stream_->failed() && !stream_->finished()) stream_->onStreamError(err.public_message, out);
  }

  int status_ = 0;
  bool event_stream_ = false;
  ResponseHeaders headers_;
  std::optional<Stream> stream_;

 private:
  std::optional<formats::EventStreamDecoder> decoder_;
  std::string* stream_out_ = nullptr;  // where decoded frames write during one onChunk
  std::string pending_body_;           // a JSON body arriving through onChunk in pieces
};

}  // namespace tollgate::providers::transports
