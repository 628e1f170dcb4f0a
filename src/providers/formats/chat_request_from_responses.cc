#include "providers/formats/chat_request_from_responses.h"

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "providers/formats/json_fields.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

Error badRequest(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

std::string at(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

// A message's content (a string or parts) as chat content: a string when it is all text.
Result<json::value> convertContent(const json::value& content, const std::string& where) {
  if (content.is_string()) return json::value(content.get_string());
  if (!content.is_array()) return badRequest("content must be a string or an array", where);
  json::array parts;
  bool only_text = true;
  std::string text;
  const json::array& in = content.get_array();
  for (size_t i = 0; i < in.size(); ++i) {
    const json::object* p = in[i].if_object();
    if (p == nullptr) return badRequest("content parts must be objects", at(where, i));
    const std::string_view type = stringMember(*p, "type");
    if (type == "input_text" || type == "output_text" || type == "text") {
      parts.push_back(json::object{{"type", "text"}, {"text", stringMember(*p, "text")}});
      if (!text.empty()) text += '\n';
      text += stringMember(*p, "text");
    } else if (type == "refusal") {
      parts.push_back(json::object{{"type", "text"}, {"text", stringMember(*p, "refusal")}});
      text += stringMember(*p, "refusal");
    } else if (type == "input_image") {
      const std::string_view url = stringMember(*p, "image_url");
      if (url.empty()) {
        return badRequest("input_image needs an image_url (file_id needs OpenAI's file store)",
                          at(where, i));
      }
      json::object image{{"url", url}};
      if (const std::string_view detail = stringMember(*p, "detail"); !detail.empty())
        image["detail"] = detail;
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(image)}});
      only_text = false;
    } else if (type == "input_file") {
      const std::string_view data = stringMember(*p, "file_data");
      if (data.empty()) {
        return badRequest("input_file needs file_data (file_id needs OpenAI's file store)",
                          at(where, i));
      }
      json::object file{{"file_data", data}};
      if (const std::string_view name = stringMember(*p, "filename"); !name.empty())
        file["filename"] = name;
      parts.push_back(json::object{{"type", "file"}, {"file", std::move(file)}});
      only_text = false;
    } else {
      return badRequest("content part type '" + std::string(type) + "' is not supported",
                        at(where, i) + ".type");
    }
  }
  if (only_text) return json::value(text);
  return json::value(std::move(parts));
}

// A function_call_output's output: a string, or parts whose text is joined.
std::string outputText(const json::value* output) {
  if (output == nullptr) return {};
  if (output->is_string()) return std::string(output->get_string());
  std::string text;
  if (const json::array* parts = output->if_array()) {
    for (const json::value& p : *parts) {
      const json::object* o = p.if_object();
      if (o == nullptr) continue;
      if (!text.empty()) text += '\n';
      text += stringMember(*o, "text");
    }
  }
  return text;
}

// Appends a tool call to the assistant message that ends `messages`, or to a new one.
void appendToolCall(json::array& messages, json::object call) {
  json::object* last = messages.empty() ? nullptr : messages.back().if_object();
  if (last == nullptr || stringMember(*last, "role") != "assistant") {
    messages.push_back(json::object{{"role", "assistant"}, {"content", nullptr}});
    last = &messages.back().get_object();
  }
  json::value& calls = (*last)["tool_calls"];
  if (!calls.is_array()) calls.emplace_array();
  calls.get_array().push_back(std::move(call));
}

std::optional<Error> convertItem(const json::object& item, const std::string& where,
                                 json::array& messages) {
  std::string_view type = stringMember(item, "type");
  if (type.empty() && member(item, "role") != nullptr) type = "message";
  if (type == "message") {
    std::string_view role = stringMember(item, "role");
    if (role == "developer") role = "system";  // many chat servers know only system
    if (role != "user" && role != "assistant" && role != "system") {
      return badRequest("role must be user, assistant, system or developer", where + ".role");
    }
    const json::value* content = member(item, "content");
    if (content == nullptr) return badRequest("a message needs content", where + ".content");
    auto converted = convertContent(*content, where + ".content");
    if (!converted) return converted.error();
    messages.push_back(json::object{{"role", role}, {"content", std::move(*converted)}});
    return std::nullopt;
  }
  if (type == "function_call" || type == "custom_tool_call") {
    const std::string_view call_id = stringMember(item, "call_id");
    const std::string_view name = stringMember(item, "name");
    if (call_id.empty() || name.empty()) {
      return badRequest(std::string(type) + " items need call_id and name", where);
    }
    std::string arguments;
    if (type == "function_call") {
      arguments = stringMember(item, "arguments");
    } else {
      arguments = json::serialize(json::object{{"input", stringMember(item, "input")}});
    }
    appendToolCall(
        messages,
        json::object{{"id", call_id},
                     {"type", "function"},
                     {"function", json::object{{"name", name}, {"arguments", arguments}}}});
    return std::nullopt;
  }
  if (type == "function_call_output" || type == "custom_tool_call_output") {
    const std::string_view call_id = stringMember(item, "call_id");
    if (call_id.empty()) return badRequest(std::string(type) + " items need call_id", where);
    messages.push_back(json::object{{"role", "tool"},
                                    {"tool_call_id", call_id},
                                    {"content", outputText(member(item, "output"))}});
    return std::nullopt;
  }
  if (type == "item_reference") {
    return badRequest(
        "item_reference needs items stored by the server, which this backend does "
        "not keep; send the items themselves",
        where);
  }
  // reasoning (encrypted for another model), compaction, hosted tool calls (web_search_call,
  // file_search_call, ...): nothing a chat backend can read.
  return std::nullopt;
}

std::optional<Error> convertInput(const json::object& body, json::array& messages) {
  const json::value* input = member(body, "input");
  if (input == nullptr) return badRequest("input is required", "input");
  if (input->is_string()) {
    messages.push_back(json::object{{"role", "user"}, {"content", input->get_string()}});
    return std::nullopt;
  }
  if (!input->is_array()) return badRequest("input must be a string or an array", "input");
  const json::array& items = input->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json::object* item = items[i].if_object();
    if (item == nullptr) return badRequest("input items must be objects", at("input", i));
    if (auto e = convertItem(*item, at("input", i), messages)) return e;
  }
  return std::nullopt;
}

json::object functionTool(std::string_view name, const json::object& tool) {
  json::object fn{{"name", name}};
  if (const json::value* d = member(tool, "description")) fn["description"] = *d;
  const json::value* params = member(tool, "parameters");
  fn["parameters"] = params != nullptr ? *params : json::value(json::object{{"type", "object"}});
  if (const json::value* strict = member(tool, "strict")) fn["strict"] = *strict;
  return json::object{{"type", "function"}, {"function", std::move(fn)}};
}

void convertTool(const json::object& tool, ResponsesRequestInfo& info, json::array& out) {
  const std::string_view type = stringMember(tool, "type");
  if (type == "function") {
    out.push_back(functionTool(stringMember(tool, "name"), tool));
  } else if (type == "tool_search") {
    out.push_back(functionTool("tool_search", tool));
  } else if (type == "custom") {
    // A freeform tool: the model writes one string; chat tools take JSON, so it is {input}.
    const std::string_view name = stringMember(tool, "name");
    info.custom_tools.emplace(name);
    json::object fn{{"name", name}};
    if (const json::value* d = member(tool, "description")) fn["description"] = *d;
    fn["parameters"] =
        json::object{{"type", "object"},
                     {"properties", json::object{{"input", json::object{{"type", "string"}}}}},
                     {"required", json::array{"input"}},
                     {"additionalProperties", false}};
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  } else if (type == "namespace") {
    if (const json::value* nested = member(tool, "tools");
        nested != nullptr && nested->is_array()) {
      for (const json::value& t : nested->get_array())
        if (const json::object* o = t.if_object()) convertTool(*o, info, out);
    }
  }
  // Hosted tools (web_search, file_search, code_interpreter, mcp, image_generation, ...) run on
  // OpenAI's servers: the chat backend has nothing to run them with.
}

std::optional<Error> convertTools(const json::object& body, ResponsesRequestInfo& info,
                                  json::object& out) {
  const json::value* tv = member(body, "tools");
  if (tv == nullptr) return std::nullopt;
  if (!tv->is_array()) return badRequest("tools must be an array", "tools");
  json::array tools;
  for (const json::value& t : tv->get_array()) {
    if (const json::object* o = t.if_object()) convertTool(*o, info, tools);
  }
  if (tools.empty()) return std::nullopt;
  out["tools"] = std::move(tools);
  if (const json::value* choice = member(body, "tool_choice")) {
    if (choice->is_string()) {
      out["tool_choice"] = *choice;
    } else if (const json::object* c = choice->if_object()) {
      const std::string_view type = stringMember(*c, "type");
      if (type == "function" || type == "custom") {
        out["tool_choice"] = json::object{
            {"type", "function"}, {"function", json::object{{"name", stringMember(*c, "name")}}}};
      }
    }
  }
  if (const json::value* p = member(body, "parallel_tool_calls"); p != nullptr && p->is_bool())
    out["parallel_tool_calls"] = *p;
  return std::nullopt;
}

void convertTextFormat(const json::object& body, json::object& out) {
  const json::value* text = member(body, "text");
  const json::value* fmt =
      text != nullptr && text->is_object() ? member(text->get_object(), "format") : nullptr;
  const json::object* f = fmt == nullptr ? nullptr : fmt->if_object();
  if (f == nullptr) return;
  const std::string_view type = stringMember(*f, "type");
  if (type == "json_object") {
    out["response_format"] = json::object{{"type", "json_object"}};
  } else if (type == "json_schema") {
    json::object schema{{"name", stringMember(*f, "name").empty() ? std::string_view("output")
                                                                  : stringMember(*f, "name")}};
    if (const json::value* s = member(*f, "schema")) schema["schema"] = *s;
    if (const json::value* s = member(*f, "strict")) schema["strict"] = *s;
    out["response_format"] =
        json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
  }
}

}  // namespace

Result<json::object> chatRequestFromResponses(const json::object& body,
                                              ResponsesRequestInfo& info) {
  if (member(body, "previous_response_id") != nullptr) {
    return badRequest(
        "previous_response_id needs a backend that stores responses; this one serves chat "
        "completions only: send the whole conversation in input (store:false)",
        "previous_response_id");
  }
  if (isTrue(body, "store")) {
    return badRequest(
        "store:true needs a backend that stores responses; this one serves chat completions "
        "only: send store:false and the whole conversation in input",
        "store");
  }
  json::object out;
  if (const json::value* m = member(body, "model")) out["model"] = *m;
  json::array messages;
  if (const std::string_view instructions = stringMember(body, "instructions");
      !instructions.empty())
    messages.push_back(json::object{{"role", "system"}, {"content", instructions}});
  if (auto e = convertInput(body, messages)) return *e;
  out["messages"] = std::move(messages);
  if (auto e = convertTools(body, info, out)) return *e;
  if (const json::value* v = member(body, "max_output_tokens")) out["max_tokens"] = *v;
  for (std::string_view key : {"temperature", "top_p"}) {
    if (const json::value* v = member(body, key)) out[key] = *v;
  }
  if (const json::value* r = member(body, "reasoning"); r != nullptr && r->is_object()) {
    if (const std::string_view effort = stringMember(r->get_object(), "effort"); !effort.empty())
      out["reasoning_effort"] = effort;
  }
  convertTextFormat(body, out);
  std::string_view user = stringMember(body, "safety_identifier");
  if (user.empty()) user = stringMember(body, "user");
  if (!user.empty()) out["user"] = user;
  if (isTrue(body, "stream")) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};
  }

  // What the Response object repeats back.
  json::object& echo = info.echo;
  const json::value* instructions = member(body, "instructions");
  echo["instructions"] = instructions != nullptr ? *instructions : json::value(nullptr);
  const json::value* p = member(body, "parallel_tool_calls");
  echo["parallel_tool_calls"] = p != nullptr ? *p : json::value(true);
  const json::value* choice = member(body, "tool_choice");
  echo["tool_choice"] = choice != nullptr ? *choice : json::value("auto");
  const json::value* tools = member(body, "tools");
  echo["tools"] = tools != nullptr ? *tools : json::value(json::array());
  echo["store"] = false;
  const json::value* text = member(body, "text");
  echo["text"] = text != nullptr
                     ? *text
                     : json::value(json::object{{"format", json::object{{"type", "text"}}}});
  const json::value* reasoning = member(body, "reasoning");
  echo["reasoning"] = reasoning != nullptr ? *reasoning : json::value(nullptr);
  const json::value* max = member(body, "max_output_tokens");
  echo["max_output_tokens"] = max != nullptr ? *max : json::value(nullptr);
  echo["previous_response_id"] = nullptr;
  const json::value* metadata = member(body, "metadata");
  echo["metadata"] = metadata != nullptr ? *metadata : json::value(json::object());
  return out;
}

}  // namespace tollgate::providers::formats
