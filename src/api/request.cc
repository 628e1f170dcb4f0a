#include "api/request.h"

#include <simdjson.h>

#include "common/strings.h"

namespace tollgate::api {

namespace {

std::string_view pathOf(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

size_t skipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

size_t skipString(std::string_view s, size_t i) {  // s[i] == '"'
  ++i;
  while (i < s.size()) {
    if (s[i] == '\\') {
      i += 2;
    } else if (s[i] == '"') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return s.size();
}

// Whether the raw text of a JSON string (between its quotes) spells `key`. Keys may be escaped:
// "\u006dodel" is "model" to simdjson, which parseRequest used, and to every upstream, so the
// escapes are decoded before comparing. The keys looked up are ASCII; an escape of anything else
// cannot match.
bool keyEquals(std::string_view raw, std::string_view key) {
  if (raw.find('\\') == std::string_view::npos) return raw == key;
  size_t k = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\') {
      if (++i >= raw.size()) return false;
      switch (raw[i]) {
        case '"':
        case '\\':
        case '/':
          c = raw[i];
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u': {
          if (i + 4 >= raw.size()) return false;
          unsigned v = 0;
          for (size_t j = 1; j <= 4; ++j) {
            const char h = raw[i + j];
            const char lower = static_cast<char>(h | 0x20);
            v <<= 4;
            if (h >= '0' && h <= '9') {
              v |= static_cast<unsigned>(h - '0');
            } else if (lower >= 'a' && lower <= 'f') {
              v |= static_cast<unsigned>(lower - 'a' + 10);
            } else {
              return false;
            }
          }
          if (v >= 0x80) return false;
          c = static_cast<char>(v);
          i += 4;
          break;
        }
        default:
          return false;
      }
    }
    if (k >= key.size() || key[k] != c) return false;
    ++k;
  }
  return k == key.size();
}

thread_local simdjson::dom::parser t_parser;

}  // namespace

ApiKind apiFromTarget(std::string_view target) {
  auto p = pathOf(target);
  if (p == "/v1/chat/completions") return ApiKind::kChatCompletions;
  if (p == "/v1/completions") return ApiKind::kCompletions;
  if (p == "/v1/embeddings") return ApiKind::kEmbeddings;
  if (p == "/v1/models") return ApiKind::kModels;
  if (p == "/v1/responses") return ApiKind::kResponses;
  if (p == "/v1/responses/input_tokens") return ApiKind::kResponsesInputTokens;
  // Anthropic's SDKs append /v1/messages to their base URL: tollgate's Anthropic base URL is
  // http://host/anthropic, and Claude Code pointed at the bare host sends /v1/messages, which no
  // OpenAI API uses, so both reach the same API.
  if (p == "/anthropic/v1/messages" || p == "/v1/messages") return ApiKind::kAnthropicMessages;
  if (p == "/anthropic/v1/messages/count_tokens" || p == "/v1/messages/count_tokens")
    return ApiKind::kAnthropicCountTokens;
  if (p == "/anthropic/v1/models") return ApiKind::kAnthropicModels;
  return ApiKind::kUnknown;
}

bool isAnthropicApi(ApiKind k) {
  return k == ApiKind::kAnthropicMessages || k == ApiKind::kAnthropicCountTokens ||
         k == ApiKind::kAnthropicModels;
}

bool isAnthropicTarget(std::string_view target) {
  return pathOf(target).starts_with("/anthropic/");
}

std::string_view apiOperationName(ApiKind k) {
  switch (k) {
    case ApiKind::kChatCompletions:
      return "chat";
    case ApiKind::kCompletions:
      return "text_completion";
    case ApiKind::kEmbeddings:
      return "embeddings";
    case ApiKind::kModels:
      return "models";
    case ApiKind::kAnthropicMessages:
      return "messages";
    case ApiKind::kAnthropicCountTokens:
    case ApiKind::kResponsesInputTokens:
      return "count_tokens";
    case ApiKind::kAnthropicModels:
      return "models";
    case ApiKind::kResponses:
      return "responses";
    case ApiKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

size_t skipValue(std::string_view s, size_t i) {
  i = skipSpace(s, i);
  if (i >= s.size()) return s.size();
  char c = s[i];
  if (c == '"') return skipString(s, i);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (i < s.size()) {
      char d = s[i];
      if (d == '"') {
        i = skipString(s, i);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return s.size();
  }
  // number, true, false, null
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\r' && s[i] != '\t')
    ++i;
  return i;
}

std::optional<Span> findMemberValue(std::string_view s, std::string_view key) {
  size_t i = skipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  ++i;
  for (;;) {
    i = skipSpace(s, i);
    if (i >= s.size() || s[i] == '}') return std::nullopt;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '"') return std::nullopt;
    size_t key_end = skipString(s, i);
    std::string_view k = s.substr(i + 1, key_end - i - 2);
    i = skipSpace(s, key_end);
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    i = skipSpace(s, i + 1);
    size_t value_end = skipValue(s, i);
    if (keyEquals(k, key)) return Span{i, value_end};
    i = value_end;
  }
}

void locateSpliceOffsets(ApiRequest& r, std::string_view body) {
  // The text was validated by parseRequest, so the light scanner is safe on it.
  if (auto span = findMemberValue(body, "model")) r.model_span = *span;
  r.stream_options = findMemberValue(body, "stream_options");
  size_t end = body.size();
  while (end > 0 && body[end - 1] != '}') --end;
  r.object_end = end > 0 ? end - 1 : 0;
}

std::string withModel(const ApiRequest& req, std::string_view body, std::string_view model) {
  ApiRequest located = req;
  locateSpliceOffsets(located, body);
  std::string out;
  out.reserve(body.size() + model.size() + 2);
  out.append(body.substr(0, located.model_span.begin));
  appendJsonString(out, model);
  out.append(body.substr(located.model_span.end));
  return out;
}

Result<ApiRequest> parseRequest(ApiKind kind, std::string_view body) {
  ApiRequest r;
  r.kind = kind;
  r.body_bytes = body.size();
  simdjson::dom::element doc;
  auto err = t_parser.parse(body.data(), body.size()).get(doc);
  if (err) {
    return Error::client(ErrorCode::kBadRequest, std::string("request body is not valid JSON: ") +
                                                     simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return Error::client(ErrorCode::kBadRequest, "request body must be a JSON object");
  }
  std::string_view model;
  auto model_el = obj["model"];
  if (model_el.error() == simdjson::NO_SUCH_FIELD) {
    return Error::client(ErrorCode::kBadRequest, "missing required field 'model'", "model");
  }
  if (model_el.get_string().get(model) || model.empty()) {
    return Error::client(ErrorCode::kBadRequest, "'model' must be a non-empty string", "model");
  }
  r.model = std::string(model);

  bool stream = false;
  auto stream_el = obj["stream"];
  if (stream_el.error() == simdjson::SUCCESS && !stream_el.is_null()) {
    if (stream_el.get_bool().get(stream)) {
      return Error::client(ErrorCode::kBadRequest, "'stream' must be a boolean", "stream");
    }
  }
  r.stream = stream;
  if (kind == ApiKind::kEmbeddings && stream) {
    return Error::client(ErrorCode::kBadRequest, "embeddings do not support streaming", "stream");
  }

  simdjson::dom::object so;
  if (obj["stream_options"].get_object().get(so) == simdjson::SUCCESS) {
    bool inc = false;
    if (so["include_usage"].get_bool().get(inc) == simdjson::SUCCESS) r.include_usage = inc;
  }
  int64_t mt = 0;
  if (obj["max_tokens"].get_int64().get(mt) == simdjson::SUCCESS ||
      obj["max_completion_tokens"].get_int64().get(mt) == simdjson::SUCCESS ||
      obj["max_output_tokens"].get_int64().get(mt) == simdjson::SUCCESS) {
    r.max_tokens = mt;
  }

  return r;
}

}  // namespace tollgate::api
