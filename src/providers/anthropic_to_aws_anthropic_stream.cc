#include "providers/anthropic_to_aws_anthropic_stream.h"

#include <boost/json.hpp>
#include <utility>

#include "common/base64.h"
#include "common/strings.h"
#include "providers/formats/json_fields.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

namespace json = boost::json;
using formats::field;
using formats::kParseBufferSize;
using formats::parseObject;
using formats::readTokenCount;
using formats::stringOf;
using transports::isExceptionFrame;
using transports::malformedStreamEvent;
using transports::streamExceptionToError;

void InvokeStreamToAnthropicSse::fail(Error err, std::string& out) {
  failed_ = true;
  out += "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":";
  appendJsonString(out, err.anthropicType());
  out += ",\"message\":";
  appendJsonString(out, err.public_message);
  out += "}}\n\n";
  error_ = std::move(err);
}

void InvokeStreamToAnthropicSse::onMessage(const formats::Message& msg, std::string& out) {
  if (failed_) return;
  if (isExceptionFrame(msg)) return fail(streamExceptionToError(msg), out);
  // Bedrock sends only `chunk` events here; anything else is not the client's.
  if (msg.header(":event-type") != "chunk") return;

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  const json::value wrapper = parseObject(msg.payload, &mr);
  if (!wrapper.is_object()) return fail(malformedStreamEvent("chunk payload is not JSON"), out);
  const json::value* bytes = field(&wrapper, "bytes");
  if (bytes == nullptr || !bytes->is_string()) {
    return fail(malformedStreamEvent("chunk without a bytes string"), out);
  }
  decoded_.clear();
  if (!base64Decode(bytes->get_string(), decoded_)) {
    return fail(malformedStreamEvent("chunk bytes are not base64"), out);
  }
  const json::value ev = parseObject(decoded_, &mr);
  if (!ev.is_object()) return fail(malformedStreamEvent("chunk bytes are not a JSON object"), out);
  const std::string_view type = stringOf(field(&ev, "type"));
  if (type.empty() || type.find_first_of("\r\n") != std::string_view::npos) {
    return fail(malformedStreamEvent("event without a usable type"), out);
  }

  bool usage_changed = false;
  auto readUsage = [&](const json::value* u, bool from_start) {
    if (u == nullptr) return;
    // Every field is cumulative: a later event replaces, never adds to, an earlier value.
    usage_changed |= readTokenCount(field(u, "input_tokens"), input_uncached_);
    usage_changed |= readTokenCount(field(u, "cache_read_input_tokens"), cache_read_);
    usage_changed |= readTokenCount(field(u, "cache_creation_input_tokens"), cache_write_);
    if (readTokenCount(field(u, "output_tokens"), usage_.output_tokens)) {
      usage_changed = true;
      output_from_events_ |= !from_start;
    }
  };
  if (type == "message_start") {
    const json::value* message = field(&ev, "message");
    model_ = std::string(stringOf(field(message, "model")));
    readUsage(field(message, "usage"), true);
  } else if (type == "message_delta") {
    readUsage(field(&ev, "usage"), false);
  } else if (type == "message_stop") {
    finished_ = true;
    // Bedrock's own count, used only when the Anthropic events carried none.
    const json::value* metrics = field(&ev, "amazon-bedrock-invocationMetrics");
    if (metrics != nullptr) {
      if (!usage_.known) {
        usage_changed |= readTokenCount(field(metrics, "inputTokenCount"), input_uncached_);
      }
      if (!output_from_events_ &&
          readTokenCount(field(metrics, "outputTokenCount"), usage_.output_tokens)) {
        usage_changed = true;
      }
    }
  }
  if (usage_changed) {
    usage_.input_tokens = input_uncached_ + cache_read_ + cache_write_;
    usage_.cached_input_tokens = cache_read_;
    usage_.known = true;
  }

  out += "event: ";
  out += type;
  out += "\ndata: ";
  // SSE data must stay on one line; Bedrock sends compact JSON, so this is the rare path.
  if (decoded_.find_first_of("\r\n") == std::string::npos) {
    out += decoded_;
  } else {
    out += json::serialize(ev);
  }
  out += "\n\n";

  if (type == "error") {
    // An error the model provider put inside a chunk: already forwarded in Anthropic's shape.
    const json::value* e = field(&ev, "error");
    failed_ = true;
    error_ =
        Error::upstream(ErrorCode::kUpstreamBadResponse, std::string(stringOf(field(e, "message"))),
                        "anthropic error event in the Bedrock stream", false);
  }
}

void InvokeStreamToAnthropicSse::onEnd(std::string& out) {
  if (failed_ || finished_) return;
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream ended early",
                       "Bedrock InvokeModel stream ended before message_stop", true),
       out);
}

void InvokeStreamToAnthropicSse::onStreamError(std::string_view detail, std::string& out) {
  if (failed_) return;
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream could not be read",
                       std::string(detail), false),
       out);
}

}  // namespace tollgate::providers
