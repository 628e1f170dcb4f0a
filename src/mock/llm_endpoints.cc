#include "mock/llm_endpoints.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/base64.h"
#include "mock/llm_chat_script.h"
#include "mock/llm_response.h"
#include "mock/llm_text.h"

namespace tollgate::mock::engine {

namespace {

constexpr int64_t kDefaultEmbeddingDimensions = 8;
constexpr int64_t kMaxEmbeddingDimensions = 4096;
constexpr std::string_view kDefaultModelName = "mock-model";
constexpr std::string_view kOwnedBy = "tollgate-mock";

// Text pieces of one message's content: the string itself, or each {"type":"text"} part. Other
// part types (images, audio) carry no text and count no tokens.
template <class F>
void forEachText(const json::value* content, F&& f) {
  if (content == nullptr) return;
  if (const json::string* s = content->if_string()) {
    f(std::string_view(s->data(), s->size()));
    return;
  }
  if (const json::array* parts = content->if_array()) {
    for (const json::value& part : *parts) {
      const json::object& obj = part.get_object();  // validated before
      const json::value* type = obj.if_contains("type");
      if (type == nullptr || !type->is_string() || type->get_string() != "text") continue;
      const json::string& text = obj.at("text").get_string();
      f(std::string_view(text.data(), text.size()));
    }
  }
}

std::optional<ApiError> validateContent(const json::value* content, size_t index) {
  if (content == nullptr || content->is_string()) return std::nullopt;
  auto where = [index] { return "messages[" + std::to_string(index) + "].content"; };
  const json::array* parts = content->if_array();
  if (parts == nullptr) {
    return badRequest(
        "Invalid type for '" + where() + "': expected one of a string or array of objects.",
        where());
  }
  for (size_t k = 0; k < parts->size(); ++k) {
    auto part_where = [&] { return where() + "[" + std::to_string(k) + "]"; };
    const json::object* part = (*parts)[k].if_object();
    if (part == nullptr) {
      return badRequest("Invalid type for '" + part_where() + "': expected an object.",
                        part_where());
    }
    const json::value* type = part->if_contains("type");
    if (type == nullptr || !type->is_string()) {
      return badRequest("Missing required parameter: '" + part_where() + ".type'.",
                        part_where() + ".type");
    }
    if (type->get_string() == "text") {
      const json::value* text = part->if_contains("text");
      if (text == nullptr || !text->is_string()) {
        return badRequest("Invalid type for '" + part_where() + ".text': expected a string.",
                          part_where() + ".text");
      }
    }
  }
  return std::nullopt;
}

// A unit vector that depends only on the input: the same text always embeds the same way.
void embed(uint64_t seed, int64_t dims, std::vector<float>& out) {
  out.resize(static_cast<size_t>(dims));
  uint64_t state = seed;
  double norm = 0;
  std::vector<double> raw(out.size());
  for (double& x : raw) {
    // 53 random bits mapped to [-1, 1).
    x = static_cast<double>(nextRandom(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
    norm += x * x;
  }
  norm = std::sqrt(norm);
  if (norm == 0) norm = 1;  // astronomically unlikely; avoids NaN
  for (size_t i = 0; i < raw.size(); ++i) out[i] = static_cast<float>(raw[i] / norm);
}

// The fields every OpenAI completion object starts with.
void putResponseHead(json::object& root, std::string_view id_prefix, std::string_view object,
                     std::string_view model) {
  root["id"] = std::string(id_prefix) + randomHex();
  root["object"] = object;
  root["created"] = nowSeconds();
  root["model"] = model;
}

}  // namespace

EngineResult chatCompletions(const Context& ctx, const json::object& req) {
  std::string_view model;
  if (auto e = requireModel(req, model)) return errorResult(e);

  const json::value* mv = field(req, "messages");
  if (mv == nullptr) {
    return errorResult(badRequest("Missing required parameter: 'messages'.", "messages"));
  }
  const json::array* messages = mv->if_array();
  if (messages == nullptr) {
    return errorResult(
        badRequest("Invalid type for 'messages': expected an array of objects.", "messages"));
  }
  if (messages->empty()) {
    return errorResult(badRequest(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        "messages"));
  }
  uint64_t prompt_tokens = 0;
  size_t seed_message = messages->size() - 1;  // the last user message, else the last one
  for (size_t i = 0; i < messages->size(); ++i) {
    const json::object* msg = (*messages)[i].if_object();
    // Built only on the error paths: the happy path allocates no strings per message.
    auto where = [i] { return "messages[" + std::to_string(i) + "]"; };
    if (msg == nullptr) {
      return errorResult(
          badRequest("Invalid type for '" + where() + "': expected an object.", where()));
    }
    const json::value* role = field(*msg, "role");
    if (role == nullptr) {
      return errorResult(
          badRequest("Missing required parameter: '" + where() + ".role'.", where() + ".role"));
    }
    if (!role->is_string()) {
      return errorResult(badRequest("Invalid type for '" + where() + ".role': expected a string.",
                                    where() + ".role"));
    }
    const json::value* content = field(*msg, "content");
    if (auto e = validateContent(content, i)) return errorResult(e);
    forEachText(content, [&](std::string_view t) { prompt_tokens += countTokens(t); });
    if (role->get_string() == "user") {
      seed_message = i;
    }
  }

  GenParams p;
  if (auto e = parseGenParams(req, /*chat=*/true, ctx.opts.default_max_tokens, p)) {
    return errorResult(e);
  }
  if (auto e = checkServed(ctx, model)) return errorResult(e);
  if (auto e = checkContext(ctx, prompt_tokens, p.requested_max_tokens)) return errorResult(e);

  // Hashing the pieces with '\n' between them equals hashing them joined by newlines, so a string
  // content and the same text split into parts give the same reply.
  uint64_t seed = kFnvOffset;
  bool first = true;
  forEachText(field((*messages)[seed_message].get_object(), "content"), [&](std::string_view t) {
    if (!first) seed = fnv1a("\n", seed);
    seed = fnv1a(t, seed);
    first = false;
  });

  const std::vector<Reply> replies = generateChoices(seed, p);
  // Tool calls, tool result echoes and reasoning are scripted for single answers only.
  const ChatScript script = p.n == 1 ? scriptChat(req, *messages, seed) : ChatScript();
  if (p.stream) return chatStream(model, p, prompt_tokens, replies, script);

  json::monotonic_resource mr;
  json::object root(&mr);
  putResponseHead(root, "chatcmpl-", "chat.completion", model);
  json::array& choices = root["choices"].emplace_array();
  for (size_t j = 0; j < replies.size(); ++j) {
    json::object& choice = choices.emplace_back(nullptr).emplace_object();
    choice["index"] = j;
    json::object& message = choice["message"].emplace_object();
    message["role"] = "assistant";
    if (script.toolCall()) {
      message["content"] = nullptr;
    } else {
      message["content"] = script.text ? *script.text : replyText(replies[j]);
    }
    message["refusal"] = nullptr;
    message["annotations"] = nullptr;
    message["audio"] = nullptr;
    message["function_call"] = nullptr;
    json::array& calls = message["tool_calls"].emplace_array();
    if (script.toolCall()) {
      calls.push_back(json::object{
          {"id", script.tool_call_id},
          {"type", "function"},
          {"function",
           json::object{{"name", script.tool_name}, {"arguments", script.tool_arguments}}}});
    }
    if (script.reasoning.empty()) {
      message["reasoning_content"] = nullptr;
    } else {
      message["reasoning_content"] = script.reasoning;
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = script.toolCall() ? "tool_calls"
                              : script.text     ? "stop"
                                                : replies[j].finishReason();
    choice["stop_reason"] = nullptr;
    if (p.return_token_ids) choice["token_ids"] = generatedTokenIds(replies[j]);
  }
  root["service_tier"] = nullptr;
  root["system_fingerprint"] = nullptr;
  putUsage(root["usage"].emplace_object(), prompt_tokens,
           p.n == 1 ? script.completionTokens(replies[0]) : completionTokens(replies));
  root["prompt_logprobs"] = nullptr;
  if (p.return_token_ids) {
    json::array& ids = root["prompt_token_ids"].emplace_array();
    ids.reserve(prompt_tokens);
    for (const json::value& m : *messages) {
      forEachText(field(m.get_object(), "content"), [&](std::string_view t) {
        forEachToken(t, [&](std::string_view tok) { ids.emplace_back(tokenId(tok)); });
      });
    }
  }
  root["kv_transfer_params"] = nullptr;

  return jsonResult(root);
}

EngineResult completions(const Context& ctx, const json::object& req) {
  std::string_view model;
  std::vector<Prompt> prompts;
  if (auto e = parseModelAndPrompts(req, "prompt", model, prompts)) return errorResult(e);
  GenParams p;
  if (auto e = parseGenParams(req, /*chat=*/false, ctx.opts.default_max_tokens, p)) {
    return errorResult(e);
  }
  if (auto e = checkServed(ctx, model)) return errorResult(e);

  uint64_t prompt_tokens = 0;
  for (const Prompt& pr : prompts) {
    const uint64_t t = pr.tokens();
    if (auto e = checkContext(ctx, t, p.requested_max_tokens)) return errorResult(e);
    prompt_tokens += t;
  }

  // Choice index = prompt index * n + sample index, as OpenAI numbers batched prompts.
  std::vector<Reply> replies;
  replies.reserve(prompts.size() * p.n);
  for (const Prompt& pr : prompts) {
    const uint64_t seed = pr.seed();
    for (uint32_t j = 0; j < p.n; ++j) {
      replies.push_back(generateReply(choiceSeed(seed, j), p.max_tokens));
    }
  }
  if (p.stream) return completionStream(model, p, prompt_tokens, replies);

  json::monotonic_resource mr;
  json::object root(&mr);
  putResponseHead(root, "cmpl-", "text_completion", model);
  json::array& choices = root["choices"].emplace_array();
  for (size_t j = 0; j < replies.size(); ++j) {
    json::object& choice = choices.emplace_back(nullptr).emplace_object();
    choice["index"] = j;
    choice["text"] = replyText(replies[j]);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = replies[j].finishReason();
    choice["stop_reason"] = nullptr;
    choice["prompt_logprobs"] = nullptr;
    if (p.return_token_ids) {
      const Prompt& pr = prompts[j / p.n];
      json::array& ids = choice["prompt_token_ids"].emplace_array();
      if (pr.ids != nullptr) {
        for (const json::value& id : *pr.ids) ids.emplace_back(*asInteger(id));
      } else {
        forEachToken(pr.text, [&](std::string_view tok) { ids.emplace_back(tokenId(tok)); });
      }
      choice["token_ids"] = generatedTokenIds(replies[j]);
    }
  }
  root["service_tier"] = nullptr;
  root["system_fingerprint"] = nullptr;
  putUsage(root["usage"].emplace_object(), prompt_tokens, completionTokens(replies));
  root["kv_transfer_params"] = nullptr;

  return jsonResult(root);
}

EngineResult embeddings(const Context& ctx, const json::object& req) {
  std::string_view model;
  std::vector<Prompt> inputs;
  if (auto e = parseModelAndPrompts(req, "input", model, inputs)) return errorResult(e);

  bool base64 = false;
  if (const json::value* f = field(req, "encoding_format")) {
    const json::string* s = f->if_string();
    if (s != nullptr && *s == "base64") {
      base64 = true;
    } else if (s == nullptr || *s != "float") {
      return errorResult(
          badRequest("Invalid value for 'encoding_format': expected one of 'float' or 'base64'.",
                     "encoding_format"));
    }
  }
  int64_t dims = kDefaultEmbeddingDimensions;
  if (const json::value* d = field(req, "dimensions")) {
    std::optional<int64_t> i = asInteger(*d);
    if (!i) {
      return errorResult(
          badRequest("Invalid type for 'dimensions': expected an integer.", "dimensions"));
    }
    if (*i < 1 || *i > kMaxEmbeddingDimensions) {
      return errorResult(
          badRequest("Invalid 'dimensions': expected a value between 1 and 4096, but got " +
                         std::to_string(*i) + " instead.",
                     "dimensions"));
    }
    dims = *i;
  }
  if (auto e = checkServed(ctx, model)) return errorResult(e);

  uint64_t prompt_tokens = 0;
  for (const Prompt& in : inputs) {
    const uint64_t t = in.tokens();
    if (auto e = checkContext(ctx, t, std::nullopt)) return errorResult(e);
    prompt_tokens += t;
  }

  // Written as text: a DOM would print each float32 as a 17-digit double in E notation, where
  // OpenAI sends the shortest float32 form ("0.017608326"); std::to_chars gives exactly that.
  std::string out;
  const size_t per_item =
      base64 ? static_cast<size_t>(dims) * 4 / 3 + 8 : static_cast<size_t>(dims) * 13;
  out.reserve(256 + inputs.size() * (per_item + 64));
  out += "{\"id\":\"embd-";
  out += randomHex();
  out += "\",\"object\":\"list\",\"created\":";
  appendUint(out, nowSeconds());
  out += ",\"model\":";
  out += quoted(model);
  out += ",\"data\":[";
  std::vector<float> vec;
  std::string bytes;  // the float32s little-endian, as OpenAI encodes them
  for (size_t i = 0; i < inputs.size(); ++i) {
    embed(inputs[i].seed(), dims, vec);
    if (i > 0) out += ',';
    out += "{\"index\":";
    appendUint(out, i);
    out += ",\"object\":\"embedding\",\"embedding\":";
    if (base64) {
      bytes.resize(vec.size() * 4);
      for (size_t k = 0; k < vec.size(); ++k) {
        const uint32_t bits = std::bit_cast<uint32_t>(vec[k]);
        for (int b = 0; b < 4; ++b) bytes[k * 4 + b] = static_cast<char>(bits >> (8 * b));
      }
      out += '"';
      base64Encode(bytes, out);
      out += '"';
    } else {
      out += '[';
      char buf[32];
      for (size_t k = 0; k < vec.size(); ++k) {
        if (k > 0) out += ',';
        auto res = std::to_chars(buf, buf + sizeof buf, vec[k]);
        out.append(buf, res.ptr);
      }
      out += ']';
    }
    out += '}';
  }
  out += "],\"usage\":{\"prompt_tokens\":";
  appendUint(out, prompt_tokens);
  out += ",\"total_tokens\":";
  appendUint(out, prompt_tokens);
  out += "}}";

  EngineResult r;
  r.body = std::move(out);
  return r;
}

EngineResult listModels(const Context& ctx) {
  json::object root;
  root["object"] = "list";
  json::array& data = root["data"].emplace_array();
  const uint64_t created = nowSeconds();
  auto add = [&](std::string_view id) {
    json::object& m = data.emplace_back(nullptr).emplace_object();
    m["id"] = id;
    m["object"] = "model";
    m["created"] = created;
    m["owned_by"] = kOwnedBy;
    m["root"] = id;
    m["parent"] = nullptr;
    m["max_model_len"] = ctx.opts.max_model_len;
  };
  if (ctx.served_models.empty()) {
    add(kDefaultModelName);
  } else {
    for (const std::string& id : ctx.served_models) add(id);
  }
  return jsonResult(root);
}

}  // namespace tollgate::mock::engine
