// The CEL lexer: numbers, strings with their escapes, identifiers, punctuation, `//` comments.
#include "ratelimit/cel_lexer.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <system_error>
#include <utility>

namespace tollgate::ratelimit::cel {

namespace {

std::string describeChar(char c) {
  auto uc = static_cast<unsigned char>(c);
  if (uc >= 0x20 && uc < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", uc);
  return std::string("byte ") + buf;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
int hexValue(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::optional<Error> run(std::vector<Token>& out) {
    while (true) {
      skipSpaceAndComments();
      Token t;
      t.col = col(i_);
      if (i_ == src_.size()) {
        out.push_back(std::move(t));
        return std::nullopt;
      }
      char c = src_[i_];
      std::optional<Error> err;
      if (isDigit(c) || (c == '.' && i_ + 1 < src_.size() && isDigit(src_[i_ + 1]))) {
        err = lexNumber(t);
      } else if (isIdentStart(c)) {
        size_t start = i_;
        while (i_ < src_.size() && isIdentChar(src_[i_])) ++i_;
        t.kind = Token::Kind::kIdent;
        t.text = src_.substr(start, i_ - start);
      } else if (c == '\'' || c == '"') {
        err = lexString(t);
      } else {
        err = lexPunct(t);
      }
      if (err) return err;
      out.push_back(std::move(t));
    }
  }

 private:
  uint32_t col(size_t i) const { return static_cast<uint32_t>(i + 1); }
  bool at(size_t i, char c) const { return i < src_.size() && src_[i] == c; }

  void skipSpaceAndComments() {
    while (i_ < src_.size()) {
      char c = src_[i_];
      // YAML block scalars bring newlines along.
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++i_;
      } else if (c == '/' && at(i_ + 1, '/')) {
        while (i_ < src_.size() && src_[i_] != '\n') ++i_;
      } else {
        return;
      }
    }
  }

  std::optional<Error> lexNumber(Token& t) {
    size_t start = i_;
    bool overflow = false;
    bool is_double = false;
    if (src_[i_] == '0' && (at(i_ + 1, 'x') || at(i_ + 1, 'X'))) {
      i_ += 2;
      size_t digits = i_;
      while (i_ < src_.size() && hexValue(src_[i_]) >= 0) {
        if (t.u > (std::numeric_limits<uint64_t>::max() >> 4)) overflow = true;
        t.u = (t.u << 4) | static_cast<uint64_t>(hexValue(src_[i_]));
        ++i_;
      }
      if (i_ == digits) return compileError(t.col, "malformed hex literal");
    } else {
      while (i_ < src_.size() && isDigit(src_[i_])) ++i_;
      if (at(i_, '.') && i_ + 1 < src_.size() && isDigit(src_[i_ + 1])) {
        is_double = true;
        ++i_;
        while (i_ < src_.size() && isDigit(src_[i_])) ++i_;
      }
      if (at(i_, 'e') || at(i_, 'E')) {
        size_t j = i_ + 1;
        if (at(j, '+') || at(j, '-')) ++j;
        if (j >= src_.size() || !isDigit(src_[j])) {
          return compileError(col(i_), "malformed exponent in number");
        }
        is_double = true;
        i_ = j;
        while (i_ < src_.size() && isDigit(src_[i_])) ++i_;
      }
      if (is_double) {
        auto [end, ec] = std::from_chars(src_.data() + start, src_.data() + i_, t.d);
        if (ec == std::errc::result_out_of_range) {
          return compileError(t.col, "double literal out of range");
        }
        if (ec != std::errc() || end != src_.data() + i_) {
          return compileError(t.col, "malformed number");
        }
      } else {
        for (size_t k = start; k < i_; ++k) {
          auto digit = static_cast<uint64_t>(src_[k] - '0');
          if (t.u > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
          t.u = t.u * 10 + digit;
        }
      }
    }
    t.kind = is_double ? Token::Kind::kDouble : Token::Kind::kInt;
    if (!is_double && (at(i_, 'u') || at(i_, 'U'))) {
      ++i_;
      t.kind = Token::Kind::kUint;
    }
    t.text = src_.substr(start, i_ - start);
    if (i_ < src_.size() && isIdentChar(src_[i_])) {
      while (i_ < src_.size() && isIdentChar(src_[i_])) ++i_;
      return compileError(t.col,
                          "malformed number '" + std::string(src_.substr(start, i_ - start)) + "'");
    }
    if (overflow) return compileError(t.col, "integer literal out of range");
    return std::nullopt;
  }

  std::optional<Error> lexString(Token& t) {
    size_t start = i_;
    char quote = src_[i_++];
    while (true) {
      // CEL's single-quoted strings do not span lines either.
      if (i_ >= src_.size() || src_[i_] == '\n' || src_[i_] == '\r') {
        return compileError(t.col, "unterminated string");
      }
      char c = src_[i_];
      if (c == quote) {
        ++i_;
        break;
      }
      if (c != '\\') {
        t.str += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= src_.size()) return compileError(t.col, "unterminated string");
      switch (src_[i_ + 1]) {
        case '\\':
          t.str += '\\';
          break;
        case '\'':
          t.str += '\'';
          break;
        case '"':
          t.str += '"';
          break;
        case '`':
          t.str += '`';
          break;
        case 'n':
          t.str += '\n';
          break;
        case 'r':
          t.str += '\r';
          break;
        case 't':
          t.str += '\t';
          break;
        default:
          return compileError(col(i_),
                              "unsupported escape " + describeChar(src_[i_ + 1]) + " in string",
                              "; supported: \\\\ \\' \\\" \\` \\n \\r \\t");
      }
      i_ += 2;
    }
    t.kind = Token::Kind::kString;
    t.text = src_.substr(start, i_ - start);
    return std::nullopt;
  }

  std::optional<Error> lexPunct(Token& t) {
    static constexpr std::string_view kTwo[] = {"<=", ">=", "==", "!=", "&&", "||"};
    static constexpr std::string_view kOne = "()?:+-*/%!<>,";
    t.kind = Token::Kind::kPunct;
    for (std::string_view two : kTwo) {
      if (src_.substr(i_, 2) == two) {
        t.text = src_.substr(i_, 2);
        i_ += 2;
        return std::nullopt;
      }
    }
    char c = src_[i_];
    if (kOne.find(c) != std::string_view::npos) {
      t.text = src_.substr(i_++, 1);
      return std::nullopt;
    }
    switch (c) {
      case '=':
        return compileError(t.col, "unexpected '='", "; did you mean '=='?");
      case '&':
        return compileError(t.col, "unexpected '&'", "; did you mean '&&'?");
      case '|':
        return compileError(t.col, "unexpected '|'", "; did you mean '||'?");
      case '.':
        return compileError(t.col, "unexpected '.'",
                            "; member access and methods are not supported");
      case '[':
      case '{':
        return compileError(t.col, "unexpected " + describeChar(c),
                            "; lists and maps are "
                            "not supported");
      default:
        return compileError(t.col, "unexpected character " + describeChar(c));
    }
  }

  std::string_view src_;
  size_t i_ = 0;
};

}  // namespace

std::string describe(const Token& t) {
  if (t.kind == Token::Kind::kEnd) return "end of expression";
  constexpr size_t kShown = 32;
  if (t.text.size() > kShown) return "'" + std::string(t.text.substr(0, kShown)) + "...'";
  return "'" + std::string(t.text) + "'";
}

Error compileError(uint32_t col, std::string_view what, std::string_view tail) {
  std::string msg(what);
  msg += " at column ";
  msg += std::to_string(col);
  msg += tail;
  return Error::client(ErrorCode::kBadRequest, std::move(msg));
}

std::optional<Error> lex(std::string_view src, std::vector<Token>& out) {
  return Lexer(src).run(out);
}

}  // namespace tollgate::ratelimit::cel
