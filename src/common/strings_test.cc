#include "common/strings.h"

#include <gtest/gtest.h>

#include "common/expect_each_test_util.h"

namespace tollgate {
namespace {

TEST(StringsTest, TrimRemovesAsciiWhitespaceAtBothEnds) {
  expectEach<std::string_view>(trim, {
                                         {"  key\r\n", "key"},
                                         {"\tin side\t", "in side"},
                                         {"plain", "plain"},
                                         {" \t\r\n", ""},
                                         {"", ""},
                                     });
}

TEST(StringsTest, ToLowerChangesAsciiLettersOnly) {
  EXPECT_EQ(toLower("X-Api-Key"), "x-api-key");
  EXPECT_EQ(toLower("\xC3\x84-1"), "\xC3\x84-1");
}

}  // namespace
}  // namespace tollgate
#include "common/expect_each_test_util.h"
