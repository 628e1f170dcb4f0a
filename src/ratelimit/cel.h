// The CEL subset that Envoy AI Gateway users write in `llmRequestCosts` entries of `type: CEL`,
// e.g. `model == 'openai/gpt-oss-20b' ? total_tokens * 3 : total_tokens`. There is no CEL library
// in Debian, so this is a hand-written compiler to a small typed stack bytecode: compile() runs
// once at config load and rejects everything it can statically; evaluate() runs per request.
//
// Language: int (`3`, `0x1f`), uint (`3u`), double (`1.5`, `2e3`, `.5`), string ('..' or "..",
// escapes \\ \' \" \` \n \r \t), bool (`true`, `false`); the variables below; unary `-` and `!`;
// `* / %`, `+ -`, `< <= > >= == !=` (one level, left-associative as in CEL), `&&`, `||`,
// `c ? a : b`, parentheses, and the conversions `int(x)`, `uint(x)`, `double(x)`.
//
// Where this departs from CEL, on purpose:
//  - Mixed numeric arithmetic is allowed, because users write `input_tokens * 2` (uint * int) and
//    Envoy AI Gateway's own examples do: int with uint computes in int64 (a uint above INT64_MAX
//    is an evaluation error), and int or uint with double computes in double. `?:` branches of
//    different numeric types are promoted the same way. CEL would reject these at check time.
//  - Comparisons across numeric types are allowed (CEL has them too); int against uint compares
//    exactly, anything against a double compares in double.
//  - Strings support only `==` and `!=`; there are no lists, maps, members, macros or other
//    functions. Unary `-` on a uint is rejected as in CEL (write `-int(x)`).
//  - `&&` and `||` evaluate left to right and short-circuit; CEL's "an error on one side is
//    absorbed when the other side decides" rule is not modelled.
//  - The final value becomes the cost as a uint64: a uint as is; an int must be >= 0; a double
//    must be finite, >= 0 and < 2^64 and is truncated toward zero (Envoy AI Gateway rejects double
//    results; a tollgate config may write `input_tokens * 0.5` directly). A bool or string result
//    is a compile error.
//  - An expression that reads no variable is evaluated once at compile time, and a failure there
//    (`1/0`, `uint(1) - uint(2)`, `-5`) is a compile error, as Envoy AI Gateway's dry run does.
// Limits: 4096 characters, nesting (parentheses, calls, unary operators, `?:` branches) at most 64.
// `//` comments and newlines are allowed (YAML block scalars); error columns count bytes from the
// start of the expression, newlines included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.h"

namespace tollgate::ratelimit {

// The request facts an expression may read. The views only need to outlive the evaluate() call.
struct CelInputs {
  std::string_view model;
  std::string_view backend;
  uint64_t input_tokens = 0;
  uint64_t cached_input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t total_tokens = 0;
  // Newer Envoy AI Gateway releases also declare this one; kept last so that designated
  // initializers written against the fields above stay valid.
  uint64_t cached_write_input_tokens = 0;
};

// A compiled expression. Immutable once compiled: copies share the code, and any number of threads
// may call evaluate() on the same program at once.
class CelProgram {
 public:
  static constexpr size_t kMaxLength = 4096;
  static constexpr int kMaxNesting = 64;

  // Compile errors are Error::client(kBadRequest) whose message names the 1-based column.
  static Result<CelProgram> compile(std::string_view expr);

  // The cost for one request. Allocates nothing unless it fails; a failure (division by zero,
  // overflow, negative or non-finite result, out-of-range conversion) is Error::internal with the
  // reason and column in `detail`, and the caller charges its fallback cost.
  Result<uint64_t> evaluate(const CelInputs& in) const;

  // The expression as written, for logs.
  const std::string& source() const;

 private:
  struct Code;
  explicit CelProgram(std::shared_ptr<const Code> code) : code_(std::move(code)) {}

  std::shared_ptr<const Code> code_;
};

}  // namespace tollgate::ratelimit
