#include "mock/anthropic_script.h"

#include <boost/json.hpp>

#include "mock/llm_engine.h"

namespace tollgate::mock {

namespace json = boost::json;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// The text of a content value (a string, or the text blocks of an array, joined).
std::string textOf(const json::value* content) {
  if (!content) return {};
  if (content->is_string()) return std::string(content->get_string());
  std::string out;
  if (!content->is_array()) return out;
  for (const json::value& b : content->get_array()) {
    const json::object* o = b.if_object();
    if (!o || str(*o, "type") != "text") continue;
    if (!out.empty()) out += '\n';
    out += str(*o, "text");
  }
  return out;
}

// The tool the client most likely runs commands with.
const json::object* pickTool(const json::array& tools) {
  const json::object* first = nullptr;
  for (std::string_view preferred : {"Bash", "shell", "exec_command"}) {
    for (const json::value& t : tools) {
      const json::object* o = t.if_object();
      if (!o) continue;
      if (!first) first = o;
      if (str(*o, "name") == preferred) return o;
    }
  }
  return first;
}

// Arguments that satisfy the tool's required properties: the command for a command-like one
// (an argv array when the schema says array, as Codex's shell tool has), a word otherwise.
json::object argumentsFor(const json::object& tool) {
  json::object args;
  const json::value* schema = tool.if_contains("input_schema");
  const json::object* s = schema ? schema->if_object() : nullptr;
  const json::value* required = s ? s->if_contains("required") : nullptr;
  const json::value* props = s ? s->if_contains("properties") : nullptr;
  if (!required || !required->is_array()) return args;
  for (const json::value& r : required->get_array()) {
    if (!r.is_string()) continue;
    const std::string_view name = r.get_string();
    const json::value* p =
        props && props->is_object() ? props->get_object().if_contains(name) : nullptr;
    const std::string_view type = p && p->is_object() ? str(p->get_object(), "type") : "string";
    const bool command = name == "command" || name == "cmd" || name == "input";
    if (type == "array") {
      args[name] = command ? json::array{"bash", "-lc", kToolCommand} : json::array{};
    } else if (type == "string") {
      args[name] = command ? kToolCommand : std::string_view("tollgate");
    } else if (type == "number" || type == "integer") {
      args[name] = 1;
    } else if (type == "boolean") {
      args[name] = false;
    } else {
      args[name] = json::object{};
    }
  }
  return args;
}

}  // namespace

AnthropicAnswer scriptAnthropicAnswer(const json::object& request, std::string_view engine_text,
                                      std::string_view id) {
  AnthropicAnswer a;
  if (const json::value* t = request.if_contains("thinking"); t && t->is_object()) {
    const std::string_view type = str(t->get_object(), "type");
    if (type == "enabled" || type == "adaptive")
      a.blocks.push_back(
          {"thinking", "Let me think briefly.", "sig_" + std::string(id), {}, {}, {}});
  }
  // The last user turn decides (Claude Code puts a system message after the user's prompt).
  const json::object* last_user = nullptr;
  if (const json::value* m = request.if_contains("messages"); m && m->is_array()) {
    for (const json::value& msg : m->get_array())
      if (msg.is_object() && str(msg.get_object(), "role") == "user") last_user = &msg.get_object();
  }
  const json::value* content = last_user ? last_user->if_contains("content") : nullptr;
  std::string results;
  if (content && content->is_array()) {
    for (const json::value& b : content->get_array()) {
      if (!b.is_object() || str(b.get_object(), "type") != "tool_result") continue;
      if (!results.empty()) results += '\n';
      results += textOf(b.get_object().if_contains("content"));
    }
  }
  const json::value* tools = request.if_contains("tools");
  const json::object* tool = tools && tools->is_array() ? pickTool(tools->get_array()) : nullptr;
  if (!results.empty()) {
    a.scripted = true;
    a.blocks.push_back({"text", "The tool returned: " + results, {}, {}, {}, {}});
  } else if (tool && textOf(content).find(kToolMarker) != std::string::npos) {
    a.scripted = a.tool_use = true;
    a.blocks.push_back({"text", "Running the tool.", {}, {}, {}, {}});
    a.blocks.push_back({"tool_use",
                        {},
                        {},
                        "toolu_" + std::string(id),
                        std::string(str(*tool, "name")),
                        argumentsFor(*tool)});
  } else {
    a.blocks.push_back({"text", std::string(engine_text), {}, {}, {}, {}});
  }
  return a;
}

json::object anthropicViewOfConverse(const json::object& in) {
  json::object view;
  const auto at = [](const json::value* v, std::string_view key) -> const json::value* {
    return v && v->is_object() ? v->get_object().if_contains(key) : nullptr;
  };
  json::array tools;
  if (const json::value* list = at(in.if_contains("toolConfig"), "tools");
      list && list->is_array()) {
    for (const json::value& t : list->get_array()) {
      const json::value* spec = at(&t, "toolSpec");
      const json::value* name = at(spec, "name");
      if (!name || !name->is_string()) continue;
      const json::value* schema = at(at(spec, "inputSchema"), "json");
      tools.push_back(
          json::object{{"name", *name}, {"input_schema", schema ? *schema : json::object{}}});
    }
  }
  if (!tools.empty()) view["tools"] = std::move(tools);
  json::array messages;
  if (const json::value* list = in.if_contains("messages"); list && list->is_array()) {
    for (const json::value& m : list->get_array()) {
      json::array content;
      const json::value* blocks = at(&m, "content");
      for (const json::value& b :
           blocks && blocks->is_array() ? blocks->get_array() : json::array{}) {
        if (const json::value* text = at(&b, "text"); text && text->is_string()) {
          content.push_back(json::object{{"type", "text"}, {"text", *text}});
        } else if (const json::value* result = at(&b, "toolResult")) {
          json::array parts;
          const json::value* rc = at(result, "content");
          for (const json::value& part : rc && rc->is_array() ? rc->get_array() : json::array{}) {
            if (const json::value* text = at(&part, "text"); text && text->is_string())
              parts.push_back(json::object{{"type", "text"}, {"text", *text}});
          }
          content.push_back(json::object{{"type", "tool_result"}, {"content", std::move(parts)}});
        }
      }
      const json::value* role = at(&m, "role");
      messages.push_back(json::object{{"role", role ? *role : json::value("user")},
                                      {"content", std::move(content)}});
    }
  }
  view["messages"] = std::move(messages);
  if (const json::value* thinking = at(in.if_contains("additionalModelRequestFields"), "thinking"))
    view["thinking"] = *thinking;
  return view;
}

int64_t blockTokens(const std::vector<AnthropicBlock>& blocks) {
  int64_t n = 0;
  for (const AnthropicBlock& b : blocks)
    n += countTokens(b.type == "tool_use" ? json::serialize(b.input) : b.text);
  return n;
}

}  // namespace tollgate::mock
