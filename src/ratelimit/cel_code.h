// Internal to the CEL cost expressions (cel_*.cc): the typed stack bytecode the compiler
// (cel_compiler.cc) emits and the evaluator (cel_eval.cc) runs. A Code is immutable once compiled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ratelimit/cel.h"

namespace tollgate::ratelimit::cel {

// Every value's type is known at compile time, so the bytecode is typed and a stack slot needs no
// tag: the compiler picks the opcode for the operand types and inserts conversions.
enum class Type : uint8_t { kInt, kUint, kDouble, kBool, kString };

inline std::string_view typeName(Type t) {
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

inline bool isNumeric(Type t) { return t == Type::kInt || t == Type::kUint || t == Type::kDouble; }

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

inline constexpr uint32_t kModelStr = 0;
inline constexpr uint32_t kBackendStr = 1;
inline constexpr uint32_t kFirstLiteralStr = 2;

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

// Per nesting level at most three operands wait on the stack (relation, addition and
// multiplication left sides; `&&`, `||` and `?:` pop theirs before going on), so 3 * 65 + 1
// slots suffice. The compiler still checks, so the evaluator never has to.
inline constexpr size_t kMaxStack = 256;

enum class Fault : uint8_t {
  kNone,
  kDivZero,
  kModZero,
  kOverflow,  // of the instruction's operator or conversion
  kNegative,  // final value below zero
  kNotFinite,
  kTooLarge,  // final value at or above 2^64
};

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

// The hot path: no allocation, no recursion, a fixed stack that the compiler proved big enough.
Outcome execute(const Code& code, const CelInputs& in);
// The final value's faults belong to the whole expression, not to one operator.
bool isResultFault(Fault f);
// Why an evaluation failed, with the column when an instruction is to blame. Only built on
// failure, so it may allocate.
std::string faultMessage(const Code& code, const Outcome& o);

}  // namespace tollgate::ratelimit::cel
