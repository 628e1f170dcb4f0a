#include "api/sse.h"

#include <gtest/gtest.h>

#include <vector>

namespace tollgate::api {
namespace {

std::vector<std::string> feedAll(SseParser& p, const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  for (const auto& piece : pieces)
    p.feed(piece, [&](const SseEvent& ev) {
      out.push_back(std::string(ev.event) + "|" + std::string(ev.data));
    });
  return out;
}

TEST(SseParser, SplitsAnywhere) {
  std::string stream = "data: {\"a\":1}\n\nevent: ping\ndata: {}\n\n: comment\n\ndata: [DONE]\n\n";
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    SseParser p;
    auto evs = feedAll(p, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(evs.size(), 3u) << cut;
    EXPECT_EQ(evs[0], "|{\"a\":1}");
    EXPECT_EQ(evs[1], "ping|{}");
    EXPECT_EQ(evs[2], "|[DONE]");
    EXPECT_TRUE(p.pending().empty());
  }
}

TEST(SseParser, ByteByByteEqualsWholeForEveryLineEnding) {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    std::string stream;
    for (const char* line :
         {"event: a", "data: 1", "", "", ": c", "", "data: 2", "data: 3", "", "x"}) {
      stream += line;
      stream += eol;
    }
    SseParser whole;
    const auto expected = feedAll(whole, {stream});
    SseParser bytes;
    std::vector<std::string> pieces;
    for (char c : stream) pieces.emplace_back(1, c);
    EXPECT_EQ(feedAll(bytes, pieces), expected) << "line ending " << int(eol[0]);
    EXPECT_EQ(bytes.pending(), whole.pending());
    EXPECT_GE(expected.size(), 2u);
  }
}

TEST(SseParser, CrLfAndMultiLineData) {
  SseParser p;
  auto evs = feedAll(p, {"data: one\r\ndata:two\r\n\r\n", "data: x\rdata: y\r\r"});
  ASSERT_EQ(evs.size(), 1u);  // the last CR could still be followed by LF
  EXPECT_EQ(evs[0], "|one\ntwo");
  auto more = feedAll(p, {"\n"});
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0], "|x\ny");
}

TEST(SseParser, RawBytesAreTheEventsBytes) {
  SseParser p;
  std::string raws;
  p.feed("data: a\n\ndata: b\n\ndata: c", [&](const SseEvent& ev) { raws += ev.raw; });
  EXPECT_EQ(raws, "data: a\n\ndata: b\n\n");
  EXPECT_EQ(p.pending(), "data: c");
}

}  // namespace
}  // namespace tollgate::api
