#include "ratelimit/cel.h"

#include <string>
#include <utility>
#include <vector>

#include "ratelimit/cel_code.h"
#include "ratelimit/cel_compiler.h"
#include "ratelimit/cel_lexer.h"

namespace tollgate::ratelimit {

using cel::compileError;
using cel::execute;
using cel::Fault;
using cel::faultMessage;
using cel::isResultFault;
using cel::Outcome;
using cel::Token;

struct CelProgram::Code : cel::Code {};

Result<CelProgram> CelProgram::compile(std::string_view expr) {
  if (expr.size() > kMaxLength) {
    return compileError(static_cast<uint32_t>(kMaxLength + 1),
                        "expression longer than " + std::to_string(kMaxLength) + " characters",
                        "; it has " + std::to_string(expr.size()));
  }
  std::vector<Token> toks;
  if (auto err = cel::lex(expr, toks)) return std::move(*err);
  if (toks.size() == 1) return compileError(1, "empty expression");

  auto code = std::make_shared<Code>();
  code->source = std::string(expr);
  bool reads_variables = false;
  if (auto err = cel::compileTokens(toks, *code, reads_variables)) return std::move(*err);

  if (!reads_variables) {
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
