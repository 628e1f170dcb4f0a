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
    const size_t before = buf_.size();
    buf_.append(bytes);
    // Only a blank line ends an event. When the new bytes (and the few before them) hold none,
    // nothing can have completed, and the pending event is not scanned again: an event trickling
    // in piece by piece would otherwise be rescanned from its start each time (quadratic).
    if (!mayEndEvent(before > 3 ? before - 3 : 0)) return;
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
  // Whether buf_ from `from` holds two line breaks in a row ("\n\n", "\r\r" or "\n\r": every
  // blank line, whatever mix of CR, LF and CRLF ends the lines, contains one of them).
  bool mayEndEvent(size_t from) const {
    for (size_t i = from; i + 1 < buf_.size(); ++i) {
      const char a = buf_[i], b = buf_[i + 1];
      if ((a == '\n' && (b == '\n' || b == '\r')) || (a == '\r' && b == '\r')) return true;
    }
    return false;
  }
  std::string buf_;
  std::string data_scratch_;
};

}  // namespace tollgate::api
