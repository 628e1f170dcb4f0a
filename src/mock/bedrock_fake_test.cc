#include "mock/bedrock_fake.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "common/base64.h"
#include "providers/formats/event_stream.h"

namespace tollgate::mock::bedrock {
namespace {

namespace json = boost::json;
namespace aws = providers::formats;

constexpr std::string_view kBody =
    R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,)"
    R"("messages":[{"role":"user","content":[{"type":"text","text":"Hello there"}]}]})";
constexpr std::string_view kPath = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";

std::string header(const Result& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

TEST(BedrockFakeTest, InvokeAnswersAnthropicMessage) {
  LlmEngine engine{EngineOptions{}};
  const Result r = handle(engine, "POST", kPath, kBody);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(r.stream);
  const json::object o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("type").as_string(), "message");
  EXPECT_EQ(o.at("role").as_string(), "assistant");
  EXPECT_EQ(o.at("model").as_string(), "anthropic.claude-3-haiku-20240307-v1:0");
  const std::string text(o.at("content").at(0).at("text").as_string());
  EXPECT_EQ(countTokens(text), 5u);
  EXPECT_EQ(o.at("stop_reason").as_string(), "max_tokens");
  EXPECT_EQ(o.at("usage").at("output_tokens").to_number<int64_t>(), 5);
  EXPECT_EQ(o.at("usage").at("input_tokens").to_number<int64_t>(), 2);
  EXPECT_EQ(header(r, "X-Amzn-Bedrock-Input-Token-Count"), "2");
  EXPECT_EQ(header(r, "X-Amzn-Bedrock-Output-Token-Count"), "5");
  // Deterministic text (the id is random).
  const json::object again = json::parse(handle(engine, "POST", kPath, kBody).body).as_object();
  EXPECT_EQ(again.at("content"), o.at("content"));
}

TEST(BedrockFakeTest, StreamSendsChunkEvents) {
  LlmEngine engine{EngineOptions{}};
  const Result r =
      handle(engine, "POST",
             "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream", kBody);
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(header(r, "content-type"), "application/vnd.amazon.eventstream");
  std::vector<std::string> types;
  std::string text;
  for (const std::string& frame : r.frames) {
    aws::Message m;
    ASSERT_EQ(aws::decodeMessage(frame, m), "");
    EXPECT_EQ(m.header(":event-type"), "chunk");
    const json::object p = json::parse(m.payload).as_object();
    std::string inner;
    ASSERT_TRUE(base64Decode(std::string(p.at("bytes").as_string()), inner));
    const json::object ev = json::parse(inner).as_object();
    types.emplace_back(ev.at("type").as_string());
    if (types.back() == "content_block_delta") text += ev.at("delta").at("text").as_string();
    if (types.back() == "message_delta") {
      EXPECT_EQ(ev.at("delta").at("stop_reason").as_string(), "max_tokens");
    }
  }
  ASSERT_EQ(types.size(), 10u);  // start, block start, 5 deltas, block stop, delta, stop
  EXPECT_EQ(types.front(), "message_start");
  EXPECT_EQ(types.back(), "message_stop");
  const json::object full = json::parse(handle(engine, "POST", kPath, kBody).body).as_object();
  EXPECT_EQ(text, full.at("content").at(0).at("text").as_string());
}

TEST(BedrockFakeTest, InvalidRequests) {
  LlmEngine engine{EngineOptions{}};
  EXPECT_EQ(handle(engine, "POST", kPath, "{}").status, 400);
  EXPECT_EQ(handle(engine, "POST", kPath, "nope").status, 400);
  EXPECT_EQ(handle(engine, "POST", "/model/x/other", kBody).status, 404);
  const Result t = throttled();
  EXPECT_EQ(t.status, 429);
  EXPECT_EQ(header(t, "x-amzn-errortype"), "ThrottlingException");
}

http::Request signedRequest(std::string_view secret) {
  auth::SignRequest sr;
  sr.method = "POST";
  sr.path = std::string(kPath);
  sr.headers = {{"host", "127.0.0.1:8003"}, {"content-type", "application/json"}};
  sr.body = kBody;
  auth::AwsCredentials creds{"AKIDTEST", std::string(secret), "", std::nullopt};
  auth::SignOptions so;
  so.region = "us-west-2";
  so.service = "bedrock";
  so.now = std::chrono::system_clock::now();
  auth::signRequest(sr, creds, so);
  http::Request req{boost::beast::http::verb::post, kPath, 11};
  for (const auto& [n, v] : sr.headers) req.insert(n, v);
  req.body() = std::string(kBody);
  return req;
}

TEST(BedrockFakeTest, VerifiesSigV4) {
  EXPECT_EQ(verifySigV4(signedRequest("s3cret"), "AKIDTEST", "s3cret"), "");
  EXPECT_NE(verifySigV4(signedRequest("wrong"), "AKIDTEST", "s3cret"), "");
  EXPECT_NE(verifySigV4(signedRequest("s3cret"), "AKIDOTHER", "s3cret"), "");
  http::Request tampered = signedRequest("s3cret");
  tampered.body() += " ";
  EXPECT_NE(verifySigV4(tampered, "AKIDTEST", "s3cret"), "");
  http::Request unsigned_req{boost::beast::http::verb::post, kPath, 11};
  EXPECT_NE(verifySigV4(unsigned_req, "AKIDTEST", "s3cret"), "");
  const Result r = invalidSignature();
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(header(r, "x-amzn-errortype"), "InvalidSignatureException");
  EXPECT_EQ(
      r.body,
      R"({"message":"The request signature we calculated does not match the signature you provided."})");
}

constexpr std::string_view kConverseBody =
    R"({"messages":[{"role":"user","content":[{"text":"Hello there"},{"cachePoint":{"type":"default"}}]}],)"
    R"("system":[{"text":"Be brief."}],"inferenceConfig":{"maxTokens":5}})";
constexpr std::string_view kConversePath = "/model/amazon.nova-lite-v1%3A0/converse";

TEST(BedrockFakeTest, ConverseAnswersInTheConverseShape) {
  LlmEngine engine{EngineOptions{}};
  const Result r = handle(engine, "POST", kConversePath, kConverseBody);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(r.stream);
  const json::object o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("output").at("message").at("role").as_string(), "assistant");
  const std::string text(o.at("output").at("message").at("content").at(0).at("text").as_string());
  EXPECT_EQ(countTokens(text), 5u);
  EXPECT_EQ(o.at("stopReason").as_string(), "max_tokens");
  const json::object& usage = o.at("usage").as_object();
  EXPECT_EQ(usage.at("outputTokens").to_number<int64_t>(), 5);
  EXPECT_EQ(usage.at("totalTokens").to_number<int64_t>(),
            usage.at("inputTokens").to_number<int64_t>() + 5);
  // The same deterministic reply as InvokeModel gives for the same conversation.
  const Result invoked =
      handle(engine, "POST", kPath,
             R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"system":"Be brief.",)"
             R"("messages":[{"role":"user","content":"Hello there"}]})");
  EXPECT_EQ(text, json::parse(invoked.body).at("content").at(0).at("text").as_string());
}

TEST(BedrockFakeTest, ConverseStreamSendsTheConverseEvents) {
  LlmEngine engine{EngineOptions{}};
  const Result whole = handle(engine, "POST", kConversePath, kConverseBody);
  const Result r =
      handle(engine, "POST", "/model/amazon.nova-lite-v1%3A0/converse-stream", kConverseBody);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.stream);
  std::vector<std::string> types;
  std::string text;
  json::object usage;
  for (const std::string& frame : r.frames) {
    aws::Message m;
    ASSERT_EQ(aws::decodeMessage(frame, m), "");
    EXPECT_EQ(m.header(":message-type"), "event");
    types.emplace_back(m.header(":event-type"));
    const json::object p = json::parse(m.payload).as_object();
    if (types.back() == "contentBlockDelta") text += p.at("delta").at("text").as_string();
    if (types.back() == "metadata") usage = p.at("usage").as_object();
  }
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types.front(), "messageStart");
  EXPECT_EQ(types[types.size() - 3], "contentBlockStop");
  EXPECT_EQ(types[types.size() - 2], "messageStop");
  EXPECT_EQ(types.back(), "metadata");
  EXPECT_EQ(text, json::parse(whole.body)
                      .at("output")
                      .at("message")
                      .at("content")
                      .at(0)
                      .at("text")
                      .as_string());
  EXPECT_EQ(usage, json::parse(whole.body).at("usage").as_object());
}

TEST(BedrockFakeTest, ConverseValidationErrors) {
  LlmEngine engine{EngineOptions{}};
  for (
      std::string_view body :
      {R"({})", R"({"messages":[]})", R"({"messages":[{"role":"user","content":"text"}]})",
       R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":0}})"}) {
    const Result r = handle(engine, "POST", kConversePath, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(header(r, "x-amzn-errortype"), "ValidationException") << body;
  }
}

TEST(BedrockFakeTest, CutByExceptionEndsHalfwayWithAnExceptionFrame) {
  LlmEngine engine{EngineOptions{}};
  const Result full =
      handle(engine, "POST", "/model/amazon.nova-lite-v1%3A0/converse-stream", kConverseBody);
  const Result cut = cutByException(full);
  ASSERT_EQ(cut.frames.size(), full.frames.size() / 2 + 1);
  aws::Message last;
  ASSERT_EQ(aws::decodeMessage(cut.frames.back(), last), "");
  EXPECT_EQ(last.header(":message-type"), "exception");
  EXPECT_EQ(last.header(":exception-type"), "modelStreamErrorException");
  EXPECT_EQ(json::parse(last.payload).at("originalStatusCode").to_number<int>(), 500);
}

// The content a stream carries, rebuilt from its events as a client does (tool input joined from
// input_json_delta; a start event with a non-empty input fails: clients ignore it).
json::array streamedContent(const Result& r, std::string& stop_reason) {
  json::array content;
  std::string args;
  for (const std::string& frame : r.frames) {
    aws::Message m;
    EXPECT_EQ(aws::decodeMessage(frame, m), "");
    std::string inner;
    EXPECT_TRUE(base64Decode(std::string(json::parse(m.payload).at("bytes").as_string()), inner));
    const json::object ev = json::parse(inner).as_object();
    const std::string_view type = ev.at("type").as_string();
    if (type == "content_block_start") {
      content.push_back(ev.at("content_block"));
      if (const json::value* in = ev.at("content_block").as_object().if_contains("input")) {
        EXPECT_TRUE(in->as_object().empty());
      }
      args.clear();
    } else if (type == "content_block_delta") {
      json::object& b = content.back().as_object();
      const json::object& d = ev.at("delta").as_object();
      const std::string_view dt = d.at("type").as_string();
      if (dt == "text_delta")
        b["text"] = std::string(b["text"].as_string()) + std::string(d.at("text").as_string());
      if (dt == "thinking_delta") b["thinking"] = d.at("thinking");
      if (dt == "signature_delta") b["signature"] = d.at("signature");
      if (dt == "input_json_delta") args += d.at("partial_json").as_string();
    } else if (type == "content_block_stop" && !args.empty()) {
      content.back().as_object()["input"] = json::parse(args);
    } else if (type == "message_delta") {
      stop_reason = ev.at("delta").at("stop_reason").as_string();
    }
  }
  return content;
}

struct ToolCase {
  std::string_view name;
  std::string_view body;          // the Messages body (anthropic_version and max_tokens added)
  std::string_view want_content;  // the content array expected (JSON), "" when the engine's text
  std::string_view want_stop;
};

// The scripted agent turns (mock/anthropic_script.h), whole and streamed alike.
TEST(BedrockFakeTest, ScriptedToolTurns) {
  const ToolCase cases[] = {
      {"Claude Code: TOOLTEST in the last user message, a system message after it, Bash offered",
       R"("messages":[{"role":"user","content":[{"type":"text","text":"TOOLTEST: use Bash"}]},)"
       R"({"role":"system","content":"env"}],"tools":[{"name":"Read","input_schema":{}},)"
       R"({"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"},)"
       R"("timeout":{"type":"number"}},"required":["command"]}}])",
       R"([{"type":"text","text":"Running the tool."},{"type":"tool_use","id":"toolu_ID","name":"Bash",)"
       R"("input":{"command":"echo tollgate-tool-ok"}}])",
       "tool_use"},
      {"Codex's shell tool: an argv array, and thinking on",
       R"("thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"TOOLTEST now"}],)"
       R"("tools":[{"name":"apply_patch","input_schema":{"type":"object","properties":{"input":{"type":"string"}}}},)"
       R"({"name":"shell","input_schema":{"type":"object","properties":{"command":{"type":"array",)"
       R"("items":{"type":"string"}},"workdir":{"type":"string"}},"required":["command","workdir"]}}])",
       R"([{"type":"thinking","thinking":"Let me think briefly.","signature":"sig_ID"},{"type":"text","text":"Running the tool."},)"
       R"({"type":"tool_use","id":"toolu_ID","name":"shell","input":{"command":["bash","-lc","echo tollgate-tool-ok"],"workdir":"tollgate"}}])",
       "tool_use"},
      {"no tool preferred: the first one",
       R"("messages":[{"role":"user","content":"TOOLTEST"}],"tools":[{"name":"lookup","input_schema":)"
       R"({"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"}},"required":["q","n"]}}])",
       R"([{"type":"text","text":"Running the tool."},{"type":"tool_use","id":"toolu_ID","name":"lookup","input":{"q":"tollgate","n":1}}])",
       "tool_use"},
      {"a tool result comes back: text quoting it",
       R"("messages":[{"role":"user","content":"TOOLTEST"},{"role":"assistant","content":[{"type":"tool_use",)"
       R"("id":"t1","name":"Bash","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1",)"
       R"("content":"tollgate-tool-ok"}]}],"tools":[{"name":"Bash","input_schema":{}}])",
       R"([{"type":"text","text":"The tool returned: tollgate-tool-ok"}])", "end_turn"},
      {"TOOLTEST without tools: the engine's words",
       R"("messages":[{"role":"user","content":"TOOLTEST"}])", "", "end_turn"},
  };
  LlmEngine engine{EngineOptions{}};
  for (const ToolCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string body = R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":200,)" +
                             std::string(c.body) + "}";
    const Result whole = handle(engine, "POST", kPath, body);
    ASSERT_EQ(whole.status, 200) << whole.body;
    json::object o = json::parse(whole.body).as_object();
    EXPECT_EQ(o.at("stop_reason").as_string(), c.want_stop);
    // Ids carry the request's random id: compared through a placeholder.
    std::string content = json::serialize(o.at("content"));
    const std::string id = std::string(header(whole, "x-amzn-requestid"));
    for (size_t at; (at = content.find(id)) != std::string::npos;)
      content.replace(at, id.size(), "ID");
    if (!c.want_content.empty()) {
      EXPECT_EQ(json::parse(content), json::parse(c.want_content));
    } else {
      EXPECT_EQ(o.at("content").as_array().size(), 1u);
    }
    const Result streamed =
        handle(engine, "POST",
               "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream", body);
    std::string stop;
    json::array got = streamedContent(streamed, stop);
    std::string sc = json::serialize(got);
    const std::string sid = std::string(header(streamed, "x-amzn-requestid"));
    for (size_t at; (at = sc.find(sid)) != std::string::npos;) sc.replace(at, sid.size(), "ID");
    EXPECT_EQ(json::parse(sc), json::parse(content));
    EXPECT_EQ(stop, c.want_stop);
  }
}

// Converse gets the same script: a toolUse for TOOLTEST, streamed as contentBlockStart and
// toolUse input deltas; then a text quoting the toolResult.
TEST(BedrockFakeTest, ConverseScriptedToolTurns) {
  LlmEngine engine{EngineOptions{}};
  constexpr std::string_view kTools =
      R"("toolConfig":{"tools":[{"toolSpec":{"name":"Bash","inputSchema":{"json":{"type":"object",)"
      R"("properties":{"command":{"type":"string"}},"required":["command"]}}}}]})";
  const std::string call = R"({"messages":[{"role":"user","content":[{"text":"TOOLTEST go"}]}],)" +
                           std::string(kTools) + "}";
  const Result whole = handle(engine, "POST", kConversePath, call);
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json::object o = json::parse(whole.body).as_object();
  EXPECT_EQ(o.at("stopReason").as_string(), "tool_use");
  const json::array& content = o.at("output").at("message").at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("text").as_string(), "Running the tool.");
  EXPECT_EQ(content[1].at("toolUse").at("name").as_string(), "Bash");
  EXPECT_EQ(content[1].at("toolUse").at("input"),
            json::parse(R"({"command":"echo tollgate-tool-ok"})"));

  const Result streamed =
      handle(engine, "POST", "/model/amazon.nova-lite-v1%3A0/converse-stream", call);
  std::string text, input, tool_name, stop;
  for (const std::string& frame : streamed.frames) {
    aws::Message m;
    ASSERT_EQ(aws::decodeMessage(frame, m), "");
    const json::object p = json::parse(m.payload).as_object();
    const std::string type(m.header(":event-type"));
    if (type == "contentBlockStart") tool_name = p.at("start").at("toolUse").at("name").as_string();
    if (type == "contentBlockDelta" && p.at("delta").as_object().contains("text"))
      text += p.at("delta").at("text").as_string();
    if (type == "contentBlockDelta" && p.at("delta").as_object().contains("toolUse"))
      input += p.at("delta").at("toolUse").at("input").as_string();
    if (type == "messageStop") stop = p.at("stopReason").as_string();
  }
  EXPECT_EQ(text, "Running the tool.");
  EXPECT_EQ(tool_name, "Bash");
  EXPECT_EQ(json::parse(input), content[1].at("toolUse").at("input"));
  EXPECT_EQ(stop, "tool_use");

  const std::string result =
      R"({"messages":[{"role":"user","content":[{"text":"TOOLTEST go"}]},{"role":"assistant","content":)"
      R"([{"toolUse":{"toolUseId":"t1","name":"Bash","input":{}}}]},{"role":"user","content":[{"toolResult":)"
      R"({"toolUseId":"t1","content":[{"text":"tollgate-tool-ok"}]}}]}],)" +
      std::string(kTools) + "}";
  const json::object answer =
      json::parse(handle(engine, "POST", kConversePath, result).body).as_object();
  EXPECT_EQ(answer.at("output").at("message").at("content").at(0).at("text").as_string(),
            "The tool returned: tollgate-tool-ok");
  EXPECT_EQ(answer.at("stopReason").as_string(), "end_turn");
}

}  // namespace
}  // namespace tollgate::mock::bedrock
