#include "common/strings.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

TEST(StringsTest, TrimRemovesAsciiWhitespaceAtBothEnds) {
  EXPECT_EQ(trim("  key\r\n"), "key");
  EXPECT_EQ(trim("\tin side\t"), "in side");
  EXPECT_EQ(trim("plain"), "plain");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
}

TEST(StringsTest, ToLowerChangesAsciiLettersOnly) {
  EXPECT_EQ(toLower("X-Api-Key"), "x-api-key");
  EXPECT_EQ(toLower("\xC3\x84-1"), "\xC3\x84-1");
}

}  // namespace
}  // namespace tollgate
