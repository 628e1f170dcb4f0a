#include "ratelimit/cel.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <system_error>
#include <vector>

namespace tollgate::ratelimit {
namespace {

// Every value's type is known at compile time, so the bytecode is typed and a stack slot needs no
// tag: the compiler picks the opcode for the operand types and inserts conversions.
enum class Type : uint8_t { kInt, kUint, kDouble, kBool, kString };

std::string_view typeName(Type t) {
  switch (t) {
    case Type::kInt:
      return "int";
    case Type::kUint:
      return "uint";
    case Type::kDouble:
      return "double";
    case Type::kBool:
      return "bool";
    case Type::kString:
      return "string";
  }
  return "?";
}

bool isNumeric(Type t) { return t == Type::kInt || t == Type::kUint || t == Type::kDouble; }

// Strings are never built at run time, only read, so a string slot holds an id instead of a view:
// that keeps a slot at 8 bytes. 0 is the model, 1 the backend, 2 + i the i-th literal.
union Slot {
  int64_t i;
  uint64_t u;
  double d;
  bool b;
  uint32_t str;
};
static_assert(sizeof(Slot) == 8);

constexpr uint32_t kModelStr = 0;
constexpr uint32_t kBackendStr = 1;
constexpr uint32_t kFirstLiteralStr = 2;

enum class Op : uint8_t {
  kPush,   // imm
  kLoadU,  // arg indexes kTokenFields
  kLoadS,  // arg is kModelStr or kBackendStr
  kNegI,
  kNegD,
  kNot,
  kAddI,
  kSubI,
  kMulI,
  kDivI,
  kModI,
  kAddU,
  kSubU,
  kMulU,
  kDivU,
  kModU,
  kAddD,
  kSubD,
  kMulD,
  kDivD,
  // Comparisons: arg is a Rel. IU has an int on the left and a uint on the right; UI the reverse.
  kCmpI,
  kCmpU,
  kCmpD,
  kCmpB,
  kCmpS,
  kCmpIU,
  kCmpUI,
  // Conversions rewrite the slot `arg` places below the top, so that a left operand can be
  // promoted after its right operand has been pushed.
  kU2I,
  kI2U,
  kI2D,
  kU2D,
  kD2I,
  kD2U,
  // Jumps: imm.u is the target index.
  kJump,
  kJumpIfFalse,  // pops the condition
  kAndJump,      // top false: jump, keeping it as the result; else pop it
  kOrJump,       // top true: jump, keeping it as the result; else pop it
};

enum class Rel : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct Instr {
  Op op = Op::kJump;
  uint8_t arg = 0;
  uint32_t col = 0;  // 1-based source column, for evaluation errors
  Slot imm{};
};

struct Var {
  std::string_view name;
  Type type;
  uint8_t index;
};
constexpr Var kVars[] = {
    {"model", Type::kString, kModelStr},
    {"backend", Type::kString, kBackendStr},
    {"input_tokens", Type::kUint, 0},
    {"cached_input_tokens", Type::kUint, 1},
    {"output_tokens", Type::kUint, 2},
    {"total_tokens", Type::kUint, 3},
    {"cached_write_input_tokens", Type::kUint, 4},
};
constexpr uint64_t CelInputs::*kTokenFields[] = {
    &CelInputs::input_tokens, &CelInputs::cached_input_tokens,       &CelInputs::output_tokens,
    &CelInputs::total_tokens, &CelInputs::cached_write_input_tokens,
};
constexpr std::string_view kKnownVars =
    "; known: model, backend, input_tokens, cached_input_tokens, output_tokens, total_tokens, "
    "cached_write_input_tokens";
constexpr std::string_view kKnownFunctions = "; known: int, uint, double";

// Per nesting level at most three operands wait on the stack (relation, addition and
// multiplication left sides; `&&`, `||` and `?:` pop theirs before going on), so 3 * 65 + 1
// slots suffice. The compiler still checks, so the evaluator never has to.
constexpr size_t kMaxStack = 256;

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

enum class Fault : uint8_t {
  kNone,
  kDivZero,
  kModZero,
  kOverflow,  // of the instruction's operator or conversion
  kNegative,  // final value below zero
  kNotFinite,
  kTooLarge,  // final value at or above 2^64
};

std::string formatDouble(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string describeChar(char c) {
  auto uc = static_cast<unsigned char>(c);
  if (uc >= 0x20 && uc < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", uc);
  return std::string("byte ") + buf;
}

Error compileError(uint32_t col, std::string_view what, std::string_view tail = {}) {
  std::string msg(what);
  msg += " at column ";
  msg += std::to_string(col);
  msg += tail;
  return Error::client(ErrorCode::kBadRequest, std::move(msg));
}

// ---------------------------------------------------------------------------------------------
// Tokens

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

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
int hexValue(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string describe(const Token& t) {
  if (t.kind == Token::Kind::kEnd) return "end of expression";
  constexpr size_t kShown = 32;
  if (t.text.size() > kShown) return "'" + std::string(t.text.substr(0, kShown)) + "...'";
  return "'" + std::string(t.text) + "'";
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

// ---------------------------------------------------------------------------------------------
// Compiled code

struct Code {
  std::string source;
  std::vector<Instr> instrs;
  std::vector<std::string> literals;  // string id kFirstLiteralStr + i
  Type result = Type::kInt;
};

struct Outcome {
  Fault fault = Fault::kNone;
  size_t pc = 0;  // the failing instruction, when fault names one
  Slot value{};   // the cost, or the offending final value
};

template <typename T>
bool compare(Rel r, T x, T y) {
  switch (r) {
    case Rel::kEq:
      return x == y;
    case Rel::kNe:
      return x != y;
    case Rel::kLt:
      return x < y;
    case Rel::kLe:
      return x <= y;
    case Rel::kGt:
      return x > y;
    case Rel::kGe:
      return x >= y;
  }
  return false;
}

// Exact int-versus-uint ordering: every negative int is below every uint.
bool compareIntUint(Rel r, int64_t i, uint64_t u) {
  if (i < 0) return compare<int>(r, -1, 0);
  return compare<uint64_t>(r, static_cast<uint64_t>(i), u);
}

Outcome fail(Fault f, size_t pc) {
  Outcome o;
  o.fault = f;
  o.pc = pc;
  return o;
}

// The hot path: no allocation, no recursion, a fixed stack that the compiler proved big enough.
Outcome execute(const Code& code, const CelInputs& in) {
  std::array<Slot, kMaxStack> stack;  // NOLINT: every slot is written before it is read
  size_t sp = 0;
  const Instr* instrs = code.instrs.data();
  const size_t n = code.instrs.size();
  auto str = [&](uint32_t id) -> std::string_view {
    if (id == kModelStr) return in.model;
    if (id == kBackendStr) return in.backend;
    return code.literals[id - kFirstLiteralStr];
  };
  size_t pc = 0;
  while (pc < n) {
    const Instr& ins = instrs[pc];
    switch (ins.op) {
      case Op::kPush:
        stack[sp++] = ins.imm;
        break;
      case Op::kLoadU:
        stack[sp++].u = in.*kTokenFields[ins.arg];
        break;
      case Op::kLoadS:
        stack[sp++].str = ins.arg;
        break;
      case Op::kNegI: {
        Slot& a = stack[sp - 1];
        if (a.i == std::numeric_limits<int64_t>::min()) return fail(Fault::kOverflow, pc);
        a.i = -a.i;
        break;
      }
      case Op::kNegD:
        stack[sp - 1].d = -stack[sp - 1].d;
        break;
      case Op::kNot:
        stack[sp - 1].b = !stack[sp - 1].b;
        break;
      case Op::kAddI:
      case Op::kSubI:
      case Op::kMulI:
      case Op::kDivI:
      case Op::kModI: {
        int64_t b = stack[--sp].i;
        int64_t& a = stack[sp - 1].i;
        bool overflow = false;
        if (ins.op == Op::kAddI) {
          overflow = __builtin_add_overflow(a, b, &a);
        } else if (ins.op == Op::kSubI) {
          overflow = __builtin_sub_overflow(a, b, &a);
        } else if (ins.op == Op::kMulI) {
          overflow = __builtin_mul_overflow(a, b, &a);
        } else {
          if (b == 0) return fail(ins.op == Op::kDivI ? Fault::kDivZero : Fault::kModZero, pc);
          // INT64_MIN / -1 does not fit, and INT64_MIN % -1 is undefined in C++.
          if (b == -1 && a == std::numeric_limits<int64_t>::min())
            overflow = true;
          else
            a = ins.op == Op::kDivI ? a / b : a % b;
        }
        if (overflow) return fail(Fault::kOverflow, pc);
        break;
      }
      case Op::kAddU:
      case Op::kSubU:
      case Op::kMulU:
      case Op::kDivU:
      case Op::kModU: {
        uint64_t b = stack[--sp].u;
        uint64_t& a = stack[sp - 1].u;
        bool overflow = false;
        if (ins.op == Op::kAddU) {
          overflow = __builtin_add_overflow(a, b, &a);
        } else if (ins.op == Op::kSubU) {
          overflow = __builtin_sub_overflow(a, b, &a);
        } else if (ins.op == Op::kMulU) {
          overflow = __builtin_mul_overflow(a, b, &a);
        } else {
          if (b == 0) return fail(ins.op == Op::kDivU ? Fault::kDivZero : Fault::kModZero, pc);
          a = ins.op == Op::kDivU ? a / b : a % b;
        }
        if (overflow) return fail(Fault::kOverflow, pc);
        break;
      }
      // Doubles follow IEEE 754 as CEL does (x / 0.0 is an infinity); a non-finite value only
      // fails when converted or when it is the result.
      case Op::kAddD:
        --sp;
        stack[sp - 1].d += stack[sp].d;
        break;
      case Op::kSubD:
        --sp;
        stack[sp - 1].d -= stack[sp].d;
        break;
      case Op::kMulD:
        --sp;
        stack[sp - 1].d *= stack[sp].d;
        break;
      case Op::kDivD:
        --sp;
        stack[sp - 1].d /= stack[sp].d;
        break;
      case Op::kCmpI:
      case Op::kCmpU:
      case Op::kCmpD:
      case Op::kCmpB:
      case Op::kCmpS:
      case Op::kCmpIU:
      case Op::kCmpUI: {
        Slot b = stack[--sp];
        Slot& a = stack[sp - 1];
        auto r = static_cast<Rel>(ins.arg);
        bool v = false;
        switch (ins.op) {
          case Op::kCmpI:
            v = compare(r, a.i, b.i);
            break;
          case Op::kCmpU:
            v = compare(r, a.u, b.u);
            break;
          case Op::kCmpD:
            v = compare(r, a.d, b.d);
            break;
          case Op::kCmpB:
            v = compare(r, a.b, b.b);
            break;
          case Op::kCmpS:
            v = compare(r, str(a.str), str(b.str));
            break;
          case Op::kCmpIU:
            v = compareIntUint(r, a.i, b.u);
            break;
          default: {
            // uint on the left: flip the relation by swapping the roles.
            static constexpr Rel kFlip[] = {Rel::kEq, Rel::kNe, Rel::kGt,
                                            Rel::kGe, Rel::kLt, Rel::kLe};
            v = compareIntUint(kFlip[ins.arg], b.i, a.u);
            break;
          }
        }
        a.b = v;
        break;
      }
      case Op::kU2I: {
        Slot& v = stack[sp - 1 - ins.arg];
        if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return fail(Fault::kOverflow, pc);
        }
        v.i = static_cast<int64_t>(v.u);
        break;
      }
      case Op::kI2U: {
        Slot& v = stack[sp - 1 - ins.arg];
        if (v.i < 0) return fail(Fault::kOverflow, pc);
        v.u = static_cast<uint64_t>(v.i);
        break;
      }
      case Op::kI2D: {
        Slot& v = stack[sp - 1 - ins.arg];
        v.d = static_cast<double>(v.i);
        break;
      }
      case Op::kU2D: {
        Slot& v = stack[sp - 1 - ins.arg];
        v.d = static_cast<double>(v.u);
        break;
      }
      case Op::kD2I: {
        Slot& v = stack[sp - 1 - ins.arg];
        // Written so that NaN fails too.
        if (!(v.d >= -kTwoTo63 && v.d < kTwoTo63)) return fail(Fault::kOverflow, pc);
        v.i = static_cast<int64_t>(v.d);
        break;
      }
      case Op::kD2U: {
        Slot& v = stack[sp - 1 - ins.arg];
        if (!(v.d >= 0 && v.d < kTwoTo64)) return fail(Fault::kOverflow, pc);
        v.u = static_cast<uint64_t>(v.d);
        break;
      }
      case Op::kJump:
        pc = ins.imm.u;
        continue;
      case Op::kJumpIfFalse:
        if (!stack[--sp].b) {
          pc = ins.imm.u;
          continue;
        }
        break;
      case Op::kAndJump:
        if (!stack[sp - 1].b) {
          pc = ins.imm.u;
          continue;
        }
        --sp;
        break;
      case Op::kOrJump:
        if (stack[sp - 1].b) {
          pc = ins.imm.u;
          continue;
        }
        --sp;
        break;
    }
    ++pc;
  }

  Outcome o;
  o.value = stack[0];
  switch (code.result) {
    case Type::kUint:
      break;
    case Type::kInt:
      if (o.value.i < 0)
        o.fault = Fault::kNegative;
      else
        o.value.u = static_cast<uint64_t>(o.value.i);
      break;
    case Type::kDouble: {
      double d = o.value.d;
      if (!std::isfinite(d)) {
        o.fault = Fault::kNotFinite;
      } else if (d < 0) {
        o.fault = Fault::kNegative;
      } else if (d >= kTwoTo64) {
        o.fault = Fault::kTooLarge;
      } else {
        o.value.u = static_cast<uint64_t>(d);  // truncates toward zero
      }
      break;
    }
    case Type::kBool:
    case Type::kString:
      o.fault = Fault::kNotFinite;
      break;  // the compiler rejects these
  }
  return o;
}

std::string_view opSymbol(Op op) {
  switch (op) {
    case Op::kNegI:
      return "unary '-'";
    case Op::kAddI:
    case Op::kAddU:
      return "'+'";
    case Op::kSubI:
    case Op::kSubU:
      return "'-'";
    case Op::kMulI:
    case Op::kMulU:
      return "'*'";
    case Op::kDivI:
      return "'/'";
    case Op::kModI:
      return "'%'";
    default:
      return "?";
  }
}

// The final value's faults belong to the whole expression, not to one operator.
bool isResultFault(Fault f) {
  return f == Fault::kNegative || f == Fault::kNotFinite || f == Fault::kTooLarge;
}

// Why an evaluation failed, with the column when an instruction is to blame. Only built on
// failure, so it may allocate.
std::string faultMessage(const Code& code, const Outcome& o) {
  const Instr* ins = isResultFault(o.fault) ? nullptr : &code.instrs[o.pc];
  std::string msg;
  switch (o.fault) {
    case Fault::kNone:
      return "no error";
    case Fault::kDivZero:
      msg = "division by zero";
      break;
    case Fault::kModZero:
      msg = "modulus by zero";
      break;
    case Fault::kOverflow:
      switch (ins->op) {
        case Op::kU2I:
          msg = "uint value too large for int";
          break;
        case Op::kI2U:
          msg = "negative int converted to uint";
          break;
        case Op::kD2I:
          msg = "double value NaN or out of int range";
          break;
        case Op::kD2U:
          msg = "double value negative, NaN or out of uint range";
          break;
        case Op::kAddU:
        case Op::kSubU:
        case Op::kMulU:
          msg = "unsigned integer overflow in " + std::string(opSymbol(ins->op));
          break;
        default:
          msg = "integer overflow in " + std::string(opSymbol(ins->op));
          break;
      }
      break;
    case Fault::kNegative:
      msg = "result is negative (";
      msg += code.result == Type::kInt ? std::to_string(o.value.i) : formatDouble(o.value.d);
      msg += ")";
      break;
    case Fault::kNotFinite:
      msg = "result is not a finite number (" + formatDouble(o.value.d) + ")";
      break;
    case Fault::kTooLarge:
      msg = "result is too large for uint64 (" + formatDouble(o.value.d) + ")";
      break;
  }
  if (ins != nullptr) msg += " at column " + std::to_string(ins->col);
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Compiler: recursive descent over CEL's grammar, type-checking and emitting postfix bytecode in
// the same pass (an operator's operands are always emitted before it).

class Compiler {
 public:
  Compiler(const std::vector<Token>& toks, Code& code) : toks_(toks), code_(code) {}

  std::optional<Error> compile() {
    Type t;
    if (!parseExpr(t)) return err_ ? std::move(err_) : compileError(1, "malformed expression");
    if (peek().kind != Token::Kind::kEnd) {
      return compileError(peek().col, "unexpected " + describe(peek()),
                          "; expected an operator or the end of the expression");
    }
    if (!isNumeric(t)) {
      return compileError(1,
                          "the expression must produce a number, got " + std::string(typeName(t)));
    }
    if (max_sp_ > kMaxStack) return compileError(1, "expression too complex");
    code_.result = t;
    return std::nullopt;
  }

  bool readsVariables() const { return reads_vars_; }

 private:
  const Token& peek() const { return toks_[pos_]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (t.kind != Token::Kind::kEnd) ++pos_;
    return t;
  }

  bool fail(uint32_t col, std::string_view what, std::string_view tail = {}) {
    if (!err_) err_ = compileError(col, what, tail);
    return false;
  }

  // Bounds recursion, so hostile input cannot exhaust the stack at config load.
  bool enter(uint32_t col) {
    if (++depth_ > CelProgram::kMaxNesting) {
      return fail(col, "expression nests deeper than " + std::to_string(CelProgram::kMaxNesting));
    }
    return true;
  }
  void leave() { --depth_; }

  size_t emit(Op op, uint32_t col, uint8_t arg = 0, Slot imm = Slot{}) {
    code_.instrs.push_back(Instr{op, arg, col, imm});
    return code_.instrs.size() - 1;
  }
  void pushed() {
    ++sp_;
    if (sp_ > max_sp_) max_sp_ = sp_;
  }
  void popped() { --sp_; }
  void patchJump(size_t at) { code_.instrs[at].imm.u = code_.instrs.size(); }

  // The lenient promotion for mixed numeric operands (see cel.h).
  static std::optional<Type> unify(Type a, Type b) {
    if (a == b) return a;
    if (!isNumeric(a) || !isNumeric(b)) return std::nullopt;
    if (a == Type::kDouble || b == Type::kDouble) return Type::kDouble;
    return Type::kInt;
  }

  static std::optional<Op> conversion(Type from, Type to) {
    if (from == to) return std::nullopt;
    if (to == Type::kInt) return from == Type::kUint ? Op::kU2I : Op::kD2I;
    if (to == Type::kUint) return from == Type::kInt ? Op::kI2U : Op::kD2U;
    return from == Type::kInt ? Op::kI2D : Op::kU2D;
  }

  void convert(Type from, Type to, uint8_t offset, uint32_t col) {
    if (auto op = conversion(from, to)) emit(*op, col, offset);
  }

  bool parseExpr(Type& t) {
    if (!parseOr(t)) return false;
    if (!peek().is("?")) return true;
    const Token& q = next();
    if (t != Type::kBool) {
      return fail(q.col, "the condition before '?' must be bool, got " + std::string(typeName(t)));
    }
    size_t to_else = emit(Op::kJumpIfFalse, q.col);
    popped();
    Type a;
    if (!enter(q.col) || !parseExpr(a)) return false;
    leave();
    // Two slots, patched once the else branch's type is known: a conversion then the jump, or
    // the jump alone (the second slot is then never reached).
    size_t then_conv = emit(Op::kJump, q.col);
    size_t then_jump = emit(Op::kJump, q.col);
    if (!peek().is(":")) {
      return fail(peek().col, "expected ':' instead of " + describe(peek()),
                  "; to complete the '?' at column " + std::to_string(q.col));
    }
    const Token& colon = next();
    patchJump(to_else);
    popped();
    Type b;
    if (!enter(colon.col) || !parseExpr(b)) return false;
    leave();
    std::optional<Type> common = unify(a, b);
    if (!common) {
      return fail(colon.col, "the branches of '?:' have different types, " +
                                 std::string(typeName(a)) + " and " + std::string(typeName(b)));
    }
    convert(b, *common, 0, colon.col);
    Slot end{};
    end.u = code_.instrs.size();
    if (auto op = conversion(a, *common)) {
      code_.instrs[then_conv] = Instr{*op, 0, q.col, Slot{}};
      code_.instrs[then_jump].imm = end;
    } else {
      code_.instrs[then_conv].imm = end;
      code_.instrs[then_jump].imm = end;
    }
    t = *common;
    return true;
  }

  bool parseLogical(Type& t, bool is_or) {
    if (!(is_or ? parseLogical(t, false) : parseRelation(t))) return false;
    std::string_view sym = is_or ? "||" : "&&";
    while (peek().is(sym)) {
      const Token& op = next();
      size_t jump = emit(is_or ? Op::kOrJump : Op::kAndJump, op.col);
      popped();
      Type r;
      if (!(is_or ? parseLogical(r, false) : parseRelation(r))) return false;
      if (t != Type::kBool || r != Type::kBool) {
        return fail(op.col, "operator '" + std::string(sym) + "' needs bool operands, got " +
                                std::string(typeName(t)) + " and " + std::string(typeName(r)));
      }
      patchJump(jump);
      t = Type::kBool;
    }
    return true;
  }
  bool parseOr(Type& t) { return parseLogical(t, true); }

  static std::optional<Rel> relation(const Token& tok) {
    if (tok.kind != Token::Kind::kPunct) return std::nullopt;
    if (tok.text == "==") return Rel::kEq;
    if (tok.text == "!=") return Rel::kNe;
    if (tok.text == "<") return Rel::kLt;
    if (tok.text == "<=") return Rel::kLe;
    if (tok.text == ">") return Rel::kGt;
    if (tok.text == ">=") return Rel::kGe;
    return std::nullopt;
  }

  bool parseRelation(Type& t) {
    if (!parseAdditive(t)) return false;
    while (auto rel = relation(peek())) {
      const Token& op = next();
      Type r;
      if (!parseAdditive(r)) return false;
      auto arg = static_cast<uint8_t>(*rel);
      Op cmp;
      if (isNumeric(t) && isNumeric(r)) {
        if (t == r) {
          cmp = t == Type::kInt ? Op::kCmpI : t == Type::kUint ? Op::kCmpU : Op::kCmpD;
        } else if (t == Type::kDouble || r == Type::kDouble) {
          convert(t, Type::kDouble, 1, op.col);
          convert(r, Type::kDouble, 0, op.col);
          cmp = Op::kCmpD;
        } else {
          cmp = t == Type::kInt ? Op::kCmpIU : Op::kCmpUI;
        }
      } else if (t == Type::kBool && r == Type::kBool) {
        cmp = Op::kCmpB;
      } else if (t == Type::kString && r == Type::kString) {
        if (*rel != Rel::kEq && *rel != Rel::kNe) {
          return fail(op.col, "strings support only '==' and '!=', not " + describe(op));
        }
        cmp = Op::kCmpS;
      } else {
        return fail(op.col, "cannot compare " + std::string(typeName(t)) + " and " +
                                std::string(typeName(r)) + " with " + describe(op));
      }
      emit(cmp, op.col, arg);
      popped();
      t = Type::kBool;
    }
    return true;
  }

  bool arithmetic(const Token& op, Type& t, Type r) {
    std::optional<Type> common = unify(t, r);
    if (!isNumeric(t) || !isNumeric(r) || !common) {
      return fail(op.col, "operator " + describe(op) + " needs numbers, got " +
                              std::string(typeName(t)) + " and " + std::string(typeName(r)));
    }
    char c = op.text[0];
    if (c == '%' && *common == Type::kDouble) {
      return fail(op.col, "operator '%' is not defined for double");
    }
    convert(t, *common, 1, op.col);
    convert(r, *common, 0, op.col);
    static constexpr Op kInt[] = {Op::kAddI, Op::kSubI, Op::kMulI, Op::kDivI, Op::kModI};
    static constexpr Op kUint[] = {Op::kAddU, Op::kSubU, Op::kMulU, Op::kDivU, Op::kModU};
    static constexpr Op kDouble[] = {Op::kAddD, Op::kSubD, Op::kMulD, Op::kDivD, Op::kDivD};
    size_t k = std::string_view("+-*/%").find(c);
    emit(*common == Type::kInt ? kInt[k] : *common == Type::kUint ? kUint[k] : kDouble[k], op.col);
    popped();
    t = *common;
    return true;
  }

  bool parseAdditive(Type& t) {
    if (!parseMultiplicative(t)) return false;
    while (peek().is("+") || peek().is("-")) {
      const Token& op = next();
      Type r;
      if (!parseMultiplicative(r) || !arithmetic(op, t, r)) return false;
    }
    return true;
  }

  bool parseMultiplicative(Type& t) {
    if (!parseUnary(t)) return false;
    while (peek().is("*") || peek().is("/") || peek().is("%")) {
      const Token& op = next();
      Type r;
      if (!parseUnary(r) || !arithmetic(op, t, r)) return false;
    }
    return true;
  }

  bool parseUnary(Type& t) {
    if (peek().is("-")) {
      const Token& op = next();
      // As CEL's parser does, fold a minus into the literal after it: the only way to write
      // INT64_MIN, whose magnitude is not a valid int literal.
      if (peek().kind == Token::Kind::kInt) {
        const Token& lit = next();
        if (lit.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) {
          return fail(lit.col, "integer literal out of range");
        }
        Slot v{};
        v.i = static_cast<int64_t>(0 - lit.u);  // two's complement: 2^63 becomes INT64_MIN
        emit(Op::kPush, op.col, 0, v);
        pushed();
        t = Type::kInt;
        return true;
      }
      if (!enter(op.col) || !parseUnary(t)) return false;
      leave();
      if (t == Type::kInt) {
        emit(Op::kNegI, op.col);
      } else if (t == Type::kDouble) {
        emit(Op::kNegD, op.col);
      } else if (t == Type::kUint) {
        return fail(op.col, "unary '-' is not defined for uint", "; write -int(...)");
      } else {
        return fail(op.col, "unary '-' needs a number, got " + std::string(typeName(t)));
      }
      return true;
    }
    if (peek().is("!")) {
      const Token& op = next();
      if (!enter(op.col) || !parseUnary(t)) return false;
      leave();
      if (t != Type::kBool) {
        return fail(op.col, "operator '!' needs bool, got " + std::string(typeName(t)));
      }
      emit(Op::kNot, op.col);
      return true;
    }
    return parsePrimary(t);
  }

  void push(Type type, Slot v, uint32_t col, Type& t) {
    emit(Op::kPush, col, 0, v);
    pushed();
    t = type;
  }

  bool parsePrimary(Type& t) {
    const Token& tok = next();
    Slot v{};
    switch (tok.kind) {
      case Token::Kind::kInt:
        if (tok.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return fail(tok.col, "integer literal out of range",
                      "; write a uint as " + std::string(tok.text) + "u");
        }
        v.i = static_cast<int64_t>(tok.u);
        push(Type::kInt, v, tok.col, t);
        return true;
      case Token::Kind::kUint:
        v.u = tok.u;
        push(Type::kUint, v, tok.col, t);
        return true;
      case Token::Kind::kDouble:
        v.d = tok.d;
        push(Type::kDouble, v, tok.col, t);
        return true;
      case Token::Kind::kString:
        v.str = static_cast<uint32_t>(kFirstLiteralStr + code_.literals.size());
        code_.literals.push_back(tok.str);
        push(Type::kString, v, tok.col, t);
        return true;
      case Token::Kind::kIdent:
        return identifier(tok, t);
      case Token::Kind::kPunct:
        if (tok.is("(")) {
          if (!enter(tok.col) || !parseExpr(t)) return false;
          leave();
          if (!peek().is(")")) {
            return fail(peek().col, "expected ')' instead of " + describe(peek()),
                        "; to close the '(' at column " + std::to_string(tok.col));
          }
          next();
          return true;
        }
        return fail(tok.col, "unexpected " + describe(tok));
      case Token::Kind::kEnd:
        return fail(tok.col, "unexpected end of expression");
    }
    return fail(tok.col, "unexpected " + describe(tok));
  }

  bool identifier(const Token& tok, Type& t) {
    Slot v{};
    if (tok.text == "true" || tok.text == "false") {
      v.b = tok.text == "true";
      push(Type::kBool, v, tok.col, t);
      return true;
    }
    std::optional<Type> fn;
    if (tok.text == "int") fn = Type::kInt;
    if (tok.text == "uint") fn = Type::kUint;
    if (tok.text == "double") fn = Type::kDouble;
    if (peek().is("(")) {
      if (!fn) {
        return fail(tok.col, "unknown function '" + std::string(tok.text) + "'", kKnownFunctions);
      }
      const Token& open = next();
      std::string name = std::string(tok.text) + "()";
      if (peek().is(")")) return fail(peek().col, name + " takes exactly one argument");
      Type a;
      if (!enter(open.col) || !parseExpr(a)) return false;
      leave();
      if (peek().is(",")) return fail(peek().col, name + " takes exactly one argument");
      if (!peek().is(")")) {
        return fail(peek().col, "expected ')' instead of " + describe(peek()),
                    "; to close the '(' at column " + std::to_string(open.col));
      }
      next();
      if (!isNumeric(a)) {
        return fail(tok.col, name + " cannot convert a " + std::string(typeName(a)));
      }
      convert(a, *fn, 0, tok.col);
      t = *fn;
      return true;
    }
    if (fn) {
      return fail(tok.col, "'" + std::string(tok.text) + "' is a function",
                  "; call it as " + std::string(tok.text) + "(...)");
    }
    for (const Var& var : kVars) {
      if (var.name != tok.text) continue;
      emit(var.type == Type::kString ? Op::kLoadS : Op::kLoadU, tok.col, var.index);
      pushed();
      reads_vars_ = true;
      t = var.type;
      return true;
    }
    return fail(tok.col, "unknown variable '" + std::string(tok.text) + "'", kKnownVars);
  }

  const std::vector<Token>& toks_;
  Code& code_;
  size_t pos_ = 0;
  int depth_ = 0;
  size_t sp_ = 0;
  size_t max_sp_ = 0;
  bool reads_vars_ = false;
  std::optional<Error> err_;
};

}  // namespace

struct CelProgram::Code : ratelimit::Code {};

Result<CelProgram> CelProgram::compile(std::string_view expr) {
  if (expr.size() > kMaxLength) {
    return compileError(static_cast<uint32_t>(kMaxLength + 1),
                        "expression longer than " + std::to_string(kMaxLength) + " characters",
                        "; it has " + std::to_string(expr.size()));
  }
  std::vector<Token> toks;
  if (auto err = Lexer(expr).run(toks)) return std::move(*err);
  if (toks.size() == 1) return compileError(1, "empty expression");

  auto code = std::make_shared<Code>();
  code->source = std::string(expr);
  Compiler compiler(toks, *code);
  if (auto err = compiler.compile()) return std::move(*err);

  if (!compiler.readsVariables()) {
    // Its value never changes, so a failure now would be a failure on every request.
    Outcome o = execute(*code, CelInputs{});
    if (o.fault != Fault::kNone) {
      std::string msg = "the expression reads no variable and always fails: ";
      msg += faultMessage(*code, o);
      if (isResultFault(o.fault)) msg += " at column 1";  // every compile error names a column
      return Error::client(ErrorCode::kBadRequest, std::move(msg));
    }
  }
  return CelProgram(std::move(code));
}

Result<uint64_t> CelProgram::evaluate(const CelInputs& in) const {
  if (!code_) return Error::internal("CEL cost expression: evaluating a moved-from program");
  Outcome o = execute(*code_, in);
  if (o.fault == Fault::kNone) return o.value.u;
  return Error::internal("CEL cost expression '" + code_->source + "': " + faultMessage(*code_, o));
}

const std::string& CelProgram::source() const {
  static const std::string kEmpty;
  return code_ ? code_->source : kEmpty;
}

}  // namespace tollgate::ratelimit
