#include "providers/count_tokens_request.h"

#include <boost/json.hpp>

namespace tollgate::providers {

namespace json = boost::json;

namespace {

bool isAnthropic(api::ApiKind kind) { return kind == api::ApiKind::kAnthropicCountTokens; }

Error badField(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

// Block and item types that carry binary data the model sees as a picture or a file: their bytes
// (base64, URLs) say nothing about their token cost, so each counts a fixed amount.
bool isMediaType(std::string_view type) {
  return type == "image" || type == "document" || type == "input_image" || type == "input_file";
}

// Members that are bookkeeping, not text the model reads: ids, cache markers, signatures of
// thinking blocks, encrypted reasoning.
bool isBookkeeping(std::string_view key) {
  return key == "type" || key == "id" || key == "tool_use_id" || key == "call_id" ||
         key == "cache_control" || key == "signature" || key == "encrypted_content" ||
         key == "status" || key == "role";
}

// Members whose value the model reads as JSON text (tool arguments, schemas): counted as their
// serialized size, keys included.
bool isJsonPayload(std::string_view key) {
  return key == "input" || key == "input_schema" || key == "parameters";
}

struct Tally {
  uint64_t bytes = 0;
  uint64_t fixed = 0;  // tokens from the fixed costs

  void text(const json::value& v) {
    if (const json::string* s = v.if_string()) {
      bytes += s->size();
    } else if (const json::array* a = v.if_array()) {
      for (const json::value& e : *a) text(e);
    } else if (const json::object* o = v.if_object()) {
      object(*o);
    }
  }

  void object(const json::object& o) {
    if (const json::value* t = o.if_contains("type");
        t && t->is_string() && isMediaType(t->get_string())) {
      fixed += kEstimateTokensPerImage;
      return;
    }
    for (const auto& member : o) {
      const std::string_view key = member.key();
      if (isBookkeeping(key)) continue;
      if (isJsonPayload(key) && (member.value().is_object() || member.value().is_array())) {
        bytes += json::serialize(member.value()).size();
      } else {
        text(member.value());
      }
    }
  }

  // Each element of `list` a message (or Responses input item), each with its fixed cost.
  void messages(const json::value* list) {
    if (list == nullptr) return;
    if (list->is_string()) {  // Responses' input as a plain string: one user message
      fixed += kEstimateTokensPerMessage;
      bytes += list->get_string().size();
      return;
    }
    if (!list->is_array()) return;
    for (const json::value& m : list->get_array()) {
      fixed += kEstimateTokensPerMessage;
      text(m);
    }
  }

  void tools(const json::value* list) {
    if (list == nullptr || !list->is_array()) return;
    for (const json::value& t : list->get_array()) {
      fixed += kEstimateTokensPerTool;
      text(t);
    }
  }

  uint64_t tokens() const {
    return (bytes + kEstimateBytesPerToken - 1) / kEstimateBytesPerToken + fixed;
  }
};

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::optional<Error> checkAnthropic(const json::object& o) {
  const json::value* messages = present(o, "messages");
  if (messages == nullptr) return badField("messages: Field required", "messages");
  if (!messages->is_array()) return badField("messages: Input should be a valid list", "messages");
  if (messages->get_array().empty())
    return badField("messages: at least one message is required", "messages");
  size_t i = 0;
  for (const json::value& m : messages->get_array()) {
    const std::string where = "messages." + std::to_string(i++);
    const json::object* mo = m.if_object();
    if (mo == nullptr) return badField(where + ": Input should be a valid dictionary", where);
    const json::value* role = present(*mo, "role");
    if (role == nullptr || !role->is_string())
      return badField(where + ".role: Field required", where + ".role");
    const json::value* content = present(*mo, "content");
    if (content == nullptr || !(content->is_string() || content->is_array()))
      return badField(where + ".content: Input should be a valid string or list",
                      where + ".content");
  }
  if (const json::value* system = present(o, "system");
      system && !system->is_string() && !system->is_array())
    return badField("system: Input should be a valid string or list", "system");
  if (const json::value* tools = present(o, "tools"); tools && !tools->is_array())
    return badField("tools: Input should be a valid list", "tools");
  return std::nullopt;
}

std::optional<Error> checkResponses(const json::object& o) {
  if (const json::value* input = present(o, "input");
      input && !input->is_string() && !input->is_array())
    return badField("Invalid type for 'input': expected a string or an array of input items.",
                    "input");
  if (const json::value* instructions = present(o, "instructions");
      instructions && !instructions->is_string())
    return badField("Invalid type for 'instructions': expected a string.", "instructions");
  if (const json::value* tools = present(o, "tools"); tools && !tools->is_array())
    return badField("Invalid type for 'tools': expected an array.", "tools");
  return std::nullopt;
}

}  // namespace

bool isCountApi(api::ApiKind kind) {
  return kind == api::ApiKind::kAnthropicCountTokens || kind == api::ApiKind::kResponsesInputTokens;
}

std::optional<Error> checkCountRequest(api::ApiKind kind, std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object())
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
  return isAnthropic(kind) ? checkAnthropic(v.get_object()) : checkResponses(v.get_object());
}

uint64_t estimateInputTokens(api::ApiKind kind, std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return 0;
  const json::object& o = v.get_object();
  Tally tally;
  if (isAnthropic(kind)) {
    if (const json::value* system = present(o, "system")) tally.text(*system);
    tally.messages(present(o, "messages"));
  } else {
    if (const json::value* instructions = present(o, "instructions")) tally.text(*instructions);
    tally.messages(present(o, "input"));
  }
  tally.tools(present(o, "tools"));
  return tally.tokens();
}

std::string countAnswerBody(api::ApiKind kind, uint64_t input_tokens) {
  std::string out = isAnthropic(kind) ? R"({"input_tokens":)"
                                      : R"({"object":"response.input_tokens","input_tokens":)";
  out += std::to_string(input_tokens);
  out += '}';
  return out;
}

}  // namespace tollgate::providers
