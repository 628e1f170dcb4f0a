#include "providers/formats/usage.h"

#include <algorithm>
#include <boost/json.hpp>

namespace tollgate::providers::formats {

namespace json = boost::json;

bool readTokenCount(const json::value* v, uint64_t& out) {
  if (v == nullptr) return false;
  if (v->is_uint64()) {
    out = v->get_uint64();
    return true;
  }
  if (v->is_int64() && v->get_int64() >= 0) {
    out = static_cast<uint64_t>(v->get_int64());
    return true;
  }
  // A double past uint64's range (1e30 from a broken or hostile upstream) cannot be converted:
  // the cast would be undefined behaviour. NaN fails both comparisons.
  if (v->is_double() && v->get_double() >= 0 && v->get_double() < 18446744073709551616.0) {
    out = static_cast<uint64_t>(v->get_double());
    return true;
  }
  return false;
}

bool readConverseUsage(const json::value& usage, Usage& out, uint64_t& total) {
  if (!usage.is_object()) return false;
  const json::object& u = usage.as_object();
  uint64_t input = 0, output = 0, cache_read = 0, cache_write = 0;
  total = 0;
  const bool has_in = readTokenCount(u.if_contains("inputTokens"), input);
  const bool has_out = readTokenCount(u.if_contains("outputTokens"), output);
  readTokenCount(u.if_contains("totalTokens"), total);
  readTokenCount(u.if_contains("cacheReadInputTokens"), cache_read);
  readTokenCount(u.if_contains("cacheWriteInputTokens"), cache_write);
  if (!has_in && !has_out) return false;
  out.input_tokens = input + cache_read + cache_write;
  out.output_tokens = output;
  out.cached_input_tokens = cache_read;
  out.known = true;
  total = std::max(total, out.input_tokens + out.output_tokens);
  return true;
}

}  // namespace tollgate::providers::formats
