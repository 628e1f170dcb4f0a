// Checked against the aws-sdk-go event-stream vectors in shared/conformance/aws-eventstream-vectors
// (see its README, section 3): every positive vector decodes to its JSON and re-encodes to the
// same bytes, every negative vector fails with its exact error, whole and in random slices.
#include "providers/formats/event_stream.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/base64.h"
#include "common/file_test_util.h"

namespace tollgate::providers::formats {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs
namespace json = boost::json;

const fs::path kVectors = conformanceDir() / "aws-eventstream-vectors";

// A decoded message copied out of the callback (its views die when the callback returns).
struct OwnedHeader {
  std::string name;
  HeaderType type;
  int64_t int_value;
  std::string bytes;
};
struct OwnedMessage {
  uint32_t total_length, headers_length, prelude_crc, message_crc;
  std::vector<OwnedHeader> headers;
  std::string payload;

  std::vector<Header> views() const {
    std::vector<Header> v;
    for (const OwnedHeader& h : headers) v.push_back(Header{h.name, h.type, h.int_value, h.bytes});
    return v;
  }
};

OwnedMessage own(const Message& m) {
  OwnedMessage o{m.total_length,        m.headers_length, m.prelude_crc, m.message_crc, {},
                 std::string(m.payload)};
  for (const Header& h : m.headers) {
    o.headers.push_back({std::string(h.name), h.type, h.int_value, std::string(h.bytes)});
  }
  return o;
}

struct DecodeResult {
  std::vector<OwnedMessage> messages;
  bool ok = true;
  std::string error;
  bool at_boundary = true;
};

// Feeds `bytes` in slices of 1..max_slice bytes (whole when max_slice is 0).
DecodeResult decodeAll(std::string_view bytes, size_t max_slice, uint32_t seed = 42,
                       uint32_t max_message = EventStreamDecoder::kDefaultMaxMessageSize) {
  DecodeResult r;
  EventStreamDecoder d([&](const Message& m) { r.messages.push_back(own(m)); }, max_message);
  if (max_slice == 0) {
    d.feed(bytes);
  } else {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> dist(1, max_slice);
    size_t at = 0;
    while (at < bytes.size()) {
      const size_t n = std::min(dist(rng), bytes.size() - at);
      if (!d.feed(bytes.substr(at, n))) break;
      at += n;
    }
  }
  r.ok = !d.failed();
  r.error = d.error();
  r.at_boundary = d.atMessageBoundary();
  return r;
}

std::string b64(std::string_view s) {
  std::string out;
  EXPECT_TRUE(base64Decode(s, out)) << s;
  return out;
}

// Compares one decoded message with the vector's JSON description.
void expectMatches(const OwnedMessage& m, const json::object& want) {
  EXPECT_EQ(m.total_length, want.at("total_length").to_number<uint32_t>());
  EXPECT_EQ(m.headers_length, want.at("headers_length").to_number<uint32_t>());
  // The JSON writes CRCs as signed int32.
  EXPECT_EQ(m.prelude_crc, static_cast<uint32_t>(want.at("prelude_crc").to_number<int64_t>()));
  EXPECT_EQ(m.message_crc, static_cast<uint32_t>(want.at("message_crc").to_number<int64_t>()));
  EXPECT_EQ(m.payload, b64(want.at("payload").as_string()));
  const json::array& hs = want.at("headers").as_array();
  ASSERT_EQ(m.headers.size(), hs.size());
  for (size_t i = 0; i < hs.size(); ++i) {
    const json::object& h = hs[i].as_object();
    const OwnedHeader& got = m.headers[i];
    SCOPED_TRACE(got.name);
    EXPECT_EQ(got.name, std::string_view(h.at("name").as_string()));
    const int type = h.at("type").to_number<int>();
    EXPECT_EQ(static_cast<int>(got.type), type);
    const json::value& v = h.at("value");
    switch (static_cast<HeaderType>(type)) {
      case HeaderType::kBoolTrue:
      case HeaderType::kBoolFalse:
        EXPECT_EQ(got.int_value != 0, v.as_bool());
        EXPECT_EQ(Header({got.name, got.type, got.int_value, {}}).boolValue(), v.as_bool());
        break;
      case HeaderType::kByte:
      case HeaderType::kInt16:
      case HeaderType::kInt32:
      case HeaderType::kInt64:
      case HeaderType::kTimestamp:
        EXPECT_EQ(got.int_value, v.to_number<int64_t>());
        break;
      case HeaderType::kByteArray:
      case HeaderType::kString:
      case HeaderType::kUuid:
        EXPECT_EQ(got.bytes, b64(v.as_string()));
        break;
    }
  }
}

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Crc32, MatchesZlib) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  // Continuing over a split gives the same value; long input exercises the 8-byte path.
  std::string big;
  for (int i = 0; i < 1000; ++i) big.push_back(static_cast<char>(i * 7));
  EXPECT_EQ(crc32(std::string_view(big).substr(13), crc32(std::string_view(big).substr(0, 13))),
            crc32(big));
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

TEST(EventStreamVectors, Positive) {
  int count = 0;
  for (const fs::path& enc : filesIn(kVectors / "encoded/positive")) {
    const std::string name = enc.filename().string();
    SCOPED_TRACE(name);
    ++count;
    const std::string bytes = readFileText(enc);
    const json::object want =
        json::parse(readFileText(kVectors / "decoded/positive" / name)).as_object();

    for (size_t slice : {size_t{0}, size_t{1}, size_t{3}, size_t{17}}) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        SCOPED_TRACE("slice " + std::to_string(slice) + " seed " + std::to_string(seed));
        const DecodeResult r = decodeAll(bytes, slice, seed);
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_TRUE(r.at_boundary);
        ASSERT_EQ(r.messages.size(), 1u);
        expectMatches(r.messages[0], want);
        if (slice == 0) break;
      }
    }

    // decodeMessage() on the same bytes, and the round trip back to the exact bytes.
    Message m;
    ASSERT_EQ(decodeMessage(bytes, m), "");
    expectMatches(own(m), want);
    std::string again;
    ASSERT_TRUE(encodeMessage(m.headers, m.payload, again));
    EXPECT_EQ(again, bytes);
  }
  EXPECT_EQ(count, 5);
}

TEST(EventStreamVectors, Negative) {
  int count = 0;
  for (const fs::path& enc : filesIn(kVectors / "encoded/negative")) {
    const std::string name = enc.filename().string();
    SCOPED_TRACE(name);
    ++count;
    const std::string bytes = readFileText(enc);
    std::string want = readFileText(kVectors / "decoded/negative" / name);
    while (!want.empty() && (want.back() == '\n' || want.back() == '\r')) want.pop_back();
    for (size_t slice : {size_t{0}, size_t{1}, size_t{5}}) {
      const DecodeResult r = decodeAll(bytes, slice);
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.error, want);
      EXPECT_TRUE(r.messages.empty());
    }
    Message m;
    EXPECT_EQ(decodeMessage(bytes, m), want);
  }
  EXPECT_EQ(count, 4);
}

TEST(EventStreamVectors, AllPositiveConcatenatedInSlices) {
  // Messages back to back, split anywhere: exercises the boundary between buffered and in-place.
  std::string all;
  std::vector<json::object> wants;
  for (const fs::path& enc : filesIn(kVectors / "encoded/positive")) {
    for (int rep = 0; rep < 3; ++rep) {
      all += readFileText(enc);
      wants.push_back(
          json::parse(readFileText(kVectors / "decoded/positive" / enc.filename())).as_object());
    }
  }
  for (size_t slice :
       {size_t{0}, size_t{1}, size_t{2}, size_t{11}, size_t{13}, size_t{50}, size_t{100}}) {
    for (uint32_t seed = 0; seed < 10; ++seed) {
      const DecodeResult r = decodeAll(all, slice, seed);
      ASSERT_TRUE(r.ok) << r.error;
      ASSERT_EQ(r.messages.size(), wants.size());
      for (size_t i = 0; i < wants.size(); ++i) expectMatches(r.messages[i], wants[i]);
      if (slice == 0) break;
    }
  }
}

// Builds a raw message with the given header block bytes and valid CRCs, so that the checks after
// the CRCs can be reached.
std::string rawMessage(uint32_t total, uint32_t headers_len, std::string_view body) {
  std::string m;
  auto put32 = [&](uint32_t v) {
    for (int i = 3; i >= 0; --i) m.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  put32(total);
  put32(headers_len);
  put32(crc32(m));
  m.append(body);
  put32(crc32(m));
  return m;
}

TEST(EventStreamDecoder, HostileLengthsAreRejectedWithoutAllocating) {
  // A valid prelude CRC over a 4 GiB length: refused before any buffering.
  std::string huge = rawMessage(0xFFFFFFF0u, 0, "");
  DecodeResult r = decodeAll(huge, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "Message length 4294967280 out of bounds [16, 16777216]");

  EventStreamDecoder d([](const Message&) { FAIL(); }, 1024);
  EXPECT_FALSE(d.feed(rawMessage(1025, 0, std::string(1009, 'x')).substr(0, 12)));
  EXPECT_EQ(d.error(), "Message length 1025 out of bounds [16, 1024]");
  EXPECT_EQ(d.bufferedBytes(), 0u);

  r = decodeAll(rawMessage(15, 0, ""), 0);
  EXPECT_EQ(r.error, "Message length 15 out of bounds [16, 16777216]");
  r = decodeAll(rawMessage(20, 5, "abcd"), 3);
  EXPECT_EQ(r.error, "Headers length 5 out of bounds (message length 20)");
}

TEST(EventStreamDecoder, PartialMessageBuffersOnlyWhatArrived) {
  // A legitimate 1 MiB length whose bytes never come: the buffer holds what arrived only.
  const std::string msg = rawMessage(1 << 20, 0, std::string((1 << 20) - 16, 'p'));
  EventStreamDecoder d([](const Message&) {});
  ASSERT_TRUE(d.feed(std::string_view(msg).substr(0, 100)));
  EXPECT_EQ(d.bufferedBytes(), 100u);
  EXPECT_FALSE(d.atMessageBoundary());
  ASSERT_TRUE(d.feed(std::string_view(msg).substr(100)));
  EXPECT_TRUE(d.atMessageBoundary());
  EXPECT_EQ(d.messagesDecoded(), 1u);
}

TEST(EventStreamDecoder, MalformedHeaders) {
  struct Case {
    std::string headers;
    std::string error;
  };
  const std::vector<Case> cases = {
      {std::string("\x01"
                   "a\x0a",
                   3),
       "Malformed headers: unknown header value type 10"},
      {std::string("\x00", 1), "Malformed headers: empty header name"},
      {std::string("\x05"
                   "ab",
                   3),
       "Malformed headers: truncated header name"},
      {std::string("\x01"
                   "a\x07\x00\x05"
                   "ab",
                   7),
       "Malformed headers: truncated value"},
      {std::string("\x01"
                   "a\x04\x00\x00",
                   5),
       "Malformed headers: truncated int32 value"},
      {std::string("\x01"
                   "a\x09"
                   "0123456789",
                   13),
       "Malformed headers: truncated uuid value"},
  };
  for (const Case& c : cases) {
    const std::string m = rawMessage(static_cast<uint32_t>(16 + c.headers.size()),
                                     static_cast<uint32_t>(c.headers.size()), c.headers);
    EXPECT_EQ(decodeAll(m, 0).error, c.error);
    EXPECT_EQ(decodeAll(m, 2).error, c.error);
  }
}

TEST(EventStreamDecoder, StaysFailedAfterAnError) {
  const std::string good = encodeEvent("chunk", "{}");
  std::string bad = good;
  bad[bad.size() - 6] ^= 1;  // payload byte: message CRC no longer matches
  int delivered = 0;
  EventStreamDecoder d([&](const Message&) { ++delivered; });
  EXPECT_TRUE(d.feed(good));
  EXPECT_FALSE(d.feed(bad + good));
  EXPECT_EQ(d.error(), "Message checksum mismatch");
  EXPECT_FALSE(d.feed(good));
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(delivered, 1);
}

TEST(EventStreamDecoder, RandomInputNeverMisbehaves) {
  // Random header blocks behind valid CRCs reach the header parser; random flips in valid
  // streams must be caught by a CRC. Run under ASan/UBSan for the memory side.
  std::mt19937 rng(2024);
  for (int i = 0; i < 3000; ++i) {
    std::string headers(rng() % 40, '\0');
    for (char& c : headers) c = static_cast<char>(rng() % 12 == 0 ? rng() % 12 : rng());
    const std::string m = rawMessage(static_cast<uint32_t>(16 + headers.size() + 3),
                                     static_cast<uint32_t>(headers.size()), headers + "abc");
    const DecodeResult r = decodeAll(m, 1 + rng() % 8, rng());
    if (r.ok) {
      ASSERT_EQ(r.messages.size(), 1u);
      EXPECT_EQ(r.messages[0].payload, "abc");
    } else {
      EXPECT_EQ(r.error.rfind("Malformed headers: ", 0), 0u) << r.error;
    }
  }
  std::string stream;
  for (const fs::path& enc : filesIn(kVectors / "encoded/positive")) stream += readFileText(enc);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = stream;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    const DecodeResult r = decodeAll(bad, rng() % 20, rng());
    EXPECT_FALSE(r.ok && r.at_boundary && r.messages.size() == 5) << "a flipped byte went unseen";
  }
}

TEST(EventStreamEncoder, AllTypesRoundTripAndBadHeadersAreRefused) {
  const std::string uuid = "0123456789abcdef";
  const std::vector<Header> hs = {
      Header::ofBool("t", true),
      Header::ofBool("f", false),
      Header::ofByte("b", -5),
      Header::ofInt16("s", -300),
      Header::ofInt32("i", -70000),
      Header::ofInt64("l", -(int64_t{1} << 40)),
      Header::ofBytes("y", std::string_view("\x00\xff", 2)),
      Header::ofString(":event-type", "chunk"),
      Header::ofTimestamp("ts", 1700000000000),
      Header::ofUuid("u", uuid),
  };
  std::string bytes;
  ASSERT_TRUE(encodeMessage(hs, "payload", bytes));
  const DecodeResult r = decodeAll(bytes, 1);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.messages.size(), 1u);
  const OwnedMessage& m = r.messages[0];
  ASSERT_EQ(m.headers.size(), hs.size());
  for (size_t i = 0; i < hs.size(); ++i) {
    EXPECT_EQ(m.headers[i].name, hs[i].name);
    EXPECT_EQ(m.headers[i].type, hs[i].type);
    EXPECT_EQ(m.headers[i].int_value, hs[i].int_value);
    EXPECT_EQ(m.headers[i].bytes, hs[i].bytes);
  }
  Message view;
  ASSERT_EQ(decodeMessage(bytes, view), "");
  EXPECT_EQ(view.header(":event-type"), "chunk");
  EXPECT_EQ(view.header("i"), "");  // not a string header
  EXPECT_EQ(view.header("absent"), "");
  EXPECT_EQ(view.payload, "payload");

  std::string out = "keep";
  EXPECT_FALSE(encodeMessage(std::vector<Header>{Header::ofUuid("u", "short")}, "", out));
  EXPECT_FALSE(encodeMessage(std::vector<Header>{Header::ofString("", "x")}, "", out));
  EXPECT_FALSE(
      encodeMessage(std::vector<Header>{Header::ofString(std::string(256, 'n'), "x")}, "", out));
  const std::string long_value(70000, 'v');
  EXPECT_FALSE(encodeMessage(std::vector<Header>{Header::ofBytes("b", long_value)}, "", out));
  EXPECT_EQ(out, "keep");
}

TEST(EventStreamEncoder, BedrockShapedFrames) {
  // The message's views point into these strings, so they must outlive it.
  const std::string event = encodeEvent("contentBlockDelta", R"({"a":1})");
  const std::string exception = encodeException("throttlingException", R"({"message":"slow"})");
  Message m;
  ASSERT_EQ(decodeMessage(event, m), "");
  EXPECT_EQ(m.header(":event-type"), "contentBlockDelta");
  EXPECT_EQ(m.header(":message-type"), "event");
  EXPECT_EQ(m.header(":content-type"), "application/json");
  ASSERT_EQ(decodeMessage(exception, m), "");
  EXPECT_EQ(m.header(":message-type"), "exception");
  EXPECT_EQ(m.header(":exception-type"), "throttlingException");
  EXPECT_EQ(m.payload, R"({"message":"slow"})");
  EXPECT_EQ(decodeMessage(encodeEvent("x", "") + "y", m), "Trailing bytes after the message");
  EXPECT_EQ(decodeMessage(encodeEvent("x", "").substr(0, 20), m), "Message truncated");
}

}  // namespace
}  // namespace tollgate::providers::formats
