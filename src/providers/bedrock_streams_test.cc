// Data-driven over real Bedrock recordings (shared/conformance/bedrock-eventstream-extracted, see
// its README section 4) and the Vercel AI fixtures (section 6): a new recording in those folders
// is a new case, not new code. Expectations are computed from the frames themselves, by code
// independent of the converters.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common/base64.h"
#include "common/expect_each_test_util.h"
#include "common/file_test_util.h"
#include "providers/anthropic_to_aws_anthropic_stream.h"
#include "providers/formats/event_stream.h"
#include "providers/formats/stop_reasons.h"
#include "providers/formats/usage.h"
#include "providers/openai_to_aws_bedrock_stream.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs
namespace json = boost::json;
using formats::crc32;
using formats::encodeEvent;
using formats::encodeException;
using formats::encodeMessage;
using formats::EventStreamDecoder;
using formats::finishReasonForStopReason;
using formats::Header;
using formats::HeaderType;
using formats::Message;
using formats::readTokenCount;
using formats::Usage;
using transports::bedrockExceptionToError;

const fs::path kConformance = conformanceDir();
const fs::path kRecordings = kConformance / "bedrock-eventstream-extracted";
const fs::path kVercelBedrock = kConformance / "vercel-ai-fixtures/amazon-bedrock/src/__fixtures__";
const fs::path kVercelAnthropic = kConformance / "vercel-ai-fixtures/anthropic/src/__fixtures__";

// Slicings every stream is fed with: whole (0), then random piece sizes up to N, fixed seeds.
constexpr size_t kSlicings[] = {0, 1, 5, 64, 1000};
constexpr uint32_t kSeeds[] = {7, 1234};

struct Recording {
  std::string name, operation;
  size_t bytes = 0, frames = 0;
};

std::vector<Recording> loadIndex() {
  std::vector<Recording> out;
  const std::vector<std::string> ls = nonEmptyLines(readFileText(kRecordings / "INDEX.tsv"));
  for (size_t i = 1; i < ls.size(); ++i) {
    std::istringstream f(ls[i]);
    Recording r;
    std::string bytes, frames;
    std::getline(f, r.name, '\t');
    std::getline(f, r.operation, '\t');
    std::getline(f, bytes, '\t');
    std::getline(f, frames, '\t');
    r.bytes = std::stoul(bytes);
    r.frames = std::stoul(frames);
    out.push_back(r);
  }
  return out;
}

// A frame copied out of the decoder callback.
struct Frame {
  std::map<std::string, std::string> headers;  // string headers only (Bedrock sends no others)
  std::string payload;
  uint32_t total_length = 0, prelude_crc = 0, message_crc = 0;
};

// Feeds `bytes` to a decoder (whole when max_slice is 0) and hands each message to `sink`.
// Returns the decoder's error text (empty when the whole body decoded to a message boundary).
template <typename Sink>
std::string feed(std::string_view bytes, size_t max_slice, uint32_t seed, Sink&& sink) {
  EventStreamDecoder d([&](const Message& m) { sink(m); });
  if (max_slice == 0) {
    d.feed(bytes);
  } else {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> dist(1, max_slice);
    for (size_t at = 0; at < bytes.size();) {
      const size_t n = std::min(dist(rng), bytes.size() - at);
      if (!d.feed(bytes.substr(at, n))) break;
      at += n;
    }
  }
  if (d.failed()) return d.error();
  return d.atMessageBoundary() ? "" : "cut inside a message";
}

std::vector<Frame> decodeFrames(std::string_view bytes, size_t max_slice = 0, uint32_t seed = 1) {
  std::vector<Frame> frames;
  const std::string err = feed(bytes, max_slice, seed, [&](const Message& m) {
    Frame f;
    for (const Header& h : m.headers) {
      EXPECT_EQ(h.type, HeaderType::kString) << h.name;
      f.headers[std::string(h.name)] = std::string(h.bytes);
    }
    f.payload = std::string(m.payload);
    f.total_length = m.total_length;
    f.prelude_crc = m.prelude_crc;
    f.message_crc = m.message_crc;
    frames.push_back(std::move(f));
  });
  EXPECT_EQ(err, "");
  return frames;
}

std::string header(const Frame& f, const std::string& name) {
  auto it = f.headers.find(name);
  return it == f.headers.end() ? "" : it->second;
}

std::string b64decode(std::string_view s) {
  std::string out;
  EXPECT_TRUE(base64Decode(s, out));
  return out;
}

// The decoded Anthropic event JSON inside a `chunk` frame.
std::string chunkBytes(const Frame& f) {
  const json::value v = json::parse(f.payload);
  return b64decode(v.at("bytes").as_string());
}

// The event name as meta.json's event_sequence spells it.
std::string eventName(const Frame& f) {
  if (header(f, ":message-type") == "exception") return header(f, ":exception-type");
  std::string type = header(f, ":event-type");
  if (type != "chunk") return type;
  const json::value ev = json::parse(chunkBytes(f));
  const json::value* t = ev.as_object().if_contains("type");
  return t != nullptr && t->is_string() ? std::string(t->as_string()) : "chunk(non-anthropic)";
}

struct SseEvent {
  std::string event, data;
};

// Splits SSE text into events; every event must end with a blank line.
std::vector<SseEvent> parseSse(const std::string& text) {
  std::vector<SseEvent> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated SSE event";
    if (end == std::string::npos) break;
    SseEvent e;
    std::istringstream block(text.substr(at, end - at));
    for (std::string l; std::getline(block, l);) {
      if (l.rfind("event: ", 0) == 0) {
        e.event = l.substr(7);
      } else if (l.rfind("data: ", 0) == 0) {
        e.data = l.substr(6);
      } else {
        ADD_FAILURE() << "unexpected SSE line: " << l;
      }
    }
    out.push_back(e);
    at = end + 2;
  }
  return out;
}

uint64_t count(const json::value* v) { return v == nullptr ? 0 : v->to_number<uint64_t>(); }

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view k : path) {
    const json::object* o = cur->if_object();
    if (o == nullptr) return nullptr;
    cur = o->if_contains(k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Anthropic (InvokeModelWithResponseStream) expectations and checks.

struct AnthropicExpect {
  std::vector<std::string> types;
  std::vector<std::string> data;  // the decoded event JSON, which must reach the client verbatim
  uint64_t input = 0, output = 0, cached = 0;
};

// Last value wins for every field: Anthropic usage is cumulative.
AnthropicExpect anthropicExpectFromEvents(const std::vector<std::string>& events) {
  AnthropicExpect e;
  uint64_t in = 0, cache_read = 0, cache_write = 0;
  for (const std::string& d : events) {
    const json::value v = json::parse(d);
    const std::string type(v.at("type").as_string());
    e.types.push_back(type);
    e.data.push_back(d);
    const json::value* u = type == "message_start"   ? at(v, {"message", "usage"})
                           : type == "message_delta" ? at(v, {"usage"})
                                                     : nullptr;
    if (u == nullptr) continue;
    if (auto* x = at(*u, {"input_tokens"})) in = count(x);
    if (auto* x = at(*u, {"cache_read_input_tokens"})) cache_read = count(x);
    if (auto* x = at(*u, {"cache_creation_input_tokens"})) cache_write = count(x);
    if (auto* x = at(*u, {"output_tokens"})) e.output = count(x);
  }
  e.input = in + cache_read + cache_write;
  e.cached = cache_read;
  return e;
}

void checkAnthropic(const std::string& body, const AnthropicExpect& want) {
  for (size_t slicing : kSlicings) {
    for (uint32_t seed : kSeeds) {
      SCOPED_TRACE("slicing " + std::to_string(slicing) + " seed " + std::to_string(seed));
      InvokeStreamToAnthropicSse conv;
      std::string out;
      const std::string err =
          feed(body, slicing, seed, [&](const Message& m) { conv.onMessage(m, out); });
      ASSERT_EQ(err, "");
      const size_t before_end = out.size();
      conv.onEnd(out);
      EXPECT_EQ(out.size(), before_end) << "a complete stream needs nothing at its end";
      EXPECT_FALSE(conv.failed()) << conv.error().detail;
      EXPECT_TRUE(conv.finished());

      const std::vector<SseEvent> events = parseSse(out);
      ASSERT_EQ(events.size(), want.types.size());
      for (size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].event, want.types[i]);
        EXPECT_EQ(events[i].data, want.data[i]);
      }
      const Usage u = conv.usage();
      EXPECT_TRUE(u.known);
      EXPECT_EQ(u.input_tokens, want.input);
      EXPECT_EQ(u.output_tokens, want.output);
      EXPECT_EQ(u.cached_input_tokens, want.cached);
      if (slicing == 0) break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ConverseStream expectations and checks.

struct ToolCall {
  std::string id, name, arguments;
};

struct ConverseExpect {
  std::string text, reasoning;
  std::vector<ToolCall> tools;  // client-side tool calls in order
  std::string finish_reason;    // empty: no messageStop (the stream must end in an error)
  bool has_usage = false;
  uint64_t prompt = 0, completion = 0, total = 0, cached = 0;
  std::string exception;  // exception type when the stream ends in one
};

// From (event type, payload JSON) pairs, independently of the converter.
ConverseExpect converseExpect(const std::vector<std::pair<std::string, std::string>>& events) {
  ConverseExpect e;
  std::map<int64_t, size_t> tool_of_block;
  std::set<int64_t> server_blocks;
  std::string stop;
  for (const auto& [type, payload] : events) {
    if (type.find("Exception") != std::string::npos) {
      e.exception = type;
      break;
    }
    const json::value v = json::parse(payload);
    const int64_t block =
        at(v, {"contentBlockIndex"}) ? at(v, {"contentBlockIndex"})->as_int64() : 0;
    if (type == "contentBlockStart") {
      if (const json::value* t = at(v, {"start", "toolUse"})) {
        const json::value* kind = at(*t, {"type"});
        if (kind != nullptr && kind->as_string() == "server_tool_use") {
          server_blocks.insert(block);
          continue;
        }
        tool_of_block[block] = e.tools.size();
        e.tools.push_back({std::string(at(*t, {"toolUseId"})->as_string()),
                           std::string(at(*t, {"name"})->as_string()), ""});
      }
    } else if (type == "contentBlockDelta") {
      if (const json::value* t = at(v, {"delta", "text"})) e.text += t->as_string();
      if (const json::value* r = at(v, {"delta", "reasoningContent", "text"})) {
        e.reasoning += r->as_string();
      }
      if (const json::value* in = at(v, {"delta", "toolUse", "input"})) {
        if (!server_blocks.count(block))
          e.tools.at(tool_of_block.at(block)).arguments += in->as_string();
      }
    } else if (type == "messageStop") {
      stop = std::string(at(v, {"stopReason"})->as_string());
    } else if (type == "metadata") {
      if (const json::value* u = at(v, {"usage"})) {
        e.has_usage = true;
        const uint64_t cr = count(at(*u, {"cacheReadInputTokens"}));
        const uint64_t cw = count(at(*u, {"cacheWriteInputTokens"}));
        e.prompt = count(at(*u, {"inputTokens"})) + cr + cw;
        e.completion = count(at(*u, {"outputTokens"}));
        e.total = count(at(*u, {"totalTokens"}));
        e.cached = cr;
      }
    }
  }
  if (!stop.empty()) {
    static const std::map<std::string, std::string> kMap = {
        {"end_turn", "stop"},
        {"tool_use", "tool_calls"},
        {"max_tokens", "length"},
        {"stop_sequence", "stop"},
        {"guardrail_intervened", "content_filter"},
        {"content_filtered", "content_filter"}};
    e.finish_reason = kMap.at(stop);
    if (stop == "tool_use" && e.tools.empty()) e.finish_reason = "stop";
  }
  return e;
}

void checkConverse(const std::string& body, const ConverseExpect& want) {
  for (bool include_usage : {true, false}) {
    for (size_t slicing : kSlicings) {
      for (uint32_t seed : kSeeds) {
        SCOPED_TRACE("include_usage " + std::to_string(include_usage) + " slicing " +
                     std::to_string(slicing) + " seed " + std::to_string(seed));
        ConverseStreamToOpenAISse conv("my-model", "chatcmpl-1", 1700000000, include_usage);
        std::string out;
        const std::string err =
            feed(body, slicing, seed, [&](const Message& m) { conv.onMessage(m, out); });
        ASSERT_EQ(err, "");
        conv.onEnd(out);

        const std::vector<SseEvent> events = parseSse(out);
        ASSERT_FALSE(events.empty());
        std::string text, reasoning, finish;
        std::map<int64_t, ToolCall> tools;
        int finish_chunks = 0, usage_chunks = 0;
        bool saw_error = false, saw_done = false;
        for (size_t i = 0; i < events.size(); ++i) {
          const SseEvent& e = events[i];
          EXPECT_EQ(e.event, "");
          ASSERT_FALSE(saw_done) << "data after [DONE]";
          ASSERT_FALSE(saw_error) << "data after the error";
          if (e.data == "[DONE]") {
            saw_done = true;
            continue;
          }
          const json::value v = json::parse(e.data);
          if (at(v, {"error"}) != nullptr) {
            saw_error = true;
            EXPECT_TRUE(at(v, {"error", "message"})->is_string());
            EXPECT_TRUE(at(v, {"error", "type"})->is_string());
            continue;
          }
          EXPECT_EQ(at(v, {"object"})->as_string(), "chat.completion.chunk");
          EXPECT_EQ(at(v, {"id"})->as_string(), "chatcmpl-1");
          EXPECT_EQ(at(v, {"model"})->as_string(), "my-model");
          EXPECT_EQ(at(v, {"created"})->as_int64(), 1700000000);
          const json::array& choices = at(v, {"choices"})->as_array();
          if (choices.empty()) {
            ++usage_chunks;
            const json::value& u = *at(v, {"usage"});
            EXPECT_EQ(count(at(u, {"prompt_tokens"})), want.prompt);
            EXPECT_EQ(count(at(u, {"completion_tokens"})), want.completion);
            EXPECT_EQ(count(at(u, {"total_tokens"})), want.total);
            EXPECT_EQ(count(at(u, {"prompt_tokens_details", "cached_tokens"})), want.cached);
            continue;
          }
          ASSERT_EQ(choices.size(), 1u);
          EXPECT_EQ(usage_chunks, 0) << "usage must come last";
          const json::value& c = choices[0];
          const json::value& delta = *at(c, {"delta"});
          if (i == 0) {
            EXPECT_EQ(at(delta, {"role"})->as_string(), "assistant");
          }
          if (!at(c, {"finish_reason"})->is_null()) {
            ++finish_chunks;
            finish = std::string(at(c, {"finish_reason"})->as_string());
          } else {
            EXPECT_EQ(finish_chunks, 0) << "content after finish_reason";
          }
          if (auto* t = at(delta, {"content"})) text += t->as_string();
          if (auto* r = at(delta, {"reasoning_content"})) reasoning += r->as_string();
          if (auto* tc = at(delta, {"tool_calls"})) {
            for (const json::value& call : tc->as_array()) {
              ToolCall& t = tools[at(call, {"index"})->as_int64()];
              if (auto* id = at(call, {"id"})) {
                EXPECT_TRUE(t.id.empty()) << "id sent twice";
                t.id = std::string(id->as_string());
                EXPECT_EQ(at(call, {"type"})->as_string(), "function");
                t.name = std::string(at(call, {"function", "name"})->as_string());
              }
              t.arguments += at(call, {"function", "arguments"})->as_string();
            }
          }
        }
        EXPECT_EQ(text, want.text);
        EXPECT_EQ(reasoning, want.reasoning);
        ASSERT_EQ(tools.size(), want.tools.size());
        for (size_t t = 0; t < want.tools.size(); ++t) {
          ASSERT_TRUE(tools.count(static_cast<int64_t>(t))) << "tool index " << t;
          EXPECT_EQ(tools[t].id, want.tools[t].id);
          EXPECT_EQ(tools[t].name, want.tools[t].name);
          EXPECT_EQ(tools[t].arguments, want.tools[t].arguments);
          if (!tools[t].arguments.empty()) {
            EXPECT_NO_THROW(json::parse(tools[t].arguments));
          }
        }
        if (!want.exception.empty() || want.finish_reason.empty()) {
          EXPECT_TRUE(saw_error);
          EXPECT_FALSE(saw_done);
          EXPECT_TRUE(conv.failed());
          continue;
        }
        EXPECT_FALSE(conv.failed()) << conv.error().detail;
        EXPECT_TRUE(saw_done);
        EXPECT_EQ(finish_chunks, 1);
        EXPECT_EQ(finish, want.finish_reason);
        EXPECT_EQ(conv.finishReason(), want.finish_reason);
        EXPECT_EQ(usage_chunks, include_usage && want.has_usage ? 1 : 0);
        EXPECT_EQ(conv.usage().known, want.has_usage);
        if (want.has_usage) {
          EXPECT_EQ(conv.usage().input_tokens, want.prompt);
          EXPECT_EQ(conv.usage().output_tokens, want.completion);
          EXPECT_EQ(conv.usage().cached_input_tokens, want.cached);
        }
        if (slicing == 0) break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(BedrockRecordings, DecodeEveryFrameAndMatchEventSequence) {
  const std::vector<Recording> index = loadIndex();
  ASSERT_EQ(index.size(), 33u);
  size_t total_frames = 0;
  for (const Recording& r : index) {
    SCOPED_TRACE(r.name);
    const std::string body = readFileText(kRecordings / (r.name + ".bin"));
    ASSERT_EQ(body.size(), r.bytes);
    const json::value meta = json::parse(readFileText(kRecordings / (r.name + ".meta.json")));
    EXPECT_EQ(meta.at("operation").as_string(), r.operation);
    std::vector<std::string> want_sequence;
    for (const json::value& e : meta.at("event_sequence").as_array()) {
      want_sequence.emplace_back(e.as_string());
    }
    std::set<std::string> want_types;
    for (const json::value& t : meta.at("message_types").as_array()) {
      want_types.emplace(t.as_string());
    }

    const std::vector<Frame> frames = decodeFrames(body);
    ASSERT_EQ(frames.size(), r.frames);
    ASSERT_EQ(frames.size(), meta.at("frames").to_number<size_t>());
    // Both CRCs, recomputed here from the raw bytes of each frame.
    size_t offset = 0;
    std::vector<std::string> sequence;
    std::set<std::string> types;
    for (const Frame& f : frames) {
      EXPECT_EQ(crc32(std::string_view(body).substr(offset, 8)), f.prelude_crc);
      EXPECT_EQ(crc32(std::string_view(body).substr(offset, f.total_length - 4)), f.message_crc);
      offset += f.total_length;
      sequence.push_back(eventName(f));
      types.insert(header(f, ":message-type"));
    }
    EXPECT_EQ(offset, body.size());
    EXPECT_EQ(sequence, want_sequence);
    EXPECT_EQ(types, want_types);
    total_frames += frames.size();

    // The same frames, whatever the piece sizes.
    for (size_t slicing : kSlicings) {
      for (uint32_t seed : kSeeds) {
        const std::vector<Frame> again = decodeFrames(body, slicing, seed);
        ASSERT_EQ(again.size(), frames.size());
        for (size_t i = 0; i < frames.size(); ++i) {
          EXPECT_EQ(again[i].payload, frames[i].payload);
          EXPECT_EQ(again[i].headers, frames[i].headers);
        }
      }
    }
  }
  EXPECT_EQ(total_frames, 1329u);
}

TEST(BedrockRecordings, InvokeModelAnthropicToSse) {
  int anthropic = 0, other = 0;
  for (const Recording& r : loadIndex()) {
    if (r.operation != "InvokeModelWithResponseStream") continue;
    SCOPED_TRACE(r.name);
    const std::string body = readFileText(kRecordings / (r.name + ".bin"));
    const std::vector<Frame> frames = decodeFrames(body);
    if (eventName(frames[0]) == "chunk(non-anthropic)") {
      // Nova/Titan/Llama bodies are not Anthropic events: the converter refuses, in Anthropic's
      // error shape, instead of forwarding something the client cannot read.
      ++other;
      InvokeStreamToAnthropicSse conv;
      std::string out;
      feed(body, 0, 0, [&](const Message& m) { conv.onMessage(m, out); });
      EXPECT_TRUE(conv.failed());
      const std::vector<SseEvent> events = parseSse(out);
      ASSERT_EQ(events.size(), 1u);
      EXPECT_EQ(events[0].event, "error");
      continue;
    }
    ++anthropic;
    std::vector<std::string> decoded;
    decoded.reserve(frames.size());
    for (const Frame& f : frames) decoded.push_back(chunkBytes(f));
    const AnthropicExpect want = anthropicExpectFromEvents(decoded);
    const json::value meta = json::parse(readFileText(kRecordings / (r.name + ".meta.json")));
    std::vector<std::string> seq;
    for (const json::value& e : meta.at("event_sequence").as_array())
      seq.emplace_back(e.as_string());
    EXPECT_EQ(want.types, seq);
    // Bedrock's metrics ride along in message_stop: kept, verbatim.
    EXPECT_NE(want.data.back().find("amazon-bedrock-invocationMetrics"), std::string::npos);
    EXPECT_GT(want.input, 0u);
    EXPECT_GT(want.output, 0u);
    checkAnthropic(body, want);
  }
  EXPECT_EQ(anthropic, 3);
  EXPECT_EQ(other, 4);
}

TEST(BedrockRecordings, InvokeModelToolCallsUsageIsTheLastDelta) {
  // Pinned values from the recording: message_start says 273 in, message_delta 88 out (the
  // invocationMetrics in message_stop say 72 and must not win over the Anthropic events).
  const std::string body = readFileText(
      kRecordings / "openinference-js__should-handle-streaming-responses-with-tool-calls__0.bin");
  InvokeStreamToAnthropicSse conv;
  std::string out;
  feed(body, 0, 0, [&](const Message& m) { conv.onMessage(m, out); });
  EXPECT_EQ(conv.usage().input_tokens, 273u);
  EXPECT_EQ(conv.usage().output_tokens, 88u);
  EXPECT_EQ(conv.model(), "claude-3-sonnet-20240229");
  EXPECT_NE(
      out.find("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
               "\"delta\":{\"type\":\"input_json_delta\""),
      std::string::npos);
}

TEST(BedrockRecordings, ConverseStreamToOpenAI) {
  int count = 0;
  for (const Recording& r : loadIndex()) {
    if (r.operation != "ConverseStream") continue;
    SCOPED_TRACE(r.name);
    ++count;
    const std::string body = readFileText(kRecordings / (r.name + ".bin"));
    std::vector<std::pair<std::string, std::string>> events;
    for (const Frame& f : decodeFrames(body)) events.emplace_back(eventName(f), f.payload);
    const ConverseExpect want = converseExpect(events);
    if (want.exception.empty()) {
      EXPECT_FALSE(want.finish_reason.empty());
      EXPECT_TRUE(want.has_usage);
      EXPECT_EQ(want.total, want.prompt + want.completion);
    }
    checkConverse(body, want);
  }
  EXPECT_EQ(count, 26);
}

TEST(BedrockRecordings, SyntheticExceptionEndsWithAnError) {
  const std::string body =
      readFileText(kRecordings / "vercel-ai-SYNTHETIC__model-stream-error-exception.bin");
  // The recording is the Vercel base64 fixture, byte for byte.
  std::string b64 = readFileText(kConformance /
                                 "vercel-ai-fixtures/amazon-bedrock/src/__fixtures__/"
                                 "synthetic/model-stream-error-exception.eventstream.base64.txt");
  while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
  EXPECT_EQ(b64decode(b64), body);

  ConverseStreamToOpenAISse conv("m", "id", 1, true);
  std::string out;
  feed(body, 0, 0, [&](const Message& m) { conv.onMessage(m, out); });
  conv.onEnd(out);
  EXPECT_EQ(
      out,
      "data: {\"id\":\"id\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"id\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"before error\"},"
      "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
      "data: {\"error\":{\"message\":\"Model Stream Error\",\"type\":\"bad_gateway_error\","
      "\"param\":null,\"code\":\"upstream_bad_response\"}}\n\n");
  EXPECT_TRUE(conv.failed());
  EXPECT_FALSE(conv.usage().known);

  // The same exception frame through the Anthropic converter.
  InvokeStreamToAnthropicSse anthropic;
  std::string sse;
  feed(body, 3, 3, [&](const Message& m) { anthropic.onMessage(m, sse); });
  anthropic.onEnd(sse);
  EXPECT_EQ(sse,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"Model Stream Error\"}}\n\n");
}

TEST(VercelFixtures, BedrockConverseChunks) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kVercelBedrock)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".chunks.txt")) continue;
    SCOPED_TRACE(name);
    ++count;
    // One {"<eventType>": payload} per line: encode each as the frame Bedrock would send.
    std::string body;
    std::vector<std::pair<std::string, std::string>> events;
    for (const std::string& l : nonEmptyLines(readFileText(entry.path()))) {
      const json::object o = json::parse(l).as_object();
      ASSERT_EQ(o.size(), 1u);
      const std::string type(o.begin()->key());
      const std::string payload = json::serialize(o.begin()->value());
      events.emplace_back(type, payload);
      body += encodeEvent(type, payload);
    }
    checkConverse(body, converseExpect(events));
  }
  EXPECT_EQ(count, 12);
}

TEST(VercelFixtures, AnthropicEventsWrappedAsInvokeModelChunks) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kVercelAnthropic)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".chunks.txt")) continue;
    SCOPED_TRACE(name);
    ++count;
    const std::vector<std::string> events = nonEmptyLines(readFileText(entry.path()));
    std::string body;
    for (size_t i = 0; i < events.size(); ++i) {
      // Bedrock's wrapper: base64 of the event plus a padding field of varying length.
      std::string payload = R"({"bytes":")";
      base64Encode(events[i], payload);
      payload += R"(","p":")" + std::string(i % 17, 'x') + "\"}";
      body += encodeEvent("chunk", payload);
    }
    const AnthropicExpect want = anthropicExpectFromEvents(events);
    if (want.types.back() != "message_stop") continue;
    checkAnthropic(body, want);
  }
  EXPECT_EQ(count, 23);
}

TEST(VercelFixtures, AnthropicPinnedUsage) {
  struct Case {
    std::string file;
    uint64_t input, output;
  };
  // message_delta may restate input_tokens (newer API): the later value wins.
  for (const Case& c : {Case{"anthropic-message-delta-input-tokens.chunks.txt", 61, 2},
                        Case{"duplicate-message-start.chunks.txt", 17, 227}}) {
    SCOPED_TRACE(c.file);
    std::string body;
    for (const std::string& e : nonEmptyLines(readFileText(kVercelAnthropic / c.file))) {
      std::string payload = R"({"bytes":")";
      base64Encode(e, payload);
      body += encodeEvent("chunk", payload + "\"}");
    }
    InvokeStreamToAnthropicSse conv;
    std::string out;
    feed(body, 0, 0, [&](const Message& m) { conv.onMessage(m, out); });
    EXPECT_EQ(conv.usage().input_tokens, c.input);
    EXPECT_EQ(conv.usage().output_tokens, c.output);
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made streams for the paths the recordings do not reach.

std::string chunk(std::string_view anthropic_event) {
  std::string payload = R"({"bytes":")";
  base64Encode(anthropic_event, payload);
  payload += R"(","p":"abc"})";
  return encodeEvent("chunk", payload);
}

template <typename Conv>
std::string run(Conv& conv, const std::string& body, bool end = true) {
  std::string out;
  EXPECT_EQ(feed(body, 0, 0, [&](const Message& m) { conv.onMessage(m, out); }), "");
  if (end) conv.onEnd(out);
  return out;
}

TEST(InvokeStreamToAnthropicSse, CacheTokensAndCumulativeOutput) {
  const std::string body =
      chunk(R"({"type":"message_start","message":{"model":"claude","usage":{"input_tokens":5,)"
            R"("cache_read_input_tokens":100,"cache_creation_input_tokens":20,)"
            R"("output_tokens":1}}})") +
      chunk(R"({"type":"message_delta","delta":{"stop_reason":null},)"
            R"("usage":{"output_tokens":10}})") +
      chunk(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
            R"("usage":{"output_tokens":25}})") +
      chunk(R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":5,)"
            R"("outputTokenCount":25}})");
  InvokeStreamToAnthropicSse conv;
  run(conv, body);
  EXPECT_EQ(conv.usage().input_tokens, 125u);
  EXPECT_EQ(conv.usage().cached_input_tokens, 100u);
  EXPECT_EQ(conv.usage().output_tokens, 25u);  // the last value, not 35
  EXPECT_TRUE(conv.usage().known);
}

TEST(InvokeStreamToAnthropicSse, InvocationMetricsAreTheFallback) {
  const std::string body = chunk(R"({"type":"message_start","message":{"model":"c"}})") +
                           chunk(R"({"type":"message_stop","amazon-bedrock-invocationMetrics":)"
                                 R"({"inputTokenCount":7,"outputTokenCount":9}})");
  InvokeStreamToAnthropicSse conv;
  run(conv, body);
  EXPECT_TRUE(conv.usage().known);
  EXPECT_EQ(conv.usage().input_tokens, 7u);
  EXPECT_EQ(conv.usage().output_tokens, 9u);
}

TEST(InvokeStreamToAnthropicSse, ExceptionsAndTruncation) {
  struct Case {
    std::string frame, want;
  };
  const std::vector<Case> cases = {
      {encodeException("throttlingException", R"({"message":"Too many requests"})"),
       R"({"type":"error","error":{"type":"rate_limit_error","message":"Too many requests"}})"},
      {encodeException("validationException", R"({"message":"bad input"})"),
       R"({"type":"error","error":{"type":"invalid_request_error","message":"bad input"}})"},
      {encodeException("modelStreamErrorException", R"({"message":"boom"})"),
       R"({"type":"error","error":{"type":"overloaded_error","message":"boom"}})"},
      {encodeException("accessDeniedException",
                       R"({"message":"User: arn:aws:sts::123:assumed-role/gw is not authorized"})"),
       R"({"type":"error","error":{"type":"overloaded_error",)"
       R"("message":"the upstream provider rejected the gateway's credentials"}})"},
  };
  for (const Case& c : cases) {
    InvokeStreamToAnthropicSse conv;
    const std::string body =
        chunk(R"({"type":"message_start","message":{"usage":{"input_tokens":3}}})") + c.frame +
        chunk(R"({"type":"message_stop"})");
    const std::vector<SseEvent> events = parseSse(run(conv, body));
    ASSERT_EQ(events.size(), 2u);  // nothing after the error, not even at the end
    EXPECT_EQ(events[1].event, "error");
    EXPECT_EQ(events[1].data, c.want);
    EXPECT_TRUE(conv.failed());
    EXPECT_EQ(conv.usage().input_tokens, 3u);
  }
  InvokeStreamToAnthropicSse cut;
  const std::vector<SseEvent> events =
      parseSse(run(cut, chunk(R"({"type":"message_start","message":{}})")));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].event, "error");
  EXPECT_TRUE(cut.failed());

  InvokeStreamToAnthropicSse broken;
  std::string out;
  broken.onStreamError("Message checksum mismatch", out);
  EXPECT_EQ(parseSse(out).at(0).event, "error");
  EXPECT_EQ(broken.error().detail, "Message checksum mismatch");
  EXPECT_EQ(out.find("checksum"), std::string::npos) << "details stay in the log";
}

TEST(InvokeStreamToAnthropicSse, MalformedChunksFail) {
  for (const std::string& frame :
       {encodeEvent("chunk", "not json"), encodeEvent("chunk", R"({"bytes":"***"})"),
        encodeEvent("chunk", R"({"nobytes":1})"), chunk("[1,2]"), chunk(R"({"no":"type"})")}) {
    InvokeStreamToAnthropicSse conv;
    const std::vector<SseEvent> events = parseSse(run(conv, frame));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, "error");
    EXPECT_TRUE(conv.failed());
  }
  // Pretty-printed JSON is re-serialised onto one line rather than breaking the SSE framing.
  InvokeStreamToAnthropicSse conv;
  const std::string out = run(conv, chunk("{\n \"type\": \"ping\"\n}"), false);
  EXPECT_EQ(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

TEST(ConverseStreamToOpenAISse, UsageWithCacheAndOrdering) {
  // metadata before messageStop (seen in the Vercel fixtures): usage still comes last.
  const std::string body =
      encodeEvent("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"hi"}})") +
      encodeEvent("metadata", R"({"usage":{"inputTokens":10,"outputTokens":4,"totalTokens":134,)"
                              R"("cacheReadInputTokens":100,"cacheWriteInputTokens":20}})") +
      encodeEvent("messageStop", R"({"stopReason":"max_tokens"})");
  ConverseStreamToOpenAISse conv("m", "c", 5, true);
  const std::vector<SseEvent> events = parseSse(run(conv, body));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_NE(events[0].data.find(R"("role":"assistant")"), std::string::npos);
  EXPECT_NE(events[2].data.find(R"("finish_reason":"length")"), std::string::npos);
  EXPECT_EQ(events[3].data,
            R"({"id":"c","object":"chat.completion.chunk","created":5,"model":"m","choices":[],)"
            R"("usage":{"prompt_tokens":130,"completion_tokens":4,"total_tokens":134,)"
            R"("prompt_tokens_details":{"cached_tokens":100}}})");
  EXPECT_EQ(events[4].data, "[DONE]");
  EXPECT_EQ(conv.usage().input_tokens, 130u);
  EXPECT_EQ(conv.usage().cached_input_tokens, 100u);
}

TEST(ConverseStreamToOpenAISse, EndingsAndErrors) {
  {  // messageStop without metadata: [DONE] at the end, no usage chunk.
    ConverseStreamToOpenAISse conv("m", "c", 5, true);
    const std::vector<SseEvent> events =
        parseSse(run(conv, encodeEvent("messageStop", R"({"stopReason":"guardrail_intervened"})")));
    ASSERT_EQ(events.size(), 3u);
    EXPECT_NE(events[1].data.find(R"("finish_reason":"content_filter")"), std::string::npos);
    EXPECT_EQ(events[2].data, "[DONE]");
    EXPECT_FALSE(conv.usage().known);
  }
  {  // Cut before messageStop: an error, no [DONE].
    ConverseStreamToOpenAISse conv("m", "c", 5, true);
    const std::vector<SseEvent> events = parseSse(run(conv, encodeEvent("messageStart", "{}")));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_NE(events[1].data.find(R"({"error":{)"), std::string::npos);
    EXPECT_TRUE(conv.failed());
  }
  {  // Throttled mid-stream.
    ConverseStreamToOpenAISse conv("m", "c", 5, false);
    const std::string body = encodeEvent("messageStart", R"({"role":"assistant"})") +
                             encodeException("throttlingException", R"({"message":"slow down"})") +
                             encodeEvent("messageStop", R"({"stopReason":"end_turn"})");
    const std::vector<SseEvent> events = parseSse(run(conv, body));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].data, R"({"error":{"message":"slow down","type":"rate_limit_error",)"
                              R"("param":null,"code":"rate_limited"}})");
    EXPECT_TRUE(conv.error().retryable);
  }
  {  // An AWS `error` message (:error-code / :error-message headers).
    const Header hs[] = {Header::ofString(":message-type", "error"),
                         Header::ofString(":error-code", "InternalServerException"),
                         Header::ofString(":error-message", "try again")};
    std::string body;
    ASSERT_TRUE(encodeMessage(hs, "", body));
    ConverseStreamToOpenAISse conv("m", "c", 5, false);
    const std::vector<SseEvent> events = parseSse(run(conv, body));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(events[0].data.find(R"("message":"try again")"), std::string::npos);
    EXPECT_TRUE(conv.error().retryable);
  }
  {  // Server-side tools only: not forwarded, finish_reason stop.
    const std::string body =
        encodeEvent("contentBlockStart",
                    R"({"contentBlockIndex":0,"start":{"toolUse":)"
                    R"({"name":"x","toolUseId":"t","type":"server_tool_use"}}})") +
        encodeEvent("contentBlockDelta",
                    R"({"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}})") +
        encodeEvent("messageStop", R"({"stopReason":"tool_use"})");
    ConverseStreamToOpenAISse conv("m", "c", 5, false);
    const std::string out = run(conv, body);
    EXPECT_EQ(out.find("tool_calls\":["), std::string::npos);
    EXPECT_EQ(conv.finishReason(), "stop");
  }
}

TEST(BedrockStream, FinishReasons) {
  expectEach<std::string_view>(finishReasonForStopReason,
                               {
                                   {"end_turn", "stop"},
                                   {"stop_sequence", "stop"},
                                   {"tool_use", "tool_calls"},
                                   {"max_tokens", "length"},
                                   {"model_context_window_exceeded", "length"},
                                   {"guardrail_intervened", "content_filter"},
                                   {"content_filtered", "content_filter"},
                                   {"something_new", "stop"},
                               });
}

TEST(BedrockStream, ExceptionMapping) {
  Error e = bedrockExceptionToError("ThrottlingException:http://internal.amazon.com/coral/", "x");
  EXPECT_EQ(e.code, ErrorCode::kRateLimited);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.public_message, "x");
  e = bedrockExceptionToError("AccessDeniedException", "arn:aws:iam::123456789012:role/secret");
  EXPECT_EQ(e.public_message.find("arn:"), std::string::npos);
  EXPECT_NE(e.detail.find("arn:aws:iam::123456789012"), std::string::npos);
  EXPECT_EQ(bedrockExceptionToError("modelTimeoutException", "").code, ErrorCode::kUpstreamTimeout);
  EXPECT_EQ(bedrockExceptionToError("modelTimeoutException", "").public_message,
            "modelTimeoutException");
  EXPECT_EQ(bedrockExceptionToError("ResourceNotFoundException", "m").code,
            ErrorCode::kModelNotFound);
  EXPECT_EQ(bedrockExceptionToError("serviceUnavailableException", "m").httpStatus(), 503);
  EXPECT_EQ(bedrockExceptionToError("brandNewException", "internal text").public_message,
            "upstream provider error");
}

TEST(BedrockStream, Base64) {
  std::string out;
  EXPECT_TRUE(base64Decode("", out));
  EXPECT_EQ(out, "");
  for (const auto& [enc, dec] :
       std::vector<std::pair<std::string, std::string>>{{"Zg==", "f"},
                                                        {"Zm8=", "fo"},
                                                        {"Zm9v", "foo"},
                                                        {"Zm9vYg==", "foob"},
                                                        {"Zg", "f"},
                                                        {"Zm8", "fo"},
                                                        {"AP8=", std::string("\x00\xff", 2)}}) {
    out.clear();
    EXPECT_TRUE(base64Decode(enc, out)) << enc;
    EXPECT_EQ(out, dec);
    if (enc.size() % 4 == 0) {
      std::string back;
      base64Encode(dec, back);
      EXPECT_EQ(back, enc);
    }
  }
  for (const std::string bad :
       {"Z", "Zm9vY", "Zg=", "Z===", "Zm9v\n", "Zm-v", "Zg==Zg==", "=Zg="}) {
    out = "keep";
    EXPECT_FALSE(base64Decode(bad, out)) << bad;
  }
}

// Found by tests/fuzz/bedrock_anthropic_fuzz: a token count of 8.5e32 was cast to uint64_t
// (undefined behaviour). Counts past uint64's range read as unset, like negative ones.
TEST(ReadTokenCount, DoublesOutsideUint64AreUnset) {
  uint64_t n = 7;
  json::value big = 8.55556e+32;
  EXPECT_FALSE(readTokenCount(&big, n));
  json::value two_to_64 = 18446744073709551616.0;
  EXPECT_FALSE(readTokenCount(&two_to_64, n));
  json::value nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(readTokenCount(&nan, n));
  json::value negative = -1.0;
  EXPECT_FALSE(readTokenCount(&negative, n));
  EXPECT_EQ(n, 7u);
  json::value fine = 12.9;
  EXPECT_TRUE(readTokenCount(&fine, n));
  EXPECT_EQ(n, 12u);
  json::value integer = json::parse("18446744073709551615");
  EXPECT_TRUE(readTokenCount(&integer, n));
  EXPECT_EQ(n, UINT64_MAX);
}

}  // namespace
}  // namespace tollgate::providers
