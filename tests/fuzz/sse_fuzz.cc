// The incremental SSE parser that reads every upstream stream. Differential: the events found
// when the bytes arrive in pseudo-random pieces must be exactly those found when they arrive at
// once, with the same raw bytes, and the raw bytes plus what is pending must be the input.
// Input: byte 0 seeds the cuts, the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/sse.h"

namespace {

struct Seen {
  std::string raw, event, data;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> parse(std::string_view input, uint32_t seed, std::string& pending) {
  tollgate::api::SseParser parser;
  std::vector<Seen> events;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = input.size() - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (seed >> 16) % 16);
    }
    const std::string piece(input.substr(pos, n));  // exact-size heap copy for ASan
    parser.feed(piece, [&](const tollgate::api::SseEvent& ev) {
      events.push_back({std::string(ev.raw), std::string(ev.event), std::string(ev.data)});
    });
    pos += n;
  }
  pending = std::string(parser.pending());
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string pending_whole, pending_cut;
  const auto whole = parse(input, 0, pending_whole);
  const auto cut = parse(input, data[0] | 1u, pending_cut);
  if (whole != cut || pending_whole != pending_cut) std::abort();
  std::string joined;
  for (const auto& e : whole) joined += e.raw;
  joined += pending_whole;
  if (joined != input) std::abort();
  return 0;
}
