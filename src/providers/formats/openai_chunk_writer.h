// OpenAI chat.completion.chunk SSE events, for translators that produce OpenAI streams from
// another provider's (Bedrock Converse, Claude on Bedrock). The part every chunk shares is
// rendered once per stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::providers::formats {

class ChunkWriter {
 public:
  void setPrefix(std::string_view id, int64_t created, std::string_view model);
  bool hasPrefix() const { return !prefix_.empty(); }
  // `data: {"id":..,"object":"chat.completion.chunk","created":..,"model":..,"choices":[`
  const std::string& prefix() const { return prefix_; }
  // Opens a chunk with one choice: the prefix, then `{"index":0,"delta":`.
  void begin(std::string& out) const;
  // Closes it with the finish reason (null when empty).
  static void end(std::string_view finish_reason, std::string& out);
  // The assistant role chunk, once per stream.
  void ensureRole(std::string& out);

  // Whole chunks, each `begin`, one delta, `end` without a finish reason:
  // {"<key>": text} (key "content" or "reasoning_content").
  void text(std::string_view key, std::string_view text, std::string& out) const;
  // The first delta of a tool call: index, id, type and function name, empty arguments.
  void toolCallStart(int index, std::string_view id, std::string_view name, std::string& out) const;
  // More arguments for tool call `index`.
  void toolCallArguments(int index, std::string_view arguments, std::string& out) const;
  // The usage-only chunk (`choices: []`) a client asks for with stream_options.include_usage.
  void usage(uint64_t prompt_tokens, uint64_t completion_tokens, uint64_t total_tokens,
             uint64_t cached_tokens, std::string& out) const;

 private:
  std::string prefix_;
  bool role_sent_ = false;
};

}  // namespace tollgate::providers::formats
