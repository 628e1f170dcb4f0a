#include "mock/llm_chat_script.h"

#include <string_view>

#include "mock/llm_engine.h"
#include "mock/llm_request.h"
#include "mock/llm_text.h"

namespace tollgate::mock::engine {

namespace {

constexpr std::string_view kToolMarker = "TOOLTEST";
constexpr std::string_view kCommand = "echo tollgate-tool-ok";
// A tool result is quoted up to this many bytes: enough to check, short enough to read.
constexpr size_t kQuotedResult = 400;

std::string contentText(const json::value* content) {
  if (content == nullptr) return {};
  if (const json::string* s = content->if_string()) return std::string(*s);
  std::string out;
  if (const json::array* parts = content->if_array()) {
    for (const json::value& part : *parts) {
      const json::object* o = part.if_object();
      const json::value* t = o == nullptr ? nullptr : o->if_contains("text");
      if (t == nullptr || !t->is_string()) continue;
      if (!out.empty()) out += '\n';
      out += t->get_string();
    }
  }
  return out;
}

std::string_view toolName(const json::value& tool) {
  const json::object* t = tool.if_object();
  const json::value* fn = t == nullptr ? nullptr : t->if_contains("function");
  const json::object* f = fn == nullptr ? nullptr : fn->if_object();
  const json::value* name = f == nullptr ? nullptr : f->if_contains("name");
  return name != nullptr && name->is_string() ? std::string_view(name->get_string()) : "";
}

// The offered tool the script calls: the ones agent clients use to run commands first.
const json::value* pickTool(const json::array& tools) {
  for (std::string_view want : {"Bash", "shell", "exec_command"}) {
    for (const json::value& t : tools)
      if (toolName(t) == want) return &t;
  }
  for (const json::value& t : tools)
    if (!toolName(t).empty()) return &t;
  return nullptr;
}

// A value of JSON Schema `schema` for property `name`: commands echo the marker, other strings
// say "tollgate", other types get their simplest value.
json::value sampleValue(std::string_view name, const json::value* schema) {
  const json::object* s = schema == nullptr ? nullptr : schema->if_object();
  const json::value* tv = s == nullptr ? nullptr : s->if_contains("type");
  const std::string_view type =
      tv != nullptr && tv->is_string() ? std::string_view(tv->get_string()) : "string";
  const bool command = name == "command" || name == "cmd";
  if (type == "array") {
    // Codex's shell tool takes argv.
    if (command) return json::array{"bash", "-lc", json::string(kCommand)};
    return json::array();
  }
  if (type == "integer" || type == "number") return 1;
  if (type == "boolean") return false;
  if (type == "object") return json::object();
  return json::string(command ? kCommand : std::string_view("tollgate"));
}

std::string arguments(const json::value& tool) {
  json::object args;
  const json::value* params =
      tool.get_object().at("function").get_object().if_contains("parameters");
  const json::object* p = params == nullptr ? nullptr : params->if_object();
  const json::value* props = p == nullptr ? nullptr : p->if_contains("properties");
  const json::value* required = p == nullptr ? nullptr : p->if_contains("required");
  if (required != nullptr && required->is_array()) {
    for (const json::value& r : required->get_array()) {
      if (!r.is_string()) continue;
      const json::object* po = props == nullptr ? nullptr : props->if_object();
      const json::value* schema = po == nullptr ? nullptr : po->if_contains(r.get_string());
      args[r.get_string()] = sampleValue(r.get_string(), schema);
    }
  }
  return json::serialize(args);
}

bool wantsReasoning(const json::object& req) {
  if (const json::value* e = field(req, "reasoning_effort"); e != nullptr && e->is_string())
    return e->get_string() != "none";
  if (const json::value* r = field(req, "include_reasoning"); r != nullptr && r->is_bool())
    return r->get_bool();
  const json::value* kw = field(req, "chat_template_kwargs");
  const json::value* on =
      kw != nullptr && kw->is_object() ? kw->get_object().if_contains("enable_thinking") : nullptr;
  return on != nullptr && on->is_bool() && on->get_bool();
}

std::string_view role(const json::value& m) {
  const json::value* r = m.get_object().if_contains("role");
  return r != nullptr && r->is_string() ? std::string_view(r->get_string()) : "";
}

}  // namespace

uint64_t ChatScript::completionTokens(const Reply& reply) const {
  uint64_t n = countTokens(reasoning);
  if (text) return n + countTokens(*text);
  if (toolCall()) return n + countTokens(tool_arguments);
  return n + reply.count;
}

ChatScript scriptChat(const json::object& req, const json::array& messages, uint64_t seed) {
  ChatScript s;
  if (wantsReasoning(req)) {
    // A few words of the reply's own vocabulary, from a seed of its own.
    s.reasoning = "Thinking it over: " + replyText(generateReply(seed ^ 0x7468696e6b, 6));
  }
  if (!messages.empty() && role(messages.back()) == "tool") {
    std::string result = contentText(field(messages.back().get_object(), "content"));
    if (result.size() > kQuotedResult) result.resize(kQuotedResult);
    s.text = "tool said: " + result;
    return s;
  }
  const json::value* tools = field(req, "tools");
  if (tools == nullptr || !tools->is_array()) return s;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (role(*it) != "user") continue;
    if (contentText(field(it->get_object(), "content")).find(kToolMarker) == std::string::npos)
      return s;
    if (const json::value* tool = pickTool(tools->get_array())) {
      s.tool_name = toolName(*tool);
      s.tool_arguments = arguments(*tool);
      // From the seed, not random: the same conversation gets the same call id.
      const uint64_t h = fnv1a(s.tool_name, seed);
      static constexpr char kHex[] = "0123456789abcdef";
      s.tool_call_id = "call_";
      for (int i = 60; i >= 0; i -= 4) s.tool_call_id += kHex[(h >> i) & 0xf];
    }
    return s;
  }
  return s;
}

}  // namespace tollgate::mock::engine
