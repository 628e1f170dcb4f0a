// Incremental Server-Sent Events parser (WHATWG rules: LF, CR or CRLF line ends, "data:" lines
// joined with "\n", one optional space after the colon, comments ignored). Bytes may arrive split
// anywhere; complete events are reported with their raw bytes so a relay can forward them as-is.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::api {

struct SseEvent {
  std::string_view raw;    // the event's bytes including its terminating blank line
  std::string_view event;  // "event:" field, empty when absent
  std::string_view data;   // the joined data lines
};

class SseParser {
 public:
  // Appends bytes and calls on_event(const SseEvent&) for each complete event, in order. Views
  // are valid during the callback only.
  template <typename F>
  void feed(std::string_view bytes, F&& on_event) {
    buf_.append(bytes);
    size_t consumed = 0;
    SseEvent ev;
    while (nextEvent(consumed, ev)) on_event(ev);
    buf_.erase(0, consumed);
  }
  // Bytes of an incomplete event (a stream cut mid-event leaves them here).
  std::string_view pending() const { return buf_; }
  void clear() { buf_.clear(); }

 private:
  bool nextEvent(size_t& pos, SseEvent& ev);
  std::string buf_;
  std::string data_scratch_;
};

}  // namespace tollgate::api
