// The AWS Bedrock runtime as an upstream: how a model id goes into the URL path, and how Bedrock
// reports errors (x-amzn-errortype on a response, exception frames inside an event stream).
// Shared by every translator whose backend schema is a Bedrock one (AWSAnthropic, AWSBedrock).
// Pure functions: no networking, no clock; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "providers/formats/event_stream.h"
#include "providers/translator.h"

namespace boost::json {
class value;
}

namespace tollgate::providers::transports {

// A Bedrock model id (":" in ids, "/" in ARNs) as one path segment: every byte outside RFC 3986's
// unreserved set percent-encoded ("...-v1:0" → "...-v1%3A0").
std::string encodeModelId(std::string_view model);

// The upstream request for a Bedrock runtime call on `model`: POST /model/{id}{operation} with a
// JSON body; `operation` is the streaming one ("/invoke-with-response-stream") when `stream`.
UpstreamRequest modelRequest(std::string_view model, bool stream, std::string_view operation,
                             std::string_view stream_operation, std::string body);

// Whether a response content type is an AWS event stream.
bool isEventStream(std::string_view content_type);
// The content type the client gets for a Bedrock event stream translated to SSE.
inline constexpr std::string_view kClientStreamContentType = "text/event-stream; charset=utf-8";

// What a Bedrock response says in its headers beside the body.
struct ResponseHeaders {
  std::string error_type;  // x-amzn-errortype, e.g. "ThrottlingException:http://..."
  // X-Amzn-Bedrock-Input/Output-Token-Count: usage when the body carries none.
  std::optional<uint64_t> input_tokens, output_tokens;

  void read(const std::vector<std::pair<std::string, std::string>>& headers);
};

// The gateway error for a non-2xx Bedrock response: from x-amzn-errortype when it came, else (a
// proxy in the way, say) classified by status. `message` is the one read from the body.
Error responseError(int status, std::string_view error_type, std::string message);

// Feeds one piece of an event-stream body to `decoder` (whose callback drives `stream`); a body
// that cannot be decoded, or that ends inside a frame, ends `stream` with an error. Stream has
// open() (still taking input), onStreamError(detail, out) and onEnd(out).
template <class Stream>
void feedEventStream(formats::EventStreamDecoder& decoder, Stream& stream, std::string_view piece,
                     bool end_of_stream, std::string& out) {
  if (!piece.empty() && stream.open() && !decoder.feed(piece)) {
    stream.onStreamError(decoder.error(), out);
  }
  if (end_of_stream && stream.open()) {
    if (!decoder.atMessageBoundary()) {
      stream.onStreamError("the upstream stream ended inside an event-stream frame", out);
    } else {
      stream.onEnd(out);
    }
  }
}

// The gateway error for a Bedrock exception (`:exception-type`, or the x-amzn-errortype of a
// non-stream response, with or without its ":..." suffix) and its message. Messages of
// authorization failures stay in `detail`: they name the gateway's own IAM identity.
Error bedrockExceptionToError(std::string_view exception_type, std::string_view message);

// The human message of an AWS error body ({"message":...}; some services spell it Message; a
// proxy may answer in Anthropic's own error shape).
std::string awsErrorMessage(const boost::json::value& v);

// Whether an event-stream frame reports a failure (`:message-type` exception or error) rather
// than an event.
bool isExceptionFrame(const formats::Message& msg);
// The gateway error for such a frame (the message read from its JSON payload).
Error streamExceptionToError(const formats::Message& msg);
// A stream event the gateway could not read; `detail` says what was wrong with it.
Error malformedStreamEvent(std::string detail);

}  // namespace tollgate::providers::transports
