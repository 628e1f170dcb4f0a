// The mock's scripted chat answers (mock/llm_chat_script.h) through the engine, stream and not:
// the stream's deltas must add up to the JSON answer.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "mock/llm_engine.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;

constexpr std::string_view kChat = "/v1/chat/completions";

const char* const kBash =
    R"({"type":"function","function":{"name":"Bash","parameters":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}}})";
const char* const kRead =
    R"({"type":"function","function":{"name":"Read","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}})";
const char* const kShell =
    R"({"type":"function","function":{"name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}},"workdir":{"type":"string"}},"required":["command"]}}})";
const char* const kExec =
    R"({"type":"function","function":{"name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"},"yield_time_ms":{"type":"integer"}},"required":["cmd","yield_time_ms"]}}})";

// What one answer said, read from the JSON body or put together from the stream's chunks.
struct Answer {
  std::string content, reasoning, finish, tool_id, tool_name, arguments;
  int64_t completion_tokens = -1;
  bool has_content = false;
};

Answer fromJson(const std::string& body) {
  const json::object root = json::parse(body).as_object();
  const json::object& choice = root.at("choices").as_array().at(0).as_object();
  const json::object& m = choice.at("message").as_object();
  Answer a;
  a.has_content = m.at("content").is_string();
  if (a.has_content) a.content = m.at("content").as_string();
  if (m.at("reasoning_content").is_string()) a.reasoning = m.at("reasoning_content").as_string();
  a.finish = choice.at("finish_reason").as_string();
  if (!m.at("tool_calls").as_array().empty()) {
    const json::object& call = m.at("tool_calls").as_array().at(0).as_object();
    a.tool_id = call.at("id").as_string();
    a.tool_name = call.at("function").at("name").as_string();
    a.arguments = call.at("function").at("arguments").as_string();
  }
  a.completion_tokens = root.at("usage").at("completion_tokens").to_number<int64_t>();
  return a;
}

Answer fromStream(const std::vector<std::string>& events) {
  Answer a;
  for (const std::string& e : events) {
    if (e == "[DONE]") continue;
    const json::object c = json::parse(e).as_object();
    if (auto* u = c.if_contains("usage"); u != nullptr && u->is_object())
      a.completion_tokens = u->at("completion_tokens").to_number<int64_t>();
    const json::array& choices = c.at("choices").as_array();
    if (choices.empty()) continue;
    const json::object& ch = choices[0].as_object();
    const json::object& d = ch.at("delta").as_object();
    if (auto* t = d.if_contains("content"); t != nullptr && t->is_string()) {
      a.content += t->as_string();
      a.has_content = a.has_content || !t->as_string().empty();
    }
    if (auto* r = d.if_contains("reasoning_content")) a.reasoning += r->as_string();
    if (auto* calls = d.if_contains("tool_calls")) {
      const json::object& call = calls->as_array().at(0).as_object();
      if (auto* id = call.if_contains("id")) a.tool_id = id->as_string();
      const json::object& fn = call.at("function").as_object();
      if (auto* n = fn.if_contains("name")) a.tool_name = n->as_string();
      a.arguments += fn.at("arguments").as_string();
    }
    if (ch.at("finish_reason").is_string()) a.finish = ch.at("finish_reason").as_string();
  }
  return a;
}

struct Case {
  const char* name;
  std::string messages;  // the JSON array's members
  std::string tools;     // the tools array's members; empty: no tools
  std::string extra;     // more request members, each with a leading comma
  Answer want;           // completion_tokens unchecked here (-1)
};

const Case kCases[] = {
    {"marker calls Bash with a command that echoes",
     R"({"role":"user","content":"TOOLTEST: run echo"})",
     std::string(kRead) + "," + kBash,
     "",
     {"", "", "tool_calls", "", "Bash", R"({"command":"echo tollgate-tool-ok"})"}},
    {"codex shell takes argv",
     R"({"role":"user","content":[{"type":"text","text":"TOOLTEST"}]})",
     std::string(kRead) + "," + kShell,
     "",
     {"", "", "tool_calls", "", "shell", R"({"command":["bash","-lc","echo tollgate-tool-ok"]})"}},
    {"exec_command with every required property",
     R"({"role":"user","content":"TOOLTEST"})",
     std::string(kRead) + "," + kExec,
     "",
     {"", "", "tool_calls", "", "exec_command",
      R"({"cmd":"echo tollgate-tool-ok","yield_time_ms":1})"}},
    {"no known tool: the first",
     R"({"role":"user","content":"TOOLTEST"})",
     kRead,
     "",
     {"", "", "tool_calls", "", "Read", R"({"path":"tollgate"})"}},
    {"a tool result is quoted",
     R"({"role":"user","content":"TOOLTEST"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"Bash","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"tollgate-tool-ok\n"})",
     kBash,
     "",
     {"tool said: tollgate-tool-ok\n", "", "stop", "", "", ""}},
};

TEST(ChatScriptTest, ToolCallsAndToolResults) {
  LlmEngine engine({});
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    std::string body = R"({"model":"m","messages":[)" + c.messages + "]";
    if (!c.tools.empty()) body += R"(,"tools":[)" + c.tools + "]";
    body += c.extra;
    const EngineResult whole = engine.handle("POST", kChat, body + "}");
    ASSERT_EQ(whole.status, 200) << whole.body;
    const EngineResult streamed = engine.handle(
        "POST", kChat, body + R"(,"stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_EQ(streamed.status, 200);
    for (const Answer& a : {fromJson(whole.body), fromStream(streamed.events)}) {
      EXPECT_EQ(a.finish, c.want.finish);
      EXPECT_EQ(a.tool_name, c.want.tool_name);
      EXPECT_EQ(a.arguments, c.want.arguments);
      if (!c.want.tool_name.empty()) {
        EXPECT_FALSE(a.has_content);
        EXPECT_TRUE(a.tool_id.starts_with("call_")) << a.tool_id;
        EXPECT_EQ(a.tool_id, fromJson(whole.body).tool_id) << "the same call id each time";
      } else {
        EXPECT_EQ(a.content, c.want.content);
      }
      EXPECT_GT(a.completion_tokens, 0);
    }
  }
}

TEST(ChatScriptTest, WithoutMarkerOrToolsTheAnswerIsGenerated) {
  LlmEngine engine({});
  for (const std::string& body :
       {std::string(R"({"model":"m","messages":[{"role":"user","content":"run echo"}],"tools":[)") +
            kBash + "]}",
        std::string(R"({"model":"m","messages":[{"role":"user","content":"TOOLTEST"}]})")}) {
    const Answer a = fromJson(engine.handle("POST", kChat, body).body);
    EXPECT_TRUE(a.tool_name.empty());
    EXPECT_TRUE(a.has_content);
    EXPECT_TRUE(a.reasoning.empty());
  }
}

TEST(ChatScriptTest, ReasoningWhenAskedForStreamAndNot) {
  LlmEngine engine({});
  const std::string body =
      R"({"model":"m","max_tokens":5,"reasoning_effort":"medium","messages":[{"role":"user","content":"hello there"}])";
  const Answer whole = fromJson(engine.handle("POST", kChat, body + "}").body);
  const Answer streamed =
      fromStream(engine
                     .handle("POST", kChat,
                             body + R"(,"stream":true,"stream_options":{"include_usage":true}})")
                     .events);
  EXPECT_TRUE(whole.reasoning.starts_with("Thinking it over: ")) << whole.reasoning;
  EXPECT_EQ(streamed.reasoning, whole.reasoning);
  EXPECT_EQ(streamed.content, whole.content);
  EXPECT_EQ(streamed.completion_tokens, whole.completion_tokens);
  // The reasoning's words count as completion tokens, as vLLM counts them.
  const Answer plain = fromJson(
      engine
          .handle(
              "POST", kChat,
              R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hello there"}]})")
          .body);
  EXPECT_EQ(plain.content, whole.content);
  EXPECT_EQ(whole.completion_tokens,
            plain.completion_tokens + static_cast<int64_t>(countTokens(whole.reasoning)));
}

}  // namespace
}  // namespace tollgate::mock
