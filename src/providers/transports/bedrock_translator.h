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
  // Reads the response head. For an event stream (`stream_` must be set by then), decoded
  // frames go to onFrame and the client gets SSE; otherwise the client gets `json_content_type`.
  ResponseStart startResponse(int status, std::string_view content_type,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string json_content_type) {
    headers_.read(headers);
    status_ = status;
    event_stream_ = isEventStream(content_type);
    if (event_stream_) {
      decoder_.emplace([this](const formats::Message& m) { onFrame(m, *stream_out_); });
      return {true, std::string(kClientStreamContentType), output()};
    }
    return {false, std::move(json_content_type), output()};
  }

  // What the client gets from the events so far (ResponseOutput for this request).
  virtual ResponseOutput output() const = 0;
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
