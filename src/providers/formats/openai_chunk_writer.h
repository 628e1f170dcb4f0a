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

 private:
  std::string prefix_;
  bool role_sent_ = false;
};

}  // namespace tollgate::providers::formats
