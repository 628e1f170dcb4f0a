// Internal to the CEL cost expressions (cel_*.cc): the compiler from tokens to bytecode.
#pragma once

#include <optional>
#include <vector>

#include "common/error.h"
#include "ratelimit/cel_code.h"
#include "ratelimit/cel_lexer.h"

namespace tollgate::ratelimit::cel {

// Recursive descent over CEL's grammar, type-checking and emitting postfix bytecode into `code`
// in the same pass (an operator's operands are always emitted before it). `reads_variables`
// says whether the expression reads any request fact.
std::optional<Error> compileTokens(const std::vector<Token>& toks, Code& code,
                                   bool& reads_variables);

}  // namespace tollgate::ratelimit::cel
