#include "ratelimit/cel_compiler.h"

#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace tollgate::ratelimit::cel {

namespace {

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

constexpr std::string_view kKnownVars =
    "; known: model, backend, input_tokens, cached_input_tokens, output_tokens, total_tokens, "
    "cached_write_input_tokens";
constexpr std::string_view kKnownFunctions = "; known: int, uint, double";

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

std::optional<Error> compileTokens(const std::vector<Token>& toks, Code& code,
                                   bool& reads_variables) {
  Compiler compiler(toks, code);
  std::optional<Error> err = compiler.compile();
  reads_variables = compiler.readsVariables();
  return err;
}

}  // namespace tollgate::ratelimit::cel
