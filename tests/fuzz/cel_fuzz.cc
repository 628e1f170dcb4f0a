// The CEL cost-expression compiler (config load) and, for what compiles, the evaluator (every
// request). Input: the expression text; the token counts come from a hash of it so that the
// evaluator also sees large and zero values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ratelimit/cel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view expr(reinterpret_cast<const char*>(data), size);
  auto program = tollgate::ratelimit::CelProgram::compile(expr);
  if (!program) {
    // Compile errors are one-line client errors that name a column.
    if (program.error().public_message.empty()) std::abort();
    return 0;
  }
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : expr) h = (h ^ c) * 1099511628211ull;
  static constexpr uint64_t kBig[] = {0, 1, 7, 1u << 31, ~0ull, ~0ull >> 1};
  tollgate::ratelimit::CelInputs in;
  in.model = "openai/gpt-oss-20b";
  in.backend = "default/vllm";
  in.input_tokens = kBig[h % 6];
  in.cached_input_tokens = kBig[(h >> 8) % 6];
  in.output_tokens = kBig[(h >> 16) % 6];
  in.total_tokens = kBig[(h >> 24) % 6];
  in.cached_write_input_tokens = kBig[(h >> 32) % 6];
  (void)program->evaluate(in);
  tollgate::ratelimit::CelInputs zero;
  (void)program->evaluate(zero);
  return 0;
}
