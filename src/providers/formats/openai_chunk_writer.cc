#include "providers/formats/openai_chunk_writer.h"

#include "common/strings.h"

namespace tollgate::providers::formats {

void ChunkWriter::setPrefix(std::string_view id, int64_t created, std::string_view model) {
  prefix_ = "data: {\"id\":";
  appendJsonString(prefix_, id);
  prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":";
  prefix_ += std::to_string(created);
  prefix_ += ",\"model\":";
  appendJsonString(prefix_, model);
  prefix_ += ",\"choices\":[";
}

void ChunkWriter::begin(std::string& out) const {
  out += prefix_;
  out += "{\"index\":0,\"delta\":";
}

void ChunkWriter::end(std::string_view finish_reason, std::string& out) {
  out += ",\"logprobs\":null,\"finish_reason\":";
  if (finish_reason.empty()) {
    out += "null";
  } else {
    appendJsonString(out, finish_reason);
  }
  out += "}]}\n\n";
}

void ChunkWriter::ensureRole(std::string& out) {
  if (role_sent_) return;
  role_sent_ = true;
  begin(out);
  out += "{\"role\":\"assistant\",\"content\":\"\"}";
  end({}, out);
}

void ChunkWriter::text(std::string_view key, std::string_view text, std::string& out) const {
  begin(out);
  out += "{\"";
  out += key;
  out += "\":";
  appendJsonString(out, text);
  out += "}";
  end({}, out);
}

void ChunkWriter::toolCallStart(int index, std::string_view id, std::string_view name,
                                std::string& out) const {
  begin(out);
  out += "{\"tool_calls\":[{\"index\":";
  out += std::to_string(index);
  out += ",\"id\":";
  appendJsonString(out, id);
  out += ",\"type\":\"function\",\"function\":{\"name\":";
  appendJsonString(out, name);
  out += ",\"arguments\":\"\"}}]}";
  end({}, out);
}

void ChunkWriter::toolCallArguments(int index, std::string_view arguments, std::string& out) const {
  begin(out);
  out += "{\"tool_calls\":[{\"index\":";
  out += std::to_string(index);
  out += ",\"function\":{\"arguments\":";
  appendJsonString(out, arguments);
  out += "}}]}";
  end({}, out);
}

void ChunkWriter::usage(uint64_t prompt_tokens, uint64_t completion_tokens, uint64_t total_tokens,
                        uint64_t cached_tokens, std::string& out) const {
  out += prefix_;
  out += "],\"usage\":{\"prompt_tokens\":";
  out += std::to_string(prompt_tokens);
  out += ",\"completion_tokens\":";
  out += std::to_string(completion_tokens);
  out += ",\"total_tokens\":";
  out += std::to_string(total_tokens);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  out += std::to_string(cached_tokens);
  out += "}}}\n\n";
}

}  // namespace tollgate::providers::formats
