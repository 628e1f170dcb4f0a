#include "gateway/models.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace tollgate::gateway {
namespace {

namespace json = boost::json;

const std::vector<std::string> kModels = {"claude-a", "claude-b", "claude-c", "us.anthropic.x:0"};
constexpr int64_t kLoaded = 1767225600;  // 2026-01-01T00:00:00Z

std::vector<std::string> ids(const json::value& page) {
  std::vector<std::string> out;
  for (const json::value& m : page.at("data").as_array()) out.emplace_back(m.at("id").as_string());
  return out;
}

json::value page(std::string_view query) {
  auto body = anthropicModelList(kModels, kLoaded, query);
  EXPECT_TRUE(body) << query;
  return body ? json::parse(*body) : json::value();
}

TEST(AnthropicModelListTest, AnthropicListShape) {
  const json::value p = page("");
  ASSERT_EQ(p.at("data").as_array().size(), 4u);
  const json::object& first = p.at("data").at(0).as_object();
  EXPECT_EQ(first.at("type").as_string(), "model");
  EXPECT_EQ(first.at("id").as_string(), "claude-a");
  EXPECT_EQ(first.at("display_name").as_string(), "claude-a");
  EXPECT_EQ(first.at("created_at").as_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(p.at("has_more").as_bool(), false);
  EXPECT_EQ(p.at("first_id").as_string(), "claude-a");
  EXPECT_EQ(p.at("last_id").as_string(), "us.anthropic.x:0");
}

TEST(AnthropicModelListTest, PagesByLimitAndCursors) {
  struct Case {
    std::string_view query;
    std::vector<std::string> ids;
    bool has_more;
  } cases[] = {
      {"limit=2", {"claude-a", "claude-b"}, true},
      {"limit=2&after_id=claude-b", {"claude-c", "us.anthropic.x:0"}, false},
      {"after_id=claude-a&limit=1", {"claude-b"}, true},
      {"limit=2&before_id=claude-c", {"claude-a", "claude-b"}, false},
      {"limit=1&before_id=claude-c", {"claude-b"}, true},
      {"after_id=us.anthropic.x%3A0", {}, false},  // cursors are percent-decoded
      {"after_id=gone", {}, false},                // a model no longer routed: an empty page
      {"limit=1000&beta=true", {"claude-a", "claude-b", "claude-c", "us.anthropic.x:0"}, false},
  };
  for (const Case& c : cases) {
    const json::value p = page(c.query);
    EXPECT_EQ(ids(p), c.ids) << c.query;
    EXPECT_EQ(p.at("has_more").as_bool(), c.has_more) << c.query;
    if (c.ids.empty()) {
      EXPECT_TRUE(p.at("first_id").is_null()) << c.query;
      EXPECT_TRUE(p.at("last_id").is_null()) << c.query;
    } else {
      EXPECT_EQ(p.at("first_id").as_string(), c.ids.front()) << c.query;
      EXPECT_EQ(p.at("last_id").as_string(), c.ids.back()) << c.query;
    }
  }
}

TEST(AnthropicModelListTest, DefaultLimitIsTwenty) {
  std::vector<std::string> many;
  many.reserve(25);
  for (int i = 0; i < 25; ++i) many.push_back("m" + std::to_string(i));
  auto body = anthropicModelList(many, kLoaded, "");
  ASSERT_TRUE(body);
  const json::value p = json::parse(*body);
  EXPECT_EQ(p.at("data").as_array().size(), 20u);
  EXPECT_TRUE(p.at("has_more").as_bool());
}

TEST(AnthropicModelListTest, BadQueriesAreClientErrors) {
  for (std::string_view q : {"limit=0", "limit=1001", "limit=x", "limit=", "limit=5x",
                             "after_id=claude-a&before_id=claude-c"}) {
    auto body = anthropicModelList(kModels, kLoaded, q);
    ASSERT_FALSE(body) << q;
    EXPECT_EQ(body.error().httpStatus(), 400) << q;
  }
}

TEST(OpenAIModelListTest, OpenAIListShape) {
  const json::value p = json::parse(openAIModelList({"gpt-x"}, kLoaded));
  EXPECT_EQ(p.at("object").as_string(), "list");
  EXPECT_EQ(p.at("data").at(0).at("object").as_string(), "model");
  EXPECT_EQ(p.at("data").at(0).at("created").as_int64(), kLoaded);
}

}  // namespace
}  // namespace tollgate::gateway
