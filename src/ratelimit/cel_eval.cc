// The CEL evaluator: runs compiled bytecode against one request's facts, and words its faults.
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "ratelimit/cel_code.h"

namespace tollgate::ratelimit::cel {

namespace {

constexpr uint64_t CelInputs::*kTokenFields[] = {
    &CelInputs::input_tokens, &CelInputs::cached_input_tokens,       &CelInputs::output_tokens,
    &CelInputs::total_tokens, &CelInputs::cached_write_input_tokens,
};

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

std::string formatDouble(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

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

}  // namespace

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

bool isResultFault(Fault f) {
  return f == Fault::kNegative || f == Fault::kNotFinite || f == Fault::kTooLarge;
}

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

}  // namespace tollgate::ratelimit::cel
