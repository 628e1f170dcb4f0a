// The value syntaxes: durations and quantities (base64 is common/base64_test.cc).

#include <gtest/gtest.h>

#include <string>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

TEST(ParseTest, Durations) {
  EXPECT_EQ(parseDurationMs("60s"), 60000u);
  EXPECT_EQ(parseDurationMs("1m"), 60000u);
  EXPECT_EQ(parseDurationMs("500ms"), 500u);
  EXPECT_EQ(parseDurationMs("1h30m"), 5400000u);
  EXPECT_EQ(parseDurationMs("1h1m1s1ms"), 3661001u);
  EXPECT_EQ(parseDurationMs("0s"), 0u);
  EXPECT_EQ(parseDurationMs("99999h"), 99999ull * 3600 * 1000);
  for (const char* bad : {"", "1", "s", "ms", "1d", "-1s", "1.5s", "123456s", "1s1s1s1s1s", " 1s",
                          "1s ", "1S", "10 s"}) {
    EXPECT_FALSE(parseDurationMs(bad).has_value()) << bad;
  }
}

TEST(ParseTest, Quantities) {
  EXPECT_EQ(parseQuantityBytes("50Mi"), 52428800u);
  EXPECT_EQ(parseQuantityBytes("1Gi"), 1073741824u);
  EXPECT_EQ(parseQuantityBytes("1Ki"), 1024u);
  EXPECT_EQ(parseQuantityBytes("500k"), 500000u);
  EXPECT_EQ(parseQuantityBytes("1024"), 1024u);
  EXPECT_EQ(parseQuantityBytes("+1024"), 1024u);
  EXPECT_EQ(parseQuantityBytes("1.5Ki"), 1536u);
  EXPECT_EQ(parseQuantityBytes("1.5Gi"), 1610612736u);
  EXPECT_EQ(parseQuantityBytes("2M"), 2000000u);
  EXPECT_EQ(parseQuantityBytes("1G"), 1000000000u);
  EXPECT_EQ(parseQuantityBytes("1E"), 1000000000000000000u);
  EXPECT_EQ(parseQuantityBytes("1e3"), 1000u);
  EXPECT_EQ(parseQuantityBytes("1E6"), 1000000u);
  EXPECT_EQ(parseQuantityBytes("0.5"), 1u);    // a fraction of a byte rounds up
  EXPECT_EQ(parseQuantityBytes("1500m"), 2u);  // milli-bytes, rounded up
  EXPECT_EQ(parseQuantityBytes(".5k"), 500u);
  EXPECT_EQ(parseQuantityBytes("0"), 0u);
  EXPECT_EQ(parseQuantityBytes("15Ei"), 15ull << 60);
  for (const char* bad :
       {"", "Mi", "50MB", "50mi", "-1", "1.2.3", "1 Mi", "1e", "16Ei", "1e30", "abc", "50Mi "}) {
    EXPECT_FALSE(parseQuantityBytes(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tollgate::config
