#include "providers/openai_to_aws_bedrock_stream.h"

#include <boost/json.hpp>
#include <utility>

#include "common/strings.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

namespace json = boost::json;
using formats::field;
using formats::finishReasonForStopReason;
using formats::kParseBufferSize;
using formats::parseObject;
using formats::readConverseUsage;
using formats::stringOf;
using transports::isExceptionFrame;
using transports::malformedStreamEvent;
using transports::streamExceptionToError;

ConverseStreamToOpenAISse::ConverseStreamToOpenAISse(std::string_view model, std::string_view id,
                                                     int64_t created, bool include_usage)
    : include_usage_(include_usage) {
  chunks_.setPrefix(id, created, model);
}

void ConverseStreamToOpenAISse::beginChunk(std::string& out) { chunks_.begin(out); }

void ConverseStreamToOpenAISse::endChunk(std::string_view finish_reason, std::string& out) {
  formats::ChunkWriter::end(finish_reason, out);
}

void ConverseStreamToOpenAISse::ensureRole(std::string& out) { chunks_.ensureRole(out); }

void ConverseStreamToOpenAISse::fail(Error err, std::string& out) {
  failed_ = true;
  out += "data: {\"error\":{\"message\":";
  appendJsonString(out, err.public_message);
  out += ",\"type\":";
  appendJsonString(out, err.openaiType());
  out += ",\"param\":null,\"code\":";
  appendJsonString(out, err.name());
  out += "}}\n\n";
  error_ = std::move(err);
}

void ConverseStreamToOpenAISse::finishIfComplete(std::string& out) {
  if (!stop_seen_ || !metadata_seen_ || done_sent_) return;
  if (include_usage_ && usage_.known) {
    chunks_.usage(usage_.input_tokens, usage_.output_tokens, total_tokens_,
                  usage_.cached_input_tokens, out);
  }
  out += "data: [DONE]\n\n";
  done_sent_ = true;
}

void ConverseStreamToOpenAISse::onMessage(const formats::Message& msg, std::string& out) {
  if (failed_ || done_sent_) return;
  if (isExceptionFrame(msg)) return fail(streamExceptionToError(msg), out);
  const std::string_view event = msg.header(":event-type");

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  const json::value v = parseObject(msg.payload, &mr);
  if (!v.is_object()) {
    return fail(
        malformedStreamEvent("ConverseStream " + std::string(event) + " payload is not JSON"), out);
  }
  const json::value* p = &v;

  if (event == "messageStart") {
    ensureRole(out);
  } else if (event == "contentBlockStart") {
    int64_t block = 0;
    if (const json::value* i = field(p, "contentBlockIndex"); i != nullptr && i->is_int64()) {
      block = i->get_int64();
    }
    const json::value* start = field(p, "start");
    if (const json::value* tool = field(start, "toolUse"); tool != nullptr) {
      if (stringOf(field(tool, "type")) == "server_tool_use") {
        tool_index_[block] = -1;
        return;
      }
      const int index = next_tool_index_++;
      tool_index_[block] = index;
      ensureRole(out);
      chunks_.toolCallStart(index, stringOf(field(tool, "toolUseId")),
                            stringOf(field(tool, "name")), out);
    } else if (field(start, "toolResult") != nullptr) {
      tool_index_[block] = -1;
    }
  } else if (event == "contentBlockDelta") {
    int64_t block = 0;
    if (const json::value* i = field(p, "contentBlockIndex"); i != nullptr && i->is_int64()) {
      block = i->get_int64();
    }
    const json::value* delta = field(p, "delta");
    if (const json::value* text = field(delta, "text"); text != nullptr && text->is_string()) {
      if (text->get_string().empty()) return;
      ensureRole(out);
      chunks_.text("content", text->get_string(), out);
    } else if (const json::value* r = field(delta, "reasoningContent"); r != nullptr) {
      // Only readable reasoning; signatures and redacted blocks mean nothing to an OpenAI client.
      const std::string_view text = stringOf(field(r, "text"));
      if (text.empty()) return;
      ensureRole(out);
      chunks_.text("reasoning_content", text, out);
    } else if (const json::value* tool = field(delta, "toolUse"); tool != nullptr) {
      auto it = tool_index_.find(block);
      if (it == tool_index_.end()) {
        // A delta without its contentBlockStart: still give the client a slot to assemble.
        it = tool_index_.emplace(block, next_tool_index_++).first;
      }
      const std::string_view input = stringOf(field(tool, "input"));
      if (it->second < 0 || input.empty()) return;
      ensureRole(out);
      chunks_.toolCallArguments(it->second, input, out);
    }
  } else if (event == "messageStop") {
    if (stop_seen_) return;
    stop_seen_ = true;
    const std::string_view stop = stringOf(field(p, "stopReason"));
    // tool_use with only server-side tools: nothing for the client to call.
    finish_reason_ = stop == "tool_use" && next_tool_index_ == 0
                         ? "stop"
                         : std::string(finishReasonForStopReason(stop));
    ensureRole(out);
    beginChunk(out);
    out += "{}";
    endChunk(finish_reason_, out);
    finishIfComplete(out);
  } else if (event == "metadata") {
    metadata_seen_ = true;
    const json::value* u = field(p, "usage");
    if (u != nullptr) {
      uint64_t total = 0;
      if (readConverseUsage(*u, usage_, total)) total_tokens_ = total;
    }
    finishIfComplete(out);
  }
  // contentBlockStop and unknown events carry nothing the client needs.
}

void ConverseStreamToOpenAISse::onEnd(std::string& out) {
  if (failed_ || done_sent_) return;
  if (stop_seen_) {
    // No metadata event: finish without a usage chunk rather than invent one.
    metadata_seen_ = true;
    finishIfComplete(out);
    return;
  }
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream ended early",
                       "Bedrock ConverseStream ended before messageStop", true),
       out);
}

void ConverseStreamToOpenAISse::onStreamError(std::string_view detail, std::string& out) {
  if (failed_ || done_sent_) return;
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream could not be read",
                       std::string(detail), false),
       out);
}

}  // namespace tollgate::providers
