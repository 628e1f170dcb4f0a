#include "ratelimit/cel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

// ThreadSanitizer's runtime defines operator new/delete itself (statically), so a TSan build
// cannot replace them and does not count allocations.
#if defined(__SANITIZE_THREAD__)
#define TOLLGATE_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TOLLGATE_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef TOLLGATE_COUNT_ALLOCATIONS
#define TOLLGATE_COUNT_ALLOCATIONS 1
#endif

// Counts heap allocations, to hold evaluate() to its promise of allocating nothing.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if TOLLGATE_COUNT_ALLOCATIONS

// Out of line, so that GCC does not pair an inlined free() with operator new and warn.
[[gnu::noinline]] void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// The nothrow form too (simdjson allocates with it): under AddressSanitizer an unreplaced one is
// ASan's operator new, and freeing its memory through the delete above is an alloc-dealloc
// mismatch report.
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif  // TOLLGATE_COUNT_ALLOCATIONS

namespace tollgate::ratelimit {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

CelInputs sample() {
  CelInputs in;
  in.model = "openai/gpt-oss-20b";
  in.backend = "ollama";
  in.input_tokens = 100;
  in.cached_input_tokens = 40;
  in.output_tokens = 30;
  in.total_tokens = 130;
  in.cached_write_input_tokens = 5;
  return in;
}

// The cost as a decimal string, or "compile: <message>" / "eval: <detail>", so that a failing
// expectation shows what went wrong.
std::string run(std::string_view expr, const CelInputs& in = sample()) {
  auto p = CelProgram::compile(expr);
  if (!p.ok()) return "compile: " + p.error().public_message;
  auto r = p->evaluate(in);
  if (!r.ok()) return "eval: " + r.error().detail;
  return std::to_string(r.value());
}

// 1 or 0 for a bool expression.
std::string truth(const std::string& cond, const CelInputs& in = sample()) {
  return run("(" + cond + ") ? 1 : 0", in);
}

std::string compileError(std::string_view expr) {
  auto p = CelProgram::compile(expr);
  if (p.ok()) return "(compiled)";
  EXPECT_EQ(p.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(p.error().source, ErrorSource::kClient);
  return p.error().public_message;
}

TEST(Cel, Literals) {
  EXPECT_EQ(run("0"), "0");
  EXPECT_EQ(run("42"), "42");
  EXPECT_EQ(run("007"), "7");
  EXPECT_EQ(run("0x1F"), "31");
  EXPECT_EQ(run("0X10u"), "16");
  EXPECT_EQ(run("7u"), "7");
  EXPECT_EQ(run("7U"), "7");
  EXPECT_EQ(run("18446744073709551615u"), "18446744073709551615");
  EXPECT_EQ(run("0xFFFFFFFFFFFFFFFFu"), "18446744073709551615");
  EXPECT_EQ(run("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(run("2.9"), "2");
  EXPECT_EQ(run(".5"), "0");
  EXPECT_EQ(run("1e3"), "1000");
  EXPECT_EQ(run("1.5e2"), "150");
  EXPECT_EQ(run("25E-1 * 2.0"), "5");
  EXPECT_EQ(run("2e+1"), "20");
  EXPECT_EQ(run("-9223372036854775808 + 9223372036854775807 + 1"), "0");
  EXPECT_EQ(run("true ? 1 : 0"), "1");
  EXPECT_EQ(run("false ? 1 : 0"), "0");
}

TEST(Cel, WhitespaceNewlinesAndComments) {
  EXPECT_EQ(run("\t input_tokens\n +\r\n output_tokens  "), "130");
  EXPECT_EQ(run("input_tokens // the prompt\n + output_tokens // the answer"), "130");
}

TEST(Cel, Precedence) {
  EXPECT_EQ(run("1 + 2 * 3"), "7");
  EXPECT_EQ(run("(1 + 2) * 3"), "9");
  EXPECT_EQ(run("2 * 3 + 1"), "7");
  EXPECT_EQ(run("2 * 3 % 4"), "2");  // (2 * 3) % 4, not 2 * (3 % 4)
  EXPECT_EQ(run("7 % 4 * 2"), "6");  // (7 % 4) * 2
  EXPECT_EQ(run("-2 * 3 + 10"), "4");
  EXPECT_EQ(run("-(2 - 5)"), "3");
  EXPECT_EQ(run("- -5"), "5");
  EXPECT_EQ(run("--5"), "5");
  EXPECT_EQ(run("10 - -2"), "12");
  EXPECT_EQ(run("2 + 3 < 6 ? 1 : 0"), "1");  // arithmetic binds tighter than relations
  EXPECT_EQ(run("1 + 2 == 3 && 4 > 3 ? 10 : 20"), "10");
  EXPECT_EQ(run("true || false && false ? 1 : 0"), "1");  // && binds tighter than ||
  EXPECT_EQ(run("false && true || true ? 1 : 0"), "1");
  EXPECT_EQ(run("!false && !false ? 1 : 0"), "1");
  EXPECT_EQ(run("!(1 < 2) ? 1 : 0"), "0");
  EXPECT_EQ(run("!!true ? 1 : 0"), "1");
  EXPECT_EQ(run("true ? 1 : 0 + 5"), "1");  // the else branch takes the whole expression
  EXPECT_EQ(run("false ? 1 : 0 + 5"), "5");
  EXPECT_EQ(run("(false ? 1 : 0) + 5"), "5");
}

TEST(Cel, Associativity) {
  EXPECT_EQ(run("10 - 4 - 3"), "3");
  EXPECT_EQ(run("10 - 2 + 3"), "11");
  EXPECT_EQ(run("100 / 10 / 5"), "2");
  EXPECT_EQ(run("100 % 7 % 3"), "2");
  EXPECT_EQ(run("1 < 2 == true ? 1 : 0"), "1");     // (1 < 2) == true
  EXPECT_EQ(run("2 == 2 == true ? 1 : 0"), "1");    // (2 == 2) == true
  EXPECT_EQ(run("false ? 1 : true ? 2 : 3"), "2");  // ?: is right-associative
  EXPECT_EQ(run("false ? 1 : false ? 2 : 3"), "3");
  EXPECT_EQ(run("true ? false ? 1 : 2 : 3"), "2");
}

TEST(Cel, IntOperators) {
  EXPECT_EQ(run("3 + 4"), "7");
  EXPECT_EQ(run("3 - 5 + 10"), "8");
  EXPECT_EQ(run("6 * 7"), "42");
  EXPECT_EQ(run("7 / 2"), "3");
  EXPECT_EQ(run("-7 / 2 + 10"), "7");  // truncates toward zero: -3
  EXPECT_EQ(run("7 % 3"), "1");
  EXPECT_EQ(run("-7 % 3 + 10"), "9");  // the sign follows the dividend: -1
  EXPECT_EQ(run("7 % -3"), "1");
  EXPECT_EQ(run("-(-9223372036854775807)"), "9223372036854775807");
}

TEST(Cel, UintOperators) {
  EXPECT_EQ(run("1u + 1u"), "2");
  EXPECT_EQ(run("10u - 3u"), "7");
  EXPECT_EQ(run("3u * 4u"), "12");
  EXPECT_EQ(run("7u / 2u"), "3");
  EXPECT_EQ(run("7u % 4u"), "3");
  EXPECT_EQ(run("input_tokens - cached_input_tokens"), "60");
  EXPECT_EQ(run("9223372036854775808u * 1u + 9223372036854775807u"), "18446744073709551615");
}

TEST(Cel, DoubleOperators) {
  EXPECT_EQ(run("2.5 * 4.0"), "10");
  EXPECT_EQ(run("10.0 - 0.5"), "9");  // 9.5 truncated
  EXPECT_EQ(run("7.0 / 2.0 * 2.0"), "7");
  EXPECT_EQ(run("0.1 + 0.2"), "0");
  EXPECT_EQ(run("-1.5 + 3.0"), "1");
  EXPECT_EQ(run("-(-2.5)"), "2");
  EXPECT_EQ(run("1.0 / 0.0 > 1e308 ? 1 : 0"), "1");  // IEEE infinity, as in CEL
}

TEST(Cel, Comparisons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // int
      {"1 < 2", "1"},
      {"2 < 2", "0"},
      {"2 <= 2", "1"},
      {"3 <= 2", "0"},
      {"3 > 2", "1"},
      {"2 > 2", "0"},
      {"2 >= 2", "1"},
      {"2 >= 3", "0"},
      {"2 == 2", "1"},
      {"2 == 3", "0"},
      {"2 != 3", "1"},
      {"2 != 2", "0"},
      {"-1 < 0", "1"},
      // uint
      {"1u < 2u", "1"},
      {"2u <= 1u", "0"},
      {"3u > 2u", "1"},
      {"2u >= 2u", "1"},
      {"2u == 2u", "1"},
      {"2u != 2u", "0"},
      // double, including NaN, which is unordered and unequal to itself
      {"1.5 < 2.5", "1"},
      {"2.5 <= 2.5", "1"},
      {"2.5 > 2.5", "0"},
      {"2.5 >= 2.5", "1"},
      {"0.5 == 0.5", "1"},
      {"0.5 != 0.5", "0"},
      {"0.0 / 0.0 == 0.0 / 0.0", "0"},
      {"0.0 / 0.0 != 0.0 / 0.0", "1"},
      {"0.0 / 0.0 < 1.0", "0"},
      {"0.0 / 0.0 >= 1.0", "0"},
      // across numeric types: int against uint is exact
      {"-1 < 1u", "1"},
      {"1u > -1", "1"},
      {"-1 < 0u", "1"},
      {"0u <= -1", "0"},
      {"1u == 1", "1"},
      {"1 == 1u", "1"},
      {"1 != 1u", "0"},
      {"3 >= 3u", "1"},
      {"18446744073709551615u > 1", "1"},
      {"18446744073709551615u == -1", "0"},
      {"-1 != 18446744073709551615u", "1"},
      {"9223372036854775807 < 9223372036854775808u", "1"},
      {"2.5 > 2u", "1"},
      {"2 == 2.0", "1"},
      {"2u == 2.0", "1"},
      {"-0.5 < 0u", "1"},
      {"input_tokens > 99", "1"},
      {"input_tokens >= 100.0", "1"},
      {"input_tokens == 100", "1"},
      // bool
      {"true == true", "1"},
      {"true != false", "1"},
      {"false == true", "0"},
      {"false < true", "1"},
      {"true <= false", "0"},
      // strings
      {"'a' == 'a'", "1"},
      {"'a' == 'b'", "0"},
      {"'a' != 'b'", "1"},
      {"'' == \"\"", "1"},
      {"'a' == 'ab'", "0"},
      {"model == 'openai/gpt-oss-20b'", "1"},
      {"\"openai/gpt-oss-20b\" == model", "1"},
      {"backend != 'ollama'", "0"},
      {"backend == model", "0"},
      {"model == model", "1"},
  };
  for (const auto& [expr, want] : cases) EXPECT_EQ(truth(expr), want) << expr;
}

TEST(Cel, StringEscapes) {
  EXPECT_EQ(truth(R"('it\'s' == "it's")"), "1");
  EXPECT_EQ(truth(R"("say \"hi\"" == 'say "hi"')"), "1");
  EXPECT_EQ(truth(R"('a\nb' == "a\nb")"), "1");
  EXPECT_EQ(truth(R"('a\\nb' == "a\nb")"), "0");
  EXPECT_EQ(truth(R"('\\' == "\\")"), "1");
  EXPECT_EQ(truth(R"('\t' != ' ')"), "1");
  EXPECT_EQ(truth(R"('\r\`' == "\r`")"), "1");
  CelInputs in = sample();
  in.model = "a'b\"c\\d\te\nf";
  EXPECT_EQ(truth(R"(model == 'a\'b"c\\d\te\nf')", in), "1");
  EXPECT_EQ(truth(R"(model == "a'b\"c\\d\te\nf")", in), "1");
}

TEST(Cel, LogicalOperatorsShortCircuit) {
  // The right side would fail; it is not evaluated.
  EXPECT_EQ(run("false && 1 / int(output_tokens - output_tokens) > 0 ? 1 : 2"), "2");
  EXPECT_EQ(run("true || 1 / int(output_tokens - output_tokens) > 0 ? 1 : 2"), "1");
  EXPECT_THAT(run("true && 1 / int(output_tokens - output_tokens) > 0 ? 1 : 2"),
              HasSubstr("division by zero"));
  // Truth tables.
  EXPECT_EQ(truth("true && true"), "1");
  EXPECT_EQ(truth("true && false"), "0");
  EXPECT_EQ(truth("false && true"), "0");
  EXPECT_EQ(truth("true || false"), "1");
  EXPECT_EQ(truth("false || true"), "1");
  EXPECT_EQ(truth("false || false"), "0");
  EXPECT_EQ(truth("false || false || true"), "1");
  EXPECT_EQ(truth("true && true && false"), "0");
}

TEST(Cel, Ternary) {
  EXPECT_EQ(run("model == 'openai/gpt-oss-20b' ? 1 : 2"), "1");
  EXPECT_EQ(run("model == 'other' ? 1 : 2"), "2");
  // The untaken branch is not evaluated.
  EXPECT_EQ(run("true ? 5 : 1 / int(output_tokens - output_tokens)"), "5");
  // Branches of different numeric types meet in a common type.
  EXPECT_EQ(run("true ? input_tokens : 1"), "100");
  EXPECT_EQ(run("false ? input_tokens : 1"), "1");
  EXPECT_EQ(run("true ? input_tokens : 1.5"), "100");
  EXPECT_EQ(run("false ? input_tokens : 1.5"), "1");
  EXPECT_EQ(run("(true ? 1 : 0.5) * 3.0"), "3");
  EXPECT_EQ(run("(false ? 1 : 0.5) * 3.0"), "1");
  EXPECT_EQ(run("(true ? model : backend) == 'ollama' ? 1 : 0"), "0");
  EXPECT_EQ(run("(false ? model : backend) == 'ollama' ? 1 : 0"), "1");
  EXPECT_EQ(run("(true ? 1 < 2 : false) ? 1 : 0"), "1");
  EXPECT_EQ(run("1 + (input_tokens > 50 ? 10 : 20) * 2"), "21");
}

TEST(Cel, Conversions) {
  EXPECT_EQ(run("int(3.9)"), "3");
  EXPECT_EQ(run("int(-3.9) + 10"), "7");  // toward zero
  EXPECT_EQ(run("uint(2.5)"), "2");
  EXPECT_EQ(run("uint(-0.0)"), "0");
  EXPECT_EQ(run("double(3) / 2.0 * 2.0"), "3");
  EXPECT_EQ(run("double(3u) / 2.0"), "1");
  EXPECT_EQ(run("int(7u)"), "7");
  EXPECT_EQ(run("uint(7)"), "7");
  EXPECT_EQ(run("int(int(5))"), "5");
  EXPECT_EQ(run("uint(input_tokens)"), "100");
  EXPECT_EQ(run("double(input_tokens)"), "100");
  EXPECT_EQ(run("int(input_tokens) - int(output_tokens)"), "70");
  EXPECT_EQ(run("uint(input_tokens * 0.5) + output_tokens"), "80");
  EXPECT_EQ(run("int(9.223372036854775e18)"), "9223372036854774784");
}

TEST(Cel, MixedNumericArithmeticIsLenient) {
  EXPECT_EQ(run("input_tokens * 2"), "200");
  EXPECT_EQ(run("2 * input_tokens"), "200");
  EXPECT_EQ(run("input_tokens + 1"), "101");
  EXPECT_EQ(run("input_tokens - 200 + 150"), "50");  // computed in int64, so -100 is fine
  EXPECT_EQ(run("1u + 2"), "3");
  EXPECT_EQ(run("input_tokens * 0.5"), "50");
  EXPECT_EQ(run("0.5 * input_tokens"), "50");
  EXPECT_EQ(run("output_tokens / 4.0"), "7");
  EXPECT_EQ(run("output_tokens / 4"), "7");
  EXPECT_EQ(run("1 + 0.75 + 1u"), "2");
  EXPECT_EQ(run("input_tokens % 7"), "2");
}

TEST(Cel, EnvoyAiGatewayExamples) {
  CelInputs in = sample();
  EXPECT_EQ(run("input_tokens + output_tokens * 2", in), "160");
  EXPECT_EQ(run("model == 'openai/gpt-oss-20b' ? total_tokens * 3 : total_tokens", in), "390");
  in.model = "other";
  EXPECT_EQ(run("model == 'openai/gpt-oss-20b' ? total_tokens * 3 : total_tokens", in), "130");
  EXPECT_EQ(run("uint(input_tokens * 0.5) + output_tokens", in), "80");
  EXPECT_EQ(run("0", in), "0");
  EXPECT_EQ(run("backend == 'ollama' ? input_tokens + output_tokens : total_tokens", in), "130");

  // From Envoy AI Gateway's llmcostcel tests.
  CelInputs cool;
  cool.model = "cool_model";
  cool.backend = "cool_backend";
  cool.input_tokens = 100;
  cool.output_tokens = 2;
  cool.total_tokens = 3;
  EXPECT_EQ(run("model == 'cool_model' ?  input_tokens * output_tokens : total_tokens", cool),
            "200");
  const std::string with_cache =
      "model == 'cool_model' ?  (input_tokens - cached_input_tokens - cached_write_input_tokens) "
      "* output_tokens  : total_tokens";
  cool.input_tokens = 200;
  cool.cached_input_tokens = 100;
  cool.cached_write_input_tokens = 1;
  EXPECT_EQ(run(with_cache, cool), "198");
  cool.model = "not_cool_model";
  EXPECT_EQ(run(with_cache, cool), "3");
  cool.input_tokens = 100;
  cool.output_tokens = 2000;
  EXPECT_THAT(run("int(input_tokens) - int(output_tokens)", cool),
              HasSubstr("result is negative (-1900)"));
  EXPECT_THAT(run("input_tokens - output_tokens", cool),
              HasSubstr("unsigned integer overflow in '-' at column 14"));
  EXPECT_THAT(compileError("uint(1)-uint(1200)"), HasSubstr("unsigned integer overflow"));
  EXPECT_THAT(compileError("1 +"), HasSubstr("unexpected end of expression at column 4"));
  EXPECT_EQ(run("1 + 1"), "2");
  EXPECT_EQ(run("uint(1) + uint(1)"), "2");

  // From an Envoy AI Gateway issue: a price in thousandths of tokens.
  const std::string priced =
      "int(double(input_tokens) / 1000.0 * 30.0 * 7.2 + double(output_tokens) / 1000.0 * 150.0 "
      "* 7.2)";
  cool.input_tokens = 1000;
  cool.output_tokens = 1000;
  EXPECT_EQ(run(priced, cool), "1296");
  cool.input_tokens = 1234;
  cool.output_tokens = 567;
  EXPECT_EQ(run(priced, cool), "878");

  // The API reference's example has a typo; it must not compile.
  EXPECT_THAT(compileError("model == 'llama' ?  input_tokens + output_token * 0.5 : total_tokens"),
              HasSubstr("unknown variable 'output_token' at column 36"));
  EXPECT_EQ(run("model == 'llama' ?  input_tokens + output_tokens * 0.5 : total_tokens", in),
            "130");
}

TEST(Cel, EveryVariable) {
  CelInputs in = sample();
  EXPECT_EQ(run("input_tokens", in), "100");
  EXPECT_EQ(run("cached_input_tokens", in), "40");
  EXPECT_EQ(run("output_tokens", in), "30");
  EXPECT_EQ(run("total_tokens", in), "130");
  EXPECT_EQ(run("cached_write_input_tokens", in), "5");
  EXPECT_EQ(truth("model == 'openai/gpt-oss-20b'", in), "1");
  EXPECT_EQ(truth("backend == 'ollama'", in), "1");
  EXPECT_EQ(run("input_tokens", CelInputs{}), "0");
  EXPECT_EQ(truth("model == ''", CelInputs{}), "1");
}

TEST(Cel, UnknownVariableMessageListsTheKnownOnes) {
  EXPECT_EQ(compileError("1 + foo"),
            "unknown variable 'foo' at column 5; known: model, backend, input_tokens, "
            "cached_input_tokens, output_tokens, total_tokens, cached_write_input_tokens");
  EXPECT_EQ(compileError("max(input_tokens, 1)"),
            "unknown function 'max' at column 1; known: int, uint, double");
}

TEST(Cel, CompileErrorsCarryTheColumn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty expression at column 1"},
      {"  \n ", "empty expression at column 1"},
      {"// only a comment", "empty expression at column 1"},
      {"foo", "unknown variable 'foo' at column 1"},
      {"input_token + 1", "unknown variable 'input_token' at column 1"},
      {"null", "unknown variable 'null' at column 1"},
      {"1 +\n  foo", "unknown variable 'foo' at column 7"},
      {"size(model)", "unknown function 'size' at column 1"},
      {"model(1)", "unknown function 'model' at column 1"},
      {"int + 1", "'int' is a function at column 1; call it as int(...)"},
      {"model + 1", "operator '+' needs numbers, got string and int at column 7"},
      {"1 + model", "operator '+' needs numbers, got int and string at column 3"},
      {"model + model", "operator '+' needs numbers, got string and string at column 7"},
      {"true * 2", "operator '*' needs numbers, got bool and int at column 6"},
      {"!input_tokens", "operator '!' needs bool, got uint at column 1"},
      {"1 + !2", "operator '!' needs bool, got int at column 5"},
      {"-model", "unary '-' needs a number, got string at column 1"},
      {"-input_tokens", "unary '-' is not defined for uint at column 1; write -int(...)"},
      {"-3u", "unary '-' is not defined for uint at column 1"},
      {"input_tokens ? 1 : 2", "the condition before '?' must be bool, got uint at column 14"},
      {"true ? 1 : 2 ? 3 : 4", "the condition before '?' must be bool, got int at column 14"},
      {"true ? 1 : model",
       "the branches of '?:' have different types, int and string at column 10"},
      {"true ? true : 1", "the branches of '?:' have different types, bool and int at column 13"},
      {"model == 'x'", "the expression must produce a number, got bool at column 1"},
      {"model", "the expression must produce a number, got string at column 1"},
      {"true", "the expression must produce a number, got bool at column 1"},
      {"model < 'a' ? 1 : 0", "strings support only '==' and '!=', not '<' at column 7"},
      {"model >= 'a' ? 1 : 0", "strings support only '==' and '!=', not '>=' at column 7"},
      {"model == 1 ? 1 : 0", "cannot compare string and int with '==' at column 7"},
      {"1 == true ? 1 : 0", "cannot compare int and bool with '==' at column 3"},
      {"1 && true ? 1 : 0", "operator '&&' needs bool operands, got int and bool at column 3"},
      {"true || 2 ? 1 : 0", "operator '||' needs bool operands, got bool and int at column 6"},
      {"1.5 % 2.0", "operator '%' is not defined for double at column 5"},
      {"input_tokens % 0.5", "operator '%' is not defined for double at column 14"},
      {"int()", "int() takes exactly one argument at column 5"},
      {"uint(1, 2)", "uint() takes exactly one argument at column 7"},
      {"int(model)", "int() cannot convert a string at column 1"},
      {"double(true)", "double() cannot convert a bool at column 1"},
      {"int(1",
       "expected ')' instead of end of expression at column 6; to close the '(' at "
       "column 4"},
      {"(1 + 2",
       "expected ')' instead of end of expression at column 7; to close the '(' at "
       "column 1"},
      {"(1 + 2 3)", "expected ')' instead of '3' at column 8"},
      {"true ? 1",
       "expected ':' instead of end of expression at column 9; to complete the '?' "
       "at column 6"},
      {"1 2", "unexpected '2' at column 3; expected an operator or the end of the expression"},
      {"1 + 2)", "unexpected ')' at column 6"},
      {"input_tokens input_tokens", "unexpected 'input_tokens' at column 14"},
      {"1 'x'", "unexpected ''x'' at column 3"},
      {"1 +", "unexpected end of expression at column 4"},
      {"1 + * 2", "unexpected '*' at column 5"},
      {"()", "unexpected ')' at column 2"},
      {"?", "unexpected '?' at column 1"},
      {"1 , 2", "unexpected ',' at column 3"},
      {"model.size()", "unexpected '.' at column 6; member access and methods are not supported"},
      {"1.", "unexpected '.' at column 2"},
      {"[1]", "unexpected '[' at column 1; lists and maps are not supported"},
      {"{}", "unexpected '{' at column 1"},
      {"1 = 1", "unexpected '=' at column 3; did you mean '=='?"},
      {"true & true", "unexpected '&' at column 6; did you mean '&&'?"},
      {"true | true", "unexpected '|' at column 6; did you mean '||'?"},
      {"1 @ 2", "unexpected character '@' at column 3"},
      {"1 + \x01", "unexpected character byte 0x01 at column 5"},
      {"'abc", "unterminated string at column 1"},
      {"1 + \"abc'", "unterminated string at column 5"},
      {"'a\nb'", "unterminated string at column 1"},
      {"'abc\\", "unterminated string at column 1"},
      {R"('a\qb')", "unsupported escape 'q' in string at column 3; supported: \\\\ \\'"},
      {"12abc", "malformed number '12abc' at column 1"},
      {"1.5u", "malformed number '1.5u' at column 1"},
      {"0x", "malformed hex literal at column 1"},
      {"0xg", "malformed hex literal at column 1"},
      {"1 + 1e", "malformed exponent in number at column 6"},
      {"1e+", "malformed exponent in number at column 2"},
      {"1e999", "double literal out of range at column 1"},
      {"9223372036854775808",
       "integer literal out of range at column 1; write a uint as "
       "9223372036854775808u"},
      {"18446744073709551616u", "integer literal out of range at column 1"},
      {"0x10000000000000000", "integer literal out of range at column 1"},
      {"1 + -9223372036854775809", "integer literal out of range at column 6"},
      {"-(9223372036854775808)", "integer literal out of range at column 3"},
      // No variable: the value is fixed, so a failure is known now.
      {"1 / 0", "the expression reads no variable and always fails: division by zero at column 3"},
      {"1 % 0", "always fails: modulus by zero at column 3"},
      {"uint(1) - uint(1200)", "always fails: unsigned integer overflow in '-' at column 9"},
      {"-5", "always fails: result is negative (-5) at column 1"},
      {"-0.5", "always fails: result is negative (-0.5)"},
      {"1.0 / 0.0", "always fails: result is not a finite number (inf)"},
      {"1e300 * 1e300 - 1e300 * 1e300", "always fails: result is not a finite number"},
      {"2e19", "always fails: result is too large for uint64 (2e+19) at column 1"},
      {"uint(-1)", "always fails: negative int converted to uint at column 1"},
      {"int(1e19)", "always fails: double value NaN or out of int range at column 1"},
      {"int(18446744073709551615u)", "always fails: uint value too large for int at column 1"},
      {"9223372036854775807 + 1", "always fails: integer overflow in '+' at column 21"},
  };
  for (const auto& [expr, want] : cases) EXPECT_THAT(compileError(expr), HasSubstr(want)) << expr;
}

TEST(Cel, NestingLimit) {
  auto parens = [](int n) { return std::string(n, '(') + "1" + std::string(n, ')'); };
  EXPECT_EQ(run(parens(64)), "1");
  EXPECT_EQ(compileError(parens(65)), "expression nests deeper than 64 at column 65");
  EXPECT_EQ(compileError(parens(100000).substr(0, 4000)),
            "expression nests deeper than 64 at column 65");

  EXPECT_EQ(run(std::string(64, '!') + "true ? 1 : 0"), "1");
  EXPECT_THAT(compileError(std::string(65, '!') + "true ? 1 : 0"),
              HasSubstr("nests deeper than 64 at column 65"));

  std::string calls;
  for (int i = 0; i < 65; ++i) calls += "int(";
  calls += "1" + std::string(65, ')');
  EXPECT_THAT(compileError(calls), HasSubstr("nests deeper than 64 at column 260"));

  std::string chain;  // a ? 1 : a ? 2 : ... nests through the else branches
  for (int i = 0; i < 70; ++i) chain += "false ? 1 : ";
  chain += "0";
  EXPECT_THAT(compileError(chain), HasSubstr("nests deeper than 64"));
}

TEST(Cel, DeepestStackFits) {
  // Each level leaves three operands waiting (==, + and * left sides): the worst case for the
  // evaluator's fixed stack.
  std::string expr = "1";
  for (int i = 0; i < 63; ++i) expr = "(1 == 1 + 1 * " + expr + " ? 1 : 0)";
  expr = "input_tokens * 0 + 1 * " + expr;
  EXPECT_EQ(run(expr), "0");  // levels alternate 0 and 1, starting from 1 == 2 innermost
}

TEST(Cel, LengthLimit) {
  std::string longest = "1";
  while (longest.size() + 2 <= CelProgram::kMaxLength) longest += "+1";
  longest.resize(CelProgram::kMaxLength, ' ');
  EXPECT_EQ(run(longest), "2048");
  EXPECT_EQ(compileError(longest + " "),
            "expression longer than 4096 characters at column 4097; it has 4097");
  // A long left-associative chain is shallow: no nesting limit applies.
  std::string vars = "input_tokens";
  while (vars.size() + 15 <= CelProgram::kMaxLength) vars += " + input_tokens";
  EXPECT_EQ(run(vars), std::to_string(100 * ((vars.size() + 3) / 15)));
}

TEST(Cel, EvaluationErrors) {
  CelInputs in = sample();
  auto expectFails = [&](const std::string& expr, const std::string& want) {
    auto p = CelProgram::compile(expr);
    ASSERT_TRUE(p.ok()) << expr << ": " << p.error().public_message;
    auto r = p->evaluate(in);
    ASSERT_FALSE(r.ok()) << expr << " = " << r.value();
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
    EXPECT_EQ(r.error().source, ErrorSource::kInternal);
    EXPECT_THAT(r.error().detail, HasSubstr(want)) << expr;
    EXPECT_THAT(r.error().detail, HasSubstr(expr));
  };
  expectFails("input_tokens / (output_tokens - 30u)", "division by zero at column 14");
  expectFails("input_tokens % (output_tokens - 30)", "modulus by zero at column 14");
  expectFails("int(input_tokens) / 0", "division by zero at column 19");
  expectFails("output_tokens - input_tokens * 2", "result is negative (-170)");
  expectFails("output_tokens - input_tokens", "unsigned integer overflow in '-' at column 15");
  expectFails("input_tokens * 9223372036854775807", "integer overflow in '*' at column 14");
  expectFails("-9223372036854775807 - int(output_tokens)", "integer overflow in '-' at column 22");
  expectFails("(-9223372036854775807 - int(output_tokens / output_tokens)) / -1",
              "integer overflow in '/' at column 61");
  expectFails("(-9223372036854775807 - int(output_tokens / output_tokens)) % -1",
              "integer overflow in '%' at column 61");
  expectFails("-(int(input_tokens) - 9223372036854775807 - 101)",
              "integer overflow in unary '-' at column 1");
  expectFails("uint(int(output_tokens) - int(input_tokens))",
              "negative int converted to uint at column 1");
  expectFails("int(input_tokens * 1e300)", "double value NaN or out of int range at column 1");
  expectFails("uint(input_tokens * -1.0)", "double value negative, NaN or out of uint range");
  expectFails("input_tokens * -0.5", "result is negative (-50)");
  expectFails("input_tokens * 1e300 * 1e300", "result is not a finite number (inf)");
  expectFails("double(input_tokens) / 0.0 * 0.0", "result is not a finite number");
  expectFails("double(input_tokens) * 1e18", "result is too large for uint64 (1e+20)");

  in.input_tokens = kMaxU64;
  expectFails("input_tokens + 1u", "unsigned integer overflow in '+' at column 14");
  expectFails("input_tokens * 2u", "unsigned integer overflow in '*' at column 14");
  expectFails("input_tokens * 2", "uint value too large for int at column 14");
  expectFails("int(input_tokens)", "uint value too large for int at column 1");
  EXPECT_EQ(run("input_tokens", in), std::to_string(kMaxU64));
  EXPECT_EQ(run("input_tokens - 1u", in), std::to_string(kMaxU64 - 1));
  EXPECT_EQ(run("input_tokens > 5 ? 1 : 0", in), "1");  // exact, no conversion to int
}

TEST(Cel, DoubleResultsTruncateTowardZero) {
  EXPECT_EQ(run("0.999"), "0");
  EXPECT_EQ(run("input_tokens * 0.015"), "1");
  EXPECT_EQ(run("18446744073709549568.0"), "18446744073709549568");  // largest double < 2^64
  EXPECT_THAT(run("18446744073709551616.0"), HasSubstr("too large for uint64"));
  EXPECT_EQ(run("-0.0"), "0");
}

TEST(Cel, ProgramsAreSharedAndReusable) {
  std::optional<CelProgram> copy;
  {
    auto p = CelProgram::compile("model == 'm' ? input_tokens * 2 : output_tokens");
    ASSERT_TRUE(p.ok());
    copy = p.value();
    EXPECT_EQ(p->source(), "model == 'm' ? input_tokens * 2 : output_tokens");
  }
  CelInputs in = sample();
  in.model = "m";
  EXPECT_EQ(copy->evaluate(in).value(), 200u);
  in.model = "n";
  EXPECT_EQ(copy->evaluate(in).value(), 30u);
  EXPECT_EQ(copy->source(), "model == 'm' ? input_tokens * 2 : output_tokens");
  CelProgram moved = std::move(*copy);
  EXPECT_EQ(moved.evaluate(in).value(), 30u);
}

TEST(Cel, EvaluateDoesNotAllocate) {
  if (!TOLLGATE_COUNT_ALLOCATIONS) GTEST_SKIP() << "ThreadSanitizer owns operator new here";
  auto p = CelProgram::compile(
      "model == 'openai/gpt-oss-20b' && backend != 'a fairly long backend name, no SSO' ? "
      "uint(double(input_tokens - cached_input_tokens) * 1.5) + output_tokens * 4 : "
      "total_tokens");
  ASSERT_TRUE(p.ok()) << p.error().public_message;
  CelInputs in = sample();
  uint64_t sum = 0;
  long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    in.output_tokens = static_cast<uint64_t>(i);
    auto r = p->evaluate(in);
    if (r.ok()) sum += r.value();
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(sum, 1000u * 90 + 4u * (999u * 1000 / 2));
}

TEST(Cel, ConcurrentEvaluation) {
  auto p =
      CelProgram::compile("model == 'cool_model' ? input_tokens * output_tokens : total_tokens");
  ASSERT_TRUE(p.ok());
  const CelProgram& program = p.value();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      CelInputs in;
      in.model = t % 2 == 0 ? "cool_model" : "other";
      in.total_tokens = 7;
      for (uint64_t i = 0; i < 20000; ++i) {
        in.input_tokens = i;
        in.output_tokens = 3;
        auto r = program.evaluate(in);
        uint64_t want = t % 2 == 0 ? i * 3 : 7;
        if (!r.ok() || r.value() != want) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A grammatical expression of random shape and, mostly, ill-typed: about a third compile.
std::string randomExpression(std::mt19937_64& rng, int depth) {
  static const char* const kLeaves[] = {"input_tokens",
                                        "output_tokens",
                                        "total_tokens",
                                        "cached_input_tokens",
                                        "model",
                                        "backend",
                                        "0",
                                        "1",
                                        "3",
                                        "-2",
                                        "9223372036854775807",
                                        "-9223372036854775808",
                                        "0u",
                                        "2u",
                                        "18446744073709551615u",
                                        "0.0",
                                        "0.5",
                                        "-1.5",
                                        "1e300",
                                        "'x'",
                                        "'openai/gpt-oss-20b'",
                                        "true",
                                        "false"};
  static const char* const kBinary[] = {
      "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
  static const char* const kCalls[] = {"int", "uint", "double"};
  if (depth == 0 || rng() % 4 == 0) return kLeaves[rng() % (sizeof(kLeaves) / sizeof(char*))];
  switch (rng() % 6) {
    case 0:
    case 1:
      return randomExpression(rng, depth - 1) + " " + kBinary[rng() % 13] + " " +
             randomExpression(rng, depth - 1);
    case 2:
      return (rng() % 2 ? "-" : "!") + randomExpression(rng, depth - 1);
    case 3:
      return randomExpression(rng, depth - 1) + " ? " + randomExpression(rng, depth - 1) + " : " +
             randomExpression(rng, depth - 1);
    case 4:
      return "(" + randomExpression(rng, depth - 1) + ")";
    default:
      return std::string(kCalls[rng() % 3]) + "(" + randomExpression(rng, depth - 1) + ")";
  }
}

// Random token soup, random bytes and random inputs: compile and evaluate must never crash,
// hang or trip a sanitizer, whatever they return.
TEST(Cel, FuzzRandomTokenSequences) {
  static const char* const kVocab[] = {
      "input_tokens",
      "output_tokens",
      "total_tokens",
      "cached_input_tokens",
      "cached_write_input_tokens",
      "model",
      "backend",
      "foo",
      "int",
      "uint",
      "double",
      "size",
      "true",
      "false",
      "0",
      "1",
      "2",
      "7",
      "-1",
      "0u",
      "3u",
      "18446744073709551615u",
      "9223372036854775807",
      "9223372036854775808",
      "0x7fffffffffffffff",
      "0.0",
      "0.5",
      "1e308",
      ".5",
      "1e",
      "'x'",
      "\"openai/gpt-oss-20b\"",
      "'",
      "\"",
      "'\\q'",
      "(",
      "(",
      "(",
      ")",
      ")",
      ")",
      "?",
      ":",
      "+",
      "-",
      "-",
      "*",
      "/",
      "%",
      "!",
      "<",
      "<=",
      ">",
      ">=",
      "==",
      "!=",
      "&&",
      "||",
      ",",
      ".",
      "=",
      "&",
      "|",
      "[",
      "@",
      "//",
      "\n",
      "\\",
  };
  constexpr size_t kVocabSize = sizeof(kVocab) / sizeof(kVocab[0]);
  std::mt19937_64 rng(20240611);
  int compiled = 0;
  int evaluated_ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string expr;
    if (iter % 2 == 0) {
      expr = randomExpression(rng, 4);
    } else if (iter % 10 == 9) {
      size_t len = rng() % 40;
      for (size_t i = 0; i < len; ++i) expr += static_cast<char>(rng() % 256);
    } else {
      size_t len = 1 + rng() % 24;
      for (size_t i = 0; i < len; ++i) {
        expr += kVocab[rng() % kVocabSize];
        if (rng() % 3 != 0) expr += ' ';
      }
    }
    auto p = CelProgram::compile(expr);
    if (!p.ok()) {
      ASSERT_FALSE(p.error().public_message.empty()) << expr;
      ASSERT_THAT(p.error().public_message, HasSubstr("column")) << expr;
      continue;
    }
    ++compiled;
    for (int k = 0; k < 4; ++k) {
      static const uint64_t kValues[] = {0, 1, 2, 3, 100, 1u << 31, 1ull << 63, kMaxU64};
      CelInputs in;
      in.model = rng() % 2 ? "x" : "openai/gpt-oss-20b";
      in.backend = rng() % 2 ? "" : "x";
      in.input_tokens = kValues[rng() % 8];
      in.cached_input_tokens = kValues[rng() % 8];
      in.output_tokens = kValues[rng() % 8];
      in.total_tokens = kValues[rng() % 8];
      in.cached_write_input_tokens = kValues[rng() % 8];
      auto r1 = p->evaluate(in);
      auto r2 = p->evaluate(in);
      ASSERT_EQ(r1.ok(), r2.ok()) << expr;  // deterministic
      if (r1.ok()) {
        ASSERT_EQ(r1.value(), r2.value()) << expr;
        ++evaluated_ok;
      }
    }
  }
  // The soup must exercise the evaluator, not only the error paths.
  EXPECT_GT(compiled, 1000);
  EXPECT_GT(evaluated_ok, 1000);
}

}  // namespace
}  // namespace tollgate::ratelimit
