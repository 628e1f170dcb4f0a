#include "providers/openai_to_aws_anthropic_stream.h"

#include <boost/json.hpp>
#include <utility>

#include "api/errors.h"
#include "common/base64.h"
#include "common/strings.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

namespace json = boost::json;
using formats::field;
using formats::kParseBufferSize;
using formats::stringOf;

namespace {

// An `error` event Anthropic put inside the stream ({"type":"error","error":{type, message}}).
Error anthropicStreamError(const json::value* error) {
  std::string type(stringOf(field(error, "type")));
  std::string message(stringOf(field(error, "message")));
  if (message.empty()) message = "upstream provider error";
  std::string detail = "anthropic " + type + " event in the Bedrock stream";
  if (type == "rate_limit_error") {
    return Error::upstream(ErrorCode::kRateLimited, std::move(message), std::move(detail), true);
  }
  if (type == "overloaded_error") {
    return Error::upstream(ErrorCode::kUpstreamConnect, std::move(message), std::move(detail),
                           true);
  }
  if (type == "invalid_request_error") {
    return Error::upstream(ErrorCode::kBadRequest, std::move(message), std::move(detail), false);
  }
  return Error::upstream(ErrorCode::kUpstreamBadResponse, std::move(message), std::move(detail),
                         false);
}

}  // namespace

InvokeStreamToOpenAISse::InvokeStreamToOpenAISse(std::string request_model, int64_t created,
                                                 bool include_usage)
    : request_model_(std::move(request_model)), include_usage_(include_usage), created_(created) {}

void InvokeStreamToOpenAISse::onStreamError(std::string_view detail, std::string& out) {
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream could not be read",
                       std::string(detail), false),
       out);
}

void InvokeStreamToOpenAISse::fail(const Error& err, std::string& out) {
  if (done_) return;
  done_ = true;
  failed_ = true;
  // Same shape as ConverseStreamToOpenAISse: an OpenAI error object as one data event, no [DONE].
  out += "data: ";
  out += api::renderOpenAIError(err);
  out += "\n\n";
}

void InvokeStreamToOpenAISse::ensurePrefix(std::string_view message_id) {
  if (chunks_.hasPrefix()) return;
  // Without a message id (no message_start yet, a malformed stream) the chunks still need one.
  const std::string id =
      "chatcmpl-" + (message_id.empty() ? randomHexId() : std::string(message_id));
  chunks_.setPrefix(id, created_, request_model_);
}

void InvokeStreamToOpenAISse::beginChunk(std::string& out) {
  ensurePrefix({});
  chunks_.begin(out);
}

void InvokeStreamToOpenAISse::endChunk(std::string_view finish_reason, std::string& out) {
  formats::ChunkWriter::end(finish_reason, out);
}

void InvokeStreamToOpenAISse::ensureRole(std::string& out) {
  ensurePrefix({});
  chunks_.ensureRole(out);
}

void InvokeStreamToOpenAISse::sendFinish(std::string& out) {
  if (finish_sent_) return;
  finish_sent_ = true;
  ensureRole(out);
  beginChunk(out);
  out += "{}";
  endChunk(formats::finishReasonForAnthropicStop(stop_reason_, next_tool_index_ > 0), out);
}

void InvokeStreamToOpenAISse::sendUsageAndDone(std::string& out) {
  if (done_) return;
  updateUsage();
  if (include_usage_ && usage_.known) {
    ensurePrefix({});
    chunks_.usage(usage_.input_tokens, usage_.output_tokens, usage_.total_tokens,
                  usage_.cached_input_tokens, out);
  }
  out += "data: [DONE]\n\n";
  done_ = true;
}

void InvokeStreamToOpenAISse::onEnd(std::string& out) {
  if (done_) return;
  if (finish_sent_) {
    // message_delta arrived, message_stop did not: the answer is whole, finish it (as the
    // ConverseStream translator does without its metadata event).
    sendUsageAndDone(out);
    return;
  }
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream ended early",
                       "Bedrock InvokeModel stream ended before message_stop", true),
       out);
}

void InvokeStreamToOpenAISse::updateUsage() {
  usage_.input_tokens = input_uncached_ + cache_read_ + cache_write_;
  usage_.cached_input_tokens = cache_read_;
  usage_.output_tokens = output_;
  usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
  // Known once the output count is final (message_delta, message_stop) or the stream is over:
  // a client that leaves early makes the gateway read on until then, not stop at message_start.
  usage_.known = usage_seen_ && (usage_final_ || done_);
}

void InvokeStreamToOpenAISse::onMessage(const formats::Message& msg, std::string& out) {
  if (done_) return;
  const std::string_view message_type = msg.header(":message-type");
  if (message_type == "error") {
    return fail(transports::bedrockExceptionToError(msg.header(":error-code"),
                                                    msg.header(":error-message")),
                out);
  }
  if (message_type == "exception") {
    boost::system::error_code ec;
    const json::value payload = json::parse(msg.payload, ec);
    std::string message =
        !ec ? transports::awsErrorMessage(payload) : std::string(msg.payload.substr(0, 512));
    return fail(transports::bedrockExceptionToError(msg.header(":exception-type"), message), out);
  }
  // InvokeModelWithResponseStream sends only `chunk` events; anything else is not the client's.
  if (msg.header(":event-type") != "chunk") return;

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  const json::value wrapper = json::parse(msg.payload, ec, &mr);
  const json::value* bytes = ec ? nullptr : field(&wrapper, "bytes");
  if (bytes == nullptr || !bytes->is_string()) {
    return fail(transports::malformedStreamEvent("chunk without a bytes string"), out);
  }
  decoded_.clear();
  if (!base64Decode(bytes->get_string(), decoded_)) {
    return fail(transports::malformedStreamEvent("chunk bytes are not base64"), out);
  }
  const json::value ev = json::parse(decoded_, ec, &mr);
  if (ec || !ev.is_object())
    return fail(transports::malformedStreamEvent("chunk bytes are not a JSON object"), out);
  onAnthropicEvent(ev, out);
}

void InvokeStreamToOpenAISse::onAnthropicEvent(const json::value& ev, std::string& out) {
  if (done_) return;
  const std::string_view type = stringOf(field(&ev, "type"));
  if (type.empty())
    return fail(transports::malformedStreamEvent("chunk event without a type"), out);

  auto readUsage = [&](const json::value* u, bool from_delta) {
    if (u == nullptr || !u->is_object()) return;
    // Every field is cumulative: a later event replaces, never adds to, an earlier value.
    usage_seen_ |= formats::readTokenCount(field(u, "input_tokens"), input_uncached_);
    formats::readTokenCount(field(u, "cache_read_input_tokens"), cache_read_);
    formats::readTokenCount(field(u, "cache_creation_input_tokens"), cache_write_);
    if (formats::readTokenCount(field(u, "output_tokens"), output_)) {
      usage_seen_ = true;
      output_from_events_ |= from_delta;
    }
  };
  auto index = [&]() -> int64_t {
    const json::value* i = field(&ev, "index");
    return i != nullptr && i->is_int64() ? i->get_int64() : 0;
  };
  auto sendText = [&](std::string_view key, std::string_view text) {
    if (text.empty()) return;
    ensureRole(out);
    chunks_.text(key, text, out);
  };
  auto sendArguments = [&](int tool, std::string_view arguments) {
    tools_[tool].arguments_sent = true;
    ensurePrefix({});
    chunks_.toolCallArguments(tool, arguments, out);
  };

  if (type == "message_start") {
    const json::value* message = field(&ev, "message");
    ensurePrefix(stringOf(field(message, "id")));
    if (std::string_view m = stringOf(field(message, "model")); !m.empty()) response_model_ = m;
    readUsage(field(message, "usage"), false);
    ensureRole(out);
  } else if (type == "content_block_start") {
    const int64_t block = index();
    const json::value* cb = field(&ev, "content_block");
    const std::string_view cb_type = stringOf(field(cb, "type"));
    tool_index_.erase(block);
    if (cb_type == "text") {
      sendText("content", stringOf(field(cb, "text")));
    } else if (cb_type == "thinking") {
      sendText("reasoning_content", stringOf(field(cb, "thinking")));
    } else if (cb_type == "tool_use") {
      const int tool = next_tool_index_++;
      tool_index_[block] = tool;
      ToolState& state = tools_[tool];
      const json::value* input = field(cb, "input");
      // Anthropic streams the input as deltas after an empty object; a non-empty one here is the
      // whole input, sent if no delta follows.
      state.start_input = input != nullptr && input->is_object() ? json::serialize(*input) : "{}";
      ensureRole(out);
      chunks_.toolCallStart(tool, stringOf(field(cb, "id")), stringOf(field(cb, "name")), out);
    }
    // server_tool_use, mcp_tool_use and the *_result blocks ran inside Anthropic: not forwarded.
  } else if (type == "content_block_delta") {
    const json::value* delta = field(&ev, "delta");
    const std::string_view delta_type = stringOf(field(delta, "type"));
    if (delta_type == "text_delta") {
      sendText("content", stringOf(field(delta, "text")));
    } else if (delta_type == "thinking_delta") {
      sendText("reasoning_content", stringOf(field(delta, "thinking")));
    } else if (delta_type == "input_json_delta") {
      auto it = tool_index_.find(index());
      const std::string_view partial = stringOf(field(delta, "partial_json"));
      if (it != tool_index_.end() && !partial.empty()) sendArguments(it->second, partial);
    }
    // signature_delta, citations_delta: nothing an OpenAI client can use.
  } else if (type == "content_block_stop") {
    auto it = tool_index_.find(index());
    // A call without arguments still needs valid JSON for OpenAI clients, which parse it.
    if (it != tool_index_.end() && !tools_[it->second].arguments_sent) {
      sendArguments(it->second, tools_[it->second].start_input);
    }
  } else if (type == "message_delta") {
    if (std::string_view s = stringOf(field(field(&ev, "delta"), "stop_reason")); !s.empty()) {
      stop_reason_ = s;
    }
    readUsage(field(&ev, "usage"), true);
    usage_final_ |= output_from_events_;
    if (!stop_reason_.empty()) sendFinish(out);
  } else if (type == "message_stop") {
    // Bedrock's own count, used only when the Anthropic events carried none.
    if (const json::value* metrics = field(&ev, "amazon-bedrock-invocationMetrics")) {
      if (!usage_seen_)
        usage_seen_ |= formats::readTokenCount(field(metrics, "inputTokenCount"), input_uncached_);
      if (!output_from_events_ &&
          formats::readTokenCount(field(metrics, "outputTokenCount"), output_)) {
        usage_seen_ = true;
      }
    }
    usage_final_ = true;
    sendFinish(out);
    sendUsageAndDone(out);
  } else if (type == "error") {
    fail(anthropicStreamError(field(&ev, "error")), out);
  }
  // ping and event types added later carry nothing the client needs.
}

}  // namespace tollgate::providers
