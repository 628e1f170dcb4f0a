#include "router/router.h"

#include <gtest/gtest.h>

#include <map>

#include "common/header_map_test_util.h"

namespace tollgate::router {
namespace {

using Headers = MapHeaders;

std::shared_ptr<config::Config> makeConfig() {
  auto cfg = std::make_shared<config::Config>();
  for (const char* name : {"a", "b", "c"}) {
    config::Backend b;
    b.origin = {"f", "Backend", "default", std::string(name) + "-backend"};
    b.endpoints.push_back({"127.0.0.1", 1, true});
    cfg->backends.push_back(b);
    config::AIServiceBackend ai;
    ai.origin = {"f", "AIServiceBackend", "default", name};
    ai.backend_ref = std::string(name) + "-backend";
    cfg->ai_service_backends.push_back(ai);
  }
  config::AIGatewayRoute route;
  route.origin = {"f", "AIGatewayRoute", "default", "r"};
  config::RouteRule exact;
  exact.matches.push_back({{{"x-ai-eg-model", config::HeaderMatchType::kExact, "m1", false}}});
  exact.backend_refs = {{"a", "", 3, 0, ""}, {"b", "", 1, 0, ""}, {"c", "", 1, 1, "override"},
                        {"missing", "", 1, 2, ""}};
  config::RouteRule regex;
  regex.matches.push_back({{{"x-ai-eg-model", config::HeaderMatchType::kRegularExpression,
                             "llama-.*", false},
                            {"x-tier", config::HeaderMatchType::kExact, "gold", false}}});
  regex.backend_refs = {{"b", "", 1, 0, ""}};
  route.rules = {exact, regex};
  cfg->routes.push_back(route);
  return cfg;
}

TEST(RouteTable, MatchesExactAndRegexWithAnd) {
  RouteTable t(makeConfig());
  Headers h;
  h.h["x-ai-eg-model"] = "m1";
  ASSERT_NE(t.match(h), nullptr);
  EXPECT_EQ(t.match(h)->rule_index, 0u);
  h.h["x-ai-eg-model"] = "llama-3";
  EXPECT_EQ(t.match(h), nullptr) << "both headers of the match must hold";
  h.h["x-tier"] = "gold";
  ASSERT_NE(t.match(h), nullptr);
  EXPECT_EQ(t.match(h)->rule_index, 1u);
  h.h["x-ai-eg-model"] = "xllama-3";
  EXPECT_EQ(t.match(h), nullptr) << "regular expressions match the whole value";
  EXPECT_EQ(t.models(), std::vector<std::string>{"m1"});
}

TEST(RouteTable, CandidatesResolveAndMissingOnesAreMarked) {
  RouteTable t(makeConfig());
  const auto& c = t.rules()[0].candidates;
  ASSERT_EQ(c.size(), 4u);
  EXPECT_TRUE(c[0].usable());
  EXPECT_EQ(c[2].model_override, "override");
  EXPECT_EQ(c[3].ref_name, "missing");
  EXPECT_FALSE(c[3].usable());
}

TEST(RouteTable, AttemptOrderIsByPriorityThenWeight) {
  RouteTable t(makeConfig());
  std::map<std::string, int> first;
  std::vector<const Candidate*> order;
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    RouteTable::attemptOrder(t.rules()[0], seed * 7919, order);
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order[2]->ref_name, "c");
    EXPECT_EQ(order[3]->ref_name, "missing");
    first[order[0]->ref_name]++;
  }
  // weights 3:1 → about 3000 / 1000
  EXPECT_GT(first["a"], 2800);
  EXPECT_LT(first["a"], 3200);
}

}  // namespace
}  // namespace tollgate::router
