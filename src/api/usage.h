// Token usage as the limiter and metrics see it, whatever API produced it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::api {

struct TokenUsage {
  uint64_t input_tokens = 0;         // prompt tokens, cached ones included
  uint64_t cached_input_tokens = 0;  // part of input_tokens served from a prompt cache
  uint64_t output_tokens = 0;
  uint64_t total_tokens = 0;
  bool known = false;  // false: the response carried no usage (charge an estimate instead)
};

// Reads an OpenAI `usage` object (chat, completions, embeddings) and the top-level `model` from a
// complete OpenAI JSON body or one stream chunk. Returns true when usage was present (non-null).
bool extractOpenAIUsage(std::string_view json, TokenUsage& usage, std::string* model);

// Whether `text` is one complete, valid JSON document (UTF-8 checked).
bool isJsonDocument(std::string_view text);

}  // namespace tollgate::api
