#include "mock/llm_engine.h"

#include <array>
#include <bit>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>

namespace tollgate::mock {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Deterministic text and numbers.

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(std::string_view bytes, uint64_t hash = kFnvOffset) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

// Token ids are hashed 8 bytes little-endian so the seed does not depend on the host's byte order.
uint64_t fnv1aU64(uint64_t value, uint64_t hash) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
  return hash;
}

// splitmix64: turns one hash into a stream of well-mixed numbers (FNV alone is poorly mixed in its
// low bits, which pick the words).
uint64_t nextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 64 plain ASCII words: none needs JSON escaping, which the stream writer relies on.
constexpr std::array<std::string_view, 64> kVocabulary = {
    "the",    "a",      "gateway", "model",  "token",   "request",  "stream",   "quietly",
    "routes", "every",  "budget",  "fast",   "reply",   "server",   "mock",     "answer",
    "with",   "and",    "of",      "to",     "latency", "upstream", "client",   "limit",
    "window", "counts", "each",    "word",   "simple",  "steady",   "bright",   "river",
    "cloud",  "signal", "packet",  "metric", "queue",   "batch",    "prompt",   "bucket",
    "policy", "route",  "backend", "header", "usage",   "cache",    "thread",   "socket",
    "event",  "chunk",  "vector",  "number", "little",  "careful",  "honest",   "clear",
    "green",  "north",  "morning", "light",  "returns", "keeps",    "measures", "finishes"};

constexpr uint32_t kMinReplyWords = 8;
constexpr uint32_t kMaxReplyWords = 40;
// Qwen3's vocabulary size, so generated token ids look like a real tokenizer's.
constexpr uint32_t kVocabSize = 151936;
constexpr uint32_t kMaxChoices = 128;
constexpr int64_t kDefaultEmbeddingDimensions = 8;
constexpr int64_t kMaxEmbeddingDimensions = 4096;
constexpr std::string_view kDefaultModelName = "mock-model";
constexpr std::string_view kOwnedBy = "tollgate-mock";

bool isSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

template <class F>
void forEachToken(std::string_view text, F&& f) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && isSpace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < n && !isSpace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) f(text.substr(start, i - start));
  }
}

uint32_t tokenId(std::string_view token) {
  return static_cast<uint32_t>(fnv1a(token) % kVocabSize);
}

// One generated answer: indices into kVocabulary, so generating allocates nothing.
struct Reply {
  std::array<uint8_t, kMaxReplyWords> words{};
  uint32_t count = 0;
  bool truncated = false;  // max_tokens cut it: finish_reason "length"

  std::string_view word(uint32_t i) const { return kVocabulary[words[i]]; }
  std::string_view finishReason() const { return truncated ? "length" : "stop"; }
};

Reply generateReply(uint64_t seed, uint64_t max_tokens) {
  Reply reply;
  uint64_t state = seed;
  uint32_t natural = kMinReplyWords + static_cast<uint32_t>(nextRandom(state) %
                                                            (kMaxReplyWords - kMinReplyWords + 1));
  reply.count = max_tokens < natural ? static_cast<uint32_t>(max_tokens) : natural;
  reply.truncated = max_tokens < natural;
  for (uint32_t i = 0; i < reply.count; ++i) {
    reply.words[i] = static_cast<uint8_t>(nextRandom(state) % kVocabulary.size());
  }
  return reply;
}

// Choice 0 uses the prompt's own seed so that n=1 and the first of n>1 answer alike.
uint64_t choiceSeed(uint64_t seed, uint32_t choice) {
  if (choice == 0) return seed;
  uint64_t state = seed ^ (0xD6E8FEB86659FD93ull * choice);
  return nextRandom(state);
}

std::string replyText(const Reply& reply) {
  std::string text;
  for (uint32_t i = 0; i < reply.count; ++i) {
    if (i > 0) text += ' ';
    text += reply.word(i);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers.

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

uint64_t nowSeconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// 32 hex digits like vLLM's uuid4().hex. Per-thread state: no lock or shared cache line between
// server threads.
std::string randomHex() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    s ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    s ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
    return s;
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t r = nextRandom(state);
    for (int i = 0; i < 16; ++i) out[half * 16 + i] = kHex[(r >> (4 * i)) & 0xf];
  }
  return out;
}

std::string quoted(std::string_view s) {
  return json::serialize(json::string_view(s.data(), s.size()));
}

void appendBase64(std::string& out, const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (size - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
}

// ---------------------------------------------------------------------------------------------
// Errors.

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // empty: null
  std::string_view type = "invalid_request_error";
  bool numeric_code = false;  // vLLM puts the status in "code"; OpenAI's 400s have null
};

ApiError apiError(int status, std::string message, std::string param = {}) {
  ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

ApiError badRequest(std::string message, std::string param = {}) {
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
  EngineResult r;
  r.status = e.status;
  r.body = json::serialize(root);
  return r;
}

EngineResult errorResult(std::optional<ApiError> e) { return errorResult(*e); }

// ---------------------------------------------------------------------------------------------
// Request fields shared by the endpoints.

struct Context {
  const EngineOptions& opts;
  const std::vector<std::string>& served_models;
};

// Integer value of a JSON number that is an integer; a double (even 16.0) is not.
std::optional<int64_t> asInteger(const json::value& v) {
  if (const int64_t* i = v.if_int64()) return *i;
  if (const uint64_t* u = v.if_uint64()) {
    return *u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

// Absent and null are the same thing for every optional field, as in the OpenAI API.
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

struct GenParams {
  uint64_t max_tokens = 0;
  std::optional<uint64_t> requested_max_tokens;  // what the client asked for, if anything
  uint32_t n = 1;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;  // vLLM: usage on every chunk (only with include_usage)
  bool return_token_ids = false;
};

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

std::vector<Reply> generateChoices(uint64_t seed, const GenParams& p) {
  std::vector<Reply> replies;
  replies.reserve(p.n);
  for (uint32_t j = 0; j < p.n; ++j) {
    replies.push_back(generateReply(choiceSeed(seed, j), p.max_tokens));
  }
  return replies;
}

uint64_t completionTokens(const std::vector<Reply>& replies) {
  uint64_t total = 0;
  for (const Reply& r : replies) total += r.count;
  return total;
}

void putUsage(json::object& usage, uint64_t prompt, uint64_t completion) {
  usage["prompt_tokens"] = prompt;
  usage["completion_tokens"] = completion;
  usage["total_tokens"] = prompt + completion;
  usage["prompt_tokens_details"] = nullptr;
}

void appendUsage(std::string& out, uint64_t prompt, uint64_t completion) {
  out += "{\"prompt_tokens\":";
  appendUint(out, prompt);
  out += ",\"completion_tokens\":";
  appendUint(out, completion);
  out += ",\"total_tokens\":";
  appendUint(out, prompt + completion);
  out += ",\"prompt_tokens_details\":null}";
}

json::array generatedTokenIds(const Reply& reply) {
  json::array ids;
  ids.reserve(reply.count);
  for (uint32_t i = 0; i < reply.count; ++i) ids.emplace_back(tokenId(reply.word(i)));
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Streams. Chunks are written as text rather than through a DOM: a stream has one chunk per word,
// every chunk shares the same head, and the only untrusted string (the model) is escaped once.

class StreamWriter {
 public:
  StreamWriter(std::string_view object, std::string_view model, const GenParams& p,
               uint64_t prompt_tokens)
      : params_(p), prompt_tokens_(prompt_tokens) {
    head_ = "{\"id\":\"";
    head_ += object == "chat.completion.chunk" ? "chatcmpl-" : "cmpl-";
    head_ += randomHex();
    head_ += "\",\"object\":\"";
    head_ += object;
    head_ += "\",\"created\":";
    appendUint(head_, nowSeconds());
    head_ += ",\"model\":";
    head_ += quoted(model);
    head_ += ",\"choices\":[";
  }

  // choice: the text inside "choices":[ ... ] for one chunk.
  void chunk(std::string_view choice, uint64_t completion_so_far) {
    std::string ev;
    ev.reserve(head_.size() + choice.size() + 96);
    ev += head_;
    ev += choice;
    ev += ']';
    if (params_.continuous_usage) {
      ev += ",\"usage\":";
      appendUsage(ev, prompt_tokens_, completion_so_far);
    } else if (params_.include_usage) {
      // OpenAI marks every chunk but the last with an explicit null once usage is requested.
      ev += ",\"usage\":null";
    }
    ev += '}';
    events_.push_back(std::move(ev));
  }

  EngineResult finish(uint64_t completion_tokens) {
    if (params_.include_usage) {
      std::string ev = head_;
      ev += "],\"usage\":";
      appendUsage(ev, prompt_tokens_, completion_tokens);
      ev += '}';
      events_.push_back(std::move(ev));
    }
    events_.emplace_back("[DONE]");
    EngineResult r;
    r.stream = true;
    r.events = std::move(events_);
    return r;
  }

  void reserve(size_t n) { events_.reserve(n); }

 private:
  const GenParams& params_;
  uint64_t prompt_tokens_;
  std::string head_;
  std::vector<std::string> events_;
};

uint32_t longest(const std::vector<Reply>& replies) {
  uint32_t m = 0;
  for (const Reply& r : replies) m = r.count > m ? r.count : m;
  return m;
}

// Choices advance together, one word each per round, as a batched server emits them.
EngineResult chatStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                        const std::vector<Reply>& replies) {
  StreamWriter w("chat.completion.chunk", model, p, prompt_tokens);
  w.reserve(completionTokens(replies) + 2 * replies.size() + 2);
  std::string choice;
  for (size_t j = 0; j < replies.size(); ++j) {
    choice = "{\"index\":";
    appendUint(choice, j);
    choice +=
        ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
        "\"finish_reason\":null}";
    w.chunk(choice, 0);
  }
  uint64_t produced = 0;
  const uint32_t rounds = longest(replies);
  for (uint32_t s = 0; s < rounds; ++s) {
    for (size_t j = 0; j < replies.size(); ++j) {
      if (s >= replies[j].count) continue;
      ++produced;
      choice = "{\"index\":";
      appendUint(choice, j);
      choice += ",\"delta\":{\"content\":\"";
      if (s > 0) choice += ' ';
      choice += replies[j].word(s);
      choice += "\"},\"logprobs\":null,\"finish_reason\":null}";
      w.chunk(choice, produced);
    }
  }
  for (size_t j = 0; j < replies.size(); ++j) {
    choice = "{\"index\":";
    appendUint(choice, j);
    choice += ",\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
    choice += replies[j].finishReason();
    choice += "\",\"stop_reason\":null}";
    w.chunk(choice, produced);
  }
  return w.finish(produced);
}

// The legacy API has no role chunk and no empty closing chunk: the last text chunk carries the
// finish_reason, as OpenAI and vLLM send it.
EngineResult completionStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                              const std::vector<Reply>& replies) {
  StreamWriter w("text_completion", model, p, prompt_tokens);
  w.reserve(completionTokens(replies) + 2);
  std::string choice;
  uint64_t produced = 0;
  const uint32_t rounds = longest(replies);
  for (uint32_t s = 0; s < rounds; ++s) {
    for (size_t j = 0; j < replies.size(); ++j) {
      const Reply& r = replies[j];
      if (s >= r.count) continue;
      ++produced;
      choice = "{\"index\":";
      appendUint(choice, j);
      choice += ",\"text\":\"";
      if (s > 0) choice += ' ';
      choice += r.word(s);
      choice += "\",\"logprobs\":null,\"finish_reason\":";
      if (s + 1 == r.count) {
        choice += '"';
        choice += r.finishReason();
        choice += '"';
      } else {
        choice += "null";
      }
      choice += ",\"stop_reason\":null}";
      w.chunk(choice, produced);
    }
  }
  return w.finish(produced);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions

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
  if (p.stream) return chatStream(model, p, prompt_tokens, replies);

  json::monotonic_resource mr;
  json::object root(&mr);
  root["id"] = "chatcmpl-" + randomHex();
  root["object"] = "chat.completion";
  root["created"] = nowSeconds();
  root["model"] = model;
  json::array& choices = root["choices"].emplace_array();
  for (size_t j = 0; j < replies.size(); ++j) {
    json::object& choice = choices.emplace_back(nullptr).emplace_object();
    choice["index"] = j;
    json::object& message = choice["message"].emplace_object();
    message["role"] = "assistant";
    message["content"] = replyText(replies[j]);
    message["refusal"] = nullptr;
    message["annotations"] = nullptr;
    message["audio"] = nullptr;
    message["function_call"] = nullptr;
    message["tool_calls"].emplace_array();
    message["reasoning_content"] = nullptr;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = replies[j].finishReason();
    choice["stop_reason"] = nullptr;
    if (p.return_token_ids) choice["token_ids"] = generatedTokenIds(replies[j]);
  }
  root["service_tier"] = nullptr;
  root["system_fingerprint"] = nullptr;
  putUsage(root["usage"].emplace_object(), prompt_tokens, completionTokens(replies));
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

  EngineResult r;
  r.body = json::serialize(root);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Prompts given as text or token ids (completions' prompt, embeddings' input).

struct Prompt {
  std::string_view text;
  const json::array* ids = nullptr;  // set: a list of token ids, text unused

  uint64_t tokens() const { return ids != nullptr ? ids->size() : countTokens(text); }
  uint64_t seed() const {
    if (ids == nullptr) return fnv1a(text);
    uint64_t h = kFnvOffset;
    for (const json::value& v : *ids) h = fnv1aU64(static_cast<uint64_t>(*asInteger(v)), h);
    return h;
  }
};

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

// Accepts a string, an array of strings, an array of token ids, or an array of arrays of token ids.
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

// ---------------------------------------------------------------------------------------------
// POST /v1/completions

EngineResult completions(const Context& ctx, const json::object& req) {
  std::string_view model;
  if (auto e = requireModel(req, model)) return errorResult(e);
  std::vector<Prompt> prompts;
  if (auto e = parsePrompts(req, "prompt", prompts)) return errorResult(e);
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
  root["id"] = "cmpl-" + randomHex();
  root["object"] = "text_completion";
  root["created"] = nowSeconds();
  root["model"] = model;
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

  EngineResult r;
  r.body = json::serialize(root);
  return r;
}

// ---------------------------------------------------------------------------------------------
// POST /v1/embeddings

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

EngineResult embeddings(const Context& ctx, const json::object& req) {
  std::string_view model;
  if (auto e = requireModel(req, model)) return errorResult(e);
  std::vector<Prompt> inputs;
  if (auto e = parsePrompts(req, "input", inputs)) return errorResult(e);

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
  std::vector<unsigned char> bytes;
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
        for (int b = 0; b < 4; ++b) bytes[k * 4 + b] = static_cast<unsigned char>(bits >> (8 * b));
      }
      out += '"';
      appendBase64(out, bytes.data(), bytes.size());
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

// ---------------------------------------------------------------------------------------------
// GET /v1/models

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
  EngineResult r;
  r.body = json::serialize(root);
  return r;
}

enum class Route { kChat, kCompletions, kEmbeddings, kModels, kHealth, kUnknown };

Route routeOf(std::string_view path) {
  if (path == "/v1/chat/completions") return Route::kChat;
  if (path == "/v1/completions") return Route::kCompletions;
  if (path == "/v1/embeddings") return Route::kEmbeddings;
  if (path == "/v1/models") return Route::kModels;
  if (path == "/health") return Route::kHealth;
  return Route::kUnknown;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

EngineResult handleUnchecked(const Context& ctx, std::string_view method, std::string_view path,
                             std::string_view body) {
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const Route route = routeOf(path);
  if (route == Route::kUnknown) {
    return errorResult(
        apiError(404, "Invalid URL (" + std::string(method) + " " + std::string(path) + ")"));
  }
  const bool get = route == Route::kModels || route == Route::kHealth;
  if (method != (get ? "GET" : "POST")) {
    return errorResult(apiError(405, "Method " + std::string(method) + " not allowed for " +
                                         std::string(path) + "; use " + (get ? "GET" : "POST") +
                                         "."));
  }
  if (route == Route::kHealth) return EngineResult{};
  if (route == Route::kModels) return listModels(ctx);

  // The request DOM lives in one arena freed at once; small bodies never touch the heap for it.
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec, &mr);
  if (ec) {
    return errorResult(
        badRequest("We could not parse the JSON body of your request: " + ec.message() + "."));
  }
  const json::object* req = doc.if_object();
  if (req == nullptr) return errorResult(badRequest("The request body must be a JSON object."));
  switch (route) {
    case Route::kChat:
      return chatCompletions(ctx, *req);
    case Route::kCompletions:
      return completions(ctx, *req);
    case Route::kEmbeddings:
      return embeddings(ctx, *req);
    default:
      return errorResult(ApiError{500, "Internal server error", {}, "InternalServerError", true});
  }
}

}  // namespace

uint32_t countTokens(std::string_view text) {
  uint32_t count = 0;
  bool in_token = false;
  for (unsigned char c : text) {
    const bool space = isSpace(c);
    if (!space && !in_token) ++count;
    in_token = !space;
  }
  return count;
}

LlmEngine::LlmEngine(EngineOptions opts) : opts_(std::move(opts)) {
  std::string_view csv = opts_.served_models_csv;
  while (!csv.empty()) {
    size_t comma = csv.find(',');
    std::string_view item = trim(csv.substr(0, comma));
    if (!item.empty()) served_models_.emplace_back(item);
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
}

EngineResult LlmEngine::handle(std::string_view method, std::string_view path,
                               std::string_view body) const {
  const Context ctx{opts_, served_models_};
  try {
    return handleUnchecked(ctx, method, path, body);
  } catch (const std::exception&) {
    // Boost.JSON accessors and allocation are the only throwers; the caller gets a 500, not a
    // crash.
  } catch (...) {
  }
  try {
    return errorResult(ApiError{500, "Internal server error", {}, "InternalServerError", true});
  } catch (...) {
    EngineResult r;
    r.status = 500;
    return r;
  }
}

}  // namespace tollgate::mock
