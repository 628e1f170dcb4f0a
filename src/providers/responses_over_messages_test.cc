// OpenAI Responses → Anthropic Messages backends (AWSAnthropic on Bedrock InvokeModel, and
// Anthropic's own API), through the registry's translator.
//
// Data-driven: each folder of tests/fixtures/translators/responses_to_<schema>/ is one case
// (README.md there lists the files); a new case is a new folder, not new code. Anthropic SSE
// fixtures are wrapped as Bedrock chunk frames for the AWSAnthropic cases, and every stream is fed
// whole and in random slices. The folder walker is this file's own until the shared
// golden_cases_test_util.h lands.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "api/sse.h"
#include "common/base64.h"
#include "providers/formats/anthropic_request_from_responses.h"
#include "providers/formats/event_stream.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kCases = fs::path(TOLLGATE_SOURCE_DIR) / "tests/fixtures/translators";

// A fixture file's bytes (`trim`: without the trailing newline of one-line files).
std::string slurp(const fs::path& p, bool trim = false) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << p;
  std::string s{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (trim) s.erase(s.find_last_not_of("\n ") + 1);
  return s;
}

// created_at is the clock's: checked to be a number, then zeroed for the comparison.
void zeroClock(json::value& v) {
  if (json::object* o = v.if_object()) {
    for (auto& kv : *o) {
      if (kv.key() == "created_at") {
        EXPECT_TRUE(kv.value().is_int64());
        kv.value() = 0;
      } else {
        zeroClock(kv.value());
      }
    }
  } else if (json::array* a = v.if_array()) {
    for (json::value& x : *a) zeroClock(x);
  }
}

json::value normalized(std::string_view text) {
  json::value v = json::parse(text);
  zeroClock(v);
  return v;
}

// (event name, data as JSON) of every event of an SSE text.
std::vector<std::pair<std::string, json::value>> events(const std::string& text) {
  std::vector<std::pair<std::string, json::value>> out;
  api::SseParser p;
  p.feed(text, [&](const api::SseEvent& ev) {
    out.emplace_back(std::string(ev.event), normalized(ev.data));
  });
  EXPECT_TRUE(p.pending().empty()) << p.pending();
  return out;
}

// The upstream bytes of an Anthropic SSE fixture: as they are for Anthropic's API, each event's
// data in a Bedrock chunk frame for InvokeModelWithResponseStream.
std::string upstreamStream(const std::string& sse, config::Schema schema) {
  if (schema == config::Schema::kAnthropic) return sse;
  std::string frames;
  api::SseParser p;
  p.feed(sse, [&](const api::SseEvent& ev) {
    std::string payload = R"({"bytes":")";
    base64Encode(ev.data, payload);
    payload += R"(","p":"abc"})";
    frames += formats::encodeEvent("chunk", payload);
  });
  return frames;
}

struct Run {
  ResponseOutput output;
  std::string client;
};

// Feeds `upstream` in slices (all of it at once when `seed` is 0).
Run stream(Translator& t, const std::string& upstream, int status, config::Schema schema,
           unsigned seed) {
  const std::string ct = schema == config::Schema::kAnthropic
                             ? "text/event-stream"
                             : "application/vnd.amazon.eventstream";
  ResponseStart s = t.onResponseStart(status, ct, {});
  EXPECT_TRUE(s.stream);
  EXPECT_EQ(s.content_type, "text/event-stream");
  Run r;
  std::mt19937 rng(seed);
  size_t pos = 0;
  while (pos < upstream.size()) {
    const size_t n = seed == 0 ? upstream.size() : 1 + rng() % 40;
    const std::string_view piece = std::string_view(upstream).substr(pos, n);
    pos += piece.size();
    r.output = t.onChunk(piece, false, r.client);
  }
  r.output = t.onChunk({}, true, r.client);
  return r;
}

void checkUsage(const ResponseOutput& got, const fs::path& file) {
  const json::object want = json::parse(slurp(file)).as_object();
  EXPECT_EQ(got.usage.input_tokens, want.at("input").to_number<uint64_t>());
  EXPECT_EQ(got.usage.cached_input_tokens, want.at("cached").to_number<uint64_t>());
  EXPECT_EQ(got.usage.output_tokens, want.at("output").to_number<uint64_t>());
}

int runCase(const fs::path& d, config::Schema schema) {
  SCOPED_TRACE(d.string());
  const std::string body = slurp(d / "request.json");
  auto req = api::parseRequest(api::ApiKind::kResponses, body);
  EXPECT_TRUE(req.ok());
  if (!req.ok()) return 0;
  config::AIServiceBackend backend;
  backend.schema = schema;
  auto t = createTranslator(api::ApiKind::kResponses, schema, backend);
  EXPECT_NE(t, nullptr);
  if (!t) return 0;
  const std::string model_override =
      fs::exists(d / "model_override.txt") ? slurp(d / "model_override.txt", true) : "";
  auto up = t->translateRequest(*req, body, model_override);
  if (fs::exists(d / "expected_error.json")) {
    EXPECT_FALSE(up.ok());
    if (up.ok()) return 1;
    const json::object want = json::parse(slurp(d / "expected_error.json")).as_object();
    EXPECT_EQ(up.error().httpStatus(), want.at("status").to_number<int>());
    EXPECT_EQ(up.error().param, want.at("param").as_string());
    EXPECT_NE(up.error().public_message.find(want.at("message_has").as_string()), std::string::npos)
        << up.error().public_message;
    return 1;
  }
  EXPECT_TRUE(up.ok()) << up.error().public_message;
  if (!up.ok()) return 1;
  EXPECT_FALSE(up->body_unchanged);
  if (fs::exists(d / "expected_upstream.json")) {
    EXPECT_EQ(json::parse(up->body), json::parse(slurp(d / "expected_upstream.json"))) << up->body;
  }
  if (fs::exists(d / "expected_path.txt")) {
    EXPECT_EQ(up->path, slurp(d / "expected_path.txt", true));
  }
  if (fs::exists(d / "expected_headers.json")) {
    std::map<std::string, std::string> headers(up->headers.begin(), up->headers.end());
    const json::value want = json::parse(slurp(d / "expected_headers.json"));
    for (const auto& kv : want.as_object())
      EXPECT_EQ(headers[kv.key()], kv.value().as_string()) << kv.key();
  }
  const int status = fs::exists(d / "upstream_status.txt")
                         ? std::stoi(slurp(d / "upstream_status.txt", true))
                         : 200;
  if (fs::exists(d / "upstream_response.json")) {
    std::string client = slurp(d / "upstream_response.json");
    ResponseStart s = t->onResponseStart(status, "application/json", {});
    EXPECT_FALSE(s.stream);
    EXPECT_EQ(s.content_type, "application/json");
    const ResponseOutput o = t->onBody(client);
    const int want_status = fs::exists(d / "expected_status.txt")
                                ? std::stoi(slurp(d / "expected_status.txt", true))
                                : status;
    EXPECT_EQ(o.status, want_status);
    EXPECT_EQ(normalized(client), normalized(slurp(d / "expected_client.json"))) << client;
    if (fs::exists(d / "expected_usage.json")) checkUsage(o, d / "expected_usage.json");
  }
  if (fs::exists(d / "upstream_stream.txt")) {
    const std::string upstream = upstreamStream(slurp(d / "upstream_stream.txt"), schema);
    const auto want = events(slurp(d / "expected_client_stream.txt"));
    for (unsigned seed : {0u, 1u, 2u, 3u}) {
      SCOPED_TRACE("slices seed " + std::to_string(seed));
      auto fresh = createTranslator(api::ApiKind::kResponses, schema, backend);
      EXPECT_TRUE(fresh->translateRequest(*req, body, model_override).ok());
      const Run r = stream(*fresh, upstream, status, schema, seed);
      EXPECT_EQ(events(r.client), want) << r.client;
      EXPECT_EQ(r.output.failed, want.back().first == "response.failed");
      if (fs::exists(d / "expected_usage.json")) checkUsage(r.output, d / "expected_usage.json");
    }
  }
  return 1;
}

int runPair(std::string_view pair, config::Schema schema) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(kCases / pair))
    if (entry.is_directory()) cases += runCase(entry.path(), schema);
  return cases;
}

TEST(ResponsesOverMessages, AwsAnthropicCases) {
  EXPECT_GE(runPair("responses_to_aws_anthropic", config::Schema::kAWSAnthropic), 10);
}

TEST(ResponsesOverMessages, AnthropicCases) {
  EXPECT_GE(runPair("responses_to_anthropic", config::Schema::kAnthropic), 2);
}

// The upstream stream breaks: the client gets response.failed, and nothing after it.
TEST(ResponsesOverMessages, FailureEndsWithResponseFailed) {
  for (config::Schema schema : {config::Schema::kAWSAnthropic, config::Schema::kAnthropic}) {
    config::AIServiceBackend backend;
    backend.schema = schema;
    auto t = createTranslator(api::ApiKind::kResponses, schema, backend);
    const std::string body = R"({"model":"claude","input":"hi","stream":true})";
    ASSERT_TRUE(
        t->translateRequest(*api::parseRequest(api::ApiKind::kResponses, body), body, "").ok());
    const std::string sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
        "\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    std::string out;
    t->onResponseStart(200,
                       schema == config::Schema::kAnthropic ? "text/event-stream"
                                                            : "application/vnd.amazon.eventstream",
                       {});
    t->onChunk(upstreamStream(sse, schema), false, out);
    const ResponseOutput o = t->onFailure(
        Error::upstream(ErrorCode::kUpstreamTimeout, "upstream timed out", "", true), out);
    EXPECT_TRUE(o.failed);
    const auto evs = events(out);
    ASSERT_EQ(evs.size(), 3u) << out;
    EXPECT_EQ(evs.back().first, "response.failed");
    EXPECT_EQ(evs.back().second.at("response").at("status"), "failed");
    EXPECT_EQ(evs.back().second.at("sequence_number"), 2);
    std::string after;
    t->onChunk({}, true, after);
    EXPECT_EQ(after, "");
  }
}

// The reasoning blob is opaque to the client and gives the thinking block back.
TEST(ResponsesOverMessages, ThinkingBlobRoundTrip) {
  std::string thinking, signature, redacted;
  const std::string blob = formats::encodeThinkingBlob("step \"one\"\n", "sig+/=", "");
  ASSERT_TRUE(formats::decodeThinkingBlob(blob, thinking, signature, redacted));
  EXPECT_EQ(thinking, "step \"one\"\n");
  EXPECT_EQ(signature, "sig+/=");
  EXPECT_EQ(redacted, "");
  ASSERT_TRUE(formats::decodeThinkingBlob(formats::encodeThinkingBlob("", "", "ENC"), thinking,
                                          signature, redacted));
  EXPECT_EQ(redacted, "ENC");
  // Another provider's encrypted reasoning, or a damaged blob: not ours, dropped.
  EXPECT_FALSE(formats::decodeThinkingBlob("enc_oVO04xi6Pvuz7Sz", thinking, signature, redacted));
  EXPECT_FALSE(formats::decodeThinkingBlob("tgthink1.!!!", thinking, signature, redacted));
}

// Bodies that are JSON but not what the fields should hold: a clear client error, or a Messages
// body the backend can parse; never an exception or an empty refusal.
TEST(ResponsesOverMessages, OddRequestsAreRefusedOrTranslated) {
  const char* bodies[] = {
      R"({"model":"m","input":5})",
      R"({"model":"m","input":[5]})",
      R"({"model":"m","input":[{"role":"robot","content":"x"}]})",
      R"({"model":"m","input":[{"role":"user","content":[5,{"type":"input_text"},{"type":"input_image"}]}]})",
      R"({"model":"m","input":[{"role":"user","content":{"text":"x"}}]})",
      R"({"model":"m","input":"hi","tools":"x","tool_choice":7,"parallel_tool_calls":"no"})",
      R"({"model":"m","input":"hi","tools":[5,{"type":"function"},{"type":"function","name":"f","parameters":[1]}]})",
      R"({"model":"m","input":"hi","tools":[{"type":"namespace","tools":[{"type":"namespace","tools":[{"type":"custom","name":"c","format":5}]}]}]})",
      R"({"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"[1,2"}]})",
      R"({"model":"m","input":[{"type":"function_call_output","call_id":"c","output":{"x":1}}]})",
      R"({"model":"m","input":[{"type":"reasoning","encrypted_content":"tgthink1.e30="},{"role":"user","content":"x"}],"reasoning":{"effort":"high"}})",
      R"({"model":"m","input":"hi","max_output_tokens":0})",
      R"({"model":"m","input":"hi","max_output_tokens":1,"reasoning":{"effort":"high"}})",
      R"({"model":"m","input":"hi","text":{"format":{"type":"json_schema"}},"reasoning":"high"})",
      R"({"model":"m","input":"hi","store":"yes","previous_response_id":null,"conversation":""})",
      R"({"model":"m"})",
  };
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAWSAnthropic;
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    auto req = api::parseRequest(api::ApiKind::kResponses, body);
    ASSERT_TRUE(req.ok());
    auto t = createTranslator(api::ApiKind::kResponses, config::Schema::kAWSAnthropic, backend);
    auto up = t->translateRequest(*req, body, "");
    if (!up.ok()) {
      EXPECT_EQ(up.error().httpStatus(), 400);
      EXPECT_FALSE(up.error().public_message.empty());
      continue;
    }
    const json::value sent = json::parse(up->body);
    EXPECT_TRUE(sent.at("messages").is_array());
    EXPECT_GE(sent.at("max_tokens").as_int64(), 1);
  }
}

// Upstream events out of order, repeated, of unknown types or not JSON: every output event is
// JSON with the next sequence number, and the stream still ends in one terminal event.
TEST(ResponsesOverMessages, OddStreamEventsKeepTheGrammar) {
  // (event name, data) of each upstream event.
  const std::pair<std::string_view, std::string_view> upstream[] = {
      {"content_block_delta", R"({"index":0,"delta":{"type":"text_delta","text":"x"}})"},
      {"message_start", "not json"},
      {"content_block_start", R"({"index":-1,"content_block":{"type":"text"}})"},
      {"content_block_start", R"({"index":99999,"content_block":{"type":"text"}})"},
      {"content_block_start", R"({"index":1,"content_block":{"type":"tool_use","id":5}})"},
      {"content_block_delta",
       R"({"index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a"}})"},
      {"content_block_stop", R"({"index":1})"},
      {"content_block_stop", R"({"index":1})"},
      {"surprise", R"({"type":"surprise"})"},
      {"content_block_start", R"({"index":2,"content_block":{"type":"thinking"}})"},
      {"message_delta", R"({"delta":{"stop_reason":5},"usage":{"output_tokens":-3}})"},
      {"message_stop", "{}"},
      {"message_stop", "{}"},
  };
  config::AIServiceBackend backend;
  backend.schema = config::Schema::kAnthropic;
  auto t = createTranslator(api::ApiKind::kResponses, config::Schema::kAnthropic, backend);
  const std::string body = R"({"model":"m","input":"hi","stream":true})";
  ASSERT_TRUE(
      t->translateRequest(*api::parseRequest(api::ApiKind::kResponses, body), body, "").ok());
  t->onResponseStart(200, "text/event-stream", {});
  std::string out;
  for (const auto& [event, data] : upstream) {
    t->onChunk("event: " + std::string(event) + "\ndata: " + std::string(data) + "\n\n", false,
               out);
  }
  t->onChunk({}, true, out);
  const auto got = events(out);
  ASSERT_FALSE(got.empty());
  int terminal = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].second.at("sequence_number").as_int64(), static_cast<int64_t>(i));
    EXPECT_EQ(got[i].second.at("type").as_string(), got[i].first);
    const std::string& type = got[i].first;
    terminal += type == "response.completed" || type == "response.failed";
  }
  EXPECT_EQ(terminal, 1) << out;
  EXPECT_EQ(got.back().first, "response.completed");
  // Every item opened was closed.
  const auto count = [&](std::string_view type) {
    return std::count_if(got.begin(), got.end(), [&](const auto& e) { return e.first == type; });
  };
  EXPECT_EQ(count("response.output_item.added"), count("response.output_item.done"));
}

}  // namespace
}  // namespace tollgate::providers
