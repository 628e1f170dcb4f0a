#include "common/header_match.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

TEST(HeaderMatcher, ExactAndRegexNeedTheHeader) {
  HeaderMatcher exact("x-tier", HeaderMatchKind::kExact, "gold");
  EXPECT_TRUE(exact.matches(std::string_view("gold")));
  EXPECT_FALSE(exact.matches(std::string_view("golden")));
  EXPECT_FALSE(exact.matches(std::nullopt));
  HeaderMatcher regex("x-tier", HeaderMatchKind::kRegularExpression, "go.*");
  EXPECT_TRUE(regex.matches(std::string_view("gold")));
  EXPECT_FALSE(regex.matches(std::string_view("xgold"))) << "a full match, not a search";
  EXPECT_FALSE(regex.matches(std::nullopt));
}

TEST(HeaderMatcher, BrokenRegexNeverMatches) {
  HeaderMatcher m("x", HeaderMatchKind::kRegularExpression, "(");
  EXPECT_FALSE(m.matches(std::string_view("(")));
  HeaderMatcher inverted("x", HeaderMatchKind::kRegularExpression, "(", true);
  EXPECT_TRUE(inverted.matches(std::string_view("(")));
}

TEST(HeaderMatcher, InvertTurnsAMissingHeaderIntoAMatch) {
  HeaderMatcher m("x-tier", HeaderMatchKind::kExact, "gold", true);
  EXPECT_FALSE(m.matches(std::string_view("gold")));
  EXPECT_TRUE(m.matches(std::string_view("silver")));
  EXPECT_TRUE(m.matches(std::nullopt));
}

TEST(HeaderMatcher, DistinctNeedsPresenceAndIgnoresInvert) {
  for (bool invert : {false, true}) {
    HeaderMatcher m("x-user", HeaderMatchKind::kDistinct, "", invert);
    EXPECT_TRUE(m.matches(std::string_view("")));
    EXPECT_FALSE(m.matches(std::nullopt));
  }
}

}  // namespace
}  // namespace tollgate
