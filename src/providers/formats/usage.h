// Token counts as Bedrock's APIs and Anthropic's events report them, read into the gateway's
// convention: input counts every prompt token, cached ones included.
#pragma once

#include <cstdint>

namespace boost::json {
class value;
}

namespace tollgate::providers::formats {

// Token usage read from a Bedrock stream. input_tokens counts every prompt token, cached ones
// included (Anthropic and Bedrock report the cached parts separately; they are added here);
// cached_input_tokens is the part read from the prompt cache.
struct Usage {
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t cached_input_tokens = 0;
  bool known = false;  // false: the stream carried no usage (charge an estimate instead)
};

// A token count from JSON: non-negative integers (or doubles); absent, null, negative or a double
// past uint64's range reads as unset (false). Shared by every Bedrock translator.
bool readTokenCount(const boost::json::value* v, uint64_t& out);
// A Converse `usage` object (inputTokens excludes cache reads and writes; the result's
// input_tokens includes them, as OpenAI's prompt_tokens does). `total` is the larger of
// totalTokens and input + output. False when it has neither input nor output tokens.
bool readConverseUsage(const boost::json::value& usage, Usage& out, uint64_t& total);

}  // namespace tollgate::providers::formats
