#include "providers/formats/event_stream.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace tollgate::providers::formats {

namespace {

// Slicing-by-8 tables, built at compile time: a hand-written CRC keeps the module free of a zlib
// dependency and runs at about zlib's speed.
constexpr std::array<std::array<uint32_t, 256>, 8> makeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

constexpr auto kCrcTables = makeCrcTables();

// Buffer capacity kept between messages; typical Bedrock events are well under 1 KiB.
constexpr uint32_t kKeepCapacity = 64 * 1024;

uint32_t readU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

uint16_t readU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

int64_t readI64(const char* p) {
  uint64_t hi = readU32(p), lo = readU32(p + 4);
  return static_cast<int64_t>((hi << 32) | lo);
}

void appendBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Parses the header block; returns an empty string or the reason it is malformed.
std::string parseHeaders(const char* p, uint32_t len, std::vector<Header>& headers) {
  headers.clear();
  const char* end = p + len;
  while (p < end) {
    const auto name_len = static_cast<unsigned char>(*p++);
    if (name_len == 0) return "Malformed headers: empty header name";
    // The name, then at least the type byte.
    if (end - p < name_len + 1) return "Malformed headers: truncated header name";
    Header h;
    h.name = std::string_view(p, name_len);
    p += name_len;
    const auto type = static_cast<unsigned char>(*p++);
    if (type > static_cast<unsigned char>(HeaderType::kUuid)) {
      return "Malformed headers: unknown header value type " + std::to_string(type);
    }
    h.type = static_cast<HeaderType>(type);
    const auto need = [&](ptrdiff_t n) { return end - p >= n; };
    switch (h.type) {
      case HeaderType::kBoolTrue:
        h.int_value = 1;
        break;
      case HeaderType::kBoolFalse:
        h.int_value = 0;
        break;
      case HeaderType::kByte:
        if (!need(1)) return "Malformed headers: truncated byte value";
        h.int_value = static_cast<int8_t>(*p);
        p += 1;
        break;
      case HeaderType::kInt16:
        if (!need(2)) return "Malformed headers: truncated int16 value";
        h.int_value = static_cast<int16_t>(readU16(p));
        p += 2;
        break;
      case HeaderType::kInt32:
        if (!need(4)) return "Malformed headers: truncated int32 value";
        h.int_value = static_cast<int32_t>(readU32(p));
        p += 4;
        break;
      case HeaderType::kInt64:
      case HeaderType::kTimestamp:
        if (!need(8)) return "Malformed headers: truncated int64 value";
        h.int_value = readI64(p);
        p += 8;
        break;
      case HeaderType::kByteArray:
      case HeaderType::kString: {
        if (!need(2)) return "Malformed headers: truncated value length";
        const uint16_t n = readU16(p);
        p += 2;
        if (!need(n)) return "Malformed headers: truncated value";
        h.bytes = std::string_view(p, n);
        p += n;
        break;
      }
      case HeaderType::kUuid:
        if (!need(16)) return "Malformed headers: truncated uuid value";
        h.bytes = std::string_view(p, 16);
        p += 16;
        break;
    }
    headers.push_back(h);
  }
  return {};
}

// Checks the prelude of a message starting at p (12 bytes available). Returns the error text, or
// an empty string and sets total/headers.
std::string checkPreludeAt(const char* p, uint32_t max_size, uint32_t& total, uint32_t& headers) {
  // The CRC first: a corrupted length must never be trusted, not even to report bounds.
  if (crc32(std::string_view(p, 8)) != readU32(p + 8)) return "Prelude checksum mismatch";
  total = readU32(p);
  headers = readU32(p + 4);
  if (total < EventStreamDecoder::kMinMessageSize || total > max_size) {
    return "Message length " + std::to_string(total) + " out of bounds [" +
           std::to_string(EventStreamDecoder::kMinMessageSize) + ", " + std::to_string(max_size) +
           "]";
  }
  if (headers > total - EventStreamDecoder::kMinMessageSize) {
    return "Headers length " + std::to_string(headers) + " out of bounds (message length " +
           std::to_string(total) + ")";
  }
  return {};
}

// Verifies the message CRC and parses a complete message of `total` bytes whose prelude passed.
std::string parseVerified(const char* p, uint32_t total, uint32_t headers_len, Message& m) {
  const uint32_t wire_crc = readU32(p + total - 4);
  if (crc32(std::string_view(p, total - 4)) != wire_crc) return "Message checksum mismatch";
  m.total_length = total;
  m.headers_length = headers_len;
  m.prelude_crc = readU32(p + 8);
  m.message_crc = wire_crc;
  std::string err = parseHeaders(p + EventStreamDecoder::kPreludeSize, headers_len, m.headers);
  if (!err.empty()) return err;
  const uint32_t payload_at = EventStreamDecoder::kPreludeSize + headers_len;
  m.payload = std::string_view(p + payload_at, total - payload_at - 4);
  return {};
}

}  // namespace

uint32_t crc32(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  uint32_t c = ~crc;
  while (n >= 8) {
    // Byte by byte assembly keeps it endian-independent; compilers fold it into one load.
    const uint32_t lo = c ^ (uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                             (uint32_t{p[3]} << 24));
    const uint32_t hi =
        uint32_t{p[4]} | (uint32_t{p[5]} << 8) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 24);
    c = kCrcTables[7][lo & 0xFF] ^ kCrcTables[6][(lo >> 8) & 0xFF] ^
        kCrcTables[5][(lo >> 16) & 0xFF] ^ kCrcTables[4][lo >> 24] ^ kCrcTables[3][hi & 0xFF] ^
        kCrcTables[2][(hi >> 8) & 0xFF] ^ kCrcTables[1][(hi >> 16) & 0xFF] ^
        kCrcTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = kCrcTables[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

// ---- Header / Message ----

Header Header::ofBool(std::string_view name, bool v) {
  return Header{name, v ? HeaderType::kBoolTrue : HeaderType::kBoolFalse, v ? 1 : 0, {}};
}
Header Header::ofByte(std::string_view name, int8_t v) {
  return Header{name, HeaderType::kByte, v, {}};
}
Header Header::ofInt16(std::string_view name, int16_t v) {
  return Header{name, HeaderType::kInt16, v, {}};
}
Header Header::ofInt32(std::string_view name, int32_t v) {
  return Header{name, HeaderType::kInt32, v, {}};
}
Header Header::ofInt64(std::string_view name, int64_t v) {
  return Header{name, HeaderType::kInt64, v, {}};
}
Header Header::ofTimestamp(std::string_view name, int64_t millis) {
  return Header{name, HeaderType::kTimestamp, millis, {}};
}
Header Header::ofBytes(std::string_view name, std::string_view v) {
  return Header{name, HeaderType::kByteArray, 0, v};
}
Header Header::ofString(std::string_view name, std::string_view v) {
  return Header{name, HeaderType::kString, 0, v};
}
Header Header::ofUuid(std::string_view name, std::string_view sixteen_bytes) {
  return Header{name, HeaderType::kUuid, 0, sixteen_bytes};
}

const Header* Message::findHeader(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string_view Message::header(std::string_view name) const {
  const Header* h = findHeader(name);
  return h != nullptr && h->type == HeaderType::kString ? h->bytes : std::string_view();
}

// ---- Decoder ----

EventStreamDecoder::EventStreamDecoder(Callback on_message, uint32_t max_message_size)
    : on_message_(std::move(on_message)),
      max_message_size_(max_message_size < kMinMessageSize ? kMinMessageSize : max_message_size) {}

void EventStreamDecoder::fail(std::string message) {
  failed_ = true;
  error_ = std::move(message);
  buffer_.clear();
  buffer_.shrink_to_fit();
}

uint32_t EventStreamDecoder::checkPrelude(const char* p) {
  uint32_t total = 0, headers = 0;
  std::string err = checkPreludeAt(p, max_message_size_, total, headers);
  if (!err.empty()) {
    fail(std::move(err));
    return 0;
  }
  return total;
}

bool EventStreamDecoder::deliver(const char* p, uint32_t size) {
  std::string err = parseVerified(p, size, readU32(p + 4), message_);
  if (!err.empty()) {
    fail(std::move(err));
    return false;
  }
  ++messages_;
  on_message_(message_);
  return true;
}

bool EventStreamDecoder::feed(std::string_view bytes) {
  if (failed_) return false;
  const char* p = bytes.data();
  size_t n = bytes.size();

  // First finish the message a previous piece left unfinished.
  if (!buffer_.empty()) {
    if (expected_ == 0) {
      const size_t take = std::min<size_t>(kPreludeSize - buffer_.size(), n);
      buffer_.append(p, take);
      p += take;
      n -= take;
      if (buffer_.size() < kPreludeSize) return true;
      expected_ = checkPrelude(buffer_.data());
      if (expected_ == 0) return false;
      buffer_.reserve(std::min(expected_, kKeepCapacity));
    }
    const size_t take = std::min<size_t>(expected_ - buffer_.size(), n);
    buffer_.append(p, take);
    p += take;
    n -= take;
    if (buffer_.size() < expected_) return true;
    if (!deliver(buffer_.data(), expected_)) return false;
    buffer_.clear();
    // One huge message must not pin its buffer for the rest of a long stream.
    if (buffer_.capacity() > kKeepCapacity) buffer_.shrink_to_fit();
    expected_ = 0;
  }

  // Then every complete message of this piece straight from the caller's bytes.
  while (n >= kPreludeSize) {
    const uint32_t total = checkPrelude(p);
    if (total == 0) return false;
    if (n < total) {
      // Grow with the bytes that actually arrive, not with what the length promises.
      buffer_.reserve(std::min(total, kKeepCapacity));
      expected_ = total;
      break;
    }
    if (!deliver(p, total)) return false;
    p += total;
    n -= total;
  }
  // The unfinished tail (its prelude, when complete, already checked above).
  if (n > 0) buffer_.assign(p, n);
  return true;
}

std::string decodeMessage(std::string_view bytes, Message& out, uint32_t max_message_size) {
  if (bytes.size() < EventStreamDecoder::kPreludeSize) return "Message truncated";
  uint32_t total = 0, headers = 0;
  std::string err = checkPreludeAt(bytes.data(), max_message_size, total, headers);
  if (!err.empty()) return err;
  if (bytes.size() < total) return "Message truncated";
  if (bytes.size() > total) return "Trailing bytes after the message";
  return parseVerified(bytes.data(), total, headers, out);
}

// ---- Encoder ----

bool encodeMessage(std::span<const Header> headers, std::string_view payload, std::string& out) {
  size_t headers_len = 0;
  for (const Header& h : headers) {
    if (h.name.empty() || h.name.size() > 255) return false;
    headers_len += 2 + h.name.size();
    switch (h.type) {
      case HeaderType::kBoolTrue:
      case HeaderType::kBoolFalse:
        break;
      case HeaderType::kByte:
        headers_len += 1;
        break;
      case HeaderType::kInt16:
        headers_len += 2;
        break;
      case HeaderType::kInt32:
        headers_len += 4;
        break;
      case HeaderType::kInt64:
      case HeaderType::kTimestamp:
        headers_len += 8;
        break;
      case HeaderType::kByteArray:
      case HeaderType::kString:
        if (h.bytes.size() > 0xFFFF) return false;
        headers_len += 2 + h.bytes.size();
        break;
      case HeaderType::kUuid:
        if (h.bytes.size() != 16) return false;
        headers_len += 16;
        break;
      default:
        return false;
    }
  }
  const uint64_t total =
      uint64_t{EventStreamDecoder::kMinMessageSize} + headers_len + payload.size();
  if (total > 0xFFFFFFFFu) return false;

  const size_t start = out.size();
  out.reserve(start + total);
  appendBigEndian(out, total, 4);
  appendBigEndian(out, headers_len, 4);
  appendBigEndian(out, crc32(std::string_view(out).substr(start, 8)), 4);
  for (const Header& h : headers) {
    out.push_back(static_cast<char>(h.name.size()));
    out.append(h.name);
    out.push_back(static_cast<char>(h.type));
    const auto v = static_cast<uint64_t>(h.int_value);
    switch (h.type) {
      case HeaderType::kBoolTrue:
      case HeaderType::kBoolFalse:
        break;
      case HeaderType::kByte:
        appendBigEndian(out, v, 1);
        break;
      case HeaderType::kInt16:
        appendBigEndian(out, v, 2);
        break;
      case HeaderType::kInt32:
        appendBigEndian(out, v, 4);
        break;
      case HeaderType::kInt64:
      case HeaderType::kTimestamp:
        appendBigEndian(out, v, 8);
        break;
      case HeaderType::kByteArray:
      case HeaderType::kString:
        appendBigEndian(out, h.bytes.size(), 2);
        out.append(h.bytes);
        break;
      case HeaderType::kUuid:
        out.append(h.bytes);
        break;
    }
  }
  out.append(payload);
  appendBigEndian(out, crc32(std::string_view(out).substr(start)), 4);
  return true;
}

std::string encodeEvent(std::string_view event_type, std::string_view json_payload) {
  const Header headers[] = {Header::ofString(":event-type", event_type),
                            Header::ofString(":content-type", "application/json"),
                            Header::ofString(":message-type", "event")};
  std::string out;
  encodeMessage(headers, json_payload, out);
  return out;
}

std::string encodeException(std::string_view exception_type, std::string_view json_payload) {
  const Header headers[] = {Header::ofString(":exception-type", exception_type),
                            Header::ofString(":content-type", "application/json"),
                            Header::ofString(":message-type", "exception")};
  std::string out;
  encodeMessage(headers, json_payload, out);
  return out;
}

}  // namespace tollgate::providers::formats
