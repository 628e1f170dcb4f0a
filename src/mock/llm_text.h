// Internal to the mock engine (llm_*.cc): its deterministic text and numbers (the same prompt
// always gets the same reply), the token rule, and the small formatting helpers the endpoints
// write them with. Pure functions; randomHex keeps per-thread state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::mock::engine {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;

uint64_t fnv1a(std::string_view bytes, uint64_t hash = kFnvOffset);
// Token ids are hashed 8 bytes little-endian so the seed does not depend on the host's byte order.
uint64_t fnv1aU64(uint64_t value, uint64_t hash);
// splitmix64: turns one hash into a stream of well-mixed numbers (FNV alone is poorly mixed in its
// low bits, which pick the words).
uint64_t nextRandom(uint64_t& state);

// 64 plain ASCII words: none needs JSON escaping, which the stream writer relies on.
inline constexpr std::array<std::string_view, 64> kVocabulary = {
    "the",    "a",      "gateway", "model",  "token",   "request",  "stream",   "quietly",
    "routes", "every",  "budget",  "fast",   "reply",   "server",   "mock",     "answer",
    "with",   "and",    "of",      "to",     "latency", "upstream", "client",   "limit",
    "window", "counts", "each",    "word",   "simple",  "steady",   "bright",   "river",
    "cloud",  "signal", "packet",  "metric", "queue",   "batch",    "prompt",   "bucket",
    "policy", "route",  "backend", "header", "usage",   "cache",    "thread",   "socket",
    "event",  "chunk",  "vector",  "number", "little",  "careful",  "honest",   "clear",
    "green",  "north",  "morning", "light",  "returns", "keeps",    "measures", "finishes"};

inline constexpr uint32_t kMaxReplyWords = 40;

inline bool isSpace(unsigned char c) {
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

uint32_t tokenId(std::string_view token);

// One generated answer: indices into kVocabulary, so generating allocates nothing.
struct Reply {
  std::array<uint8_t, kMaxReplyWords> words{};
  uint32_t count = 0;
  bool truncated = false;  // max_tokens cut it: finish_reason "length"

  std::string_view word(uint32_t i) const { return kVocabulary[words[i]]; }
  std::string_view finishReason() const { return truncated ? "length" : "stop"; }
};

Reply generateReply(uint64_t seed, uint64_t max_tokens);
// Choice 0 uses the prompt's own seed so that n=1 and the first of n>1 answer alike.
uint64_t choiceSeed(uint64_t seed, uint32_t choice);
std::string replyText(const Reply& reply);

// ---- formatting ----

void appendUint(std::string& out, uint64_t v);
uint64_t nowSeconds();
// 32 hex digits like vLLM's uuid4().hex. Per-thread state: no lock or shared cache line between
// server threads.
std::string randomHex();
// s as a JSON string literal.
std::string quoted(std::string_view s);

}  // namespace tollgate::mock::engine
