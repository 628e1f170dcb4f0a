#include "providers/openai_to_aws_anthropic.h"

#include <boost/json.hpp>
#include <charconv>
#include <ctime>
#include <utility>

#include "api/errors.h"
#include "common/strings.h"
#include "providers/anthropic_to_aws_anthropic.h"
#include "providers/formats/base64.h"
#include "providers/transports/aws_bedrock.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

// ---- request: OpenAI chat completion → Anthropic Messages ----

Error badRequest(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

const json::value* member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string_view stringMember(const json::object& o, std::string_view key) {
  const json::value* v = member(o, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
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

Result<json::object> convertRequest(const json::object& body, const std::string& version) {
  json::object out;
  out["anthropic_version"] = version;

  // max_completion_tokens replaced max_tokens in OpenAI's API: when both come, it wins.
  int64_t max_tokens = OpenAIToAwsAnthropicTranslator::kDefaultMaxTokens;
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

// ---- responses ----

// A Bedrock error without x-amzn-errortype (a proxy in the way, say): classify by status. Same
// rules as AnthropicToAwsAnthropicTranslator.
Error errorFromStatus(int status, std::string message) {
  if (message.empty()) message = "upstream error (HTTP " + std::to_string(status) + ")";
  if (status == 429) return Error::upstream(ErrorCode::kRateLimited, message, "bedrock 429", true);
  if (status >= 500) {
    return Error::upstream(ErrorCode::kUpstreamConnect, message,
                           "bedrock " + std::to_string(status), true);
  }
  return Error::client(ErrorCode::kBadRequest, message);
}

// The OpenAI finish_reason for an Anthropic stop_reason. `client_tools`: whether the answer
// holds tool calls for the client (a tool_use stop caused only by server-side tools is not one).
std::string_view finishReason(std::string_view stop_reason, bool client_tools) {
  if (stop_reason == "refusal") return "content_filter";
  if (stop_reason == "tool_use" && !client_tools) return "stop";
  return transports::finishReasonForStopReason(stop_reason);
}

// An `error` event Anthropic put inside the stream ({"type":"error","error":{type, message}}).
Error anthropicStreamError(const json::value* error) {
  const json::object* e = error == nullptr ? nullptr : error->if_object();
  std::string type(e == nullptr ? "" : stringMember(*e, "type"));
  std::string message(e == nullptr ? "" : stringMember(*e, "message"));
  if (message.empty()) message = "upstream provider error";
  std::string detail = "anthropic " + type + " event in the Bedrock stream";
  if (type == "rate_limit_error") {
    return Error::upstream(ErrorCode::kRateLimited, std::move(message), std::move(detail), true);
  }
  if (type == "overloaded_error") {
    return Error::upstream(ErrorCode::kUpstreamConnect, std::move(message), std::move(detail),
                           true);
  }
  if (type == "invalid_request_error") {
    return Error::upstream(ErrorCode::kBadRequest, std::move(message), std::move(detail), false);
  }
  return Error::upstream(ErrorCode::kUpstreamBadResponse, std::move(message), std::move(detail),
                         false);
}

Error malformed(std::string detail) {
  return Error::upstream(ErrorCode::kUpstreamBadResponse, "malformed event in the Bedrock stream",
                         std::move(detail), false);
}

const json::value* field(const json::value* v, std::string_view key) {
  const json::object* o = v == nullptr ? nullptr : v->if_object();
  return o == nullptr ? nullptr : o->if_contains(key);
}

std::string_view stringOf(const json::value* v) {
  const json::string* s = v == nullptr ? nullptr : v->if_string();
  return s == nullptr ? std::string_view() : std::string_view(*s);
}

// The human message of an AWS error body ({"message":...}; some services spell it Message; a
// proxy may answer in Anthropic's own error shape).
std::string awsErrorMessage(const json::value& v) {
  for (const char* k : {"message", "Message"}) {
    if (std::string_view m = stringOf(field(&v, k)); !m.empty()) return std::string(m);
  }
  return std::string(stringOf(field(field(&v, "error"), "message")));
}

constexpr size_t kParseBufferSize = 4096;

}  // namespace

OpenAIToAwsAnthropicTranslator::OpenAIToAwsAnthropicTranslator(std::string version)
    : version_(version.empty() ? "bedrock-2023-05-31" : std::move(version)),
      created_(static_cast<int64_t>(std::time(nullptr))) {}

Result<UpstreamRequest> OpenAIToAwsAnthropicTranslator::translateRequest(
    const api::ApiRequest& req, std::string_view client_body, const std::string& model_override) {
  boost::system::error_code ec;
  const json::value v = json::parse(client_body, ec);
  if (ec || !v.is_object()) return badRequest("request body must be a JSON object", "");
  auto body = convertRequest(v.get_object(), version_);
  if (!body.ok()) return body.error();
  request_model_ = model_override.empty() ? req.model : model_override;
  include_usage_ = req.stream && req.include_usage;
  UpstreamRequest out;
  out.path = "/model/" + transports::encodeModelId(request_model_) +
             (req.stream ? "/invoke-with-response-stream" : "/invoke");
  out.headers.emplace_back("content-type", "application/json");
  out.headers.emplace_back("accept",
                           req.stream ? "application/vnd.amazon.eventstream" : "application/json");
  out.body_unchanged = false;
  out.body = json::serialize(*body);
  return out;
}

void OpenAIToAwsAnthropicTranslator::onResponseHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto number = [](std::string_view s) -> std::optional<uint64_t> {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return n;
  };
  for (const auto& [n, val] : headers) {
    if (iequals(n, "x-amzn-errortype")) error_type_ = val;
    if (iequals(n, "x-amzn-bedrock-input-token-count")) header_input_tokens_ = number(val);
    if (iequals(n, "x-amzn-bedrock-output-token-count")) header_output_tokens_ = number(val);
  }
}

void OpenAIToAwsAnthropicTranslator::onResponseHead(int status, std::string_view content_type) {
  status_ = status;
  event_stream_ = streamsResponse(content_type);
  if (event_stream_) {
    decoder_.emplace([this](const formats::Message& m) { onFrame(m, *stream_out_); });
  }
}

bool OpenAIToAwsAnthropicTranslator::streamsResponse(std::string_view content_type) const {
  return content_type.find("application/vnd.amazon.eventstream") != std::string_view::npos;
}

std::string OpenAIToAwsAnthropicTranslator::clientContentType(std::string_view upstream) const {
  if (streamsResponse(upstream)) return "text/event-stream; charset=utf-8";
  return "application/json";  // every non-stream body is rendered anew, success or error
}

// ---- non-stream ----

void OpenAIToAwsAnthropicTranslator::onFullBody(std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const bool is_object = !ec && v.is_object();
  if (status_ < 200 || status_ >= 300) {
    const std::string message = is_object ? awsErrorMessage(v) : std::string();
    const Error err = error_type_.empty()
                          ? errorFromStatus(status_, message)
                          : transports::bedrockExceptionToError(error_type_, message);
    body = api::renderOpenAIError(err, status_);
    return;
  }
  response_model_ = request_model_;
  if (!is_object) {
    // The client asked for a chat completion: something it cannot parse as one must not pass as
    // one.
    replaceUnusableBody(
        body, api::renderOpenAIError(Error::upstream(
                  ErrorCode::kUpstreamBadResponse, "the upstream response could not be read",
                  "Bedrock InvokeModel body is not JSON", false)));
    return;
  }
  const json::object& msg = v.get_object();
  if (std::string_view m = stringMember(msg, "model"); !m.empty()) response_model_ = m;

  std::string text, reasoning;
  bool has_text = false;
  json::array tool_calls;
  if (const json::value* content = member(msg, "content"); content && content->is_array()) {
    for (const json::value& b : content->get_array()) {
      const std::string_view type = stringOf(field(&b, "type"));
      if (type == "text") {
        text += stringOf(field(&b, "text"));
        has_text = true;
      } else if (type == "thinking") {
        reasoning += stringOf(field(&b, "thinking"));
      } else if (type == "tool_use") {
        const json::value* input = field(&b, "input");
        tool_calls.push_back(json::object{
            {"id", stringOf(field(&b, "id"))},
            {"type", "function"},
            {"function",
             json::object{{"name", stringOf(field(&b, "name"))},
                          {"arguments", input != nullptr ? json::serialize(*input) : "{}"}}}});
      }
      // Server-side tool blocks ran inside Anthropic: nothing for the client to call.
    }
  }

  // Anthropic counts cached prompt tokens apart from input_tokens; OpenAI's prompt_tokens and the
  // gateway's input include them.
  uint64_t input = 0, cache_read = 0, cache_write = 0, output = 0;
  const json::value* u = member(msg, "usage");
  bool known = false;
  if (u != nullptr && u->is_object()) {
    known |= transports::readTokenCount(field(u, "input_tokens"), input);
    transports::readTokenCount(field(u, "cache_read_input_tokens"), cache_read);
    transports::readTokenCount(field(u, "cache_creation_input_tokens"), cache_write);
    known |= transports::readTokenCount(field(u, "output_tokens"), output);
  }
  if (!known && (header_input_tokens_ || header_output_tokens_)) {
    input = header_input_tokens_.value_or(0);
    output = header_output_tokens_.value_or(0);
    known = true;
  }
  usage_.input_tokens = input + cache_read + cache_write;
  usage_.cached_input_tokens = cache_read;
  usage_.output_tokens = output;
  usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
  usage_.known = known;

  json::object message{{"role", "assistant"}};
  if (has_text) {
    message["content"] = text;
  } else {
    message["content"] = nullptr;
  }
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  const bool client_tools = !tool_calls.empty();
  if (client_tools) message["tool_calls"] = std::move(tool_calls);
  message["refusal"] = nullptr;

  std::string id(stringMember(msg, "id"));
  json::object out{
      {"id", "chatcmpl-" + (id.empty() ? randomHexId() : id)},
      {"object", "chat.completion"},
      {"created", created_},
      {"model", request_model_},
      {"choices",
       json::array{json::object{
           {"index", 0},
           {"message", std::move(message)},
           {"logprobs", nullptr},
           {"finish_reason", finishReason(stringMember(msg, "stop_reason"), client_tools)}}}}};
  if (known) {
    out["usage"] = json::object{
        {"prompt_tokens", usage_.input_tokens},
        {"completion_tokens", usage_.output_tokens},
        {"total_tokens", usage_.total_tokens},
        {"prompt_tokens_details", json::object{{"cached_tokens", usage_.cached_input_tokens}}}};
  }
  body = json::serialize(out);
}

// ---- stream ----

void OpenAIToAwsAnthropicTranslator::onResponseBody(std::string_view piece, bool end_of_stream,
                                                    std::string& out) {
  if (!event_stream_) {
    // Non-stream bodies are converted whole; onFullBody is the usual way in.
    body_.append(piece);
    if (end_of_stream) {
      onFullBody(body_);
      out += body_;
      body_.clear();
    }
    return;
  }
  stream_out_ = &out;
  if (!piece.empty() && !done_ && !decoder_->feed(piece)) {
    fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream could not be read",
                         decoder_->error(), false),
         out);
  }
  if (end_of_stream && !done_) {
    if (!decoder_->atMessageBoundary()) {
      fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream could not be read",
                           "the upstream stream ended inside an event-stream frame", false),
           out);
    } else {
      endOfStream(out);
    }
  }
  stream_out_ = nullptr;
  updateUsage();
}

void OpenAIToAwsAnthropicTranslator::onStreamFailure(const Error& err, std::string& out) {
  if (!event_stream_) {
    out += "data: ";
    out += api::renderOpenAIError(err);
    out += "\n\n";
    return;
  }
  fail(err, out);
  updateUsage();
}

void OpenAIToAwsAnthropicTranslator::fail(const Error& err, std::string& out) {
  if (done_) return;
  done_ = true;
  failed_ = true;
  // Same shape as ConverseStreamToOpenAISse: an OpenAI error object as one data event, no [DONE].
  out += "data: ";
  out += api::renderOpenAIError(err);
  out += "\n\n";
}

void OpenAIToAwsAnthropicTranslator::ensurePrefix(std::string_view message_id) {
  if (chunks_.hasPrefix()) return;
  // Without a message id (no message_start yet, a malformed stream) the chunks still need one.
  const std::string id =
      "chatcmpl-" + (message_id.empty() ? randomHexId() : std::string(message_id));
  chunks_.setPrefix(id, created_, request_model_);
}

void OpenAIToAwsAnthropicTranslator::beginChunk(std::string& out) {
  ensurePrefix({});
  chunks_.begin(out);
}

void OpenAIToAwsAnthropicTranslator::endChunk(std::string_view finish_reason, std::string& out) {
  formats::ChunkWriter::end(finish_reason, out);
}

void OpenAIToAwsAnthropicTranslator::ensureRole(std::string& out) {
  ensurePrefix({});
  chunks_.ensureRole(out);
}

void OpenAIToAwsAnthropicTranslator::sendFinish(std::string& out) {
  if (finish_sent_) return;
  finish_sent_ = true;
  ensureRole(out);
  beginChunk(out);
  out += "{}";
  endChunk(finishReason(stop_reason_, next_tool_index_ > 0), out);
}

void OpenAIToAwsAnthropicTranslator::sendUsageAndDone(std::string& out) {
  if (done_) return;
  updateUsage();
  if (include_usage_ && usage_.known) {
    ensurePrefix({});
    out += chunks_.prefix();
    out += "],\"usage\":{\"prompt_tokens\":";
    out += std::to_string(usage_.input_tokens);
    out += ",\"completion_tokens\":";
    out += std::to_string(usage_.output_tokens);
    out += ",\"total_tokens\":";
    out += std::to_string(usage_.total_tokens);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    out += std::to_string(usage_.cached_input_tokens);
    out += "}}}\n\n";
  }
  out += "data: [DONE]\n\n";
  done_ = true;
}

void OpenAIToAwsAnthropicTranslator::endOfStream(std::string& out) {
  if (done_) return;
  if (finish_sent_) {
    // message_delta arrived, message_stop did not: the answer is whole, finish it (as the
    // ConverseStream translator does without its metadata event).
    sendUsageAndDone(out);
    return;
  }
  fail(Error::upstream(ErrorCode::kUpstreamBadResponse, "the upstream stream ended early",
                       "Bedrock InvokeModel stream ended before message_stop", true),
       out);
}

void OpenAIToAwsAnthropicTranslator::updateUsage() {
  usage_.input_tokens = input_uncached_ + cache_read_ + cache_write_;
  usage_.cached_input_tokens = cache_read_;
  usage_.output_tokens = output_;
  usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
  // Known once the output count is final (message_delta, message_stop) or the stream is over:
  // a client that leaves early makes the gateway read on until then, not stop at message_start.
  usage_.known = usage_seen_ && (usage_final_ || done_);
}

void OpenAIToAwsAnthropicTranslator::onFrame(const formats::Message& msg, std::string& out) {
  if (done_) return;
  const std::string_view message_type = msg.header(":message-type");
  if (message_type == "error") {
    return fail(transports::bedrockExceptionToError(msg.header(":error-code"),
                                                    msg.header(":error-message")),
                out);
  }
  if (message_type == "exception") {
    boost::system::error_code ec;
    const json::value payload = json::parse(msg.payload, ec);
    std::string message = !ec ? awsErrorMessage(payload) : std::string(msg.payload.substr(0, 512));
    return fail(transports::bedrockExceptionToError(msg.header(":exception-type"), message), out);
  }
  // InvokeModelWithResponseStream sends only `chunk` events; anything else is not the client's.
  if (msg.header(":event-type") != "chunk") return;

  unsigned char buffer[kParseBufferSize];
  json::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  const json::value wrapper = json::parse(msg.payload, ec, &mr);
  const json::value* bytes = ec ? nullptr : field(&wrapper, "bytes");
  if (bytes == nullptr || !bytes->is_string()) {
    return fail(malformed("chunk without a bytes string"), out);
  }
  decoded_.clear();
  if (!formats::base64Decode(bytes->get_string(), decoded_)) {
    return fail(malformed("chunk bytes are not base64"), out);
  }
  const json::value ev = json::parse(decoded_, ec, &mr);
  if (ec || !ev.is_object()) return fail(malformed("chunk bytes are not a JSON object"), out);
  const std::string_view type = stringOf(field(&ev, "type"));
  if (type.empty()) return fail(malformed("chunk event without a type"), out);

  auto readUsage = [&](const json::value* u, bool from_delta) {
    if (u == nullptr || !u->is_object()) return;
    // Every field is cumulative: a later event replaces, never adds to, an earlier value.
    usage_seen_ |= transports::readTokenCount(field(u, "input_tokens"), input_uncached_);
    transports::readTokenCount(field(u, "cache_read_input_tokens"), cache_read_);
    transports::readTokenCount(field(u, "cache_creation_input_tokens"), cache_write_);
    if (transports::readTokenCount(field(u, "output_tokens"), output_)) {
      usage_seen_ = true;
      output_from_events_ |= from_delta;
    }
  };
  auto index = [&]() -> int64_t {
    const json::value* i = field(&ev, "index");
    return i != nullptr && i->is_int64() ? i->get_int64() : 0;
  };
  auto sendText = [&](std::string_view key, std::string_view text) {
    if (text.empty()) return;
    ensureRole(out);
    beginChunk(out);
    out += "{\"";
    out += key;
    out += "\":";
    appendJsonString(out, text);
    out += "}";
    endChunk({}, out);
  };
  auto sendArguments = [&](int tool, std::string_view arguments) {
    tools_[tool].arguments_sent = true;
    beginChunk(out);
    out += "{\"tool_calls\":[{\"index\":";
    out += std::to_string(tool);
    out += ",\"function\":{\"arguments\":";
    appendJsonString(out, arguments);
    out += "}}]}";
    endChunk({}, out);
  };

  if (type == "message_start") {
    const json::value* message = field(&ev, "message");
    ensurePrefix(stringOf(field(message, "id")));
    if (std::string_view m = stringOf(field(message, "model")); !m.empty()) response_model_ = m;
    readUsage(field(message, "usage"), false);
    ensureRole(out);
  } else if (type == "content_block_start") {
    const int64_t block = index();
    const json::value* cb = field(&ev, "content_block");
    const std::string_view cb_type = stringOf(field(cb, "type"));
    tool_index_.erase(block);
    if (cb_type == "text") {
      sendText("content", stringOf(field(cb, "text")));
    } else if (cb_type == "thinking") {
      sendText("reasoning_content", stringOf(field(cb, "thinking")));
    } else if (cb_type == "tool_use") {
      const int tool = next_tool_index_++;
      tool_index_[block] = tool;
      ToolState& state = tools_[tool];
      const json::value* input = field(cb, "input");
      // Anthropic streams the input as deltas after an empty object; a non-empty one here is the
      // whole input, sent if no delta follows.
      state.start_input = input != nullptr && input->is_object() ? json::serialize(*input) : "{}";
      ensureRole(out);
      beginChunk(out);
      out += "{\"tool_calls\":[{\"index\":";
      out += std::to_string(tool);
      out += ",\"id\":";
      appendJsonString(out, stringOf(field(cb, "id")));
      out += ",\"type\":\"function\",\"function\":{\"name\":";
      appendJsonString(out, stringOf(field(cb, "name")));
      out += ",\"arguments\":\"\"}}]}";
      endChunk({}, out);
    }
    // server_tool_use, mcp_tool_use and the *_result blocks ran inside Anthropic: not forwarded.
  } else if (type == "content_block_delta") {
    const json::value* delta = field(&ev, "delta");
    const std::string_view delta_type = stringOf(field(delta, "type"));
    if (delta_type == "text_delta") {
      sendText("content", stringOf(field(delta, "text")));
    } else if (delta_type == "thinking_delta") {
      sendText("reasoning_content", stringOf(field(delta, "thinking")));
    } else if (delta_type == "input_json_delta") {
      auto it = tool_index_.find(index());
      const std::string_view partial = stringOf(field(delta, "partial_json"));
      if (it != tool_index_.end() && !partial.empty()) sendArguments(it->second, partial);
    }
    // signature_delta, citations_delta: nothing an OpenAI client can use.
  } else if (type == "content_block_stop") {
    auto it = tool_index_.find(index());
    // A call without arguments still needs valid JSON for OpenAI clients, which parse it.
    if (it != tool_index_.end() && !tools_[it->second].arguments_sent) {
      sendArguments(it->second, tools_[it->second].start_input);
    }
  } else if (type == "message_delta") {
    if (std::string_view s = stringOf(field(field(&ev, "delta"), "stop_reason")); !s.empty()) {
      stop_reason_ = s;
    }
    readUsage(field(&ev, "usage"), true);
    usage_final_ |= output_from_events_;
    if (!stop_reason_.empty()) sendFinish(out);
  } else if (type == "message_stop") {
    // Bedrock's own count, used only when the Anthropic events carried none.
    if (const json::value* metrics = field(&ev, "amazon-bedrock-invocationMetrics")) {
      if (!usage_seen_)
        usage_seen_ |=
            transports::readTokenCount(field(metrics, "inputTokenCount"), input_uncached_);
      if (!output_from_events_ &&
          transports::readTokenCount(field(metrics, "outputTokenCount"), output_)) {
        usage_seen_ = true;
      }
    }
    usage_final_ = true;
    sendFinish(out);
    sendUsageAndDone(out);
  } else if (type == "error") {
    fail(anthropicStreamError(field(&ev, "error")), out);
  }
  // ping and event types added later carry nothing the client needs.
}

}  // namespace tollgate::providers
