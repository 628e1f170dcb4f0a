// The `application/vnd.amazon.eventstream` framing used by Bedrock's streaming APIs
// (InvokeModelWithResponseStream, ConverseStream): an incremental decoder for upstream bodies and
// an encoder for tests and fake upstreams. docs/aws-eventstream.md describes the wire format.
//
// Threading: a decoder belongs to one response stream (one request's coroutine); not
// thread-safe. The free functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::providers::formats {

// Header value type codes as they appear on the wire.
enum class HeaderType : uint8_t {
  kBoolTrue = 0,
  kBoolFalse = 1,
  kByte = 2,
  kInt16 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kByteArray = 6,
  kString = 7,
  kTimestamp = 8,  // int64 milliseconds since the epoch
  kUuid = 9,       // 16 raw bytes
};

// One header. The views do not own: in a decoded Message they point into the decoder's input or
// buffer and are valid only during the on_message callback; for encoding they point to whatever
// the caller keeps alive until encodeMessage returns.
struct Header {
  std::string_view name;
  HeaderType type = HeaderType::kString;
  int64_t int_value = 0;   // bool (1/0), byte, int16, int32, int64, timestamp
  std::string_view bytes;  // byte array, string, uuid

  bool boolValue() const { return type == HeaderType::kBoolTrue; }

  static Header ofBool(std::string_view name, bool v);
  static Header ofByte(std::string_view name, int8_t v);
  static Header ofInt16(std::string_view name, int16_t v);
  static Header ofInt32(std::string_view name, int32_t v);
  static Header ofInt64(std::string_view name, int64_t v);
  static Header ofTimestamp(std::string_view name, int64_t millis);
  static Header ofBytes(std::string_view name, std::string_view v);
  static Header ofString(std::string_view name, std::string_view v);
  static Header ofUuid(std::string_view name, std::string_view sixteen_bytes);
};

// One decoded message; its views share the lifetime rule of Header.
struct Message {
  uint32_t total_length = 0;
  uint32_t headers_length = 0;
  uint32_t prelude_crc = 0;
  uint32_t message_crc = 0;
  std::vector<Header> headers;
  std::string_view payload;

  // The first header with this name, or nullptr.
  const Header* findHeader(std::string_view name) const;
  // The value of a string-typed header (":event-type", ":message-type", ":content-type",
  // ":exception-type", ":error-code", ":error-message"); empty when absent or not a string.
  std::string_view header(std::string_view name) const;
};

// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320). Pass the previous result as `crc`
// to continue over more bytes.
uint32_t crc32(std::string_view data, uint32_t crc = 0);

// Incremental decoder: feed() the body in pieces of any size; on_message runs once per complete,
// verified message, in order. Complete messages inside a piece are decoded in place; only the
// unfinished tail of a piece is copied, so a steady stream costs no copy.
//
// Bounds: a message is 16 bytes at least (prelude + CRC) and max_message_size at most; the length
// is trusted only after the prelude CRC matched, and the buffer for a partial message never grows
// past that length, so a hostile length cannot make it allocate more than max_message_size.
// Errors (error() text): "Prelude checksum mismatch", "Message checksum mismatch", "Message length
// N out of bounds [16, MAX]", "Headers length N out of bounds (message length M)", "Malformed
// headers: ...". After an error the decoder stays failed and ignores further input.
class EventStreamDecoder {
 public:
  using Callback = std::function<void(const Message&)>;
  static constexpr uint32_t kPreludeSize = 12;
  static constexpr uint32_t kMinMessageSize = 16;
  static constexpr uint32_t kDefaultMaxMessageSize = 16u * 1024 * 1024;

  // The callback must not call feed() on this decoder (no re-entrancy).
  explicit EventStreamDecoder(Callback on_message,
                              uint32_t max_message_size = kDefaultMaxMessageSize);

  // Returns false once the decoder has failed (now or earlier).
  bool feed(std::string_view bytes);

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  // True when no partial message is buffered: at the end of the body, false means it was cut.
  bool atMessageBoundary() const { return buffer_.empty(); }
  size_t bufferedBytes() const { return buffer_.size(); }
  uint64_t messagesDecoded() const { return messages_; }

 private:
  // Validates the 12-byte prelude; returns the total length, or 0 after failing.
  uint32_t checkPrelude(const char* p);
  // Verifies and delivers one complete message of `size` bytes; false after failing.
  bool deliver(const char* p, uint32_t size);
  void fail(std::string message);

  Callback on_message_;
  uint32_t max_message_size_;
  std::string buffer_;     // the beginning of a message whose end has not arrived yet
  uint32_t expected_ = 0;  // total length of the buffered message, 0 until its prelude is known
  Message message_;        // reused so that decoding allocates nothing once warmed up
  uint64_t messages_ = 0;
  bool failed_ = false;
  std::string error_;
};

// Parses one complete message held in `bytes` (exactly one message, nothing after it) into `out`,
// with the same checks as the decoder. Returns an empty string on success, else the error text.
std::string decodeMessage(std::string_view bytes, Message& out,
                          uint32_t max_message_size = EventStreamDecoder::kDefaultMaxMessageSize);

// Appends one encoded message to `out`. Returns false (and leaves `out` unchanged) when a header
// cannot be encoded: empty or >255-byte name, >65535-byte value, uuid not 16 bytes, unknown type.
bool encodeMessage(std::span<const Header> headers, std::string_view payload, std::string& out);

// The three headers Bedrock puts on every event, for fake upstreams and tests.
std::string encodeEvent(std::string_view event_type, std::string_view json_payload);
// An exception frame as Bedrock sends one mid-stream (`:message-type` exception).
std::string encodeException(std::string_view exception_type, std::string_view json_payload);

}  // namespace tollgate::providers::formats
