#include "api/sse.h"

namespace tollgate::api {

bool SseParser::nextEvent(size_t& pos, SseEvent& ev) {
  std::string_view s(buf_);
  size_t start = pos;
  size_t i = pos;
  std::string_view event_name;
  std::string_view single_data;
  int data_lines = 0;
  data_scratch_.clear();
  while (i < s.size()) {
    size_t eol = s.find_first_of("\r\n", i);
    if (eol == std::string_view::npos) return false;  // incomplete line
    size_t next = eol + 1;
    if (s[eol] == '\r') {
      if (eol + 1 >= s.size()) return false;  // can't tell CR from CRLF yet
      if (s[eol + 1] == '\n') next = eol + 2;
    }
    std::string_view line = s.substr(i, eol - i);
    i = next;
    if (line.empty()) {
      if (data_lines == 0 && event_name.empty()) {
        // Blank line with no fields: keep scanning (leading blank lines, keep-alives).
        continue;
      }
      ev.raw = s.substr(start, i - start);
      ev.event = event_name;
      ev.data = data_lines == 1 ? single_data : std::string_view(data_scratch_);
      pos = i;
      return true;
    }
    if (line.front() == ':') continue;  // comment
    auto colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (data_lines == 0) {
        single_data = value;
      } else {
        if (data_lines == 1) data_scratch_.assign(single_data);
        data_scratch_ += '\n';
        data_scratch_.append(value);
      }
      ++data_lines;
    } else if (field == "event") {
      event_name = value;
    }
  }
  return false;
}

}  // namespace tollgate::api
