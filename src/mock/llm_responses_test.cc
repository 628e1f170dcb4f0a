// The mock's POST /v1/responses through LlmEngine::handle: the reply text (chat's), the complete
// stream grammar Codex needs, the scripted tool calls against the tool lists real clients send
// (Codex's recorded turn 1 and 2), and the 400s.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mock/llm_engine.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

const fs::path kSource = fs::path(TOLLGATE_SOURCE_DIR);

json::value load(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Codex's recorded first turn ("TOOLTEST: run echo with the shell tool and report", its tools).
json::object codexTurn1() {
  return load(kSource /
              "tests/fixtures/translators/responses-openai/codex-tool-call-stream/request.json")
      .as_object();
}

const LlmEngine& engine() {
  static const LlmEngine e(EngineOptions{});
  return e;
}

EngineResult post(const json::object& body) {
  return engine().handle("POST", "/v1/responses", json::serialize(body));
}

json::object okBody(const json::object& req) {
  EngineResult r = post(req);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.stream);
  return json::parse(r.body).as_object();
}

struct Stream {
  std::vector<std::string> types;
  std::vector<json::object> events;
};

Stream okStream(json::object req) {
  req["stream"] = true;
  EngineResult r = post(req);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.event_types.size(), r.events.size());
  Stream s;
  for (size_t i = 0; i < r.events.size(); ++i) {
    json::object ev = json::parse(r.events[i]).as_object();
    s.types.emplace_back(r.event_types[i]);
    EXPECT_EQ(ev.at("type").as_string(), r.event_types[i]);
    EXPECT_EQ(ev.at("sequence_number").to_number<int64_t>(), static_cast<int64_t>(i));
    s.events.push_back(std::move(ev));
  }
  return s;
}

const json::object& lastItem(const json::object& response) {
  return response.at("output").as_array().back().as_object();
}

TEST(MockResponses, TextIsChatsReplyWithResponsesUsage) {
  const std::string prompt = "say hi to the gateway";
  EngineResult chat = engine().handle(
      "POST", "/v1/chat/completions",
      R"({"model":"m","messages":[{"role":"user","content":")" + prompt + R"("}]})");
  ASSERT_EQ(chat.status, 200);
  const json::object c = json::parse(chat.body).as_object();
  const json::string& chat_text =
      c.at("choices").as_array()[0].at("message").at("content").as_string();

  // A plain string input, and the Vercel AI SDK's role-only items with input_text parts.
  json::object as_string{{"model", "m"}, {"input", prompt}};
  json::object as_items = json::parse(
                              R"({"model":"m","input":[{"role":"developer","content":"Be brief."},
          {"role":"user","content":[{"type":"input_text","text":")" +
                              prompt + R"("}]}]})")
                              .as_object();
  for (const json::object& req : {as_string, as_items}) {
    const json::object r = okBody(req);
    EXPECT_EQ(r.at("object").as_string(), "response");
    EXPECT_EQ(r.at("status").as_string(), "completed");
    const json::object& msg = lastItem(r);
    EXPECT_EQ(msg.at("type").as_string(), "message");
    EXPECT_EQ(msg.at("content").as_array()[0].at("text").as_string(), chat_text);
    const json::object& u = r.at("usage").as_object();
    EXPECT_EQ(u.at("output_tokens").to_number<uint64_t>(),
              c.at("usage").at("completion_tokens").to_number<uint64_t>());
    EXPECT_EQ(
        u.at("total_tokens").to_number<uint64_t>(),
        u.at("input_tokens").to_number<uint64_t>() + u.at("output_tokens").to_number<uint64_t>());
    EXPECT_EQ(u.at("input_tokens_details").at("cached_tokens").to_number<uint64_t>(), 0u);
    EXPECT_EQ(u.at("output_tokens_details").at("reasoning_tokens").to_number<uint64_t>(), 0u);
  }
  // The developer message counts: 2 more prompt tokens than the bare string.
  EXPECT_EQ(okBody(as_items).at("usage").at("input_tokens").to_number<uint64_t>(),
            okBody(as_string).at("usage").at("input_tokens").to_number<uint64_t>() + 2);
}

TEST(MockResponses, StreamHasTheWholeGrammar) {
  const Stream s = okStream(json::object{{"model", "m"}, {"input", "say hi"}});
  ASSERT_GE(s.types.size(), 9u);
  EXPECT_EQ(s.types[0], "response.created");
  EXPECT_EQ(s.types[1], "response.in_progress");
  EXPECT_EQ(s.types[2], "response.output_item.added");
  EXPECT_EQ(s.types[3], "response.content_part.added");
  const size_t n = s.types.size();
  EXPECT_EQ(s.types[n - 4], "response.output_text.done");
  EXPECT_EQ(s.types[n - 3], "response.content_part.done");
  EXPECT_EQ(s.types[n - 2], "response.output_item.done");
  EXPECT_EQ(s.types[n - 1], "response.completed");
  std::string joined;
  for (size_t i = 4; i < n - 4; ++i) {
    EXPECT_EQ(s.types[i], "response.output_text.delta");
    joined += s.events[i].at("delta").as_string();
  }
  EXPECT_EQ(joined, s.events[n - 4].at("text").as_string());
  const json::object& done = s.events[n - 2].at("item").as_object();
  EXPECT_EQ(done.at("content").as_array()[0].at("text").as_string(), joined);
  const json::object& completed = s.events[n - 1].at("response").as_object();
  EXPECT_EQ(completed.at("status").as_string(), "completed");
  EXPECT_EQ(lastItem(completed), done);
  EXPECT_EQ(completed.at("id"), s.events[0].at("response").at("id"));
  EXPECT_TRUE(s.events[0].at("response").at("usage").is_null());
  EXPECT_TRUE(completed.at("usage").is_object());
  // The stream says what the non-stream body says.
  EXPECT_EQ(okBody(json::object{{"model", "m"}, {"input", "say hi"}}).at("usage"),
            completed.at("usage"));
}

TEST(MockResponses, CodexToolTestGetsExecCommand) {
  const Stream s = okStream(codexTurn1());
  // No text item: the function call alone, with its arguments streamed.
  std::vector<std::string> want = {"response.created",
                                   "response.in_progress",
                                   "response.output_item.added",
                                   "response.function_call_arguments.delta",
                                   "response.function_call_arguments.done",
                                   "response.output_item.done",
                                   "response.completed"};
  EXPECT_EQ(s.types, want);
  const json::object& item = s.events[5].at("item").as_object();
  EXPECT_EQ(item.at("type").as_string(), "function_call");
  EXPECT_EQ(item.at("name").as_string(), "exec_command");
  EXPECT_EQ(json::parse(item.at("arguments").as_string()),
            json::parse(R"({"cmd":"echo tollgate-tool-ok"})"));
  EXPECT_EQ(s.events[3].at("delta"), item.at("arguments"));
  EXPECT_TRUE(item.at("call_id").as_string().starts_with("call_"));
  EXPECT_EQ(s.events[2].at("item").at("status").as_string(), "in_progress");
}

TEST(MockResponses, ToolChoiceFollowsTheOfferedTools) {
  struct Case {
    const char* name;
    const char* tools;
    const char* type;       // of the answered item
    const char* tool;       // its name
    const char* arguments;  // function: the JSON arguments; custom: the input
  };
  const Case cases[] = {
      {"Codex's older shell tool takes argv",
       R"([{"type":"function","name":"read","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},
           {"type":"function","name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}},"timeout":{"type":"number"}},"required":["command"]}}])",
       "function_call", "shell", R"({"command":["bash","-lc","echo tollgate-tool-ok"]})"},
      {"else the first function, required strings filled",
       R"([{"type":"web_search"},{"type":"function","name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"}},"required":["q","n"]}}])",
       "function_call", "lookup", R"({"q":"echo tollgate-tool-ok"})"},
      {"a freeform custom tool alone",
       R"([{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}}])",
       "custom_tool_call", "apply_patch", "echo tollgate-tool-ok"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json::object req{{"model", "m"}, {"input", "TOOLTEST please"}, {"tools", json::parse(c.tools)}};
    const json::object body = okBody(req);
    const json::object& item = lastItem(body);
    EXPECT_EQ(item.at("type").as_string(), c.type);
    EXPECT_EQ(item.at("name").as_string(), c.tool);
    if (std::string_view(c.type) == "function_call") {
      EXPECT_EQ(json::parse(item.at("arguments").as_string()), json::parse(c.arguments));
    } else {
      EXPECT_EQ(item.at("input").as_string(), c.arguments);
    }
  }
  // No tools offered, or no marker: plain text.
  EXPECT_EQ(lastItem(okBody(json::object{{"model", "m"}, {"input", "TOOLTEST"}})).at("type"),
            "message");
  json::object no_marker = codexTurn1();
  no_marker["input"] = "say hi";
  no_marker["stream"] = false;
  EXPECT_EQ(lastItem(okBody(no_marker)).at("type"), "message");
}

TEST(MockResponses, ToolOutputIsQuotedBack) {
  json::object req = codexTurn1();
  json::array& input = req["input"].as_array();
  const json::value tail = load(kSource / "tests/fixtures/mock/codex-exec-turn2-input-tail.json");
  for (const json::value& v : tail.as_array()) input.push_back(v);
  const Stream s = okStream(req);
  const json::object& completed = s.events.back().at("response").as_object();
  const json::object& msg = lastItem(completed);
  ASSERT_EQ(msg.at("type").as_string(), "message");
  const std::string text(msg.at("content").as_array()[0].at("text").as_string());
  EXPECT_NE(text.find("tollgate-tool-ok"), std::string::npos) << text;
  EXPECT_NE(text.find("Process exited with code 0"), std::string::npos) << text;
  // The custom tool's output is quoted the same way.
  json::object custom{{"model", "m"},
                      {"input", json::parse(R"([{"role":"user","content":"TOOLTEST"},
        {"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"x"},
        {"type":"custom_tool_call_output","call_id":"c1","output":"Exit code: 0\nDone!"}])")}};
  EXPECT_EQ(lastItem(okBody(custom)).at("content").as_array()[0].at("text").as_string(),
            "Tool output: Exit code: 0\nDone!");
}

TEST(MockResponses, MaxOutputTokensCutIsIncomplete) {
  const json::object req{{"model", "m"}, {"input", "say hi"}, {"max_output_tokens", 2}};
  const json::object r = okBody(req);
  EXPECT_EQ(r.at("status").as_string(), "incomplete");
  EXPECT_EQ(r.at("incomplete_details").at("reason").as_string(), "max_output_tokens");
  EXPECT_EQ(r.at("usage").at("output_tokens").to_number<int>(), 2);
  const Stream s = okStream(req);
  EXPECT_EQ(s.types.back(), "response.incomplete");
}

TEST(MockResponses, InvalidRequestsAre400s) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":7})", "input"},
      {R"({"model":"m","input":[3]})", "input[0]"},
      {R"({"model":"m","input":[{"role":"user","content":5}]})", "input[0].content"},
      {R"({"model":"m","input":[{"role":"user","content":[{"text":"x"}]}]})",
       "input[0].content[0].type"},
      {R"({"model":"m","input":[{"foo":1}]})", "input[0].type"},
      {R"({"model":"m","input":"x","stream":"yes"})", "stream"},
      {R"({"model":"m","input":"x","max_output_tokens":0})", "max_output_tokens"},
      {R"({"model":"m","input":"x","tools":{}})", "tools"},
      {R"({"model":"m","input":"x","previous_response_id":"resp_1"})", "previous_response_id"},
      {R"({"model":"m","input":"x","instructions":1})", "instructions"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    EngineResult r = engine().handle("POST", "/v1/responses", c.body);
    EXPECT_EQ(r.status, 400);
    const json::object e = json::parse(r.body).as_object();
    EXPECT_EQ(e.at("error").at("param").as_string(), c.param);
  }
}

}  // namespace
}  // namespace tollgate::mock
