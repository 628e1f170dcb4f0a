// The value syntaxes of Kubernetes and Gateway API fields (durations, quantities), declared in
// model.h for tests and the command line.

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "config/model.h"

namespace tollgate::config {

std::optional<uint64_t> parseDurationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t total = 0;
  int parts = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    const size_t digits = i - start;
    if (digits == 0 || digits > 5 || ++parts > 4) return std::nullopt;
    uint64_t value = 0;
    std::from_chars(text.data() + start, text.data() + i, value);
    uint64_t unit_ms = 0;
    if (text.substr(i, 2) == "ms") {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 3600 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else {
      return std::nullopt;
    }
    total += value * unit_ms;  // at most 4 * 99999h: far from overflowing
  }
  return total;
}

std::optional<uint64_t> parseQuantityBytes(std::string_view text) {
  // Grammar (k8s.io/apimachinery resource.Quantity): [+]digits[.digits] then a binary suffix
  // (Ki..Ei), a decimal one (m, k, M..E) or an exponent (e3, E-2). Exact arithmetic on 128 bits;
  // a fraction of a byte rounds up, as Quantity.Value() does.
  using U128 = unsigned __int128;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::string digits;  // without leading zeros
  int fraction_digits = 0;
  bool seen_digit = false;
  bool seen_dot = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (!(digits.empty() && c == '0')) digits += c;
      if (seen_dot) ++fraction_digits;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!seen_digit || digits.size() > 36) return std::nullopt;
  U128 value = 0;
  for (const char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');

  const std::string_view suffix = text.substr(i);
  int exponent10 = 0;
  int shift = 0;
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    const size_t pos = std::string_view("KMGTPE").find(suffix[0]);
    if (pos == std::string_view::npos) return std::nullopt;
    shift = 10 * static_cast<int>(pos + 1);
  } else if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view exponent = suffix.substr(1);
    if (!exponent.empty() && exponent.front() == '+') exponent.remove_prefix(1);
    const auto [end, ec] =
        std::from_chars(exponent.data(), exponent.data() + exponent.size(), exponent10);
    if (exponent.empty() || ec != std::errc() || end != exponent.data() + exponent.size() ||
        exponent10 > 1000 || exponent10 < -1000) {
      return std::nullopt;
    }
  } else if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'm':
        exponent10 = -3;
        break;
      case 'k':
        exponent10 = 3;
        break;
      case 'M':
        exponent10 = 6;
        break;
      case 'G':
        exponent10 = 9;
        break;
      case 'T':
        exponent10 = 12;
        break;
      case 'P':
        exponent10 = 15;
        break;
      case 'E':
        exponent10 = 18;
        break;
      default:
        return std::nullopt;
    }
  } else {
    return std::nullopt;
  }

  constexpr U128 kMax = ~U128{0};
  if (shift > 0) {
    if (value > (kMax >> shift)) return std::nullopt;
    value <<= shift;
  }
  int scale = exponent10 - fraction_digits;
  for (; scale > 0; --scale) {
    if (value > kMax / 10) return std::nullopt;
    value *= 10;
  }
  if (scale < 0) {
    if (scale < -38) {
      value = value != 0 ? 1 : 0;
    } else {
      U128 divisor = 1;
      for (; scale < 0; ++scale) divisor *= 10;
      value = value / divisor + (value % divisor != 0 ? 1 : 0);
    }
  }
  if (value > std::numeric_limits<uint64_t>::max()) return std::nullopt;
  return static_cast<uint64_t>(value);
}

}  // namespace tollgate::config
