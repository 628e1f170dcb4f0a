#include "providers/formats/anthropic_request_from_openai.h"

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

// Anthropic has prompt caching and OpenAI does not; clients that know they talk to Claude (LiteLLM
// style) mark parts with `cache_control`, which must survive the translation.
void copyCacheControl(const json::object& part, json::object& block) {
  if (const json::value* cc = member(part, "cache_control")) block["cache_control"] = *cc;
}

// An image or document source from an OpenAI URL: data: URLs carry the bytes (base64 only, as
// Anthropic takes no other encoding), anything else is fetched by Anthropic.
Result<json::object> sourceFromUrl(std::string_view url, const std::string& param) {
  json::object source;
  if (url.substr(0, 5) != "data:") {
    if (url.empty()) return badRequest("the URL is empty", param);
    source["type"] = "url";
    source["url"] = url;
    return source;
  }
  const std::string_view rest = url.substr(5);
  const size_t comma = rest.find(',');
  if (comma == std::string_view::npos) return badRequest("malformed data URL", param);
  const std::string_view meta = rest.substr(0, comma);
  const std::string_view media_type = meta.substr(0, meta.find(';'));
  if (media_type.empty() || meta.find(";base64") == std::string_view::npos) {
    return badRequest("data URLs must give a media type and be base64 encoded", param);
  }
  source["type"] = "base64";
  source["media_type"] = media_type;
  source["data"] = rest.substr(comma + 1);
  return source;
}

// Appends the Anthropic block for one OpenAI content part (nothing for an empty text).
std::optional<Error> convertPart(const json::value& part, const std::string& param,
                                 json::array& blocks) {
  if (part.is_string()) {  // not in the spec, but some clients send bare strings
    if (!part.get_string().empty())
      blocks.push_back(json::object{{"type", "text"}, {"text", part}});
    return std::nullopt;
  }
  if (!part.is_object()) return badRequest("content parts must be objects", param);
  const json::object& p = part.get_object();
  const std::string_view type = stringMember(p, "type");
  if (type == "text" || type == "refusal") {
    const json::value* text = member(p, type);
    if (text == nullptr || !text->is_string()) {
      return badRequest(
          "a " + std::string(type) + " part needs a string `" + std::string(type) + "`",
          param + "." + std::string(type));
    }
    if (text->get_string().empty()) return std::nullopt;  // Anthropic rejects empty text blocks
    json::object block{{"type", "text"}, {"text", *text}};
    copyCacheControl(p, block);
    blocks.push_back(std::move(block));
    return std::nullopt;
  }
  if (type == "image_url") {
    const json::value* image = member(p, "image_url");
    std::string_view url;
    if (image != nullptr && image->is_string()) url = image->get_string();
    if (image != nullptr && image->is_object()) url = stringMember(image->get_object(), "url");
    auto source = sourceFromUrl(url, param + ".image_url.url");
    if (!source.ok()) return source.error();
    json::object block{{"type", "image"}, {"source", std::move(*source)}};
    copyCacheControl(p, block);
    blocks.push_back(std::move(block));
    return std::nullopt;
  }
  if (type == "file") {
    const json::value* file = member(p, "file");
    const std::string_view data =
        file != nullptr && file->is_object() ? stringMember(file->get_object(), "file_data") : "";
    if (data.substr(0, 5) != "data:") {
      return badRequest(
          "file parts must carry file_data as a base64 data URL (file_id is not "
          "supported by this backend)",
          param + ".file");
    }
    auto source = sourceFromUrl(data, param + ".file.file_data");
    if (!source.ok()) return source.error();
    json::object block{{"type", "document"}, {"source", std::move(*source)}};
    copyCacheControl(p, block);
    blocks.push_back(std::move(block));
    return std::nullopt;
  }
  return badRequest(
      "content part type '" + std::string(type) + "' is not supported by this backend",
      param + ".type");
}

// A message's `content` (string, array of parts or null) as Anthropic blocks.
std::optional<Error> convertContent(const json::object& msg, const std::string& param,
                                    json::array& blocks) {
  const json::value* content = member(msg, "content");
  if (content == nullptr) return std::nullopt;
  if (content->is_string()) {
    if (!content->get_string().empty()) {
      blocks.push_back(json::object{{"type", "text"}, {"text", *content}});
    }
    return std::nullopt;
  }
  if (!content->is_array()) {
    return badRequest("content must be a string or an array of parts", param + ".content");
  }
  const json::array& parts = content->get_array();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (auto err = convertPart(parts[i], param + ".content[" + std::to_string(i) + "]", blocks)) {
      return err;
    }
  }
  return std::nullopt;
}

std::optional<Error> convertToolCalls(const json::object& msg, const std::string& param,
                                      json::array& blocks) {
  const json::value* calls = member(msg, "tool_calls");
  if (calls == nullptr) return std::nullopt;
  if (!calls->is_array()) return badRequest("tool_calls must be an array", param + ".tool_calls");
  const json::array& list = calls->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = param + ".tool_calls[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return badRequest("a tool call must be an object", at);
    const json::object& call = list[i].get_object();
    const json::value* fn = member(call, "function");
    if (fn == nullptr || !fn->is_object()) {
      return badRequest("only function tool calls are supported", at + ".function");
    }
    const std::string_view id = stringMember(call, "id");
    const std::string_view name = stringMember(fn->get_object(), "name");
    if (id.empty()) return badRequest("a tool call needs an id", at + ".id");
    if (name.empty()) return badRequest("a tool call needs a function name", at + ".function.name");
    // Anthropic wants the input as an object, OpenAI carries it as JSON text.
    json::value input = json::object();
    const std::string_view args = stringMember(fn->get_object(), "arguments");
    if (args.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      boost::system::error_code ec;
      input = json::parse(args, ec);
      if (ec || !input.is_object()) {
        return badRequest("tool call arguments must be a JSON object", at + ".function.arguments");
      }
    }
    blocks.push_back(json::object{
        {"type", "tool_use"}, {"id", id}, {"name", name}, {"input", std::move(input)}});
  }
  return std::nullopt;
}

std::optional<Error> convertToolResult(const json::object& msg, const std::string& param,
                                       json::array& blocks) {
  const std::string_view id = stringMember(msg, "tool_call_id");
  if (id.empty()) return badRequest("a tool message needs a tool_call_id", param + ".tool_call_id");
  json::object block{{"type", "tool_result"}, {"tool_use_id", id}};
  const json::value* content = member(msg, "content");
  if (content != nullptr && content->is_string()) {
    if (!content->get_string().empty()) block["content"] = *content;
  } else if (content != nullptr) {
    json::array parts;
    if (auto err = convertContent(msg, param, parts)) return err;
    if (!parts.empty()) block["content"] = std::move(parts);
  }
  blocks.push_back(std::move(block));
  return std::nullopt;
}

// A single plain text block reads better, and costs less, as a string.
void collapseSingleText(json::object& message) {
  json::array& blocks = message["content"].as_array();
  if (blocks.size() != 1) return;
  const json::object& b = blocks[0].as_object();
  if (b.size() != 2 || stringMember(b, "type") != "text") return;
  json::value text = b.at("text");
  message["content"] = std::move(text);
}

std::optional<Error> convertMessages(const json::object& body, json::object& out) {
  const json::value* messages = member(body, "messages");
  if (messages == nullptr || !messages->is_array()) {
    return badRequest("messages must be an array", "messages");
  }
  json::array system;
  json::array converted;
  std::string_view last_role;
  const json::array& list = messages->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return badRequest("a message must be an object", param);
    const json::object& msg = list[i].get_object();
    const std::string_view role = stringMember(msg, "role");
    json::array blocks;
    std::string_view anthropic_role;
    if (role == "system" || role == "developer") {
      // Anthropic has one top-level system prompt; OpenAI allows system messages anywhere.
      if (auto err = convertContent(msg, param, system)) return err;
      continue;
    } else if (role == "user") {
      anthropic_role = "user";
      if (auto err = convertContent(msg, param, blocks)) return err;
    } else if (role == "assistant") {
      anthropic_role = "assistant";
      if (auto err = convertContent(msg, param, blocks)) return err;
      if (auto err = convertToolCalls(msg, param, blocks)) return err;
    } else if (role == "tool") {
      // Tool results travel in a user turn in Anthropic's schema.
      anthropic_role = "user";
      if (auto err = convertToolResult(msg, param, blocks)) return err;
    } else if (role == "function") {
      return badRequest("legacy function messages are not supported; use tools", param + ".role");
    } else {
      return badRequest("unknown message role '" + std::string(role) + "'", param + ".role");
    }
    if (blocks.empty()) continue;  // Anthropic rejects empty turns; an empty one says nothing
    // Anthropic wants user and assistant turns to alternate: merge consecutive same-role turns.
    if (!converted.empty() && last_role == anthropic_role) {
      json::array& prev = converted.back().as_object()["content"].as_array();
      for (auto& b : blocks) prev.push_back(std::move(b));
    } else {
      converted.push_back(json::object{{"role", anthropic_role}, {"content", std::move(blocks)}});
      last_role = anthropic_role;
    }
  }
  if (converted.empty()) {
    return badRequest("messages must contain a user or assistant message with content", "messages");
  }
  for (auto& m : converted) collapseSingleText(m.as_object());
  if (!system.empty()) {
    const json::object& first = system[0].as_object();
    if (system.size() == 1 && first.size() == 2) {
      out["system"] = first.at("text");
    } else {
      out["system"] = std::move(system);
    }
  }
  out["messages"] = std::move(converted);
  return std::nullopt;
}

std::optional<Error> convertTools(const json::object& body, json::object& out) {
  const json::value* tools = member(body, "tools");
  if (tools == nullptr) return std::nullopt;
  if (!tools->is_array()) return badRequest("tools must be an array", "tools");
  json::array converted;
  const json::array& list = tools->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string param = "tools[" + std::to_string(i) + "]";
    const json::object* tool = list[i].if_object();
    const json::value* fn = tool == nullptr ? nullptr : member(*tool, "function");
    if (fn == nullptr || !fn->is_object() || stringMember(*tool, "type") != "function") {
      return badRequest("only function tools are supported by this backend", param + ".type");
    }
    const json::object& f = fn->get_object();
    const std::string_view name = stringMember(f, "name");
    if (name.empty()) return badRequest("a tool needs a function name", param + ".function.name");
    json::object t{{"name", name}};
    if (const json::value* d = member(f, "description")) t["description"] = *d;
    // Anthropic requires a schema; OpenAI lets a function without parameters go without one.
    if (const json::value* schema = member(f, "parameters")) {
      t["input_schema"] = *schema;
    } else {
      t["input_schema"] = json::object{{"type", "object"}, {"properties", json::object()}};
    }
    if (const json::value* cc = member(*tool, "cache_control")) t["cache_control"] = *cc;
    converted.push_back(std::move(t));
  }
  if (converted.empty()) return std::nullopt;
  out["tools"] = std::move(converted);

  json::object choice;
  if (const json::value* tc = member(body, "tool_choice")) {
    if (tc->is_string() && tc->get_string() == "auto") {
      choice["type"] = "auto";
    } else if (tc->is_string() && tc->get_string() == "required") {
      choice["type"] = "any";
    } else if (tc->is_string() && tc->get_string() == "none") {
      choice["type"] = "none";
    } else if (const json::object* o = tc->if_object();
               o != nullptr && stringMember(*o, "type") == "function") {
      const json::value* fn = member(*o, "function");
      const std::string_view name =
          fn != nullptr && fn->is_object() ? stringMember(fn->get_object(), "name") : "";
      if (name.empty()) return badRequest("tool_choice needs a function name", "tool_choice");
      choice["type"] = "tool";
      choice["name"] = name;
    } else {
      return badRequest("unsupported tool_choice", "tool_choice");
    }
  }
  const json::value* parallel = member(body, "parallel_tool_calls");
  if (parallel != nullptr && parallel->is_bool() && !parallel->get_bool() &&
      stringMember(choice, "type") != "none") {
    if (choice.empty()) choice["type"] = "auto";
    choice["disable_parallel_tool_use"] = true;
  }
  if (!choice.empty()) out["tool_choice"] = std::move(choice);
  return std::nullopt;
}

}  // namespace

Result<json::object> anthropicRequestFromOpenAI(const json::object& body,
                                                const std::string& version) {
  json::object out;
  out["anthropic_version"] = version;

  // max_completion_tokens replaced max_tokens in OpenAI's API: when both come, it wins.
  int64_t max_tokens = kAnthropicDefaultMaxTokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (const json::value* v = member(body, key)) {
      // Boost.JSON keeps integers above INT64_MAX as uint64; to_number<int64_t> would throw on
      // them (a 500 for a client mistake), so they are refused here.
      if (!v->is_int64()) {
        return badRequest(
            std::string(key) + " must be an integer" + (v->is_uint64() ? " below 2^63" : ""), key);
      }
      max_tokens = v->get_int64();
    }
  }
  out["max_tokens"] = max_tokens;

  if (const json::value* n = member(body, "n");
      n != nullptr && (!n->is_number() || n->to_number<double>() != 1)) {
    return badRequest("this backend returns one choice: n must be 1", "n");
  }
  if (member(body, "functions") != nullptr || member(body, "function_call") != nullptr) {
    return badRequest("legacy functions are not supported; use tools", "functions");
  }
  if (const json::value* rf = member(body, "response_format")) {
    const json::object* o = rf->if_object();
    if (o == nullptr || stringMember(*o, "type") != "text") {
      return badRequest("response_format other than text is not supported by this backend",
                        "response_format");
    }
  }

  if (auto err = convertMessages(body, out)) return *err;
  if (auto err = convertTools(body, out)) return *err;

  for (const char* key : {"temperature", "top_p", "top_k"}) {
    if (const json::value* v = member(body, key)) {
      if (!v->is_number()) return badRequest(std::string(key) + " must be a number", key);
      out[key] = *v;
    }
  }
  if (const json::value* stop = member(body, "stop")) {
    json::array sequences;
    if (stop->is_string()) {
      if (!stop->get_string().empty()) sequences.push_back(*stop);
    } else if (stop->is_array()) {
      for (const json::value& s : stop->get_array()) {
        if (!s.is_string()) return badRequest("stop must be a string or strings", "stop");
        if (!s.get_string().empty()) sequences.push_back(s);
      }
    } else {
      return badRequest("stop must be a string or an array of strings", "stop");
    }
    if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
  }
  if (const std::string_view user = stringMember(body, "user"); !user.empty()) {
    out["metadata"] = json::object{{"user_id", user}};
  }
  // Anthropic-only knobs an OpenAI SDK can only send through extra_body.
  for (const char* key : {"thinking", "anthropic_beta"}) {
    if (const json::value* v = member(body, key)) out[key] = *v;
  }
  return out;
}

}  // namespace tollgate::providers::formats
