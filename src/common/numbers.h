// Number parsing shared across modules.
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

namespace tollgate {

// Parses all of s as a decimal integer of type T (std::from_chars: no spaces, no '+'). false when
// s is empty, malformed or out of T's range; out is then unspecified.
template <typename T>
bool parseDecimal(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace tollgate
