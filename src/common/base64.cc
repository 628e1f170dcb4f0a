#include "common/base64.h"

#include <array>
#include <cstdint>

namespace tollgate {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kWhitespace = " \t\r\n";

// int16_t rather than a signed char: the decoder ORs entries together and tests the sign (-1 =
// not a base64 character), arithmetic on numbers, not on characters.
constexpr std::array<int16_t, 256> makeTable() {
  std::array<int16_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int16_t>(i);
  return t;
}
constexpr auto kTable = makeTable();

// The decoder proper, on input without whitespace.
bool decodeCompact(std::string_view in, std::string& out) {
  size_t len = in.size();
  size_t pad = 0;
  while (len > 0 && in[len - 1] == '=' && pad < 2) {
    --len;
    ++pad;
  }
  if (pad > 0 && in.size() % 4 != 0) return false;
  if (len % 4 == 1) return false;
  // Four characters to three bytes at a time into space sized up front: this runs for each byte
  // a Bedrock stream carries.
  const size_t start = out.size();
  const size_t full = len / 4;
  const size_t tail = len % 4;  // 0, 2 or 3 characters left
  out.resize(start + full * 3 + (tail == 0 ? 0 : tail - 1));
  char* dst = out.data() + start;
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  int bad = 0;  // any negative table entry makes it negative
  for (size_t i = 0; i < full; ++i, src += 4, dst += 3) {
    const int a = kTable[src[0]], b = kTable[src[1]], c = kTable[src[2]], d = kTable[src[3]];
    bad |= a | b | c | d;
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    dst[0] = static_cast<char>(v >> 16);
    dst[1] = static_cast<char>(v >> 8);
    dst[2] = static_cast<char>(v);
  }
  if (tail >= 2) {
    const int a = kTable[src[0]], b = kTable[src[1]], c = tail == 3 ? kTable[src[2]] : 0;
    bad |= a | b | c;
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6);
    dst[0] = static_cast<char>(v >> 16);
    if (tail == 3) dst[1] = static_cast<char>(v >> 8);
  }
  if (bad < 0) {
    out.resize(start);
    return false;
  }
  return true;
}

}  // namespace

bool base64Decode(std::string_view in, std::string& out, Base64Whitespace whitespace) {
  if (whitespace == Base64Whitespace::kReject || in.find_first_of(kWhitespace) == in.npos) {
    return decodeCompact(in, out);
  }
  // Whitespace carries no meaning, so the lenient form is the strict one without it: padding
  // split by a line break still completes its group, and data after padding is still an error.
  std::string compact;
  compact.reserve(in.size());
  for (const char c : in) {
    if (kWhitespace.find(c) == kWhitespace.npos) compact.push_back(c);
  }
  return decodeCompact(compact, out);
}

void base64Encode(std::string_view in, std::string& out) {
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest == 0) return;
  uint32_t v = uint32_t{p[i]} << 16;
  if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
  out.push_back(kAlphabet[v >> 18]);
  out.push_back(kAlphabet[(v >> 12) & 63]);
  out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
  out.push_back('=');
}

}  // namespace tollgate
