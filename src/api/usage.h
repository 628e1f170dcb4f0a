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
  uint64_t reasoning_tokens = 0;  // part of output_tokens spent on reasoning (OpenAI reports it)
  uint64_t total_tokens = 0;
  bool known = false;  // false: the response carried no usage (charge an estimate instead)
};

// Reads an OpenAI `usage` object (chat, completions, embeddings) and the top-level `model` from a
// complete OpenAI JSON body or one stream chunk. Returns true when usage was present (non-null).
bool extractOpenAIUsage(std::string_view json, TokenUsage& usage, std::string* model);

// Reads an OpenAI Responses `usage` object (input_tokens, input_tokens_details.cached_tokens,
// output_tokens, output_tokens_details.reasoning_tokens, total_tokens) and the `model` from a
// complete Responses body (the response object). Returns true when usage was present (non-null).
bool extractResponsesUsage(std::string_view json, TokenUsage& usage, std::string* model);

// One event of a Responses stream (its `data`), read in one parse.
enum class ResponsesEventType {
  kOther,       // deltas, item and part events: relayed, nothing to read
  kCreated,     // response.created / response.in_progress: the response id and model
  kCompleted,   // response.completed: the final usage
  kIncomplete,  // response.incomplete: a normal end (max_output_tokens, content filter), usage
  kFailed,      // response.failed: the upstream's own failure, usage when it has some
  kError,       // error (or a bare {"error":{...}}): the upstream's error event
};
struct ResponsesEvent {
  ResponsesEventType type = ResponsesEventType::kOther;
  int64_t sequence_number = -1;  // -1: absent
};
// Returns false when `data` is not one valid JSON object. For the events carrying the response
// object, fills `response_id` and `model` (when present) and `usage` (when the response has one).
bool readResponsesEvent(std::string_view data, ResponsesEvent& ev, TokenUsage& usage,
                        std::string& model, std::string& response_id);

// Whether `text` is one complete, valid JSON document (UTF-8 checked).
bool isJsonDocument(std::string_view text);

}  // namespace tollgate::api
