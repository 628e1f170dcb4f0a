#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate {
namespace {

using namespace std::string_view_literals;

constexpr Base64Whitespace kSkip = Base64Whitespace::kSkip;

std::string encode(std::string_view in) {
  std::string out;
  base64Encode(in, out);
  return out;
}

// The decoded bytes, or "<invalid>" when the decoder refuses (no test vector decodes to that).
std::string decode(std::string_view in, Base64Whitespace whitespace = Base64Whitespace::kReject) {
  std::string out;
  return base64Decode(in, out, whitespace) ? out : "<invalid>";
}

// RFC 4648 section 10.
const std::vector<std::pair<std::string, std::string>> kRfcVectors = {{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}};

TEST(Base64Test, RfcVectorsEncodeAndDecodeInBothModes) {
  for (const auto& [plain, encoded] : kRfcVectors) {
    EXPECT_EQ(encode(plain), encoded);
    EXPECT_EQ(decode(encoded), plain) << encoded;
    EXPECT_EQ(decode(encoded, kSkip), plain) << encoded;
    // Padding is optional.
    const std::string unpadded = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(decode(unpadded), plain) << unpadded;
    EXPECT_EQ(decode(unpadded, kSkip), plain) << unpadded;
  }
}

TEST(Base64Test, AppendsToWhatIsThereAndLeavesItOnFailure) {
  std::string out = "keep:";
  base64Encode("foo", out);
  EXPECT_EQ(out, "keep:Zm9v");
  out = "keep:";
  EXPECT_TRUE(base64Decode("Zm9vYg==", out));
  EXPECT_EQ(out, "keep:foob");
  for (const Base64Whitespace ws : {Base64Whitespace::kReject, kSkip}) {
    out = "keep";
    EXPECT_FALSE(base64Decode("Zm9v Y-==", out, ws));
    EXPECT_EQ(out, "keep");
  }
}

TEST(Base64Test, PaddingMustCompleteTheLastGroup) {
  for (const std::string_view bad :
       {"Z", "Zm9vY", "Zg=", "Zg===", "Z===", "=", "==", "====", "Zm9v=", "Zm9v==", "Zm8==",
        "Zg==Zg==", "=Zg=", "Zg=A", "a===", "aGVsbG8===", "abcde"}) {
    EXPECT_EQ(decode(bad), "<invalid>") << bad;
    EXPECT_EQ(decode(bad, kSkip), "<invalid>") << bad;
  }
}

TEST(Base64Test, OnlyTheStandardAlphabet) {
  EXPECT_EQ(decode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(decode("AP8="), std::string("\x00\xff", 2));
  // base64url, other punctuation, NUL and bytes above 0x7f are not base64.
  for (const std::string_view bad :
       {"Zm-v"sv, "Zm_v"sv, "Zm.v"sv, "a$=="sv, "Zm\0v"sv, "Zm\x80v"sv, "Zm\xffv"sv}) {
    EXPECT_EQ(decode(bad), "<invalid>") << bad;
    EXPECT_EQ(decode(bad, kSkip), "<invalid>") << bad;
  }
}

TEST(Base64Test, BitsBelowTheLastByteAreIgnored) {
  // "Zh==" is not the canonical "Zg==" of "f", but the extra bits fall outside any byte.
  EXPECT_EQ(decode("Zh=="), "f");
  EXPECT_EQ(decode("Zm9="), "fo");
}

TEST(Base64Test, StrictRejectsWhitespace) {
  for (const std::string_view bad : {"Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\tYmFy", "Zg==\r\n"}) {
    EXPECT_EQ(decode(bad), "<invalid>") << bad;
  }
}

TEST(Base64Test, LenientSkipsSpaceTabCrLfAnywhere) {
  EXPECT_EQ(decode("aGVsbG8=", kSkip), "hello");
  EXPECT_EQ(decode("aGVs\nbG8=\n", kSkip), "hello");
  EXPECT_EQ(decode("aGVsbG8", kSkip), "hello");
  EXPECT_EQ(decode("c2stdGVzdA==", kSkip), "sk-test");
  EXPECT_EQ(decode("+/8=", kSkip), std::string("\xfb\xff", 2));
  EXPECT_EQ(decode(" Zm9v\tYmFy\r\n", kSkip), "foobar");
  EXPECT_EQ(decode("Zm9vYg\n=\n=\n", kSkip), "foob");  // padding split by line breaks
  EXPECT_EQ(decode(" \t\r\n", kSkip), "");
  // Whitespace does not excuse anything else: data after padding, a short group, and vertical
  // tab or form feed, which are not whitespace here.
  for (const std::string_view bad : {"Zg== Zg==", "aGVsbG8=x", "Z m 9 v Y", "Zm9v\v", "Zm9v\f"}) {
    EXPECT_EQ(decode(bad, kSkip), "<invalid>") << bad;
  }
}

TEST(Base64Test, EveryByteValueRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  // Every length of prefix, so each byte value lands in each position of a group of three, and
  // every tail length (none, one or two bytes) is covered.
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string_view plain = std::string_view(all).substr(0, len);
    const std::string encoded = encode(plain);
    EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4);
    EXPECT_EQ(decode(encoded), plain) << len;
    EXPECT_EQ(decode(encoded, kSkip), plain) << len;
  }
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(decode(encode(one)), one) << b;
  }
}

}  // namespace
}  // namespace tollgate
