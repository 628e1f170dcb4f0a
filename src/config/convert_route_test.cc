// AIGatewayRoute: rules, matches, timeouts, costs, and references to backends.

#include <gtest/gtest.h>

#include <string>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

TEST(LoaderTest, RouteTimeoutsAndDefaults) {
  const LoadResult r = load(modelBackend("m") + route("r", R"(
    - matches: [{headers: [{name: X-AI-EG-Model, value: a}]}]
      backendRefs: [{name: m, weight: 3, priority: 2, modelNameOverride: real-a}]
      timeouts: {request: 1h30m}
    - backendRefs: [{name: m}]
      timeouts: {request: 500ms}
)"));
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  ASSERT_EQ(r.config.routes.size(), 1u);
  const auto& rules = r.config.routes[0].rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].matches[0].headers[0].name, "x-ai-eg-model");  // lower-cased
  EXPECT_EQ(rules[0].matches[0].headers[0].type, HeaderMatchType::kExact);
  EXPECT_EQ(rules[0].backend_refs[0].weight, 3u);
  EXPECT_EQ(rules[0].backend_refs[0].priority, 2u);
  EXPECT_EQ(rules[0].backend_refs[0].model_name_override, "real-a");
  EXPECT_EQ(rules[0].timeouts.request_ms, 5400000u);
  EXPECT_TRUE(rules[1].matches.empty());
  EXPECT_EQ(rules[1].timeouts.request_ms, 500u);
}

TEST(LoaderTest, BadDurationIsAnErrorAtItsPath) {
  const LoadResult r = load(modelBackend("m") + route("r", R"(
    - backendRefs: [{name: m}]
      timeouts: {request: 1d}
)"));
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].field, "spec.rules[0].timeouts.request");
  EXPECT_EQ(errors[0].object, "AIGatewayRoute default/r");
  EXPECT_TRUE(contains(errors[0].message, "1h30m")) << errors[0].message;
}

TEST(LoaderTest, RegularExpressionsMustCompile) {
  const LoadResult r = load(modelBackend("m") + route("r", R"(
    - matches:
        - headers:
            - {name: x-ai-eg-model, type: RegularExpression, value: "qwen.*"}
            - {name: x-tenant, type: RegularExpression, value: "([a-z"}
      backendRefs: [{name: m}]
)"));
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].field, "spec.rules[0].matches[0].headers[1].value");
  EXPECT_TRUE(contains(errors[0].message, "invalid regular expression")) << errors[0].message;
  ASSERT_EQ(r.config.routes[0].rules[0].matches[0].headers.size(), 1u);
  EXPECT_EQ(r.config.routes[0].rules[0].matches[0].headers[0].type,
            HeaderMatchType::kRegularExpression);
}

TEST(LoaderTest, CelCostNeedsAnExpression) {
  const LoadResult r = load(modelBackend("m") + route("r", "    - backendRefs: [{name: m}]\n", R"(
  llmRequestCosts:
    - {metadataKey: weighted, type: CEL, cel: "input_tokens + output_tokens * 4"}
    - {metadataKey: broken, type: CEL}
    - {metadataKey: weighted, type: InputToken}
)"));
  EXPECT_EQ(matching(r, Severity::kError, {"spec.llmRequestCosts[1].cel", "CEL"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.llmRequestCosts[2].metadataKey", "twice"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 2u) << dump(r);
  ASSERT_EQ(r.config.routes[0].llm_request_costs.size(), 1u);
  EXPECT_EQ(r.config.routes[0].llm_request_costs[0].type, CostType::kCEL);
  EXPECT_EQ(r.config.routes[0].llm_request_costs[0].cel, "input_tokens + output_tokens * 4");
}

TEST(LoaderTest, RouteToUndefinedBackendIsAWarningAndKept) {
  const LoadResult r = load(std::string(kGateway) + modelBackend("m") + route("r", R"(
    - backendRefs: [{name: m, weight: 9}, {name: ghost, weight: 1}]
)"));
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const auto warnings = ofSeverity(r, Severity::kWarning);
  ASSERT_EQ(warnings.size(), 1u) << dump(r);
  EXPECT_EQ(warnings[0].file, "test.yaml");
  EXPECT_EQ(warnings[0].object, "AIGatewayRoute default/r");
  EXPECT_EQ(warnings[0].field, "spec.rules[0].backendRefs[1].name");
  EXPECT_TRUE(contains(warnings[0].message, "AIServiceBackend default/ghost"));
  EXPECT_TRUE(contains(warnings[0].message, "route rule will answer 503"));
  ASSERT_EQ(r.config.routes[0].rules[0].backend_refs.size(), 2u);
  EXPECT_EQ(r.config.routes[0].rules[0].backend_refs[1].name, "ghost");
}

}  // namespace
}  // namespace tollgate::config
