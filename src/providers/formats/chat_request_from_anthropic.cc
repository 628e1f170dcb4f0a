#include "providers/formats/chat_request_from_anthropic.h"

#include <boost/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "providers/formats/json_fields.h"

namespace tollgate::providers::formats {

namespace json = boost::json;

namespace {

// Anthropic's error bodies have no `param`: the message says where the fault is.
Error badRequest(const std::string& where, std::string_view what) {
  return Error::client(ErrorCode::kBadRequest, where + ": " + std::string(what), where);
}

std::string at(const std::string& where, size_t i) { return where + "." + std::to_string(i); }

// Claude Code's first system block: a per-version, per-entrypoint marker for Anthropic's billing.
// A backend gains nothing from it, and since it changes between client versions it would make
// every prompt prefix unique to one version.
constexpr std::string_view kBillingHeaderPrefix = "x-anthropic-billing-header:";

// The text of a `system` value or a system message's content (a string or text blocks), blocks
// joined by "\n": consecutive system blocks read as one prompt.
Result<std::string> systemText(const json::value& v, const std::string& where) {
  if (v.is_string()) return std::string(v.get_string());
  if (!v.is_array()) return badRequest(where, "must be a string or an array of text blocks");
  std::string text;
  const json::array& blocks = v.get_array();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const json::object* b = blocks[i].if_object();
    if (b == nullptr || stringMember(*b, "type") != "text") {
      return badRequest(at(where, i), "system blocks must be text blocks");
    }
    const std::string_view t = stringMember(*b, "text");
    if (t.starts_with(kBillingHeaderPrefix)) continue;
    if (!text.empty()) text += '\n';
    text += t;
  }
  return text;
}

std::string dataUrl(std::string_view media_type, std::string_view data) {
  std::string url = "data:";
  url += media_type;
  url += ";base64,";
  url += data;
  return url;
}

// An image block's part: inline bytes as a data: URL, a remote image as its URL.
Result<json::object> imagePart(const json::object& block, const std::string& where) {
  const json::value* src = member(block, "source");
  const json::object* s = src == nullptr ? nullptr : src->if_object();
  if (s == nullptr) return badRequest(where, "an image block needs a source");
  const std::string_view type = stringMember(*s, "type");
  std::string url;
  if (type == "base64") {
    url = dataUrl(stringMember(*s, "media_type"), stringMember(*s, "data"));
  } else if (type == "url") {
    url = stringMember(*s, "url");
  } else {
    return badRequest(where, "image sources must be base64 or url");
  }
  return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
}

// A document block: a base64 file (PDF) → a file part; plain text and content documents → text.
std::optional<Error> appendDocument(const json::object& block, const std::string& where,
                                    json::array& parts) {
  const json::value* src = member(block, "source");
  const json::object* s = src == nullptr ? nullptr : src->if_object();
  if (s == nullptr) return badRequest(where, "a document block needs a source");
  const std::string_view type = stringMember(*s, "type");
  if (type == "base64") {
    json::object file{
        {"file_data", dataUrl(stringMember(*s, "media_type"), stringMember(*s, "data"))}};
    if (const std::string_view title = stringMember(block, "title"); !title.empty())
      file["filename"] = title;
    parts.push_back(json::object{{"type", "file"}, {"file", std::move(file)}});
    return std::nullopt;
  }
  if (type == "text") {
    parts.push_back(json::object{{"type", "text"}, {"text", stringMember(*s, "data")}});
    return std::nullopt;
  }
  if (type == "content") {
    if (const json::value* c = member(*s, "content"); c != nullptr && c->is_array()) {
      for (const json::value& inner : c->get_array()) {
        const json::object* ib = inner.if_object();
        if (ib != nullptr && stringMember(*ib, "type") == "text")
          parts.push_back(json::object{{"type", "text"}, {"text", stringMember(*ib, "text")}});
      }
    }
    return std::nullopt;
  }
  // A URL document would have to be fetched by the gateway on the client's behalf.
  return badRequest(where, "document sources must be base64, text or content for this backend");
}

// One conversation message being converted: what a user message turns into.
struct UserParts {
  json::array tool_messages;  // role "tool", placed before the user's own content
  json::array parts;          // text / image_url / file parts, tool result images included
};

// A tool_result block → a role "tool" message (its images go to `out.parts`).
std::optional<Error> appendToolResult(const json::object& block, const std::string& where,
                                      const std::set<std::string, std::less<>>& tool_use_ids,
                                      UserParts& out) {
  const std::string_view id = stringMember(block, "tool_use_id");
  if (id.empty()) return badRequest(where, "a tool_result needs a tool_use_id");
  if (!tool_use_ids.contains(id)) {
    return badRequest(where, "tool_result for tool_use_id '" + std::string(id) +
                                 "', which no earlier assistant tool_use has");
  }
  std::string text;
  if (const json::value* c = member(block, "content")) {
    if (c->is_string()) {
      text = c->get_string();
    } else if (c->is_array()) {
      const json::array& items = c->get_array();
      for (size_t i = 0; i < items.size(); ++i) {
        const json::object* item = items[i].if_object();
        const std::string_view type = item == nullptr ? "" : stringMember(*item, "type");
        if (type == "text") {
          if (!text.empty()) text += '\n';
          text += stringMember(*item, "text");
        } else if (type == "image") {
          auto part = imagePart(*item, at(where + ".content", i));
          if (!part) return part.error();
          out.parts.push_back(std::move(*part));
        } else if (type == "document") {
          if (auto e = appendDocument(*item, at(where + ".content", i), out.parts)) return e;
        } else {
          return badRequest(at(where + ".content", i),
                            "tool_result content must be text, image or document blocks");
        }
      }
    } else {
      return badRequest(where + ".content", "must be a string or an array of blocks");
    }
  }
  // Chat has no error flag on tool messages: the model reads it in the text.
  if (isTrue(block, "is_error")) text.insert(0, "Error: ");
  out.tool_messages.push_back(
      json::object{{"role", "tool"}, {"tool_call_id", id}, {"content", std::move(text)}});
  return std::nullopt;
}

// Calls f(block, type, where) for each content block, stopping at the first error; a block that
// is not an object is one.
template <class F>
std::optional<Error> forEachBlock(const json::array& blocks, const std::string& where, F&& f) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string block_where = at(where, i);
    const json::object* b = blocks[i].if_object();
    if (b == nullptr) return badRequest(block_where, "content blocks must be objects");
    if (auto e = f(*b, stringMember(*b, "type"), block_where)) return e;
  }
  return std::nullopt;
}

std::optional<Error> convertUser(const json::value& content, const std::string& where,
                                 const std::set<std::string, std::less<>>& tool_use_ids,
                                 json::array& messages) {
  if (content.is_string()) {
    messages.push_back(json::object{{"role", "user"}, {"content", content}});
    return std::nullopt;
  }
  if (!content.is_array()) return badRequest(where, "must be a string or an array of blocks");
  UserParts out;
  auto err = forEachBlock(
      content.get_array(), where,
      [&](const json::object& b, std::string_view type,
          const std::string& block_where) -> std::optional<Error> {
        if (type == "text") {
          out.parts.push_back(json::object{{"type", "text"}, {"text", stringMember(b, "text")}});
        } else if (type == "image") {
          auto part = imagePart(b, block_where);
          if (!part) return part.error();
          out.parts.push_back(std::move(*part));
        } else if (type == "document") {
          return appendDocument(b, block_where, out.parts);
        } else if (type == "tool_result") {
          return appendToolResult(b, block_where, tool_use_ids, out);
        } else if (type != "thinking" && type != "redacted_thinking") {
          return badRequest(block_where, "block type '" + std::string(type) +
                                             "' is not supported in a user message");
        }
        return std::nullopt;
      });
  if (err) return err;
  for (json::value& m : out.tool_messages) messages.push_back(std::move(m));
  if (!out.parts.empty())
    messages.push_back(json::object{{"role", "user"}, {"content", std::move(out.parts)}});
  return std::nullopt;
}

std::optional<Error> convertAssistant(const json::value& content, const std::string& where,
                                      std::set<std::string, std::less<>>& tool_use_ids,
                                      json::array& messages) {
  if (content.is_string()) {
    messages.push_back(json::object{{"role", "assistant"}, {"content", content}});
    return std::nullopt;
  }
  if (!content.is_array()) return badRequest(where, "must be a string or an array of blocks");
  std::string text;
  json::array tool_calls;
  auto err = forEachBlock(
      content.get_array(), where,
      [&](const json::object& b, std::string_view type,
          const std::string& block_where) -> std::optional<Error> {
        if (type == "text") {
          // Joined without a separator, as a streamed answer's text blocks read.
          text += stringMember(b, "text");
        } else if (type == "tool_use") {
          const std::string_view id = stringMember(b, "id");
          const std::string_view name = stringMember(b, "name");
          const json::value* input = member(b, "input");
          if (id.empty() || name.empty())
            return badRequest(block_where, "a tool_use needs id and name");
          tool_use_ids.emplace(id);
          tool_calls.push_back(json::object{
              {"id", id},
              {"type", "function"},
              {"function",
               json::object{{"name", name},
                            {"arguments",
                             input == nullptr ? std::string("{}") : json::serialize(*input)}}}});
        } else if (type != "thinking" && type != "redacted_thinking") {
          // Thinking blocks are skipped: their signatures were made by the gateway, not by this
          // backend, so there is nothing to replay.
          return badRequest(block_where, "block type '" + std::string(type) +
                                             "' is not supported in an assistant message");
        }
        return std::nullopt;
      });
  if (err) return err;
  json::object msg{{"role", "assistant"}};
  if (tool_calls.empty()) {
    msg["content"] = text;
  } else {
    msg["content"] = text.empty() ? json::value(nullptr) : json::value(text);
    msg["tool_calls"] = std::move(tool_calls);
  }
  messages.push_back(std::move(msg));
  return std::nullopt;
}

std::optional<Error> convertMessages(const json::object& body, json::array& messages) {
  const json::value* mv = member(body, "messages");
  if (mv == nullptr || !mv->is_array()) return badRequest("messages", "must be an array");
  std::set<std::string, std::less<>> tool_use_ids;
  const json::array& in = mv->get_array();
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string where = at("messages", i);
    const json::object* m = in[i].if_object();
    if (m == nullptr) return badRequest(where, "messages must be objects");
    const std::string_view role = stringMember(*m, "role");
    const json::value* content = member(*m, "content");
    if (content == nullptr) return badRequest(where + ".content", "is required");
    std::optional<Error> err;
    if (role == "user") {
      err = convertUser(*content, where + ".content", tool_use_ids, messages);
    } else if (role == "assistant") {
      err = convertAssistant(*content, where + ".content", tool_use_ids, messages);
    } else if (role == "system") {
      // Claude Code's mid-conversation system message: chat takes a system message anywhere.
      auto text = systemText(*content, where + ".content");
      if (!text) return text.error();
      messages.push_back(json::object{{"role", "system"}, {"content", std::move(*text)}});
    } else {
      return badRequest(where + ".role", "must be user, assistant or system");
    }
    if (err) return err;
  }
  return std::nullopt;
}

// Tools the client runs → chat function tools, with tool_choice; a server tool is a 400.
std::optional<Error> convertTools(const json::object& body, json::object& out) {
  const json::value* tv = member(body, "tools");
  if (tv == nullptr) return std::nullopt;
  if (!tv->is_array()) return badRequest("tools", "must be an array");
  json::array tools;
  const json::array& in = tv->get_array();
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string where = at("tools", i);
    const json::object* t = in[i].if_object();
    if (t == nullptr) return badRequest(where, "tools must be objects");
    const std::string_view type = stringMember(*t, "type");
    if (!type.empty() && type != "custom") {
      return badRequest(where, "'" + std::string(type) +
                                   "' is an Anthropic server tool, which runs only on Anthropic's "
                                   "servers; this backend cannot run it");
    }
    // Claude Code's DeferredToolPlaceholder: a tool the model must never call, there only to keep
    // Anthropic's deferred loading on.
    if (isTrue(*t, "defer_loading")) continue;
    const std::string_view name = stringMember(*t, "name");
    if (name.empty()) return badRequest(where + ".name", "is required");
    json::object fn{{"name", name}};
    if (const json::value* d = member(*t, "description")) fn["description"] = *d;
    const json::value* schema = member(*t, "input_schema");
    // Anthropic requires an object schema; anything else would make the backend refuse the tools.
    fn["parameters"] = schema != nullptr && schema->is_object()
                           ? *schema
                           : json::value(json::object{{"type", "object"}});
    tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  if (tools.empty()) return std::nullopt;  // the title request's `tools: []`
  out["tools"] = std::move(tools);

  if (const json::value* cv = member(body, "tool_choice"); cv != nullptr && cv->is_object()) {
    const json::object& c = cv->get_object();
    const std::string_view type = stringMember(c, "type");
    if (type == "auto") {
      out["tool_choice"] = "auto";
    } else if (type == "any") {
      out["tool_choice"] = "required";
    } else if (type == "none") {
      out["tool_choice"] = "none";
    } else if (type == "tool") {
      out["tool_choice"] = json::object{
          {"type", "function"}, {"function", json::object{{"name", stringMember(c, "name")}}}};
    } else {
      return badRequest("tool_choice.type", "must be auto, any, tool or none");
    }
    if (isTrue(c, "disable_parallel_tool_use")) out["parallel_tool_calls"] = false;
  }
  return std::nullopt;
}

// Anthropic's effort levels and thinking budgets as the chat API's reasoning_effort.
std::string_view reasoningEffort(const json::object& body) {
  const json::value* oc = member(body, "output_config");
  const std::string_view effort = oc != nullptr && oc->is_object()
                                      ? stringMember(oc->get_object(), "effort")
                                      : std::string_view();
  if (effort == "low" || effort == "medium" || effort == "high") return effort;
  if (effort == "max") return "high";
  const json::value* th = member(body, "thinking");
  if (th == nullptr || !th->is_object()) return {};
  const std::string_view type = stringMember(th->get_object(), "type");
  if (type == "adaptive") return "medium";
  if (type != "enabled") return {};
  const json::value* budget = member(th->get_object(), "budget_tokens");
  const int64_t b = budget != nullptr && budget->is_int64() ? budget->get_int64() : 0;
  if (b < 4096) return "low";
  return b < 16384 ? "medium" : "high";
}

// output_config.format (and the older top-level output_format) → response_format.
void convertFormat(const json::object& body, json::object& out) {
  const json::value* fmt = nullptr;
  if (const json::value* oc = member(body, "output_config"); oc != nullptr && oc->is_object())
    fmt = member(oc->get_object(), "format");
  if (fmt == nullptr) fmt = member(body, "output_format");
  if (fmt == nullptr || !fmt->is_object()) return;
  const json::object& f = fmt->get_object();
  if (stringMember(f, "type") != "json_schema") return;
  const json::value* schema = member(f, "schema");
  if (schema == nullptr) return;
  out["response_format"] = json::object{
      {"type", "json_schema"},
      {"json_schema", json::object{{"name", "output"}, {"schema", *schema}, {"strict", true}}}};
}

}  // namespace

Result<json::object> chatRequestFromAnthropic(const json::object& body) {
  json::object out;
  if (const json::value* m = member(body, "model")) out["model"] = *m;
  json::array messages;
  if (const json::value* sys = member(body, "system")) {
    auto text = systemText(*sys, "system");
    if (!text) return text.error();
    if (!text->empty()) messages.push_back(json::object{{"role", "system"}, {"content", *text}});
  }
  if (auto e = convertMessages(body, messages)) return *e;
  out["messages"] = std::move(messages);
  if (auto e = convertTools(body, out)) return *e;

  if (const json::value* v = member(body, "max_tokens")) out["max_tokens"] = *v;
  for (std::string_view key : {"temperature", "top_p", "top_k"}) {
    if (const json::value* v = member(body, key)) out[key] = *v;
  }
  if (const json::value* s = member(body, "stop_sequences");
      s != nullptr && s->is_array() && !s->get_array().empty())
    out["stop"] = *s;
  if (const json::value* md = member(body, "metadata"); md != nullptr && md->is_object()) {
    if (const std::string_view user = stringMember(md->get_object(), "user_id"); !user.empty())
      out["user"] = user;
  }
  if (const std::string_view effort = reasoningEffort(body); !effort.empty())
    out["reasoning_effort"] = effort;
  convertFormat(body, out);
  if (isTrue(body, "stream")) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};
  }
  return out;
}

}  // namespace tollgate::providers::formats
