#include "providers/transports/aws_bedrock.h"

#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <utility>

#include "common/strings.h"
#include "providers/formats/base64.h"

namespace tollgate::providers::transports {

namespace json = boost::json;

namespace {

// The parsed object, or null when `text` is not a JSON object. Callers pass a monotonic
// resource over a stack buffer: a Bedrock event is a few hundred bytes, so most events parse
// without touching the heap.
json::value parseObject(std::string_view text, json::storage_ptr sp) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, std::move(sp));
  if (ec || !v.is_object()) return json::value();
  return v;
}

constexpr size_t kParseBufferSize = 4096;

const json::value* field(const json::value* v, std::string_view key) {
  if (v == nullptr) return nullptr;
  const json::object* o = v->if_object();
  return o == nullptr ? nullptr : o->if_contains(key);
}

std::string_view stringOf(const json::value* v) {
  const json::string* s = v == nullptr ? nullptr : v->if_string();
  return s == nullptr ? std::string_view() : std::string_view(*s);
}

// The human message of an exception payload ({"message":...}; some services spell it Message).
std::string exceptionMessage(std::string_view payload) {
  json::value v = parseObject(payload, {});
  if (v.is_object()) {
    std::string_view m = stringOf(field(&v, "message"));
    if (m.empty()) m = stringOf(field(&v, "Message"));
    return std::string(m);
  }
  return std::string(payload.substr(0, 512));
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

Error malformed(std::string detail) {
  return Error::upstream(ErrorCode::kUpstreamBadResponse, "malformed event in the Bedrock stream",
                         std::move(detail), false);
}

Error exceptionOf(const formats::Message& msg) {
  if (msg.header(":message-type") == "error") {
    return bedrockExceptionToError(msg.header(":error-code"), msg.header(":error-message"));
  }
  return bedrockExceptionToError(msg.header(":exception-type"), exceptionMessage(msg.payload));
}

bool isFailureFrame(const formats::Message& msg) {
  const std::string_view t = msg.header(":message-type");
  return t == "exception" || t == "error";
}

}  // namespace

bool readTokenCount(const json::value* v, uint64_t& out) {
  if (v == nullptr) return false;
  if (v->is_uint64()) {
    out = v->get_uint64();
    return true;
  }
  if (v->is_int64() && v->get_int64() >= 0) {
    out = static_cast<uint64_t>(v->get_int64());
    return true;
  }
  // A double past uint64's range (1e30 from a broken or hostile upstream) cannot be converted:
  // the cast would be undefined behaviour. NaN fails both comparisons.
  if (v->is_double() && v->get_double() >= 0 && v->get_double() < 18446744073709551616.0) {
    out = static_cast<uint64_t>(v->get_double());
    return true;
  }
  return false;
}

bool readConverseUsage(const json::value& usage, Usage& out, uint64_t& total) {
  if (!usage.is_object()) return false;
  const json::object& u = usage.as_object();
  uint64_t input = 0, output = 0, cache_read = 0, cache_write = 0;
  total = 0;
  const bool has_in = readTokenCount(u.if_contains("inputTokens"), input);
  const bool has_out = readTokenCount(u.if_contains("outputTokens"), output);
  readTokenCount(u.if_contains("totalTokens"), total);
  readTokenCount(u.if_contains("cacheReadInputTokens"), cache_read);
  readTokenCount(u.if_contains("cacheWriteInputTokens"), cache_write);
  if (!has_in && !has_out) return false;
  out.input_tokens = input + cache_read + cache_write;
  out.output_tokens = output;
  out.cached_input_tokens = cache_read;
  out.known = true;
  total = std::max(total, out.input_tokens + out.output_tokens);
  return true;
}

std::string encodeModelId(std::string_view model) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(model.size() + 8);
  for (unsigned char c : model) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// ---- errors and stop reasons ----

Error bedrockExceptionToError(std::string_view exception_type, std::string_view message) {
  // x-amzn-errortype carries "Name:namespace-url"; event-stream frames carry "name" in lowerCamel.
  std::string_view name = exception_type.substr(0, exception_type.find(':'));
  const std::string key = lower(name);
  std::string msg(message.empty() ? name : message);
  if (msg.empty()) msg = "upstream error";
  std::string detail = "bedrock " + std::string(name) + ": " + std::string(message);

  struct Mapping {
    std::string_view key;
    ErrorCode code;
    bool retryable;
  };
  static constexpr Mapping kMappings[] = {
      {"throttlingexception", ErrorCode::kRateLimited, true},
      {"servicequotaexceededexception", ErrorCode::kRateLimited, false},
      {"validationexception", ErrorCode::kBadRequest, false},
      {"modelstreamerrorexception", ErrorCode::kUpstreamBadResponse, false},
      {"modelerrorexception", ErrorCode::kUpstreamBadResponse, false},
      {"internalserverexception", ErrorCode::kUpstreamBadResponse, true},
      {"serviceunavailableexception", ErrorCode::kUpstreamConnect, true},
      {"modelnotreadyexception", ErrorCode::kUpstreamConnect, true},
      {"modeltimeoutexception", ErrorCode::kUpstreamTimeout, true},
      {"resourcenotfoundexception", ErrorCode::kModelNotFound, true},
  };
  for (const Mapping& m : kMappings) {
    if (m.key == key)
      return Error::upstream(m.code, std::move(msg), std::move(detail), m.retryable);
  }
  // Credential failures (AccessDenied, UnrecognizedClient, ExpiredToken...) and anything unknown:
  // the text may name the gateway's role or account, so the client sees a generic message.
  const bool auth = key.find("accessdenied") != std::string::npos ||
                    key.find("unrecognizedclient") != std::string::npos ||
                    key.find("token") != std::string::npos ||
                    key.find("signature") != std::string::npos;
  return Error::upstream(
      ErrorCode::kUpstreamBadResponse,
      auth ? "the upstream provider rejected the gateway's credentials" : "upstream provider error",
      std::move(detail), auth);
}

std::string_view finishReasonForStopReason(std::string_view stop_reason) {
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "guardrail_intervened" || stop_reason == "content_filtered") {
    return "content_filter";
  }
  return "stop";  // end_turn, stop_sequence, and reasons added after this was written
}

// ---- InvokeModelWithResponseStream (Anthropic) -> Anthropic SSE ----

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
  if (isFailureFrame(msg)) return fail(exceptionOf(msg), out);
  // Bedrock sends only `chunk` events here; anything else is not the client's.
  if (msg.header(":event-type") != "chunk") return;

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  const json::value wrapper = parseObject(msg.payload, &mr);
  if (!wrapper.is_object()) return fail(malformed("chunk payload is not JSON"), out);
  const json::value* bytes = field(&wrapper, "bytes");
  if (bytes == nullptr || !bytes->is_string()) {
    return fail(malformed("chunk without a bytes string"), out);
  }
  decoded_.clear();
  if (!formats::base64Decode(bytes->get_string(), decoded_)) {
    return fail(malformed("chunk bytes are not base64"), out);
  }
  const json::value ev = parseObject(decoded_, &mr);
  if (!ev.is_object()) return fail(malformed("chunk bytes are not a JSON object"), out);
  const std::string_view type = stringOf(field(&ev, "type"));
  if (type.empty() || type.find_first_of("\r\n") != std::string_view::npos) {
    return fail(malformed("event without a usable type"), out);
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

// ---- ConverseStream -> OpenAI chat.completion.chunk SSE ----

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
    out += chunks_.prefix();
    out += "],\"usage\":{\"prompt_tokens\":";
    out += std::to_string(usage_.input_tokens);
    out += ",\"completion_tokens\":";
    out += std::to_string(usage_.output_tokens);
    out += ",\"total_tokens\":";
    out += std::to_string(total_tokens_);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    out += std::to_string(usage_.cached_input_tokens);
    out += "}}}\n\n";
  }
  out += "data: [DONE]\n\n";
  done_sent_ = true;
}

void ConverseStreamToOpenAISse::onMessage(const formats::Message& msg, std::string& out) {
  if (failed_ || done_sent_) return;
  if (isFailureFrame(msg)) return fail(exceptionOf(msg), out);
  const std::string_view event = msg.header(":event-type");

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  const json::value v = parseObject(msg.payload, &mr);
  if (!v.is_object()) {
    return fail(malformed("ConverseStream " + std::string(event) + " payload is not JSON"), out);
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
      beginChunk(out);
      out += "{\"tool_calls\":[{\"index\":";
      out += std::to_string(index);
      out += ",\"id\":";
      appendJsonString(out, stringOf(field(tool, "toolUseId")));
      out += ",\"type\":\"function\",\"function\":{\"name\":";
      appendJsonString(out, stringOf(field(tool, "name")));
      out += ",\"arguments\":\"\"}}]}";
      endChunk({}, out);
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
      beginChunk(out);
      out += "{\"content\":";
      appendJsonString(out, text->get_string());
      out += "}";
      endChunk({}, out);
    } else if (const json::value* r = field(delta, "reasoningContent"); r != nullptr) {
      // Only readable reasoning; signatures and redacted blocks mean nothing to an OpenAI client.
      const std::string_view text = stringOf(field(r, "text"));
      if (text.empty()) return;
      ensureRole(out);
      beginChunk(out);
      out += "{\"reasoning_content\":";
      appendJsonString(out, text);
      out += "}";
      endChunk({}, out);
    } else if (const json::value* tool = field(delta, "toolUse"); tool != nullptr) {
      auto it = tool_index_.find(block);
      if (it == tool_index_.end()) {
        // A delta without its contentBlockStart: still give the client a slot to assemble.
        it = tool_index_.emplace(block, next_tool_index_++).first;
      }
      const std::string_view input = stringOf(field(tool, "input"));
      if (it->second < 0 || input.empty()) return;
      ensureRole(out);
      beginChunk(out);
      out += "{\"tool_calls\":[{\"index\":";
      out += std::to_string(it->second);
      out += ",\"function\":{\"arguments\":";
      appendJsonString(out, input);
      out += "}}]}";
      endChunk({}, out);
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

}  // namespace tollgate::providers::transports
