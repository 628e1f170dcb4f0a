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

}  // namespace tollgate::providers::formats
