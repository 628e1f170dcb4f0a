#include "mock/llm_text.h"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "mock/llm_engine.h"

namespace tollgate::mock {

namespace engine {

namespace json = boost::json;

namespace {

constexpr uint32_t kMinReplyWords = 8;
// Qwen3's vocabulary size, so generated token ids look like a real tokenizer's.
constexpr uint32_t kVocabSize = 151936;

constexpr uint64_t kFnvPrime = 1099511628211ull;

}  // namespace

uint64_t fnv1a(std::string_view bytes, uint64_t hash) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t fnv1aU64(uint64_t value, uint64_t hash) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t nextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t tokenId(std::string_view token) {
  return static_cast<uint32_t>(fnv1a(token) % kVocabSize);
}

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

}  // namespace engine

// The token rule (docs/mock-llm.md): maximal runs of non-whitespace, as engine::forEachToken.
uint32_t countTokens(std::string_view text) {
  uint32_t count = 0;
  bool in_token = false;
  for (unsigned char c : text) {
    const bool space = engine::isSpace(c);
    if (!space && !in_token) ++count;
    in_token = !space;
  }
  return count;
}

}  // namespace tollgate::mock
