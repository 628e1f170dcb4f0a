// OpenAI chat completions → Claude on Bedrock InvokeModel.
//
// Data-driven: each folder of tests/fixtures/providers/openai_to_anthropic/ is one case (its
// README.md lists the files); a new case is a new folder, not new code. Streams are checked
// against the real Bedrock recordings in shared/conformance and the Vercel Anthropic event
// fixtures wrapped as Bedrock chunk frames, fed whole and in random slices.
#include "providers/openai_to_aws_anthropic.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "api/errors.h"
#include "common/base64.h"
#include "common/file_test_util.h"
#include "providers/formats/event_stream.h"
#include "providers/openai_to_aws_bedrock_stream.h"

namespace tollgate::providers {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs
namespace json = boost::json;
using formats::encodeEvent;
using formats::encodeException;

const fs::path kFixtures = fixtureDir("providers/openai_to_anthropic");
const fs::path kRecordings = conformanceDir() / "bedrock-eventstream-extracted";
const fs::path kVercelAnthropic =
    conformanceDir() / "vercel-ai-fixtures/anthropic/src/__fixtures__";
constexpr std::string_view kEventStream = "application/vnd.amazon.eventstream";

// The Bedrock frame carrying one Anthropic event, with the random-length padding Bedrock adds.
std::string chunkFrame(std::string_view anthropic_event, size_t padding = 3) {
  std::string payload = R"({"bytes":")";
  base64Encode(anthropic_event, payload);
  payload += R"(","p":")" + std::string(padding, 'x') + "\"}";
  return encodeEvent("chunk", payload);
}

api::ApiRequest parse(const std::string& body) {
  auto r = api::parseRequest(api::ApiKind::kChatCompletions, body);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().public_message);
  return r.ok() ? *r : api::ApiRequest{};
}

// ---------------------------------------------------------------------------------------------
// Fixture folders: request mapping and non-stream responses.

void checkUsage(const ResponseOutput& got, const fs::path& file) {
  const json::object want = json::parse(readFileText(file)).as_object();
  EXPECT_EQ(got.usage.known, want.at("known").as_bool());
  EXPECT_EQ(got.usage.input_tokens, want.at("input").to_number<uint64_t>());
  EXPECT_EQ(got.usage.cached_input_tokens, want.at("cached").to_number<uint64_t>());
  EXPECT_EQ(got.usage.output_tokens, want.at("output").to_number<uint64_t>());
  EXPECT_EQ(got.usage.total_tokens, want.at("total").to_number<uint64_t>());
  EXPECT_EQ(got.model, want.at("model").as_string());
}

// `created` is the clock's: checked for type, then left out of the comparison.
json::value withoutCreated(json::value v) {
  if (auto* o = v.if_object(); o != nullptr && o->contains("created")) {
    EXPECT_TRUE(o->at("created").is_int64());
    EXPECT_GT(o->at("created").as_int64(), 1700000000);
    o->erase("created");
  }
  return v;
}

TEST(OpenAIToAwsAnthropic, FixtureCases) {
  int request_cases = 0, error_cases = 0, response_cases = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    if (!entry.is_directory()) continue;
    const fs::path& d = entry.path();
    SCOPED_TRACE(d.filename().string());
    const std::string body = readFileText(d / "openai_request.json");
    const api::ApiRequest req = parse(body);
    const std::string override_model = fs::exists(d / "model_override.txt")
                                           ? trimTrailing(readFileText(d / "model_override.txt"))
                                           : "";

    const auto t_owner = makeOpenAIToAwsAnthropic("");
    Translator& t = *t_owner;
    auto up = t.translateRequest(req, body, override_model);
    if (fs::exists(d / "expected_error.json")) {
      ++error_cases;
      ASSERT_FALSE(up.ok());
      const json::object want = json::parse(readFileText(d / "expected_error.json")).as_object();
      EXPECT_EQ(up.error().httpStatus(), want.at("status").to_number<int>());
      EXPECT_EQ(up.error().param, want.at("param").as_string());
      EXPECT_EQ(up.error().source, ErrorSource::kClient);
      continue;
    }
    ASSERT_TRUE(up.ok()) << up.error().public_message << " (" << up.error().param << ")";
    EXPECT_FALSE(up->body_unchanged);
    EXPECT_EQ(up->method, "POST");
    std::map<std::string, std::string> headers(up->headers.begin(), up->headers.end());
    EXPECT_EQ(headers["content-type"], "application/json");
    EXPECT_EQ(headers["accept"], req.stream ? kEventStream : "application/json");
    if (fs::exists(d / "expected_body.json")) {
      ++request_cases;
      EXPECT_EQ(up->path, trimTrailing(readFileText(d / "expected_path.txt")));
      EXPECT_EQ(json::parse(up->body), json::parse(readFileText(d / "expected_body.json")))
          << up->body;
    }
    if (!fs::exists(d / "upstream_status.txt")) continue;

    ++response_cases;
    const int status = std::stoi(trimTrailing(readFileText(d / "upstream_status.txt")));
    std::vector<std::pair<std::string, std::string>> upstream_headers = {
        {"Content-Type", "application/json"}};
    if (fs::exists(d / "upstream_headers.txt")) {
      for (const std::string& l : nonEmptyLines(readFileText(d / "upstream_headers.txt"))) {
        const size_t colon = l.find(':');
        upstream_headers.emplace_back(l.substr(0, colon), l.substr(colon + 2));
      }
    }
    const fs::path upstream_file = fs::exists(d / "upstream_response.json")
                                       ? d / "upstream_response.json"
                                       : d / "upstream_response.txt";
    const std::string upstream = readFileText(upstream_file);
    const json::value want = json::parse(readFileText(d / "expected_response.json"));

    const ResponseStart start = t.onResponseStart(status, "application/json", upstream_headers);
    EXPECT_FALSE(start.stream);
    EXPECT_EQ(start.content_type, "application/json");
    std::string client = upstream;
    const ResponseOutput whole = t.onBody(client);
    EXPECT_EQ(withoutCreated(json::parse(client)), want) << client;
    checkUsage(whole, d / "expected_usage.json");

    // The same body arriving through onChunk in pieces.
    const auto pieces_owner = makeOpenAIToAwsAnthropic("");
    Translator& pieces = *pieces_owner;
    ASSERT_TRUE(pieces.translateRequest(req, body, override_model).ok());
    pieces.onResponseStart(status, "application/json", upstream_headers);
    std::string out;
    for (size_t i = 0; i < upstream.size(); i += 5) {
      pieces.onChunk(std::string_view(upstream).substr(i, 5), false, out);
    }
    const ResponseOutput last = pieces.onChunk({}, true, out);
    EXPECT_EQ(withoutCreated(json::parse(out)), want);
    checkUsage(last, d / "expected_usage.json");
  }
  EXPECT_GE(request_cases, 8);
  EXPECT_GE(error_cases, 8);
  EXPECT_GE(response_cases, 9);
}

TEST(OpenAIToAwsAnthropic, SchemaVersionAndBadBodies) {
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"Hi"}]})";
  const auto t_owner = makeOpenAIToAwsAnthropic("bedrock-2023-05-31-custom");
  Translator& t = *t_owner;
  auto up = t.translateRequest(parse(body), body, "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(json::parse(up->body).at("anthropic_version"), "bedrock-2023-05-31-custom");

  const auto bad_owner = makeOpenAIToAwsAnthropic("");
  Translator& bad = *bad_owner;
  auto r = bad.translateRequest(parse(body), "[1,2]", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().httpStatus(), 400);

  // A 200 that is not a message: the client gets an OpenAI error, not something shaped like
  // neither API.
  bad.onResponseStart(200, "application/json", {});
  std::string garbage = "<html>proxy page</html>";
  const ResponseOutput got = bad.onBody(garbage);
  EXPECT_EQ(json::parse(garbage).at("error").at("code"), "upstream_bad_response");
  EXPECT_FALSE(got.usage.known);
  EXPECT_EQ(got.status, 502);
}

// ---------------------------------------------------------------------------------------------
// Streams.

// What a client must be able to assemble from the chunks, computed from the Anthropic events.
struct Expect {
  std::string message_id, model;
  std::string text, reasoning;
  struct Tool {
    std::string id, name, arguments;
  };
  std::vector<Tool> tools;
  std::string finish_reason;
  uint64_t input = 0, cached = 0, output = 0;
};

uint64_t count(const json::value* v) {
  return v == nullptr || !v->is_number() ? 0 : v->to_number<uint64_t>();
}

Expect expectFrom(const std::vector<std::string>& events) {
  Expect e;
  std::map<int64_t, size_t> tool_of_block;
  std::vector<std::string> start_inputs;
  uint64_t input = 0, cache_read = 0, cache_write = 0;
  std::string stop;
  auto usage = [&](const json::value* u) {
    if (u == nullptr) return;
    const json::object& o = u->as_object();
    if (o.contains("input_tokens")) input = count(o.if_contains("input_tokens"));
    if (o.contains("cache_read_input_tokens")) {
      cache_read = count(o.if_contains("cache_read_input_tokens"));
    }
    if (o.contains("cache_creation_input_tokens")) {
      cache_write = count(o.if_contains("cache_creation_input_tokens"));
    }
    if (o.contains("output_tokens")) e.output = count(o.if_contains("output_tokens"));
  };
  for (const std::string& s : events) {
    const json::object ev = json::parse(s).as_object();
    const std::string type(ev.at("type").as_string());
    const int64_t index = ev.contains("index") ? ev.at("index").as_int64() : -1;
    if (type == "message_start") {
      const json::object& m = ev.at("message").as_object();
      if (e.message_id.empty()) e.message_id = m.at("id").as_string();
      e.model = m.at("model").as_string();
      usage(m.if_contains("usage"));
    } else if (type == "content_block_start") {
      const json::object& cb = ev.at("content_block").as_object();
      tool_of_block.erase(index);
      if (cb.at("type") == "text") e.text += cb.at("text").as_string();
      if (cb.at("type") == "thinking") e.reasoning += cb.at("thinking").as_string();
      if (cb.at("type") == "tool_use") {
        tool_of_block[index] = e.tools.size();
        e.tools.push_back(
            {std::string(cb.at("id").as_string()), std::string(cb.at("name").as_string()), ""});
        start_inputs.push_back(json::serialize(cb.at("input")));
      }
    } else if (type == "content_block_delta") {
      const json::object& d = ev.at("delta").as_object();
      if (d.at("type") == "text_delta") e.text += d.at("text").as_string();
      if (d.at("type") == "thinking_delta") e.reasoning += d.at("thinking").as_string();
      if (d.at("type") == "input_json_delta" && tool_of_block.count(index)) {
        e.tools[tool_of_block[index]].arguments += d.at("partial_json").as_string();
      }
    } else if (type == "message_delta") {
      if (const auto* r = ev.at("delta").as_object().if_contains("stop_reason");
          r && r->is_string())
        stop = r->as_string();
      usage(ev.if_contains("usage"));
    }
  }
  for (size_t i = 0; i < e.tools.size(); ++i) {
    if (e.tools[i].arguments.empty()) e.tools[i].arguments = start_inputs[i];
  }
  e.input = input + cache_read + cache_write;
  e.cached = cache_read;
  if (stop == "tool_use") {
    e.finish_reason = e.tools.empty() ? "stop" : "tool_calls";
  } else if (stop == "max_tokens") {
    e.finish_reason = "length";
  } else if (stop == "refusal") {
    e.finish_reason = "content_filter";
  } else {
    e.finish_reason = "stop";
  }
  return e;
}

// The `data:` payloads of an SSE text; every event must be a single data line.
std::vector<std::string> sseData(const std::string& out) {
  std::vector<std::string> data;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event";
    if (end == std::string::npos) break;
    const std::string event = out.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_EQ(event.find('\n'), std::string::npos) << event;
    data.push_back(event.substr(6));
    pos = end + 2;
  }
  return data;
}

struct StreamRun {
  std::string out;
  api::TokenUsage usage;
  std::string response_model;
};

// One stream through a fresh translator; piece sizes random in [1, max_piece] (0: whole body).
StreamRun runStream(const std::string& body, bool include_usage, size_t max_piece, uint32_t seed,
                    const std::string& model = "anthropic.claude-3-5-sonnet-20240620-v1:0") {
  const std::string request =
      R"({"model":")" + model + R"(","stream":true,"stream_options":{"include_usage":)" +
      (include_usage ? "true" : "false") + R"(},"messages":[{"role":"user","content":"Hi"}]})";
  const auto t_owner = makeOpenAIToAwsAnthropic("");
  Translator& t = *t_owner;
  auto up = t.translateRequest(parse(request), request, "");
  EXPECT_TRUE(up.ok());
  EXPECT_TRUE(up->path.ends_with("/invoke-with-response-stream"));
  const ResponseStart start =
      t.onResponseStart(200, kEventStream, {{"Content-Type", std::string(kEventStream)}});
  EXPECT_TRUE(start.stream);
  EXPECT_EQ(start.content_type, "text/event-stream; charset=utf-8");
  StreamRun r;
  if (max_piece == 0) {
    t.onChunk(body, false, r.out);
  } else {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> size(1, max_piece);
    for (size_t i = 0; i < body.size();) {
      const size_t n = std::min(size(rng), body.size() - i);
      t.onChunk(std::string_view(body).substr(i, n), false, r.out);
      i += n;
    }
  }
  const ResponseOutput last = t.onChunk({}, true, r.out);
  r.usage = last.usage;
  r.response_model = last.model;
  return r;
}

std::string withoutCreatedText(const std::string& out) {
  static const std::regex kCreated("\"created\":[0-9]+");
  return std::regex_replace(out, kCreated, "\"created\":0");
}

// Checks a complete stream's client bytes against what the events say.
void checkStream(const std::string& body, const Expect& want) {
  const std::string model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  for (bool include_usage : {false, true}) {
    SCOPED_TRACE(include_usage ? "include_usage" : "no usage");
    const StreamRun whole = runStream(body, include_usage, 0, 0);
    const std::vector<std::string> data = sseData(whole.out);
    ASSERT_GE(data.size(), 3u);
    EXPECT_EQ(data.back(), "[DONE]");

    std::string text, reasoning;
    std::map<int64_t, Expect::Tool> tools;
    std::string finish;
    int finish_chunks = 0, usage_chunks = 0;
    for (size_t i = 0; i + 1 < data.size(); ++i) {
      const json::object c = json::parse(data[i]).as_object();
      ASSERT_FALSE(c.contains("error")) << data[i];
      EXPECT_EQ(c.at("id").as_string(), "chatcmpl-" + want.message_id);
      EXPECT_EQ(c.at("object"), "chat.completion.chunk");
      EXPECT_EQ(c.at("model").as_string(), model);
      EXPECT_TRUE(c.at("created").is_int64());
      const json::array& choices = c.at("choices").as_array();
      if (choices.empty()) {
        ++usage_chunks;
        EXPECT_EQ(i + 2, data.size()) << "the usage chunk comes last";
        const json::object& u = c.at("usage").as_object();
        EXPECT_EQ(u.at("prompt_tokens").to_number<uint64_t>(), want.input);
        EXPECT_EQ(u.at("completion_tokens").to_number<uint64_t>(), want.output);
        EXPECT_EQ(u.at("total_tokens").to_number<uint64_t>(), want.input + want.output);
        EXPECT_EQ(u.at("prompt_tokens_details").at("cached_tokens").to_number<uint64_t>(),
                  want.cached);
        continue;
      }
      ASSERT_EQ(choices.size(), 1u);
      const json::object& choice = choices[0].as_object();
      EXPECT_EQ(choice.at("index"), 0);
      const json::object& delta = choice.at("delta").as_object();
      if (i == 0) {
        EXPECT_EQ(delta.at("role"), "assistant") << "a role chunk first";
      } else {
        EXPECT_FALSE(delta.contains("role"));
      }
      if (!choice.at("finish_reason").is_null()) {
        ++finish_chunks;
        finish = choice.at("finish_reason").as_string();
      } else {
        EXPECT_EQ(finish_chunks, 0) << "nothing after the finish chunk but usage";
      }
      if (auto* s = delta.if_contains("content")) text += s->as_string();
      if (auto* s = delta.if_contains("reasoning_content")) reasoning += s->as_string();
      if (auto* calls = delta.if_contains("tool_calls")) {
        for (const json::value& call : calls->as_array()) {
          const json::object& o = call.as_object();
          Expect::Tool& tool = tools[o.at("index").as_int64()];
          if (o.contains("id")) {
            EXPECT_TRUE(tool.id.empty()) << "id sent twice";
            tool.id = o.at("id").as_string();
            EXPECT_EQ(o.at("type"), "function");
            tool.name = o.at("function").at("name").as_string();
          } else {
            EXPECT_FALSE(tool.id.empty()) << "arguments before the tool call's first delta";
          }
          tool.arguments += o.at("function").at("arguments").as_string();
        }
      }
    }
    EXPECT_EQ(text, want.text);
    EXPECT_EQ(reasoning, want.reasoning);
    ASSERT_EQ(tools.size(), want.tools.size());
    for (size_t k = 0; k < want.tools.size(); ++k) {
      ASSERT_TRUE(tools.count(static_cast<int64_t>(k))) << "tool index " << k;
      EXPECT_EQ(tools[k].id, want.tools[k].id);
      EXPECT_EQ(tools[k].name, want.tools[k].name);
      EXPECT_EQ(tools[k].arguments, want.tools[k].arguments);
    }
    EXPECT_EQ(finish_chunks, 1);
    EXPECT_EQ(finish, want.finish_reason);
    EXPECT_EQ(usage_chunks, include_usage ? 1 : 0);
    EXPECT_TRUE(whole.usage.known);
    EXPECT_EQ(whole.usage.input_tokens, want.input);
    EXPECT_EQ(whole.usage.output_tokens, want.output);
    EXPECT_EQ(whole.usage.cached_input_tokens, want.cached);
    EXPECT_EQ(whole.usage.total_tokens, want.input + want.output);
    EXPECT_EQ(whole.response_model, want.model);

    // Any slicing of the body gives the same client stream.
    const std::string normal = withoutCreatedText(whole.out);
    for (size_t max_piece : {size_t{1}, size_t{7}, size_t{64}, size_t{700}}) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        const StreamRun sliced = runStream(body, include_usage, max_piece, seed);
        EXPECT_EQ(withoutCreatedText(sliced.out), normal) << "pieces up to " << max_piece;
        EXPECT_EQ(sliced.usage.output_tokens, want.output);
        if (max_piece == 1) break;
      }
    }
  }
}

// The Anthropic events inside a Bedrock InvokeModel stream body.
std::vector<std::string> anthropicEvents(const std::string& body) {
  std::vector<std::string> events;
  formats::EventStreamDecoder decoder([&](const formats::Message& m) {
    const json::value wrapper = json::parse(m.payload);
    std::string decoded;
    EXPECT_TRUE(base64Decode(wrapper.at("bytes").as_string(), decoded));
    events.push_back(decoded);
  });
  EXPECT_TRUE(decoder.feed(body)) << decoder.error();
  EXPECT_TRUE(decoder.atMessageBoundary());
  return events;
}

TEST(OpenAIToAwsAnthropicStream, BedrockRecordings) {
  struct Case {
    std::string name;
    uint64_t input, output;
    std::string finish;
    std::vector<std::string> tool_names;
  };
  const Case cases[] = {
      {"openinference-js__should-handle-invoke-model-with-response-stream__0",
       12,
       100,
       "length",
       {}},
      {"openinference-js__should-handle-streaming-responses-with-tool-calls__0",
       273,
       88,
       "tool_calls",
       {"get_weather"}},
      {"openinference-py__TestInvokeModelWithStreamResponse.test_invoke__0",
       702,
       130,
       "tool_calls",
       {"get_current_weather_info", "get_current_population_info"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string body = readFileText(kRecordings / (c.name + ".bin"));
    ASSERT_FALSE(body.empty());
    const Expect want = expectFrom(anthropicEvents(body));
    // Pinned from the recordings: message_start input, the last message_delta output (Bedrock's
    // invocationMetrics disagree in two of them and must not win).
    EXPECT_EQ(want.input, c.input);
    EXPECT_EQ(want.output, c.output);
    EXPECT_EQ(want.finish_reason, c.finish);
    ASSERT_EQ(want.tools.size(), c.tool_names.size());
    for (size_t i = 0; i < c.tool_names.size(); ++i) {
      EXPECT_EQ(want.tools[i].name, c.tool_names[i]);
      EXPECT_TRUE(json::parse(want.tools[i].arguments).is_object());
    }
    EXPECT_FALSE(want.text.empty());
    checkStream(body, want);
  }
  // The assembled arguments are the tool's input.
  const Expect tool_call = expectFrom(anthropicEvents(readFileText(
      kRecordings / "openinference-js__should-handle-streaming-responses-with-tool-calls__0.bin")));
  EXPECT_EQ(json::parse(tool_call.tools[0].arguments),
            json::parse(R"({"location":"San Francisco, CA","unit":"fahrenheit"})"));
}

TEST(OpenAIToAwsAnthropicStream, NonAnthropicBodyFails) {
  // Nova's InvokeModel stream is not Anthropic events: the client gets an error, not nonsense.
  const std::string body =
      readFileText(kRecordings / "openinference-js__should-handle-amazon-nova-streaming__0.bin");
  ASSERT_FALSE(body.empty());
  const StreamRun r = runStream(body, true, 0, 0);
  const std::vector<std::string> data = sseData(r.out);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(json::parse(data.back()).at("error").at("code"), "upstream_bad_response");
  EXPECT_EQ(r.out.find("[DONE]"), std::string::npos);
}

TEST(OpenAIToAwsAnthropicStream, VercelAnthropicFixtures) {
  int files = 0, streams = 0;
  for (const auto& entry : fs::directory_iterator(kVercelAnthropic)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".chunks.txt")) continue;
    SCOPED_TRACE(name);
    ++files;
    // Some files hold several recorded responses one after the other: one stream each.
    std::vector<std::vector<std::string>> segments(1);
    for (const std::string& l : nonEmptyLines(readFileText(entry.path()))) {
      segments.back().push_back(l);
      if (json::parse(l).at("type") == "message_stop") segments.emplace_back();
    }
    if (segments.back().empty()) segments.pop_back();
    for (const auto& events : segments) {
      std::string body;
      for (size_t i = 0; i < events.size(); ++i) body += chunkFrame(events[i], i % 17);
      ++streams;
      checkStream(body, expectFrom(events));
    }
  }
  EXPECT_EQ(files, 23);
  EXPECT_GE(streams, 27);
}

TEST(OpenAIToAwsAnthropicStream, PinnedVercelBehaviour) {
  auto body = [](const std::string& file) {
    std::string b;
    for (const std::string& l : nonEmptyLines(readFileText(kVercelAnthropic / file)))
      b += chunkFrame(l);
    return b;
  };
  // A tool without arguments still gets valid JSON arguments.
  {
    const StreamRun r = runStream(body("anthropic-tool-no-args.chunks.txt"), false, 0, 0);
    EXPECT_NE(r.out.find(R"("tool_calls":[{"index":0,"function":{"arguments":"{}"}}])"),
              std::string::npos)
        << r.out;
  }
  // Refusals become content_filter.
  {
    const StreamRun r = runStream(body("anthropic-refusal.chunks.txt"), false, 0, 0);
    EXPECT_NE(r.out.find(R"("finish_reason":"content_filter")"), std::string::npos);
  }
  // Server-side tools ran inside Anthropic: no tool_calls for the client, finish "stop".
  {
    const StreamRun r = runStream(body("anthropic-web-fetch-tool.1.chunks.txt"), false, 0, 0);
    EXPECT_EQ(r.out.find("tool_calls\":["), std::string::npos);
    EXPECT_NE(r.out.find(R"("finish_reason":"stop")"), std::string::npos);
  }
  // message_delta may restate input_tokens: the later value wins; duplicate message_start
  // sends one role chunk.
  {
    const StreamRun r =
        runStream(body("anthropic-message-delta-input-tokens.chunks.txt"), false, 0, 0);
    EXPECT_EQ(r.usage.input_tokens, 61u);
    EXPECT_EQ(r.usage.output_tokens, 2u);
    const StreamRun dup = runStream(body("duplicate-message-start.chunks.txt"), false, 0, 0);
    size_t roles = 0;
    for (size_t p = 0; (p = dup.out.find("\"role\"", p)) != std::string::npos; ++p) ++roles;
    EXPECT_EQ(roles, 1u);
    EXPECT_EQ(dup.usage.output_tokens, 227u);
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made streams for the paths the recordings do not reach.

const std::string kStart =
    R"({"type":"message_start","message":{"id":"msg_x","type":"message","role":"assistant",)"
    R"("model":"claude-3-haiku-20240307","content":[],"usage":{"input_tokens":10,)"
    R"("cache_read_input_tokens":5,"output_tokens":1}}})";
const std::string kText =
    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})";
const std::string kDelta =
    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})";
const std::string kMessageDelta =
    R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}})";
const std::string kStop =
    R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":99,)"
    R"("outputTokenCount":99}})";

TEST(OpenAIToAwsAnthropicStream, ExceptionFrameEndsWithAnOpenAIError) {
  const std::string body =
      chunkFrame(kStart) + chunkFrame(kText) + chunkFrame(kDelta) +
      encodeException("throttlingException", R"({"message":"Too many tokens, please wait."})");
  const StreamRun r = runStream(body, true, 0, 0);
  const std::vector<std::string> data = sseData(r.out);
  ASSERT_EQ(data.size(), 3u);  // role, "Hi", error
  EXPECT_EQ(json::parse(data[1]).at("choices").at(0).at("delta").at("content"), "Hi");
  EXPECT_EQ(json::parse(data[2]),
            json::parse(R"({"error":{"message":"Too many tokens, please wait.",)"
                        R"("type":"rate_limit_error","param":null,"code":"rate_limited"}})"));
  EXPECT_EQ(r.out.find("[DONE]"), std::string::npos);
  // Usage so far is still the gateway's to charge.
  EXPECT_TRUE(r.usage.known);
  EXPECT_EQ(r.usage.input_tokens, 15u);
  EXPECT_EQ(r.usage.cached_input_tokens, 5u);

  // Byte for byte what the ConverseStream translator sends for the same frame.
  ConverseStreamToOpenAISse converse("m", "id", 0, false);
  std::string converse_out;
  formats::EventStreamDecoder decoder(
      [&](const formats::Message& m) { converse.onMessage(m, converse_out); });
  decoder.feed(
      encodeException("throttlingException", R"({"message":"Too many tokens, please wait."})"));
  EXPECT_EQ("data: " + data[2] + "\n\n", converse_out);
}

TEST(OpenAIToAwsAnthropicStream, EndingsAndFailures) {
  const std::string complete = chunkFrame(kStart) + chunkFrame(kText) + chunkFrame(kDelta) +
                               chunkFrame(kMessageDelta) + chunkFrame(kStop);
  {
    // Whole: usage from the events, not from Bedrock's metrics.
    const StreamRun r = runStream(complete, true, 0, 0);
    EXPECT_TRUE(r.out.ends_with("data: [DONE]\n\n"));
    EXPECT_EQ(r.usage.input_tokens, 15u);
    EXPECT_EQ(r.usage.output_tokens, 7u);
    EXPECT_EQ(r.usage.total_tokens, 22u);
  }
  {
    // Cut inside a frame.
    const StreamRun r = runStream(complete.substr(0, complete.size() - 10), false, 0, 0);
    const std::vector<std::string> data = sseData(r.out);
    EXPECT_EQ(json::parse(data.back()).at("error").at("code"), "upstream_bad_response");
    EXPECT_EQ(r.out.find("[DONE]"), std::string::npos);
  }
  {
    // Ended before any stop: an error, no [DONE].
    const StreamRun r =
        runStream(chunkFrame(kStart) + chunkFrame(kText) + chunkFrame(kDelta), false, 0, 0);
    EXPECT_NE(r.out.find("the upstream stream ended early"), std::string::npos);
    EXPECT_EQ(r.out.find("[DONE]"), std::string::npos);
    EXPECT_TRUE(r.usage.known);  // the stream is over: what was seen is what there is
  }
  {
    // message_delta came, message_stop did not: the answer is whole.
    const StreamRun r =
        runStream(chunkFrame(kStart) + chunkFrame(kDelta) + chunkFrame(kMessageDelta), true, 0, 0);
    EXPECT_TRUE(r.out.ends_with("data: [DONE]\n\n"));
    EXPECT_NE(r.out.find(R"("completion_tokens":7)"), std::string::npos);
  }
  {
    // No Anthropic usage at all: Bedrock's invocation metrics are the fallback.
    const std::string bare_start =
        R"({"type":"message_start","message":{"id":"msg_y","model":"claude","content":[]}})";
    const StreamRun r =
        runStream(chunkFrame(bare_start) + chunkFrame(kDelta) +
                      chunkFrame(R"({"type":"message_delta","delta":{"stop_reason":)"
                                 R"("end_turn"}})") +
                      chunkFrame(kStop),
                  true, 0, 0);
    EXPECT_TRUE(r.usage.known);
    EXPECT_EQ(r.usage.input_tokens, 99u);
    EXPECT_EQ(r.usage.output_tokens, 99u);
    EXPECT_NE(r.out.find(R"("prompt_tokens":99)"), std::string::npos);
  }
  {
    // An Anthropic error event inside a chunk.
    const StreamRun r =
        runStream(chunkFrame(kStart) + chunkFrame(R"({"type":"error","error":{"type":)"
                                                  R"("overloaded_error","message":)"
                                                  R"("Overloaded"}})"),
                  false, 0, 0);
    const std::vector<std::string> data = sseData(r.out);
    EXPECT_EQ(json::parse(data.back()),
              json::parse(R"({"error":{"message":"Overloaded","type":"service_unavailable_error",)"
                          R"("param":null,"code":"upstream_connect"}})"));
  }
  {
    // Malformed chunk payloads.
    for (const std::string& payload : {std::string(R"({"bytes":"***"})"),
                                       std::string(R"({"nobytes":1})"), std::string("not json")}) {
      const StreamRun r =
          runStream(chunkFrame(kStart) + encodeEvent("chunk", payload), false, 0, 0);
      EXPECT_NE(r.out.find("malformed event in the Bedrock stream"), std::string::npos) << payload;
    }
  }
}

TEST(OpenAIToAwsAnthropicStream, UsageKnownOnlyOnceFinalAndStreamFailure) {
  const std::string request =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]})";
  const auto t_owner = makeOpenAIToAwsAnthropic("");
  Translator& t = *t_owner;
  ASSERT_TRUE(t.translateRequest(parse(request), request, "").ok());
  t.onResponseStart(200, kEventStream, {});
  std::string out;
  ResponseOutput got =
      t.onChunk(chunkFrame(kStart) + chunkFrame(kText) + chunkFrame(kDelta), false, out);
  // A client that leaves now makes the gateway read on: the output count is not final yet.
  EXPECT_FALSE(got.usage.known);
  EXPECT_EQ(got.usage.input_tokens, 15u);
  EXPECT_FALSE(got.failed);
  out.clear();
  got = t.onFailure(
      Error::upstream(ErrorCode::kUpstreamTimeout, "upstream timed out", "idle", true), out);
  EXPECT_EQ(out, "data: " +
                     api::renderOpenAIError(Error::upstream(ErrorCode::kUpstreamTimeout,
                                                            "upstream timed out", "", true)) +
                     "\n\n");
  EXPECT_TRUE(got.usage.known);
  EXPECT_TRUE(got.failed);
  // Nothing more once failed.
  out.clear();
  t.onChunk(chunkFrame(kMessageDelta), true, out);
  EXPECT_TRUE(out.empty());

  const auto t2_owner = makeOpenAIToAwsAnthropic("");
  Translator& t2 = *t2_owner;
  ASSERT_TRUE(t2.translateRequest(parse(request), request, "").ok());
  t2.onResponseStart(200, kEventStream, {});
  out.clear();
  got = t2.onChunk(chunkFrame(kStart) + chunkFrame(kMessageDelta), false, out);
  EXPECT_TRUE(got.usage.known);
  EXPECT_EQ(got.usage.output_tokens, 7u);
  // No include_usage: finish chunk, no usage chunk, [DONE].
  t2.onChunk(chunkFrame(kStop), true, out);
  EXPECT_EQ(out.find("\"usage\""), std::string::npos);
  EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
}

}  // namespace
}  // namespace tollgate::providers
