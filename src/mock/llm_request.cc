#include "mock/llm_request.h"

#include <limits>
#include <utility>

#include "mock/llm_text.h"

namespace tollgate::mock::engine {

namespace {

constexpr uint32_t kMaxChoices = 128;

std::optional<ApiError> parseMaxTokens(const json::value& v, std::string_view name, uint64_t& out) {
  std::optional<int64_t> i = asInteger(v);
  if (!i) {
    return badRequest("Invalid type for '" + std::string(name) + "': expected an integer.",
                      std::string(name));
  }
  if (*i < 1) {
    std::string msg = "Invalid '" + std::string(name) +
                      "': integer below minimum value. Expected a value >= 1, but got ";
    msg += std::to_string(*i);
    msg += " instead.";
    return badRequest(std::move(msg), std::string(name));
  }
  out = static_cast<uint64_t>(*i);
  return std::nullopt;
}

std::optional<ApiError> parseOptionalBool(const json::object& obj, std::string_view key,
                                          std::string_view param, bool& out) {
  const json::value* v = field(obj, key);
  if (v == nullptr) return std::nullopt;
  const bool* b = v->if_bool();
  if (b == nullptr) {
    return badRequest("Invalid type for '" + std::string(param) + "': expected a boolean.",
                      std::string(param));
  }
  out = *b;
  return std::nullopt;
}

bool isTokenId(const json::value& v) {
  std::optional<int64_t> i = asInteger(v);
  return i && *i >= 0;
}

bool allTokenIds(const json::array& a) {
  for (const json::value& v : a) {
    if (!isTokenId(v)) return false;
  }
  return true;
}

}  // namespace

ApiError apiError(int status, std::string message, std::string param) {
  ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

ApiError badRequest(std::string message, std::string param) {
  return apiError(400, std::move(message), std::move(param));
}

EngineResult errorResult(const ApiError& e) {
  json::object error;
  error["message"] = e.message;
  error["type"] = e.type;
  if (e.param.empty()) {
    error["param"] = nullptr;
  } else {
    error["param"] = e.param;
  }
  if (e.numeric_code) {
    error["code"] = e.status;
  } else {
    error["code"] = nullptr;
  }
  json::object root;
  root["error"] = std::move(error);
  return jsonResult(root, e.status);
}

EngineResult jsonResult(const json::object& body, int status) {
  EngineResult r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

EngineResult errorResult(std::optional<ApiError> e) { return errorResult(*e); }

std::optional<int64_t> asInteger(const json::value& v) {
  if (const int64_t* i = v.if_int64()) return *i;
  if (const uint64_t* u = v.if_uint64()) {
    return *u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

const json::value* field(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::optional<ApiError> requireModel(const json::object& req, std::string_view& model) {
  const json::value* v = field(req, "model");
  if (v == nullptr) return badRequest("Missing required parameter: 'model'.", "model");
  const json::string* s = v->if_string();
  if (s == nullptr) return badRequest("Invalid type for 'model': expected a string.", "model");
  model = std::string_view(s->data(), s->size());
  return std::nullopt;
}

std::optional<ApiError> checkServed(const Context& ctx, std::string_view model) {
  if (ctx.served_models.empty()) return std::nullopt;
  for (const std::string& m : ctx.served_models) {
    if (m == model) return std::nullopt;
  }
  ApiError e{
      404, "The model `" + std::string(model) + "` does not exist.", {}, "NotFoundError", true};
  return e;
}

std::optional<ApiError> checkContext(const Context& ctx, uint64_t prompt_tokens,
                                     std::optional<uint64_t> max_tokens) {
  uint64_t limit = ctx.opts.max_model_len;
  if (max_tokens && prompt_tokens + *max_tokens > limit) {
    std::string msg = "This model's maximum context length is ";
    appendUint(msg, limit);
    msg += " tokens. However, you requested ";
    appendUint(msg, prompt_tokens + *max_tokens);
    msg += " tokens (";
    appendUint(msg, prompt_tokens);
    msg += " in the messages, ";
    appendUint(msg, *max_tokens);
    msg += " in the completion). Please reduce the length of the messages or completion.";
    return badRequest(std::move(msg));
  }
  if (prompt_tokens > limit) {
    std::string msg = "This model's maximum context length is ";
    appendUint(msg, limit);
    msg += " tokens. However, your request has ";
    appendUint(msg, prompt_tokens);
    msg += " input tokens. Please reduce the length of the input messages.";
    return badRequest(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> parseGenParams(const json::object& req, bool chat, uint64_t default_max,
                                       GenParams& p) {
  // vLLM's chat reads max_completion_tokens first; the legacy completions API has only max_tokens.
  const json::value* mct = chat ? field(req, "max_completion_tokens") : nullptr;
  const json::value* mt = field(req, "max_tokens");
  if (mct != nullptr) {
    uint64_t v = 0;
    if (auto e = parseMaxTokens(*mct, "max_completion_tokens", v)) return e;
    p.requested_max_tokens = v;
  }
  if (mt != nullptr) {
    uint64_t v = 0;
    if (auto e = parseMaxTokens(*mt, "max_tokens", v)) return e;
    if (!p.requested_max_tokens) p.requested_max_tokens = v;
  }
  p.max_tokens = p.requested_max_tokens.value_or(default_max);

  if (const json::value* n = field(req, "n")) {
    std::optional<int64_t> i = asInteger(*n);
    if (!i) return badRequest("Invalid type for 'n': expected an integer.", "n");
    if (*i < 1 || *i > kMaxChoices) {
      return badRequest("Invalid 'n': expected a value between 1 and 128, but got " +
                            std::to_string(*i) + " instead.",
                        "n");
    }
    p.n = static_cast<uint32_t>(*i);
  }

  if (auto e = parseOptionalBool(req, "stream", "stream", p.stream)) return e;
  if (const json::value* so = field(req, "stream_options")) {
    const json::object* opts = so->if_object();
    if (opts == nullptr) {
      return badRequest("Invalid type for 'stream_options': expected an object.", "stream_options");
    }
    if (!p.stream) {
      return badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                        "stream_options");
    }
    if (auto e = parseOptionalBool(*opts, "include_usage", "stream_options.include_usage",
                                   p.include_usage)) {
      return e;
    }
    bool continuous = false;
    if (auto e = parseOptionalBool(*opts, "continuous_usage_stats",
                                   "stream_options.continuous_usage_stats", continuous)) {
      return e;
    }
    p.continuous_usage = p.include_usage && continuous;
  }

  // Lenient on purpose: these are vLLM extensions and only switch on extra output.
  if (const json::value* r = field(req, "return_token_ids"); r != nullptr && r->is_bool()) {
    p.return_token_ids = r->get_bool();
  }
  if (field(req, "prompt_logprobs") != nullptr) p.return_token_ids = true;
  return std::nullopt;
}

uint64_t Prompt::tokens() const { return ids != nullptr ? ids->size() : countTokens(text); }

uint64_t Prompt::seed() const {
  if (ids == nullptr) return fnv1a(text);
  uint64_t h = kFnvOffset;
  for (const json::value& v : *ids) h = fnv1aU64(static_cast<uint64_t>(*asInteger(v)), h);
  return h;
}

std::optional<ApiError> parseModelAndPrompts(const json::object& req, std::string_view key,
                                             std::string_view& model, std::vector<Prompt>& out) {
  if (auto e = requireModel(req, model)) return e;
  return parsePrompts(req, key, out);
}

std::optional<ApiError> parsePrompts(const json::object& req, std::string_view key,
                                     std::vector<Prompt>& out) {
  const std::string name(key);
  const json::value* v = field(req, key);
  if (v == nullptr) return badRequest("Missing required parameter: '" + name + "'.", name);
  if (const json::string* s = v->if_string()) {
    out.push_back(Prompt{std::string_view(s->data(), s->size())});
    return std::nullopt;
  }
  const ApiError type_error =
      badRequest("Invalid type for '" + name +
                     "': expected a string, an array of strings, an array of integers or an "
                     "array of arrays of integers.",
                 name);
  const json::array* arr = v->if_array();
  if (arr == nullptr) return type_error;
  if (arr->empty()) {
    return badRequest("Invalid '" + name +
                          "': empty array. Expected an array with minimum length 1, but got an "
                          "empty array instead.",
                      name);
  }
  const json::value& first = arr->front();
  if (first.is_string()) {
    for (const json::value& item : *arr) {
      const json::string* s = item.if_string();
      if (s == nullptr) return type_error;
      out.push_back(Prompt{std::string_view(s->data(), s->size())});
    }
  } else if (first.is_array()) {
    for (const json::value& item : *arr) {
      const json::array* ids = item.if_array();
      if (ids == nullptr || ids->empty() || !allTokenIds(*ids)) return type_error;
      out.push_back(Prompt{{}, ids});
    }
  } else {
    if (!allTokenIds(*arr)) return type_error;
    out.push_back(Prompt{{}, arr});
  }
  return std::nullopt;
}

}  // namespace tollgate::mock::engine
