// The AWS event-stream decoder that reads every Bedrock stream. Checks: the decoder never reads
// past its input; pieces of any size decode to the same messages as the whole body; and every
// message it accepts re-encodes to exactly the bytes it came from.
// Input: byte 0 seeds the cuts (and bit 7 a small max message size), the rest is the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "providers/formats/event_stream.h"

namespace es = tollgate::providers::formats;

namespace {

struct Decoded {
  std::vector<std::string> encoded;  // each message re-encoded from its decoded form
  bool failed = false;
  std::string error;
  size_t buffered = 0;
};

Decoded decode(std::string_view input, uint32_t seed, uint32_t max_size) {
  Decoded d;
  es::EventStreamDecoder decoder(
      [&](const es::Message& m) {
        std::string again;
        if (!es::encodeMessage(m.headers, m.payload, again)) std::abort();
        // The single-message API must agree with the incremental decoder.
        es::Message single;
        if (!es::decodeMessage(again, single, max_size).empty()) std::abort();
        if (single.headers.size() != m.headers.size() || single.payload != m.payload) std::abort();
        d.encoded.push_back(std::move(again));
      },
      max_size);
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = input.size() - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (seed >> 16) % 48);
    }
    const std::string piece(input.substr(pos, n));  // exact-size heap copy for ASan
    if (!decoder.feed(piece)) break;
    pos += n;
  }
  d.failed = decoder.failed();
  d.error = decoder.error();
  d.buffered = decoder.bufferedBytes();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const uint32_t max_size = (data[0] & 0x80) ? 64 : es::EventStreamDecoder::kDefaultMaxMessageSize;
  const Decoded whole = decode(input, 0, max_size);
  const Decoded cut = decode(input, data[0] | 1u, max_size);
  if (whole.encoded != cut.encoded || whole.failed != cut.failed || whole.error != cut.error) {
    std::abort();
  }
  // Accepted messages are the input's prefix, byte for byte.
  size_t pos = 0;
  for (const auto& m : whole.encoded) {
    if (input.substr(pos, m.size()) != m) std::abort();
    pos += m.size();
  }
  if (!whole.failed && pos + whole.buffered != input.size()) std::abort();
  return 0;
}
