#include "providers/formats/anthropic_request_from_responses.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>

#include "common/base64.h"
#include "common/strings.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

constexpr std::string_view kBlobPrefix = "tgthink1.";
// Anthropic requires max_tokens; the Responses API makes max_output_tokens optional. Without
// one, the answer may use this much (the smallest output limit among current Claude models is
// 8192; the Claude 3 generation's is 4096). With extended thinking on, the budget is added.
constexpr int64_t kDefaultMaxTokens = 8192;
constexpr int64_t kLegacyMaxTokens = 4096;
constexpr int64_t kMinThinkingBudget = 1024;  // Anthropic's lower bound for budget_tokens

Error badRequest(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Models before Claude 3.7 have neither extended thinking nor the larger output limit.
bool legacyModel(std::string_view model) {
  const std::string m = toLower(model);
  for (std::string_view old : {"claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5",
                               "claude-instant", "claude-v2", "claude-2"}) {
    if (m.find(old) != std::string::npos) return true;
  }
  return false;
}

// reasoning.effort → a thinking budget (0: no thinking). "minimal"/"none" turn it off.
int64_t thinkingBudget(std::string_view effort) {
  if (effort == "low") return 2048;
  if (effort == "medium") return 8192;
  if (effort == "high") return 16384;
  if (effort == "xhigh") return 24576;
  return 0;
}

json::object textBlock(std::string_view text) {
  return json::object{{"type", "text"}, {"text", text}};
}

// An input_image's image_url: a data URL becomes a base64 source, anything else a URL source.
bool imageBlock(std::string_view url, json::object& out) {
  if (url.starts_with("data:")) {
    const size_t semi = url.find(";base64,");
    if (semi == std::string_view::npos) return false;
    json::object source{{"type", "base64"},
                        {"media_type", url.substr(5, semi - 5)},
                        {"data", url.substr(semi + 8)}};
    out = json::object{{"type", "image"}, {"source", std::move(source)}};
    return true;
  }
  if (url.empty()) return false;
  out = json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
  return true;
}

// A Responses content part as an Anthropic block; false when it has none (dropped).
bool partBlock(const json::value& part, json::object& out) {
  const json::object* p = part.if_object();
  if (!p) return false;
  const std::string_view type = str(*p, "type");
  if (type == "input_text" || type == "output_text" || type == "text" || type == "summary_text") {
    const std::string_view text = str(*p, "text");
    if (text.empty()) return false;  // Anthropic refuses empty text blocks
    out = textBlock(text);
    return true;
  }
  if (type == "refusal" && !str(*p, "refusal").empty()) {
    out = textBlock(str(*p, "refusal"));
    return true;
  }
  if (type == "input_image") return imageBlock(str(*p, "image_url"), out);
  spdlog::debug("responses→messages: content part '{}' dropped", type);
  return false;
}

json::array contentBlocks(const json::value* content) {
  json::array blocks;
  if (!content) return blocks;
  if (content->is_string()) {
    if (!content->get_string().empty()) blocks.push_back(textBlock(content->get_string()));
    return blocks;
  }
  if (!content->is_array()) return blocks;
  for (const json::value& part : content->get_array()) {
    json::object b;
    if (partBlock(part, b)) blocks.push_back(std::move(b));
  }
  return blocks;
}

class Builder {
 public:
  explicit Builder(bool thinking) : thinking_(thinking) {}

  std::optional<Error> item(const json::value& v, size_t index) {
    const json::object* o = v.if_object();
    if (!o)
      return badRequest("input items must be objects", "input[" + std::to_string(index) + "]");
    std::string_view type = str(*o, "type");
    if (type.empty() && o->contains("role")) type = "message";
    if (type == "message") return message(*o);
    if (type == "function_call" || type == "custom_tool_call") {
      const std::string_view call_id = str(*o, "call_id"), name = str(*o, "name");
      if (call_id.empty() || name.empty())
        return badRequest("a " + std::string(type) + " item needs call_id and name",
                          "input[" + std::to_string(index) + "]");
      json::object input;
      if (type == "custom_tool_call") {
        input["input"] = str(*o, "input");
      } else {
        boost::system::error_code ec;
        json::value args = json::parse(str(*o, "arguments"), ec);
        if (!ec && args.is_object()) input = std::move(args.get_object());
      }
      add("assistant",
          json::object{{"type", "tool_use"}, {"id", call_id}, {"name", name}, {"input", input}});
      return std::nullopt;
    }
    if (type == "function_call_output" || type == "custom_tool_call_output") {
      const std::string_view call_id = str(*o, "call_id");
      if (call_id.empty())
        return badRequest("a " + std::string(type) + " item needs call_id",
                          "input[" + std::to_string(index) + "]");
      json::object result{{"type", "tool_result"}, {"tool_use_id", call_id}};
      json::array content = contentBlocks(o->if_contains("output"));
      if (!content.empty()) result["content"] = std::move(content);
      add("user", std::move(result));
      return std::nullopt;
    }
    if (type == "reasoning") {
      std::string thinking, signature, redacted;
      if (thinking_ &&
          decodeThinkingBlob(str(*o, "encrypted_content"), thinking, signature, redacted)) {
        if (!redacted.empty()) {
          add("assistant", json::object{{"type", "redacted_thinking"}, {"data", redacted}});
        } else {
          add("assistant",
              json::object{{"type", "thinking"}, {"thinking", thinking}, {"signature", signature}});
        }
      }
      return std::nullopt;
    }
    // compaction, item_reference, hosted tool calls: nothing an Anthropic backend can take.
    spdlog::debug("responses→messages: input item '{}' dropped", type);
    return std::nullopt;
  }

  // Appends a text block to the system prompt (instructions, the leading developer messages).
  void system(std::string_view text) {
    if (!text.empty()) system_.push_back(textBlock(text));
  }

  json::array& systemBlocks() { return system_; }
  json::array& messages() { return messages_; }

 private:
  std::optional<Error> message(const json::object& o) {
    const std::string_view role = str(o, "role");
    json::array blocks = contentBlocks(o.if_contains("content"));
    if (role == "developer" || role == "system") {
      for (json::value& b : blocks) {
        const std::string_view text = str(b.as_object(), "text");
        if (text.empty()) continue;  // an image in a system message: Anthropic takes none there
        if (messages_.empty()) {
          system(text);
        } else {
          // Mid-conversation instructions: a reminder in the user's turn, the form every
          // Anthropic backend takes (Bedrock has no mid-conversation system role).
          add("user",
              textBlock("<system-reminder>\n" + std::string(text) + "\n</system-reminder>"));
        }
      }
      return std::nullopt;
    }
    if (role != "user" && role != "assistant")
      return badRequest("unknown message role '" + std::string(role) + "'", "input");
    for (json::value& b : blocks) add(role, std::move(b));
    return std::nullopt;
  }

  // Anthropic wants user and assistant turns to alternate: consecutive items of one role (a
  // reasoning item, a message and a function call of the same answer) join one message.
  void add(std::string_view role, json::value block) {
    if (!messages_.empty()) {
      json::object& last = messages_.back().as_object();
      if (str(last, "role") == role) {
        json::array& content = last["content"].as_array();
        // Thinking must open the assistant turn it belongs to.
        if (str(block.as_object(), "type").ends_with("thinking") && !content.empty() &&
            !str(content.back().as_object(), "type").ends_with("thinking")) {
          messages_.push_back(json::object{{"role", role}, {"content", json::array{}}});
          messages_.back().as_object()["content"].as_array().push_back(std::move(block));
          return;
        }
        content.push_back(std::move(block));
        return;
      }
    }
    messages_.push_back(json::object{{"role", role}, {"content", json::array{std::move(block)}}});
  }

  bool thinking_;
  json::array system_;
  json::array messages_;
};

// One Responses tool as Anthropic tools (namespaces flattened); hosted tools give none.
void addTool(const json::value& v, json::array& tools, std::vector<std::string>& custom) {
  const json::object* t = v.if_object();
  if (!t) return;
  const std::string_view type = str(*t, "type");
  if (type == "namespace") {
    if (const json::value* nested = t->if_contains("tools"); nested && nested->is_array())
      for (const json::value& n : nested->get_array()) addTool(n, tools, custom);
    return;
  }
  if (type != "function" && type != "custom") {
    spdlog::debug("responses→messages: tool '{}' dropped (no Anthropic equivalent)", type);
    return;
  }
  const std::string_view name = str(*t, "name");
  if (name.empty()) return;
  for (const json::value& have : tools)
    if (str(have.as_object(), "name") == name) return;  // a name twice: the first wins
  json::object tool{{"name", name}};
  std::string description(str(*t, "description"));
  if (type == "custom") {
    // A freeform tool: the model writes one string, the tool's grammar (if any) in the
    // description so that it knows the format.
    custom.emplace_back(name);
    if (const json::value* f = t->if_contains("format"); f && f->is_object()) {
      const std::string_view definition = str(f->get_object(), "definition");
      if (!definition.empty()) {
        description += "\n\nThe `input` string must follow this ";
        description += str(f->get_object(), "syntax");
        description += " grammar:\n";
        description += definition;
      }
    }
    tool["input_schema"] =
        json::object{{"type", "object"},
                     {"properties", json::object{{"input", json::object{{"type", "string"}}}}},
                     {"required", json::array{"input"}}};
  } else {
    const json::value* params = t->if_contains("parameters");
    json::object schema = params && params->is_object() ? params->get_object() : json::object{};
    if (!schema.contains("type")) schema["type"] = "object";
    tool["input_schema"] = std::move(schema);
  }
  if (!description.empty()) tool["description"] = description;
  tools.push_back(std::move(tool));
}

// tool_choice in Anthropic's shape; null when none applies (a tool that was dropped).
json::value toolChoice(const json::value* choice, const json::array& tools) {
  if (!choice) return nullptr;
  if (choice->is_string()) {
    const std::string_view c = choice->get_string();
    if (c == "required") return json::object{{"type", "any"}};
    if (c == "none") return json::object{{"type", "none"}};
    if (c == "auto") return json::object{{"type", "auto"}};
    return nullptr;
  }
  const json::object* o = choice->if_object();
  if (!o) return nullptr;
  const std::string_view name = str(*o, "name");
  for (const json::value& t : tools)
    if (!name.empty() && str(t.as_object(), "name") == name)
      return json::object{{"type", "tool"}, {"name", name}};
  return nullptr;
}

// Anthropic refuses a request with thinking on whose last assistant turn used a tool without a
// thinking block (an earlier answer from a backend or setting without thinking).
bool thinkingFitsHistory(const json::array& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    const json::object& m = it->as_object();
    if (str(m, "role") != "assistant") continue;
    const json::array& content = m.at("content").as_array();
    const bool uses_tool = std::any_of(content.begin(), content.end(), [](const json::value& b) {
      return str(b.as_object(), "type") == "tool_use";
    });
    return !uses_tool || str(content.front().as_object(), "type").ends_with("thinking");
  }
  return true;
}

// Removes the thinking blocks a request without thinking cannot carry.
void dropThinking(json::array& messages) {
  const auto thinking = [](const json::value& b) {
    return str(b.as_object(), "type").ends_with("thinking");
  };
  json::array kept;
  for (json::value& m : messages) {
    json::array& content = m.as_object()["content"].as_array();
    content.erase(std::remove_if(content.begin(), content.end(), thinking), content.end());
    if (!content.empty()) kept.push_back(std::move(m));
  }
  messages = std::move(kept);
}

void cacheBreakpoint(json::value& block) {
  block.as_object()["cache_control"] = json::object{{"type", "ephemeral"}};
}

}  // namespace

Result<MessagesPivotRequest> anthropicRequestFromResponses(std::string_view responses_body,
                                                           std::string_view upstream_model) {
  boost::system::error_code ec;
  // The client's tree is read once and thrown away: a monotonic arena frees it in one go.
  json::monotonic_resource arena;
  json::value parsed = json::parse(responses_body, ec, &arena);
  if (ec || !parsed.is_object()) return badRequest("request body must be a JSON object", "");
  const json::object& in = parsed.get_object();
  const auto flag = [&](std::string_view key) {
    const json::value* v = in.if_contains(key);
    return v && v->is_bool() && v->get_bool();
  };
  // Stored conversations live in the backend that made them; this one has none.
  constexpr std::string_view kStateless =
      " needs a Responses backend with its own response store; this backend serves the Responses "
      "API statelessly (send store: false and the whole conversation in input)";
  if (flag("store")) return badRequest("store: true" + std::string(kStateless), "store");
  if (flag("background"))
    return badRequest("background: true" + std::string(kStateless), "background");
  for (std::string_view key : {"previous_response_id", "conversation"}) {
    const json::value* v = in.if_contains(key);
    if (v && !v->is_null() && !(v->is_string() && v->get_string().empty()))
      return badRequest(std::string(key) + std::string(kStateless), std::string(key));
  }

  MessagesPivotRequest pivot;
  pivot.stream = flag("stream");
  json::object out;
  out["model"] = str(in, "model");

  // Thinking from reasoning.effort, on models that have it, within max_output_tokens.
  int64_t budget = 0;
  if (const json::value* r = in.if_contains("reasoning"); r && r->is_object())
    budget = legacyModel(upstream_model) ? 0 : thinkingBudget(str(r->get_object(), "effort"));
  // Anthropic takes no thinking with a forced tool choice; the client's choice wins.
  if (const json::value* c = in.if_contains("tool_choice")) {
    const std::string_view forced = c->is_string()   ? std::string_view(c->get_string())
                                    : c->is_object() ? str(c->get_object(), "type")
                                                     : std::string_view();
    if (forced == "required" || forced == "function" || forced == "custom") budget = 0;
  }
  int64_t max_tokens = 0;
  if (const json::value* m = in.if_contains("max_output_tokens"); m && m->is_int64()) {
    max_tokens = m->get_int64();
    if (max_tokens < 1)
      return badRequest("max_output_tokens must be positive", "max_output_tokens");
    budget = std::min(budget, max_tokens - 1);
  } else {
    max_tokens = (legacyModel(upstream_model) ? kLegacyMaxTokens : kDefaultMaxTokens) + budget;
  }
  if (budget < kMinThinkingBudget) budget = 0;

  Builder b(budget > 0);
  b.system(str(in, "instructions"));
  if (const json::value* input = in.if_contains("input")) {
    if (input->is_string()) {
      b.item(json::object{{"role", "user"}, {"content", input->get_string()}}, 0);
    } else if (input->is_array()) {
      for (size_t i = 0; i < input->get_array().size(); ++i)
        if (auto err = b.item(input->get_array()[i], i)) return *err;
    } else {
      return badRequest("input must be a string or an array of items", "input");
    }
  }
  if (b.messages().empty())
    return badRequest("input holds no user or assistant message for the model to answer", "input");
  if (budget > 0 && !thinkingFitsHistory(b.messages())) budget = 0;
  if (budget == 0) dropThinking(b.messages());

  // Codex sends only prompt_cache_key: the breakpoints Anthropic caches by are placed here, on
  // the system prompt (tools and system are cached together) and on the newest user turn.
  if (!b.systemBlocks().empty()) {
    cacheBreakpoint(b.systemBlocks().back());
    out["system"] = std::move(b.systemBlocks());
  }
  for (auto it = b.messages().rbegin(); it != b.messages().rend(); ++it) {
    json::object& m = it->as_object();
    if (str(m, "role") != "user") continue;
    cacheBreakpoint(m["content"].as_array().back());
    break;
  }
  out["messages"] = std::move(b.messages());
  out["max_tokens"] = max_tokens;
  if (budget > 0) {
    out["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", budget}};
  } else {
    // Anthropic takes no sampling parameters but the defaults with thinking on.
    for (std::string_view key : {"temperature", "top_p"})
      if (const json::value* v = in.if_contains(key); v && v->is_number()) out[key] = *v;
  }

  json::array tools;
  if (const json::value* t = in.if_contains("tools"); t && t->is_array())
    for (const json::value& tool : t->get_array()) addTool(tool, tools, pivot.custom_tools);
  if (!tools.empty()) {
    json::value choice = toolChoice(in.if_contains("tool_choice"), tools);
    const json::value* parallel = in.if_contains("parallel_tool_calls");
    if (parallel && parallel->is_bool() && !parallel->get_bool()) {
      if (choice.is_null()) choice = json::object{{"type", "auto"}};
      if (str(choice.as_object(), "type") != "none")
        choice.as_object()["disable_parallel_tool_use"] = true;
    }
    if (!choice.is_null()) out["tool_choice"] = std::move(choice);
    out["tools"] = std::move(tools);
  }

  if (const json::value* text = in.if_contains("text"); text && text->is_object()) {
    const json::value* format = text->get_object().if_contains("format");
    if (format && format->is_object() && str(format->get_object(), "type") == "json_schema") {
      if (const json::value* schema = format->get_object().if_contains("schema")) {
        out["output_config"] =
            json::object{{"format", json::object{{"type", "json_schema"}, {"schema", *schema}}}};
      }
    }
  }
  for (std::string_view key : {"safety_identifier", "user"}) {
    const std::string_view id = str(in, key);
    if (!id.empty()) {
      out["metadata"] = json::object{{"user_id", id}};
      break;
    }
  }
  if (pivot.stream) out["stream"] = true;
  pivot.body = json::serialize(out);
  return pivot;
}

std::string encodeThinkingBlob(std::string_view thinking, std::string_view signature,
                               std::string_view redacted_data) {
  json::object o;
  if (!redacted_data.empty()) {
    o["redacted"] = redacted_data;
  } else {
    o["thinking"] = thinking;
    o["signature"] = signature;
  }
  std::string blob(kBlobPrefix);
  base64Encode(json::serialize(o), blob);
  return blob;
}

bool decodeThinkingBlob(std::string_view blob, std::string& thinking, std::string& signature,
                        std::string& redacted_data) {
  if (!blob.starts_with(kBlobPrefix)) return false;
  std::string decoded;
  if (!base64Decode(blob.substr(kBlobPrefix.size()), decoded)) return false;
  boost::system::error_code ec;
  json::value v = json::parse(decoded, ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.get_object();
  redacted_data = str(o, "redacted");
  thinking = str(o, "thinking");
  signature = str(o, "signature");
  return !redacted_data.empty() || !signature.empty();
}

}  // namespace tollgate::providers::formats
