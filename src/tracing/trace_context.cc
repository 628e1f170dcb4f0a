#include "tracing/trace_context.h"

#include <random>

namespace tollgate::tracing {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr size_t kTraceIdLen = 32;
constexpr size_t kSpanIdLen = 16;
// "vv-" + trace id + "-" + span id + "-" + "ff"
constexpr size_t kVersion00Len = 2 + 1 + kTraceIdLen + 1 + kSpanIdLen + 1 + 2;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent on purpose (the spec forbids it)
}

bool isLowerHex(std::string_view s) {
  for (char c : s)
    if (hexValue(c) < 0) return false;
  return true;
}

// xoshiro256++: ids are generated on the request path of every event loop, so the generator is
// per thread (no lock), tiny and fast. Ids need to be unique, not secret, so a non-cryptographic
// generator seeded from the OS is what the OpenTelemetry SDKs use too.
class IdRng {
 public:
  IdRng() {
    std::random_device rd;
    uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    // splitmix64 spreads one seed over the four words (xoshiro must not start all zero).
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }

  uint64_t next() {
    uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // A non-zero value: an all-zero id is invalid on the wire.
  uint64_t nextNonZero() {
    uint64_t v;
    do v = next();
    while (v == 0);
    return v;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

IdRng& rng() {
  thread_local IdRng r;
  return r;
}

void appendHex64(std::string& out, uint64_t v) {
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = kHexDigits[v & 0xf];
    v >>= 4;
  }
  out.append(buf, sizeof buf);
}

}  // namespace

bool isValidHexId(std::string_view s, size_t n) {
  if (s.size() != n || !isLowerHex(s)) return false;
  return s.find_first_not_of('0') != std::string_view::npos;
}

std::optional<TraceContext> parseTraceparent(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (h.size() < kVersion00Len) return std::nullopt;

  int v_hi = hexValue(h[0]);
  int v_lo = hexValue(h[1]);
  if (v_hi < 0 || v_lo < 0) return std::nullopt;
  int version = v_hi * 16 + v_lo;
  if (version == 0xff) return std::nullopt;
  // Version 00 has exactly four fields; a later version may append fields after a '-', and we
  // read only the four we know (the spec's forward-compatibility rule).
  if (version == 0 && h.size() != kVersion00Len) return std::nullopt;
  if (version != 0 && h.size() > kVersion00Len && h[kVersion00Len] != '-') return std::nullopt;

  if (h[2] != '-' || h[3 + kTraceIdLen] != '-' || h[4 + kTraceIdLen + kSpanIdLen] != '-')
    return std::nullopt;
  std::string_view trace_id = h.substr(3, kTraceIdLen);
  std::string_view span_id = h.substr(4 + kTraceIdLen, kSpanIdLen);
  std::string_view flags = h.substr(5 + kTraceIdLen + kSpanIdLen, 2);
  if (!isValidHexId(trace_id, kTraceIdLen) || !isValidHexId(span_id, kSpanIdLen) ||
      !isLowerHex(flags)) {
    return std::nullopt;
  }

  TraceContext ctx;
  ctx.trace_id = trace_id;
  ctx.span_id = span_id;
  uint8_t f = static_cast<uint8_t>(hexValue(flags[0]) * 16 + hexValue(flags[1]));
  // Reserved bits must be sent as zero; a later version's other bits may mean something we do
  // not know, so only the sampled bit is trusted there.
  ctx.flags = version == 0 ? (f & (kFlagSampled | kFlagRandomTraceId)) : (f & kFlagSampled);
  return ctx;
}

TraceContext startSpan(const std::optional<TraceContext>& incoming) {
  TraceContext ctx;
  auto& r = rng();
  if (incoming) {
    ctx.trace_id = incoming->trace_id;
    ctx.parent_span_id = incoming->span_id;
    ctx.flags = incoming->flags;
  } else {
    ctx.trace_id.reserve(kTraceIdLen);
    // Either half alone being non-zero keeps the 128-bit id non-zero.
    appendHex64(ctx.trace_id, r.next());
    appendHex64(ctx.trace_id, r.nextNonZero());
    ctx.flags = kFlagSampled;
  }
  ctx.span_id.reserve(kSpanIdLen);
  appendHex64(ctx.span_id, r.nextNonZero());
  return ctx;
}

std::string formatTraceparent(const TraceContext& ctx) {
  std::string out;
  out.reserve(kVersion00Len);
  out += "00-";
  out += ctx.trace_id;
  out += '-';
  out += ctx.span_id;
  out += '-';
  out += kHexDigits[(ctx.flags >> 4) & 0xf];
  out += kHexDigits[ctx.flags & 0xf];
  return out;
}

}  // namespace tollgate::tracing
