#include "mock/bedrock_fake.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <variant>

#include "auth/sigv4.h"
#include "common/base64.h"
#include "mock/anthropic_script.h"
#include "mock/llm_text.h"
#include "providers/formats/event_stream.h"

namespace tollgate::mock::bedrock {

namespace json = boost::json;
namespace aws = providers::formats;

namespace {

constexpr std::string_view kPrefix = "/model/";

// The text of an Anthropic content value: a string, or the text blocks of an array joined.
bool contentText(const json::value& v, std::string& out) {
  if (v.is_string()) {
    out.assign(v.get_string().begin(), v.get_string().end());
    return true;
  }
  if (!v.is_array()) return false;
  out.clear();
  for (const json::value& block : v.get_array()) {
    const json::object* o = block.if_object();
    if (!o) return false;
    const json::value* type = o->if_contains("type");
    const json::value* text = o->if_contains("text");
    if (type && type->is_string() && type->get_string() == "text" && text && text->is_string()) {
      if (!out.empty()) out += '\n';  // as the engine joins OpenAI text parts
      out.append(text->get_string().begin(), text->get_string().end());
    }
  }
  return true;
}

Result validation(std::string_view message) { return error(400, "ValidationException", message); }

std::string chunkFrame(const json::object& event) {
  const std::string inner = json::serialize(event);
  std::string b64;
  base64Encode(inner, b64);
  json::object payload;
  payload["bytes"] = b64;
  return aws::encodeEvent("chunk", json::serialize(payload));
}

// Splits `text` into words the way the engine counts tokens (runs of non-whitespace), each but
// the first keeping one leading space so that the deltas concatenate to the text.
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    while (i < text.size() && !(text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace

bool isBedrockPath(std::string_view path) { return path.starts_with(kPrefix); }

Result error(int status, std::string_view type, std::string_view message) {
  Result r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json");
  r.headers.emplace_back("x-amzn-errortype", std::string(type));
  json::object o;
  o["message"] = message;
  r.body = json::serialize(o);
  return r;
}

Result throttled() {
  return error(429, "ThrottlingException", "Too many requests, please wait before trying again.");
}

Result invalidSignature() {
  return error(403, "InvalidSignatureException",
               "The request signature we calculated does not match the signature you provided.");
}

namespace {

// What the engine answered for one request, before it is rendered in a Bedrock API's shape.
struct Reply {
  std::string text;
  bool hit_max_tokens = false;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  std::string id;
};

// Asks the engine with the equivalent OpenAI chat request, so the same deterministic rule decides
// the reply whichever API the request came in. max_tokens < 0: none given.
std::variant<Reply, Result> askEngine(const LlmEngine& engine, const std::string& model,
                                      json::array chat_messages, int64_t max_tokens) {
  json::object chat;
  chat["model"] = model;
  chat["messages"] = std::move(chat_messages);
  // The engine stands in for a 32K-context vLLM; Claude's context is 200K, and agents ask for
  // 32000 to 128000 output tokens (Claude Code). No reply is longer than kMaxReplyWords, so
  // asking for at most that many gives the same words and the same max_tokens cut, without a
  // context-length refusal Bedrock would not give.
  if (max_tokens >= 0) chat["max_tokens"] = std::min<int64_t>(max_tokens, engine::kMaxReplyWords);
  const EngineResult er = engine.handle("POST", "/v1/chat/completions", json::serialize(chat));
  json::error_code ec;
  if (er.status != 200) {
    std::string message = "Malformed input request";
    json::value ev = json::parse(er.body, ec);
    if (!ec && ev.is_object()) {
      if (const json::value* e = ev.get_object().if_contains("error"); e && e->is_object()) {
        if (const json::value* msg = e->get_object().if_contains("message");
            msg && msg->is_string())
          message.assign(msg->get_string().begin(), msg->get_string().end());
      }
    }
    return validation(message);
  }
  json::value answer = json::parse(er.body, ec);
  if (ec || !answer.is_object()) return error(500, "InternalServerException", "engine failure");
  const json::object& choice = answer.at("choices").at(0).as_object();
  const json::value& content = choice.at("message").at("content");
  Reply reply;
  if (content.is_string()) reply.text = std::string(content.get_string());
  reply.hit_max_tokens = choice.at("finish_reason").as_string() == "length";
  reply.input_tokens = answer.at("usage").at("prompt_tokens").to_number<int64_t>();
  reply.output_tokens = answer.at("usage").at("completion_tokens").to_number<int64_t>();
  reply.id = std::string(answer.at("id").as_string());
  return reply;
}

// InvokeModel with an Anthropic Messages body (anthropic_version, max_tokens, messages, system).
Result invokeAnthropic(const LlmEngine& engine, const std::string& model, const json::object& in,
                       bool stream) {
  if (!in.contains("anthropic_version"))
    return validation(
        "Malformed input request: #: required key [anthropic_version] not found, please reformat "
        "your input and try again.");
  const json::value* max_tokens = in.if_contains("max_tokens");
  if (!max_tokens || !max_tokens->is_int64() || max_tokens->get_int64() < 1)
    return validation(
        "Malformed input request: #: required key [max_tokens] not found, please reformat your "
        "input and try again.");
  const json::value* messages = in.if_contains("messages");
  if (!messages || !messages->is_array() || messages->get_array().empty())
    return validation(
        "Malformed input request: #: required key [messages] not found, please reformat your input "
        "and try again.");

  json::array chat_messages;
  std::string text;
  if (const json::value* system = in.if_contains("system")) {
    if (!contentText(*system, text))
      return validation("Malformed input request: #/system: invalid");
    chat_messages.push_back(json::object{{"role", "system"}, {"content", text}});
  }
  for (const json::value& m : messages->get_array()) {
    const json::object* mo = m.if_object();
    const json::value* role = mo ? mo->if_contains("role") : nullptr;
    const json::value* content = mo ? mo->if_contains("content") : nullptr;
    if (!role || !role->is_string() || !content || !contentText(*content, text))
      return validation("Malformed input request: #/messages: invalid message");
    chat_messages.push_back(json::object{{"role", role->get_string()}, {"content", text}});
  }
  auto asked = askEngine(engine, model, std::move(chat_messages), max_tokens->get_int64());
  if (Result* failed = std::get_if<Result>(&asked)) return std::move(*failed);
  const Reply& reply = std::get<Reply>(asked);
  const std::string id = "msg_bdrk_" + reply.id;
  // Tool turns and thinking on top of the engine's words (mock/anthropic_script.h).
  const AnthropicAnswer answer = scriptAnthropicAnswer(in, reply.text, reply.id);
  const std::string_view stop_reason = answer.tool_use                            ? "tool_use"
                                       : !answer.scripted && reply.hit_max_tokens ? "max_tokens"
                                                                                  : "end_turn";
  int64_t output_tokens = answer.scripted ? blockTokens(answer.blocks) : reply.output_tokens;
  if (!answer.scripted && answer.blocks.size() > 1)
    output_tokens += blockTokens({answer.blocks[0]});

  Result r;
  r.headers.emplace_back("x-amzn-requestid", reply.id);
  if (!stream) {
    r.headers.emplace_back("content-type", "application/json");
    r.headers.emplace_back("X-Amzn-Bedrock-Input-Token-Count", std::to_string(reply.input_tokens));
    r.headers.emplace_back("X-Amzn-Bedrock-Output-Token-Count", std::to_string(output_tokens));
    json::array content;
    for (const AnthropicBlock& b : answer.blocks) {
      if (b.type == "thinking") {
        content.push_back(
            json::object{{"type", "thinking"}, {"thinking", b.text}, {"signature", b.signature}});
      } else if (b.type == "tool_use") {
        content.push_back(
            json::object{{"type", "tool_use"}, {"id", b.id}, {"name", b.name}, {"input", b.input}});
      } else {
        content.push_back(json::object{{"type", "text"}, {"text", b.text}});
      }
    }
    json::object o;
    o["id"] = id;
    o["type"] = "message";
    o["role"] = "assistant";
    o["model"] = model;
    o["content"] = std::move(content);
    o["stop_reason"] = stop_reason;
    o["stop_sequence"] = nullptr;
    o["usage"] =
        json::object{{"input_tokens", reply.input_tokens}, {"output_tokens", output_tokens}};
    r.body = json::serialize(o);
    return r;
  }
  r.stream = true;
  r.headers.emplace_back("content-type", "application/vnd.amazon.eventstream");
  r.headers.emplace_back("x-amzn-bedrock-content-type", "application/json");
  json::object start;
  start["type"] = "message_start";
  start["message"] = json::object{
      {"id", id},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model},
      {"content", json::array{}},
      {"stop_reason", nullptr},
      {"stop_sequence", nullptr},
      {"usage", json::object{{"input_tokens", reply.input_tokens}, {"output_tokens", 1}}}};
  r.frames.push_back(chunkFrame(start));
  const auto delta = [&](int index, json::object d) {
    r.frames.push_back(chunkFrame(
        json::object{{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(d)}}));
  };
  int index = 0;
  for (const AnthropicBlock& b : answer.blocks) {
    json::object cb{{"type", b.type}};
    if (b.type == "thinking") {
      cb["thinking"] = "";
      cb["signature"] = "";
    } else if (b.type == "tool_use") {
      // Arguments only as input_json_delta, in two pieces: what Claude Code needs (the README's
      // section 1.5) and what proves a client joins them.
      cb["id"] = b.id;
      cb["name"] = b.name;
      cb["input"] = json::object{};
    } else {
      cb["text"] = "";
    }
    r.frames.push_back(chunkFrame(json::object{
        {"type", "content_block_start"}, {"index", index}, {"content_block", std::move(cb)}}));
    if (b.type == "thinking") {
      delta(index, json::object{{"type", "thinking_delta"}, {"thinking", b.text}});
      delta(index, json::object{{"type", "signature_delta"}, {"signature", b.signature}});
    } else if (b.type == "tool_use") {
      const std::string args = json::serialize(b.input);
      const size_t half = args.size() / 2;
      delta(index,
            json::object{{"type", "input_json_delta"}, {"partial_json", args.substr(0, half)}});
      delta(index, json::object{{"type", "input_json_delta"}, {"partial_json", args.substr(half)}});
    } else {
      for (const std::string& w : words(b.text))
        delta(index, json::object{{"type", "text_delta"}, {"text", w}});
    }
    r.frames.push_back(chunkFrame(json::object{{"type", "content_block_stop"}, {"index", index}}));
    ++index;
  }
  r.frames.push_back(chunkFrame(json::object{
      {"type", "message_delta"},
      {"delta", json::object{{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
      {"usage", json::object{{"output_tokens", output_tokens}}}}));
  json::object stop;
  stop["type"] = "message_stop";
  stop["amazon-bedrock-invocationMetrics"] =
      json::object{{"inputTokenCount", reply.input_tokens}, {"outputTokenCount", output_tokens}};
  r.frames.push_back(chunkFrame(stop));
  return r;
}

// The text of a Converse content array: its text blocks joined (other blocks are accepted and
// not read: images, documents, tool use and results, cache points).
bool converseText(const json::value& v, std::string& out) {
  if (!v.is_array()) return false;
  out.clear();
  for (const json::value& block : v.get_array()) {
    const json::object* o = block.if_object();
    if (!o) return false;
    if (const json::value* text = o->if_contains("text"); text && text->is_string()) {
      if (!out.empty()) out += '\n';
      out.append(text->get_string().begin(), text->get_string().end());
    }
  }
  return true;
}

json::object converseUsage(const Reply& reply) {
  return json::object{{"inputTokens", reply.input_tokens},
                      {"outputTokens", reply.output_tokens},
                      {"totalTokens", reply.input_tokens + reply.output_tokens}};
}

// Converse / ConverseStream (messages with content blocks, system blocks, inferenceConfig).
Result converse(const LlmEngine& engine, const std::string& model, const json::object& in,
                bool stream) {
  const json::value* messages = in.if_contains("messages");
  if (!messages || !messages->is_array() || messages->get_array().empty())
    return validation("The messages field is required and must contain at least one message.");
  json::array chat_messages;
  std::string text;
  if (const json::value* system = in.if_contains("system")) {
    if (!converseText(*system, text))
      return validation(
          "1 validation error detected: Value at 'system' failed to satisfy "
          "constraint: Member must be a list of system content blocks");
    chat_messages.push_back(json::object{{"role", "system"}, {"content", text}});
  }
  for (const json::value& m : messages->get_array()) {
    const json::object* mo = m.if_object();
    const json::value* role = mo ? mo->if_contains("role") : nullptr;
    const json::value* content = mo ? mo->if_contains("content") : nullptr;
    if (!role || !role->is_string() || !content || !converseText(*content, text))
      return validation(
          "1 validation error detected: Value at 'messages' failed to satisfy "
          "constraint: Member must have a role and a list of content blocks");
    chat_messages.push_back(json::object{{"role", role->get_string()}, {"content", text}});
  }
  int64_t max_tokens = -1;
  if (const json::value* cfg = in.if_contains("inferenceConfig"); cfg && cfg->is_object()) {
    if (const json::value* mt = cfg->get_object().if_contains("maxTokens")) {
      if (!mt->is_int64() || mt->get_int64() < 1)
        return validation(
            "1 validation error detected: Value at 'inferenceConfig.maxTokens' "
            "failed to satisfy constraint: Member must be greater than or equal "
            "to 1");
      max_tokens = mt->get_int64();
    }
  }
  auto asked = askEngine(engine, model, std::move(chat_messages), max_tokens);
  if (Result* failed = std::get_if<Result>(&asked)) return std::move(*failed);
  Reply reply = std::get<Reply>(asked);
  // The same scripted agent turns as InvokeModel (mock/anthropic_script.h), in Converse's blocks.
  const AnthropicAnswer answer =
      scriptAnthropicAnswer(anthropicViewOfConverse(in), reply.text, reply.id);
  const std::string_view stop_reason = answer.tool_use                            ? "tool_use"
                                       : !answer.scripted && reply.hit_max_tokens ? "max_tokens"
                                                                                  : "end_turn";
  if (answer.scripted) reply.output_tokens = blockTokens(answer.blocks);
  if (!answer.scripted && answer.blocks.size() > 1)
    reply.output_tokens += blockTokens({answer.blocks[0]});

  Result r;
  r.headers.emplace_back("x-amzn-requestid", reply.id);
  if (!stream) {
    r.headers.emplace_back("content-type", "application/json");
    json::array content;
    for (const AnthropicBlock& b : answer.blocks) {
      if (b.type == "thinking") {
        content.push_back(json::object{
            {"reasoningContent",
             json::object{
                 {"reasoningText", json::object{{"text", b.text}, {"signature", b.signature}}}}}});
      } else if (b.type == "tool_use") {
        content.push_back(json::object{
            {"toolUse", json::object{{"toolUseId", b.id}, {"name", b.name}, {"input", b.input}}}});
      } else {
        content.push_back(json::object{{"text", b.text}});
      }
    }
    json::object o;
    o["output"] = json::object{
        {"message", json::object{{"role", "assistant"}, {"content", std::move(content)}}}};
    o["stopReason"] = stop_reason;
    o["usage"] = converseUsage(reply);
    o["metrics"] = json::object{{"latencyMs", 1}};
    r.body = json::serialize(o);
    return r;
  }
  r.stream = true;
  r.headers.emplace_back("content-type", "application/vnd.amazon.eventstream");
  auto frame = [&r](std::string_view type, const json::object& event) {
    r.frames.push_back(aws::encodeEvent(type, json::serialize(event)));
  };
  auto delta = [&](int index, json::object d) {
    frame("contentBlockDelta", json::object{{"contentBlockIndex", index}, {"delta", std::move(d)}});
  };
  frame("messageStart", json::object{{"role", "assistant"}});
  int index = 0;
  for (const AnthropicBlock& b : answer.blocks) {
    if (b.type == "thinking") {
      delta(index, json::object{{"reasoningContent", json::object{{"text", b.text}}}});
      delta(index, json::object{{"reasoningContent", json::object{{"signature", b.signature}}}});
    } else if (b.type == "tool_use") {
      // Bedrock opens only tool blocks with contentBlockStart; the input comes as JSON text.
      frame("contentBlockStart",
            json::object{{"contentBlockIndex", index},
                         {"start", json::object{{"toolUse", json::object{{"toolUseId", b.id},
                                                                         {"name", b.name}}}}}});
      const std::string args = json::serialize(b.input);
      const size_t half = args.size() / 2;
      delta(index, json::object{{"toolUse", json::object{{"input", args.substr(0, half)}}}});
      delta(index, json::object{{"toolUse", json::object{{"input", args.substr(half)}}}});
    } else {
      for (const std::string& w : words(b.text)) delta(index, json::object{{"text", w}});
    }
    frame("contentBlockStop", json::object{{"contentBlockIndex", index}});
    ++index;
  }
  frame("messageStop", json::object{{"stopReason", stop_reason}});
  frame("metadata",
        json::object{{"usage", converseUsage(reply)}, {"metrics", json::object{{"latencyMs", 1}}}});
  return r;
}

// CountTokens (POST /model/{id}/count-tokens): {"input":{"invokeModel":{"body":"<base64>"}}} or
// {"input":{"converse":{messages, system...}}} → {"inputTokens":N}. The count is the input tokens
// the same InvokeModel or Converse request is charged (as Bedrock promises), so the request is
// answered by that operation and its usage read back; its validation errors are the operation's.
Result countTokens(const LlmEngine& engine, const std::string& model, const json::object& in) {
  const json::value* input = in.if_contains("input");
  const json::object* io = input ? input->if_object() : nullptr;
  if (!io) return validation("1 validation error detected: Value at 'input' must not be null");
  Result answered;
  std::string_view usage_key;
  if (const json::value* invoke = io->if_contains("invokeModel")) {
    const json::value* body =
        invoke->is_object() ? invoke->get_object().if_contains("body") : nullptr;
    std::string decoded;
    if (!body || !body->is_string() || !base64Decode(std::string_view(body->get_string()), decoded))
      return validation(
          "1 validation error detected: Value at 'input.invokeModel.body' must be "
          "base64-encoded binary data");
    json::error_code ec;
    json::value parsed = json::parse(decoded, ec);
    if (ec || !parsed.is_object())
      return validation("Malformed input request, please reformat your input and try again.");
    answered = invokeAnthropic(engine, model, parsed.get_object(), false);
    usage_key = "input_tokens";
  } else if (const json::value* conv = io->if_contains("converse"); conv && conv->is_object()) {
    answered = converse(engine, model, conv->get_object(), false);
    usage_key = "inputTokens";
  } else {
    return validation("1 validation error detected: 'input' must hold invokeModel or converse");
  }
  if (answered.status != 200) return answered;
  json::error_code ec;
  const json::value out = json::parse(answered.body, ec);
  const json::value* usage =
      ec || !out.is_object() ? nullptr : out.get_object().if_contains("usage");
  const json::value* n =
      usage && usage->is_object() ? usage->get_object().if_contains(usage_key) : nullptr;
  if (!n) return error(500, "InternalServerException", "engine failure");
  Result r;
  r.headers.emplace_back("content-type", "application/json");
  r.body = json::serialize(json::object{{"inputTokens", *n}});
  return r;
}

}  // namespace

Result handle(const LlmEngine& engine, std::string_view method, std::string_view path,
              std::string_view body) {
  std::string_view rest = path.substr(kPrefix.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return error(404, "UnknownOperationException", "Unknown operation");
  const std::string model = auth::percentDecode(rest.substr(0, slash));
  const std::string_view op = rest.substr(slash + 1);
  if (op == "count-tokens") {
    if (method != "POST") return error(405, "UnknownOperationException", "Unknown operation");
    json::error_code count_ec;
    json::value count_body = json::parse(json::string_view(body.data(), body.size()), count_ec);
    if (count_ec || !count_body.is_object())
      return validation("Malformed input request, please reformat your input and try again.");
    return countTokens(engine, model, count_body.get_object());
  }
  const bool invoke = op == "invoke" || op == "invoke-with-response-stream";
  const bool converse_op = op == "converse" || op == "converse-stream";
  if (!invoke && !converse_op) return error(404, "UnknownOperationException", "Unknown operation");
  if (method != "POST") return error(405, "UnknownOperationException", "Unknown operation");

  json::error_code ec;
  json::value parsed = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !parsed.is_object())
    return validation("Malformed input request, please reformat your input and try again.");
  if (invoke) {
    return invokeAnthropic(engine, model, parsed.get_object(), op == "invoke-with-response-stream");
  }
  return converse(engine, model, parsed.get_object(), op == "converse-stream");
}

Result cutByException(Result streamed) {
  // Half of the events, then the exception frame Bedrock sends when the model fails mid-stream.
  streamed.frames.resize(streamed.frames.size() / 2);
  json::object payload;
  payload["message"] = "mock-llm injected a model stream error";
  payload["originalStatusCode"] = 500;
  streamed.frames.push_back(
      aws::encodeException("modelStreamErrorException", json::serialize(payload)));
  return streamed;
}

std::string verifySigV4(const http::Request& req, std::string_view access_key_id,
                        std::string_view secret_access_key) {
  const std::string_view authz = req[boost::beast::http::field::authorization];
  constexpr std::string_view kAlg = "AWS4-HMAC-SHA256 ";
  if (!authz.starts_with(kAlg)) return "missing or non-SigV4 authorization";
  std::string_view credential, signed_headers, sig;
  std::string_view rest = authz.substr(kAlg.size());
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.starts_with("Credential="))
      credential = part.substr(11);
    else if (part.starts_with("SignedHeaders="))
      signed_headers = part.substr(14);
    else if (part.starts_with("Signature="))
      sig = part.substr(10);
    else
      return "malformed authorization";
  }
  // Credential=AKID/20150830/us-east-1/bedrock/aws4_request
  std::vector<std::string_view> scope;
  for (size_t start = 0;;) {
    auto slash = credential.find('/', start);
    scope.push_back(credential.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (scope.size() != 5 || scope[4] != "aws4_request") return "malformed credential scope";
  if (scope[0] != access_key_id) return "unknown access key";
  if (scope[3] != "bedrock") return "wrong service in the credential scope";
  const std::string_view amz_date = req["x-amz-date"];
  if (amz_date.size() != 16 || !amz_date.starts_with(scope[1]))
    return "x-amz-date missing or not matching the scope date";

  auth::SignRequest sr;
  sr.method = std::string(req.method_string());
  const std::string_view target = req.target();
  auto q = target.find('?');
  sr.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) sr.query = std::string(target.substr(q + 1));
  bool has_host = false, has_date = false;
  for (size_t start = 0;;) {
    auto semi = signed_headers.find(';', start);
    const std::string_view name = signed_headers.substr(start, semi - start);
    if (name == "host") has_host = true;
    if (name == "x-amz-date") has_date = true;
    auto range = req.equal_range(boost::beast::string_view(name.data(), name.size()));
    for (auto it = range.first; it != range.second; ++it)
      sr.headers.emplace_back(std::string(name), std::string(it->value()));
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  if (!has_host || !has_date) return "host and x-amz-date must be signed";
  sr.body = req.body();
  auth::SignOptions so;
  so.region = std::string(scope[2]);
  so.service = "bedrock";
  std::string computed_signed;
  const std::string creq = auth::canonicalRequest(sr, so, &computed_signed);
  if (computed_signed != signed_headers) return "signed headers missing from the request";
  const std::string sts =
      auth::stringToSign(amz_date, auth::credentialScope(scope[1], scope[2], "bedrock"), creq);
  const std::string expected =
      auth::signature(secret_access_key, scope[1], scope[2], "bedrock", sts);
  if (expected != sig) return "signature mismatch";
  return {};
}

}  // namespace tollgate::mock::bedrock
