// Data-driven: request mappings are folders under tests/fixtures/providers/converse/ (a new case
// is a new folder), responses come from shared/conformance (the Vercel AI Bedrock fixtures and
// the recorded ConverseStream bodies). Expectations on responses are computed from the Converse
// data itself, by code independent of the translator.
#include "providers/openai_to_aws_bedrock.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "api/request.h"
#include "common/file_test_util.h"
#include "providers/formats/event_stream.h"

namespace tollgate::providers {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs
namespace json = boost::json;
using formats::encodeEvent;
using formats::EventStreamDecoder;
using formats::Message;

const fs::path kFixtures = fixtureDir("providers/converse");
const fs::path kConformance = conformanceDir();
const fs::path kRecordings = kConformance / "bedrock-eventstream-extracted";
const fs::path kVercel = kConformance / "vercel-ai-fixtures/amazon-bedrock/src/__fixtures__";

// Whole (0), then random piece sizes up to N, fixed seeds.
constexpr size_t kSlicings[] = {0, 1, 7, 100, 4096};
constexpr uint32_t kSeed = 42;

bool endsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view k : path) {
    const json::object* o = cur->if_object();
    if (o == nullptr || (cur = o->if_contains(k)) == nullptr) return nullptr;
  }
  return cur;
}

uint64_t count(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* x = at(v, path);
  return x != nullptr && x->is_number() ? x->to_number<uint64_t>() : 0;
}

std::string str(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A translator that has seen a request for `model` (stream or not, include_usage or not).
std::unique_ptr<Translator> translatorFor(bool stream, bool include_usage,
                                          const std::string& model = "test-model") {
  std::unique_ptr<Translator> t = makeOpenAIToAwsBedrock();
  std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])";
  if (stream) body += R"(,"stream":true)";
  if (include_usage) body += R"(,"stream_options":{"include_usage":true})";
  body += "}";
  auto req = api::parseRequest(api::ApiKind::kChatCompletions, body);
  EXPECT_TRUE(req.ok());
  auto up = t->translateRequest(req.value(), body, "");
  EXPECT_TRUE(up.ok());
  return t;
}

// Feeds `bytes` whole (max_slice 0) or in random pieces, then the end of the body; `last` gets
// the output of the last call.
std::string feedStream(Translator& t, std::string_view bytes, size_t max_slice, uint32_t seed,
                       ResponseOutput* last = nullptr) {
  std::string out;
  ResponseOutput got;
  if (max_slice == 0) {
    got = t.onChunk(bytes, true, out);
  } else {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> dist(1, max_slice);
    for (size_t pos = 0; pos < bytes.size();) {
      const size_t n = std::min(dist(rng), bytes.size() - pos);
      t.onChunk(bytes.substr(pos, n), false, out);
      pos += n;
    }
    got = t.onChunk({}, true, out);
  }
  if (last != nullptr) *last = got;
  return out;
}

// The SSE events of an OpenAI stream: each `data:` payload, "[DONE]" kept as a string.
std::vector<std::string> sseData(const std::string& out) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event: " << out.substr(pos);
    if (end == std::string::npos) break;
    const std::string ev = out.substr(pos, end - pos);
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    events.push_back(ev.substr(6));
    pos = end + 2;
  }
  return events;
}

// What a client assembles from the chunks.
struct Assembled {
  std::string content, reasoning, finish_reason;
  std::map<int64_t, std::pair<std::string, std::string>> tools;  // index -> (id/name, args)
  std::optional<json::value> usage_chunk;
  bool done = false;
  bool error = false;
};

Assembled assemble(const std::string& out) {
  Assembled a;
  for (const std::string& data : sseData(out)) {
    EXPECT_FALSE(a.done) << "event after [DONE]";
    if (data == "[DONE]") {
      a.done = true;
      continue;
    }
    json::value v = json::parse(data);
    if (at(v, {"error"}) != nullptr) {
      a.error = true;
      continue;
    }
    EXPECT_EQ(str(at(v, {"object"})), "chat.completion.chunk");
    EXPECT_EQ(str(at(v, {"id"})).rfind("chatcmpl-", 0), 0u);
    if (at(v, {"usage"}) != nullptr) {
      EXPECT_FALSE(a.usage_chunk.has_value()) << "two usage chunks";
      EXPECT_TRUE(v.at("choices").as_array().empty());
      a.usage_chunk = v.at("usage");
      continue;
    }
    EXPECT_FALSE(a.usage_chunk.has_value()) << "usage must come last";
    const json::value& choice = v.at("choices").as_array().at(0);
    const json::value& delta = choice.at("delta");
    a.content += str(at(delta, {"content"}));
    a.reasoning += str(at(delta, {"reasoning_content"}));
    if (const json::value* calls = at(delta, {"tool_calls"})) {
      for (const json::value& c : calls->as_array()) {
        auto& slot = a.tools[c.at("index").as_int64()];
        if (const json::value* id = at(c, {"id"})) {
          slot.first = str(id) + "/" + str(at(c, {"function", "name"}));
        }
        slot.second += str(at(c, {"function", "arguments"}));
      }
    }
    if (const json::value* f = at(choice, {"finish_reason"}); f != nullptr && f->is_string()) {
      EXPECT_TRUE(a.finish_reason.empty()) << "two finish chunks";
      a.finish_reason = std::string(f->as_string());
    }
  }
  return a;
}

// ---- requests ----

TEST(ConverseTranslatorRequest, Fixtures) {
  int cases = 0;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    ++cases;
    const std::string body = readFileText(dir / "openai_request.json");
    auto req = api::parseRequest(api::ApiKind::kChatCompletions, body);
    ASSERT_TRUE(req.ok()) << req.error().public_message;
    std::string override_model;
    if (fs::exists(dir / "model_override.txt")) {
      override_model = trimTrailing(readFileText(dir / "model_override.txt"));
    }
    const auto owner = makeOpenAIToAwsBedrock();
    Translator& t = *owner;
    auto up = t.translateRequest(req.value(), body, override_model);
    if (fs::exists(dir / "expected_error.json")) {
      const json::value want = json::parse(readFileText(dir / "expected_error.json"));
      ASSERT_FALSE(up.ok()) << up.value().body;
      EXPECT_EQ(up.error().httpStatus(), want.at("status").as_int64());
      EXPECT_EQ(up.error().source, ErrorSource::kClient);
      EXPECT_NE(up.error().public_message.find(str(at(want, {"message_contains"}))),
                std::string::npos)
          << up.error().public_message;
      EXPECT_EQ(up.error().param, str(at(want, {"param"})));
      continue;
    }
    ASSERT_TRUE(up.ok()) << up.error().public_message;
    EXPECT_EQ(up->path, trimTrailing(readFileText(dir / "expected_path.txt")));
    EXPECT_FALSE(up->body_unchanged);
    EXPECT_EQ(json::parse(up->body),
              json::parse(readFileText(dir / "expected_converse_request.json")))
        << up->body;
    std::map<std::string, std::string> headers(up->headers.begin(), up->headers.end());
    EXPECT_EQ(headers["content-type"], "application/json");
    EXPECT_EQ(headers["accept"],
              req->stream ? "application/vnd.amazon.eventstream" : "application/json");
    // Converse reports no model: the one sent upstream is known from the head on.
    const ResponseStart start = t.onResponseStart(200, "application/json", {});
    EXPECT_EQ(start.output.model, override_model.empty() ? req->model : override_model);
  }
  EXPECT_GE(cases, 16);
}

TEST(ConverseTranslatorRequest, RejectsMalformedBodies) {
  const std::pair<const char*, const char*> kCases[] = {
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":[{"role":"function","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/bmp;base64,AAAA"}}]}]})",
       "messages[0].content[0].image_url.url"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/png,rawbytes"}}]}]})",
       "messages[0].content[0].image_url.url"},
      {R"({"model":"m","messages":[],"tools":[{"type":"custom","custom":{}}]})", "tools[0].type"},
      {R"({"model":"m","messages":[],"stop":5})", "stop"},
      {R"({"model":"m","messages":[],"temperature":"hot"})", "temperature"},
      {R"({"model":"m","messages":[],"max_tokens":-1})", "max_tokens"},
      {R"({"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f"}}],)"
       R"("tool_choice":"sometimes"})",
       "tool_choice"},
  };
  for (const auto& [body, param] : kCases) {
    SCOPED_TRACE(body);
    auto req = api::parseRequest(api::ApiKind::kChatCompletions, body);
    ASSERT_TRUE(req.ok());
    const auto owner = makeOpenAIToAwsBedrock();
    Translator& t = *owner;
    auto up = t.translateRequest(req.value(), body, "");
    ASSERT_FALSE(up.ok());
    EXPECT_EQ(up.error().httpStatus(), 400);
    EXPECT_EQ(up.error().param, param);
  }
}

// ---- non-stream responses ----

// Checks a chat.completion rendered from the Converse response `converse`.
void expectCompletion(const json::value& converse, const json::value& got,
                      const ResponseOutput& result) {
  EXPECT_EQ(str(at(got, {"object"})), "chat.completion");
  EXPECT_EQ(str(at(got, {"id"})).rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(str(at(got, {"model"})), "test-model");
  EXPECT_TRUE(at(got, {"created"})->is_int64());
  const json::value& choice = got.at("choices").as_array().at(0);
  const json::value& msg = choice.at("message");
  EXPECT_EQ(str(at(msg, {"role"})), "assistant");

  std::string text, reasoning;
  bool has_text = false;
  std::vector<const json::value*> uses;
  for (const json::value& b : converse.at("output").at("message").at("content").as_array()) {
    if (const json::value* x = at(b, {"text"})) {
      text += x->as_string();
      has_text = true;
    }
    if (const json::value* r = at(b, {"reasoningContent", "reasoningText", "text"})) {
      reasoning += r->as_string();
    }
    if (const json::value* u = at(b, {"toolUse"})) uses.push_back(u);
  }
  if (has_text) {
    EXPECT_EQ(str(at(msg, {"content"})), text);
  } else {
    EXPECT_TRUE(at(msg, {"content"})->is_null());
  }
  EXPECT_EQ(str(at(msg, {"reasoning_content"})), reasoning);
  const json::value* calls = at(msg, {"tool_calls"});
  ASSERT_EQ(calls == nullptr ? 0 : calls->as_array().size(), uses.size());
  for (size_t i = 0; i < uses.size(); ++i) {
    const json::value& c = calls->as_array()[i];
    EXPECT_EQ(str(at(c, {"id"})), str(at(*uses[i], {"toolUseId"})));
    EXPECT_EQ(str(at(c, {"type"})), "function");
    EXPECT_EQ(str(at(c, {"function", "name"})), str(at(*uses[i], {"name"})));
    EXPECT_EQ(json::parse(str(at(c, {"function", "arguments"}))), uses[i]->at("input"));
  }
  const std::string stop = str(at(converse, {"stopReason"}));
  EXPECT_EQ(str(at(choice, {"finish_reason"})),
            stop == "tool_use" ? "tool_calls" : (stop == "max_tokens" ? "length" : "stop"));

  const uint64_t prompt = count(converse, {"usage", "inputTokens"}) +
                          count(converse, {"usage", "cacheReadInputTokens"}) +
                          count(converse, {"usage", "cacheWriteInputTokens"});
  const uint64_t completion = count(converse, {"usage", "outputTokens"});
  const uint64_t total = std::max(count(converse, {"usage", "totalTokens"}), prompt + completion);
  const uint64_t cached = count(converse, {"usage", "cacheReadInputTokens"});
  EXPECT_EQ(count(got, {"usage", "prompt_tokens"}), prompt);
  EXPECT_EQ(count(got, {"usage", "completion_tokens"}), completion);
  EXPECT_EQ(count(got, {"usage", "total_tokens"}), total);
  EXPECT_EQ(count(got, {"usage", "prompt_tokens_details", "cached_tokens"}), cached);
  EXPECT_TRUE(result.usage.known);
  EXPECT_EQ(result.usage.input_tokens, prompt);
  EXPECT_EQ(result.usage.output_tokens, completion);
  EXPECT_EQ(result.usage.total_tokens, total);
  EXPECT_EQ(result.usage.cached_input_tokens, cached);
  EXPECT_EQ(result.model, "test-model");
  EXPECT_EQ(result.status, 200);
}

TEST(ConverseTranslatorResponse, VercelJsonFixtures) {
  int cases = 0;
  for (const auto& e : fs::directory_iterator(kVercel)) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().filename().string());
    ++cases;
    const std::string converse = readFileText(e.path());
    const auto owner = translatorFor(false, false);
    Translator& t = *owner;
    const ResponseStart start = t.onResponseStart(200, "application/json", {});
    EXPECT_FALSE(start.stream);
    EXPECT_EQ(start.content_type, "application/json");
    std::string body = converse;
    const ResponseOutput result = t.onBody(body);
    expectCompletion(json::parse(converse), json::parse(body), result);
  }
  EXPECT_GE(cases, 11);
}

TEST(ConverseTranslatorResponse, CachedTokensReasoningAndServerTools) {
  const std::string converse = R"({
    "output": {"message": {"role": "assistant", "content": [
      {"reasoningContent": {"reasoningText": {"text": "think", "signature": "sig"}}},
      {"reasoningContent": {"redactedContent": "AAAA"}},
      {"toolUse": {"toolUseId": "srv", "name": "code", "type": "server_tool_use", "input": {}}},
      {"toolResult": {"toolUseId": "srv", "content": [{"text": "42"}]}},
      {"text": "The answer"}, {"text": " is 42."}]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 815,
              "cacheReadInputTokens": 600, "cacheWriteInputTokens": 200}})";
  const auto owner = translatorFor(false, false);
  Translator& t = *owner;
  t.onResponseStart(200, "application/json", {});
  std::string body = converse;
  const ResponseOutput result = t.onBody(body);
  const json::value got = json::parse(body);
  const json::value& choice = got.at("choices").as_array().at(0);
  EXPECT_EQ(str(at(choice, {"message", "content"})), "The answer is 42.");
  EXPECT_EQ(str(at(choice, {"message", "reasoning_content"})), "think");
  EXPECT_EQ(at(choice, {"message", "tool_calls"}), nullptr);
  // tool_use with only server-side tools: nothing for the client to call.
  EXPECT_EQ(str(at(choice, {"finish_reason"})), "stop");
  EXPECT_EQ(count(got, {"usage", "prompt_tokens"}), 810u);
  EXPECT_EQ(count(got, {"usage", "total_tokens"}), 815u);
  EXPECT_EQ(count(got, {"usage", "prompt_tokens_details", "cached_tokens"}), 600u);
  EXPECT_EQ(result.usage.input_tokens, 810u);
  EXPECT_EQ(result.usage.cached_input_tokens, 600u);
  EXPECT_EQ(result.usage.output_tokens, 5u);
  EXPECT_EQ(result.usage.total_tokens, 815u);
}

TEST(ConverseTranslatorResponse, JsonArrivingInPieces) {
  const std::string converse = readFileText(kVercel / "amazon-bedrock-text.json");
  const auto owner = translatorFor(false, false);
  Translator& t = *owner;
  t.onResponseStart(200, "application/json", {});
  ResponseOutput last;
  const std::string out = feedStream(t, converse, 7, kSeed, &last);
  expectCompletion(json::parse(converse), json::parse(out), last);
}

TEST(ConverseTranslatorResponse, ErrorsBecomeOpenAIErrors) {
  struct Case {
    int status;
    const char* error_type;  // x-amzn-errortype, "" when absent
    const char* body;
    const char* want_type;
    const char* want_message;
  };
  const Case kCases[] = {
      {429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
       R"({"message":"Too many requests, please wait before trying again."})", "rate_limit_error",
       "Too many requests, please wait before trying again."},
      {400, "ValidationException",
       R"({"message":"A conversation must start with a user message."})", "invalid_request_error",
       "A conversation must start with a user message."},
      {403, "AccessDeniedException",
       R"({"Message":"User: arn:aws:iam::1:role/x is not authorized"})", "permission_error",
       "the upstream provider rejected the gateway's credentials"},
      {404, "ResourceNotFoundException", R"({"message":"Model not found"})", "not_found_error",
       "Model not found"},
      {503, "", "<html>bad gateway</html>", "service_unavailable_error",
       "upstream error (HTTP 503)"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.body);
    const auto owner = translatorFor(true, true);
    Translator& t = *owner;
    std::vector<std::pair<std::string, std::string>> headers;
    if (*c.error_type != '\0') headers.emplace_back("X-Amzn-ErrorType", c.error_type);
    const ResponseStart start = t.onResponseStart(c.status, "application/json", headers);
    EXPECT_EQ(start.content_type, "application/json");
    std::string body = c.body;
    const ResponseOutput result = t.onBody(body);
    const json::value got = json::parse(body);
    EXPECT_EQ(str(at(got, {"error", "type"})), c.want_type);
    EXPECT_EQ(str(at(got, {"error", "message"})), c.want_message);
    EXPECT_FALSE(result.usage.known);
    EXPECT_EQ(result.status, c.status);
  }
}

TEST(ConverseTranslatorResponse, UnreadableSuccessBodyBecomesAnError) {
  const auto owner = translatorFor(false, false);
  Translator& t = *owner;
  t.onResponseStart(200, "application/json", {});
  std::string body = R"({"unexpected":true})";
  const ResponseOutput result = t.onBody(body);
  EXPECT_EQ(str(at(json::parse(body), {"error", "type"})), "bad_gateway_error");
  EXPECT_EQ(result.status, 502);
}

// ---- streams ----

// The Vercel *.chunks.txt files: one ConverseStream event per line, {"<event type>": payload}.
TEST(ConverseTranslatorStream, VercelChunkFixtures) {
  int cases = 0;
  for (const auto& e : fs::directory_iterator(kVercel)) {
    const std::string name = e.path().filename().string();
    if (!endsWith(name, ".chunks.txt")) continue;
    ++cases;
    std::string wire, text;
    std::map<int64_t, std::string> tool_args;  // contentBlockIndex -> input
    std::map<int64_t, std::string> tool_names;
    std::string stop;
    std::optional<json::value> usage;
    for (const std::string& line : nonEmptyLines(readFileText(e.path()))) {
      const json::object ev = json::parse(line).as_object();
      ASSERT_EQ(ev.size(), 1u) << line;
      const std::string type(ev.begin()->key());
      const json::value& payload = ev.begin()->value();
      wire += encodeEvent(type, json::serialize(payload));
      const int64_t block = count(payload, {"contentBlockIndex"});
      if (type == "contentBlockDelta") {
        text += str(at(payload, {"delta", "text"}));
        if (const json::value* in = at(payload, {"delta", "toolUse", "input"})) {
          tool_args[block] += in->as_string();
        }
      } else if (type == "contentBlockStart") {
        if (const json::value* u = at(payload, {"start", "toolUse"})) {
          tool_names[block] = str(at(*u, {"toolUseId"})) + "/" + str(at(*u, {"name"}));
          tool_args[block];
        }
      } else if (type == "messageStop") {
        stop = str(at(payload, {"stopReason"}));
      } else if (type == "metadata") {
        usage = payload.at("usage");
      }
    }
    for (bool include_usage : {false, true}) {
      for (size_t slice : kSlicings) {
        SCOPED_TRACE(name + " slice " + std::to_string(slice) +
                     (include_usage ? " with usage" : ""));
        const auto owner = translatorFor(true, include_usage);
        Translator& t = *owner;
        const std::string ct = "application/vnd.amazon.eventstream";
        const ResponseStart start = t.onResponseStart(200, ct, {});
        ASSERT_TRUE(start.stream);
        EXPECT_EQ(start.content_type, "text/event-stream; charset=utf-8");
        ResponseOutput last;
        const Assembled a = assemble(feedStream(t, wire, slice, kSeed, &last));
        EXPECT_TRUE(a.done);
        EXPECT_FALSE(a.error);
        EXPECT_EQ(a.content, text);
        EXPECT_EQ(a.finish_reason, stop == "tool_use" ? "tool_calls" : "stop");
        ASSERT_EQ(a.tools.size(), tool_args.size());
        size_t i = 0;
        for (const auto& [block, args] : tool_args) {
          const auto& got = a.tools.at(static_cast<int64_t>(i++));
          EXPECT_EQ(got.first, tool_names[block]);
          EXPECT_EQ(got.second, args);
        }
        if (!usage) {
          EXPECT_FALSE(last.usage.known);
          EXPECT_FALSE(a.usage_chunk.has_value());
          continue;
        }
        const uint64_t in = count(*usage, {"inputTokens"}) +
                            count(*usage, {"cacheReadInputTokens"}) +
                            count(*usage, {"cacheWriteInputTokens"});
        const uint64_t out = count(*usage, {"outputTokens"});
        EXPECT_TRUE(last.usage.known);
        EXPECT_EQ(last.usage.input_tokens, in);
        EXPECT_EQ(last.usage.output_tokens, out);
        EXPECT_EQ(last.usage.cached_input_tokens, count(*usage, {"cacheReadInputTokens"}));
        EXPECT_EQ(last.usage.total_tokens, std::max(count(*usage, {"totalTokens"}), in + out));
        EXPECT_EQ(a.usage_chunk.has_value(), include_usage);
        if (a.usage_chunk) {
          EXPECT_EQ(count(*a.usage_chunk, {"prompt_tokens"}), last.usage.input_tokens);
          EXPECT_EQ(count(*a.usage_chunk, {"completion_tokens"}), last.usage.output_tokens);
          EXPECT_EQ(count(*a.usage_chunk, {"total_tokens"}), last.usage.total_tokens);
        }
      }
    }
  }
  EXPECT_GE(cases, 12);
}

struct Recording {
  std::string name;
  std::string bytes;
};

std::vector<Recording> converseRecordings() {
  std::vector<Recording> out;
  const std::vector<std::string> rows = nonEmptyLines(readFileText(kRecordings / "INDEX.tsv"));
  for (size_t i = 1; i < rows.size(); ++i) {
    std::istringstream f(rows[i]);
    std::string name, operation;
    std::getline(f, name, '\t');
    std::getline(f, operation, '\t');
    if (operation == "ConverseStream") {
      out.push_back({name, readFileText(kRecordings / (name + ".bin"))});
    }
  }
  return out;
}

// The metadata usage and whether an exception frame is present, read with a decoder of its own.
struct StreamFacts {
  std::optional<json::value> usage;
  bool exception = false;
};

StreamFacts factsOf(std::string_view bytes) {
  StreamFacts f;
  EventStreamDecoder d([&](const Message& m) {
    if (m.header(":message-type") != "event") f.exception = true;
    if (m.header(":event-type") == "metadata") {
      const json::value v = json::parse(m.payload);
      if (const json::value* u = at(v, {"usage"})) f.usage = *u;
    }
  });
  EXPECT_TRUE(d.feed(bytes));
  EXPECT_TRUE(d.atMessageBoundary());
  return f;
}

TEST(ConverseTranslatorStream, RecordedConverseStreams) {
  const std::vector<Recording> recordings = converseRecordings();
  EXPECT_GE(recordings.size(), 26u);
  for (const Recording& r : recordings) {
    const StreamFacts facts = factsOf(r.bytes);
    for (size_t slice : kSlicings) {
      SCOPED_TRACE(r.name + " slice " + std::to_string(slice));
      const auto owner = translatorFor(true, true);
      Translator& t = *owner;
      t.onResponseStart(200, "application/vnd.amazon.eventstream", {});
      ResponseOutput last;
      const std::string out =
          feedStream(t, r.bytes, slice, kSeed + static_cast<uint32_t>(slice), &last);
      const Assembled a = assemble(out);
      EXPECT_EQ(last.failed, facts.exception);
      if (facts.exception) {
        EXPECT_TRUE(a.error);
        EXPECT_FALSE(a.done);
        EXPECT_EQ(out.rfind("data: {\"error\":"), out.rfind("data: "));
        continue;
      }
      EXPECT_TRUE(endsWith(out, "data: [DONE]\n\n"));
      EXPECT_FALSE(a.error);
      EXPECT_FALSE(a.finish_reason.empty());
      ASSERT_TRUE(facts.usage.has_value());
      const json::value& u = *facts.usage;
      const uint64_t in = count(u, {"inputTokens"}) + count(u, {"cacheReadInputTokens"}) +
                          count(u, {"cacheWriteInputTokens"});
      EXPECT_TRUE(last.usage.known);
      EXPECT_EQ(last.usage.input_tokens, in);
      EXPECT_EQ(last.usage.output_tokens, count(u, {"outputTokens"}));
      EXPECT_EQ(last.usage.cached_input_tokens, count(u, {"cacheReadInputTokens"}));
      EXPECT_EQ(last.usage.total_tokens,
                std::max(count(u, {"totalTokens"}), in + count(u, {"outputTokens"})));
      ASSERT_TRUE(a.usage_chunk.has_value());
      EXPECT_EQ(count(*a.usage_chunk, {"prompt_tokens"}), last.usage.input_tokens);
      EXPECT_EQ(count(*a.usage_chunk, {"total_tokens"}), last.usage.total_tokens);
    }
  }
}

TEST(ConverseTranslatorStream, CutInsideAFrameEndsWithAnError) {
  const std::string bytes =
      readFileText(kRecordings / "pydantic-ai__test_bedrock_model_stream__0.bin");
  ASSERT_GT(bytes.size(), 100u);
  const auto owner = translatorFor(true, false);
  Translator& t = *owner;
  t.onResponseStart(200, "application/vnd.amazon.eventstream", {});
  ResponseOutput last;
  const std::string out =
      feedStream(t, std::string_view(bytes).substr(0, bytes.size() - 20), 50, kSeed, &last);
  const Assembled a = assemble(out);
  EXPECT_TRUE(last.failed);
  EXPECT_TRUE(a.error);
  EXPECT_FALSE(a.done);
}

TEST(ConverseTranslatorStream, UpstreamFailureMidStream) {
  const std::string bytes =
      readFileText(kRecordings / "pydantic-ai__test_bedrock_model_stream__0.bin");
  const auto owner = translatorFor(true, false);
  Translator& t = *owner;
  t.onResponseStart(200, "application/vnd.amazon.eventstream", {});
  std::string out;
  EXPECT_FALSE(t.onChunk(std::string_view(bytes).substr(0, bytes.size() / 2), false, out).failed);
  EXPECT_TRUE(
      t.onFailure(Error::upstream(ErrorCode::kUpstreamTimeout, "upstream timed out", "", true), out)
          .failed);
  const std::vector<std::string> events = sseData(out);
  ASSERT_FALSE(events.empty());
  // The converter's own words (the cause goes to the log through Error::detail).
  EXPECT_EQ(str(at(json::parse(events.back()), {"error", "message"})),
            "the upstream stream could not be read");
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  // Nothing more after the failure, even if bytes still trickle in.
  std::string more;
  t.onChunk(std::string_view(bytes).substr(bytes.size() / 2), true, more);
  EXPECT_EQ(more, "");
}

TEST(ConverseTranslatorStream, ModelIsTheOneSentUpstream) {
  const auto owner = translatorFor(true, false, "amazon.nova-micro-v1:0");
  Translator& t = *owner;
  t.onResponseStart(200, "application/vnd.amazon.eventstream", {});
  std::string wire = encodeEvent("messageStart", R"({"role":"assistant"})");
  wire += encodeEvent("messageStop", R"({"stopReason":"end_turn"})");
  ResponseOutput last;
  const std::string out = feedStream(t, wire, 0, kSeed, &last);
  const std::vector<std::string> events = sseData(out);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(str(at(json::parse(events[0]), {"model"})), "amazon.nova-micro-v1:0");
  EXPECT_EQ(last.model, "amazon.nova-micro-v1:0");
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_FALSE(last.usage.known);  // no metadata event: the pipeline charges an estimate
}

}  // namespace
}  // namespace tollgate::providers
