// Internal to the CEL cost expressions (cel_*.cc): the tokens of an expression, and the shape
// of every compile error (a message naming the 1-based column).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tollgate::ratelimit::cel {

struct Token {
  enum class Kind : uint8_t { kEnd, kInt, kUint, kDouble, kString, kIdent, kPunct };
  Kind kind = Kind::kEnd;
  uint32_t col = 0;
  std::string_view text;  // as written
  uint64_t u = 0;         // kInt, kUint
  double d = 0;           // kDouble
  std::string str;        // kString, unescaped

  bool is(std::string_view punct) const { return kind == Kind::kPunct && text == punct; }
};

// A token as an error message shows it.
std::string describe(const Token& t);
// Error::client(kBadRequest): "<what> at column <col><tail>".
Error compileError(uint32_t col, std::string_view what, std::string_view tail = {});
// Splits src into tokens ending with a kEnd token; the first error stops it.
std::optional<Error> lex(std::string_view src, std::vector<Token>& out);

}  // namespace tollgate::ratelimit::cel
