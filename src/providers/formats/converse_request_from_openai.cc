#include "providers/formats/converse_request_from_openai.h"

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "common/strings.h"
#include "providers/formats/json_fields.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

Error badRequest(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

bool isNull(const json::value* v) { return v == nullptr || v->is_null(); }

json::object cachePoint() {
  json::object cp;
  cp["cachePoint"] = json::object{{"type", "default"}};
  return cp;
}

json::object textBlock(std::string_view text) { return json::object{{"text", text}}; }

// "data:image/png;base64,AAAA" → {image:{format:"png", source:{bytes:"AAAA"}}}. Converse carries
// the bytes base64-encoded in JSON, so the client's base64 is forwarded without decoding.
Result<json::object> imageBlock(std::string_view url, const std::string& param) {
  if (url.size() < 5 || !iequals(url.substr(0, 5), "data:")) {
    return badRequest("Bedrock needs images inline (data: URLs); remote image URLs are not fetched",
                      param);
  }
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return badRequest("malformed data: URL", param);
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() ||
      !iequals(meta.substr(meta.size() - kBase64.size()), kBase64)) {
    return badRequest("image data: URLs must be base64-encoded", param);
  }
  const std::string mime = toLower(meta.substr(0, meta.find(';')));
  std::string_view format;
  if (mime == "image/png") {
    format = "png";
  } else if (mime == "image/jpeg" || mime == "image/jpg") {
    format = "jpeg";
  } else if (mime == "image/gif") {
    format = "gif";
  } else if (mime == "image/webp") {
    format = "webp";
  } else {
    return badRequest("unsupported image type '" + mime + "' (Bedrock takes png, jpeg, gif, webp)",
                      param);
  }
  const std::string_view data = url.substr(comma + 1);
  if (data.empty()) return badRequest("empty image data", param);
  json::object image;
  image["format"] = format;
  image["source"] = json::object{{"bytes", data}};
  return json::object{{"image", std::move(image)}};
}

// Appends the Converse blocks for one OpenAI message's `content` (a string, an array of parts, or
// null). `images` allows image parts (user turns); `skip_empty` drops blank texts (assistant turns,
// where Converse rejects them and clients send "" beside tool_calls).
std::optional<Error> appendContent(const json::value* content, const std::string& param,
                                   bool images, bool skip_empty, json::array& blocks) {
  if (isNull(content)) return std::nullopt;
  if (const json::string* s = content->if_string()) {
    if (!(skip_empty && s->empty())) blocks.emplace_back(textBlock(*s));
    return std::nullopt;
  }
  const json::array* parts = content->if_array();
  if (parts == nullptr) return badRequest("content must be a string or an array of parts", param);
  for (size_t i = 0; i < parts->size(); ++i) {
    const json::value& part = (*parts)[i];
    const std::string part_param = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return badRequest("content parts must be objects", part_param);
    const std::string_view type = stringOf(field(&part, "type"));
    if (type == "text") {
      const json::value* text = field(&part, "text");
      if (text == nullptr || !text->is_string()) {
        return badRequest("text parts need a string 'text'", part_param + ".text");
      }
      if (skip_empty && text->get_string().empty()) continue;
      blocks.emplace_back(textBlock(text->get_string()));
    } else if (type == "image_url" && images) {
      const json::value* image_url = field(&part, "image_url");
      std::string_view url = stringOf(image_url);  // some clients send the URL string directly
      if (url.empty()) url = stringOf(field(image_url, "url"));
      if (url.empty()) return badRequest("image_url parts need a url", part_param + ".image_url");
      auto block = imageBlock(url, part_param + ".image_url.url");
      if (!block) return block.error();
      blocks.emplace_back(std::move(block.value()));
    } else if (type == "refusal" && skip_empty) {
      continue;  // an assistant's earlier refusal: nothing the model needs to read again
    } else {
      return badRequest("content part type '" + std::string(type) +
                            "' is not supported in this message on Bedrock Converse",
                        part_param + ".type");
    }
    if (!isNull(field(&part, "cache_control"))) blocks.emplace_back(cachePoint());
  }
  return std::nullopt;
}

// The Converse messages and system blocks of an OpenAI `messages` array.
struct Conversation {
  json::array messages;
  json::array system;
  bool has_tool_blocks = false;
};

std::optional<Error> convertMessages(const json::value* in, Conversation& conv) {
  const json::array* list = in == nullptr ? nullptr : in->if_array();
  if (list == nullptr) return badRequest("'messages' must be an array", "messages");
  std::string last_role;
  // Converse requires user and assistant turns to alternate: a turn of the role just sent is
  // merged into the previous message.
  auto push = [&](std::string_view role, json::array blocks) {
    if (blocks.empty()) return;
    if (!conv.messages.empty() && last_role == role) {
      json::array& prev = conv.messages.back().as_object()["content"].as_array();
      for (json::value& b : blocks) prev.emplace_back(std::move(b));
      return;
    }
    json::object m;
    m["role"] = role;
    m["content"] = std::move(blocks);
    conv.messages.emplace_back(std::move(m));
    last_role = std::string(role);
  };

  for (size_t i = 0; i < list->size(); ++i) {
    const json::value& msg = (*list)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) return badRequest("messages must be objects", param);
    const std::string_view role = stringOf(field(&msg, "role"));
    const json::value* content = field(&msg, "content");
    json::array blocks;
    if (role == "system" || role == "developer") {
      if (auto err = appendContent(content, param + ".content", false, false, conv.system)) {
        return err;
      }
    } else if (role == "user") {
      if (auto err = appendContent(content, param + ".content", true, false, blocks)) return err;
      push("user", std::move(blocks));
    } else if (role == "assistant") {
      if (auto err = appendContent(content, param + ".content", false, true, blocks)) return err;
      const json::value* calls = field(&msg, "tool_calls");
      if (!isNull(calls)) {
        if (!calls->is_array()) return badRequest("tool_calls must be an array", param);
        for (size_t j = 0; j < calls->get_array().size(); ++j) {
          const json::value& call = calls->get_array()[j];
          const std::string call_param = param + ".tool_calls[" + std::to_string(j) + "]";
          const json::value* fn = field(&call, "function");
          const std::string_view name = stringOf(field(fn, "name"));
          if (name.empty()) return badRequest("tool calls need a function name", call_param);
          const std::string_view args = stringOf(field(fn, "arguments"));
          json::value input = json::object();
          if (!args.empty()) {
            boost::system::error_code ec;
            input = json::parse(args, ec);
            if (ec) {
              return badRequest("tool call arguments are not valid JSON",
                                call_param + ".function.arguments");
            }
          }
          json::object use;
          use["toolUseId"] = stringOf(field(&call, "id"));
          use["name"] = name;
          use["input"] = std::move(input);
          blocks.emplace_back(json::object{{"toolUse", std::move(use)}});
          conv.has_tool_blocks = true;
        }
      }
      push("assistant", std::move(blocks));
    } else if (role == "tool") {
      const std::string_view id = stringOf(field(&msg, "tool_call_id"));
      if (id.empty()) {
        return badRequest("tool messages need a tool_call_id", param + ".tool_call_id");
      }
      json::array result_content;
      if (auto err = appendContent(content, param + ".content", false, false, result_content)) {
        return err;
      }
      // A cache point inside a tool result is not allowed; it goes after the toolResult block.
      bool cache = false;
      json::array texts;
      for (json::value& b : result_content) {
        if (b.as_object().contains("cachePoint")) {
          cache = true;
        } else {
          texts.emplace_back(std::move(b));
        }
      }
      if (texts.empty()) texts.emplace_back(textBlock(""));
      json::object result;
      result["toolUseId"] = id;
      result["content"] = std::move(texts);
      blocks.emplace_back(json::object{{"toolResult", std::move(result)}});
      if (cache) blocks.emplace_back(cachePoint());
      conv.has_tool_blocks = true;
      push("user", std::move(blocks));
    } else {
      return badRequest("message role '" + std::string(role) + "' is not supported",
                        param + ".role");
    }
  }
  return std::nullopt;
}

// toolConfig from `tools` and `tool_choice`; a null value when there is none to send.
Result<json::value> convertTools(const json::object& body, bool has_tool_blocks) {
  const json::value* tools = body.if_contains("tools");
  if (isNull(tools)) return json::value();
  if (!tools->is_array()) return badRequest("'tools' must be an array", "tools");
  json::array specs;
  for (size_t i = 0; i < tools->get_array().size(); ++i) {
    const json::value& tool = tools->get_array()[i];
    const std::string param = "tools[" + std::to_string(i) + "]";
    if (stringOf(field(&tool, "type")) != "function") {
      return badRequest("only function tools are supported on Bedrock Converse", param + ".type");
    }
    const json::value* fn = field(&tool, "function");
    const std::string_view name = stringOf(field(fn, "name"));
    if (name.empty()) return badRequest("tools need a function name", param + ".function.name");
    json::object spec;
    spec["name"] = name;
    if (const std::string_view d = stringOf(field(fn, "description")); !d.empty()) {
      spec["description"] = d;
    }
    const json::value* params = field(fn, "parameters");
    // OpenAI lets a function omit parameters; Converse requires a schema.
    spec["inputSchema"] = json::object{
        {"json", isNull(params)
                     ? json::value(json::object{{"type", "object"}, {"properties", json::object()}})
                     : *params}};
    specs.emplace_back(json::object{{"toolSpec", std::move(spec)}});
    if (!isNull(field(&tool, "cache_control"))) specs.emplace_back(cachePoint());
  }
  if (specs.empty()) return json::value();

  json::object config;
  config["tools"] = std::move(specs);
  const json::value* choice = body.if_contains("tool_choice");
  if (isNull(choice)) return json::value(std::move(config));
  if (const json::string* s = choice->if_string()) {
    if (*s == "auto") {
      config["toolChoice"] = json::object{{"auto", json::object()}};
    } else if (*s == "required") {
      config["toolChoice"] = json::object{{"any", json::object()}};
    } else if (*s == "none") {
      // Converse has no "none": withhold the tools, unless earlier turns used them (Bedrock
      // rejects toolUse/toolResult blocks without a toolConfig); then the model decides.
      if (!has_tool_blocks) return json::value();
    } else {
      return badRequest("unsupported tool_choice '" + std::string(*s) + "'", "tool_choice");
    }
    return json::value(std::move(config));
  }
  const std::string_view name = stringOf(field(field(choice, "function"), "name"));
  if (name.empty()) return badRequest("unsupported tool_choice", "tool_choice");
  config["toolChoice"] = json::object{{"tool", json::object{{"name", name}}}};
  return json::value(std::move(config));
}

Result<json::object> convertInference(const json::object& body) {
  json::object inference;
  const json::value* max_tokens = body.if_contains("max_completion_tokens");
  if (isNull(max_tokens)) max_tokens = body.if_contains("max_tokens");
  if (!isNull(max_tokens)) {
    uint64_t n = 0;
    if (!readTokenCount(max_tokens, n)) {
      return badRequest("max_tokens must be a non-negative integer", "max_tokens");
    }
    inference["maxTokens"] = n;
  }
  for (auto [from, to] : {std::pair{"temperature", "temperature"}, std::pair{"top_p", "topP"}}) {
    const json::value* v = body.if_contains(from);
    if (isNull(v)) continue;
    if (!v->is_number()) return badRequest(std::string(from) + " must be a number", from);
    inference[to] = *v;
  }
  const json::value* stop = body.if_contains("stop");
  if (!isNull(stop)) {
    json::array sequences;
    if (stop->is_string()) {
      sequences.emplace_back(stop->get_string());
    } else if (stop->is_array()) {
      for (const json::value& s : stop->get_array()) {
        if (!s.is_string()) return badRequest("stop must be a string or strings", "stop");
        sequences.emplace_back(s.get_string());
      }
    } else {
      return badRequest("stop must be a string or an array of strings", "stop");
    }
    if (!sequences.empty()) inference["stopSequences"] = std::move(sequences);
  }
  return inference;
}

}  // namespace

Result<json::object> converseRequestFromOpenAI(const json::object& body) {
  Conversation conv;
  if (auto err = convertMessages(body.if_contains("messages"), conv)) return std::move(*err);
  auto tool_config = convertTools(body, conv.has_tool_blocks);
  if (!tool_config) return tool_config.error();
  auto inference = convertInference(body);
  if (!inference) return inference.error();

  json::object converse;
  converse["messages"] = std::move(conv.messages);
  if (!conv.system.empty()) converse["system"] = std::move(conv.system);
  if (!inference->empty()) converse["inferenceConfig"] = std::move(inference.value());
  if (!tool_config->is_null()) converse["toolConfig"] = std::move(tool_config.value());
  return converse;
}

}  // namespace tollgate::providers::formats
