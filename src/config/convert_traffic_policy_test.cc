// BackendTrafficPolicy rate limits and ClientTrafficPolicy connection settings.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

const char kTrafficPolicyHead[] = R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: limits
  annotations: {team: ml}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: Global
    global:
      rules:
)";

TEST(LoaderTest, RateLimitRules) {
  const LoadResult r = load(std::string(kGateway) + modelBackend("m") +
                            route("r", "    - backendRefs: [{name: m}]\n",
                                  "  llmRequestCosts: [{metadataKey: tokens, type: TotalToken}]") +
                            kTrafficPolicyHead + R"(
        - clientSelectors:
            - headers:
                - {name: X-User-Id, type: Distinct}
                - {name: x-tier, value: free, invert: true}
                - {name: x-ai-eg-model, type: RegularExpression, value: "qwen.*"}
          limit: {requests: 1000, unit: Day}
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: tokens}}
        - limit: {requests: 5, unit: Second}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  ASSERT_EQ(r.config.traffic_policies.size(), 1u);
  const BackendTrafficPolicy& policy = r.config.traffic_policies[0];
  EXPECT_EQ(policy.annotations.at("team"), "ml");
  ASSERT_EQ(policy.rules.size(), 2u);
  const RateLimitRule& rule = policy.rules[0];
  ASSERT_EQ(rule.client_selectors.size(), 1u);
  const auto& headers = rule.client_selectors[0];
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].name, "x-user-id");
  EXPECT_EQ(headers[0].type, HeaderMatchType::kDistinct);
  EXPECT_EQ(headers[1].type, HeaderMatchType::kExact);
  EXPECT_TRUE(headers[1].invert);
  EXPECT_EQ(headers[2].type, HeaderMatchType::kRegularExpression);
  EXPECT_EQ(rule.limit, 1000u);
  EXPECT_EQ(rule.unit, RateLimitUnit::kDay);
  EXPECT_EQ(rule.request_cost, 0u);
  EXPECT_EQ(rule.response_metadata_key, "tokens");
  const RateLimitRule& plain = policy.rules[1];
  EXPECT_TRUE(plain.client_selectors.empty());
  EXPECT_EQ(plain.unit, RateLimitUnit::kSecond);
  EXPECT_EQ(plain.request_cost, 1u);  // the default
  EXPECT_FALSE(plain.response_metadata_key.has_value());
}

TEST(LoaderTest, LocalRateLimitAndHttpRouteTarget) {
  const LoadResult r = load(std::string(kGateway) + modelBackend("m") +
                            route("r", "    - backendRefs: [{name: m}]\n") + R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: local}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  retry: {numRetries: 3}
  rateLimit:
    type: Local
    local:
      rules:
        - limit: {requests: 10, unit: Minute}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  ASSERT_EQ(r.config.traffic_policies.size(), 1u);
  EXPECT_FALSE(r.config.traffic_policies[0].global);
  EXPECT_EQ(r.config.traffic_policies[0].target_routes, std::vector<std::string>{"r"});
  EXPECT_TRUE(r.config.traffic_policies[0].target_gateways.empty());
  EXPECT_EQ(matching(r, Severity::kInfo, {"spec.retry", "not used"}).size(), 1u) << dump(r);
}

TEST(LoaderTest, TrafficPolicyConnectionIdleTimeout) {
  const LoadResult r = load(std::string(kGateway) + modelBackend("m") +
                            route("r", "    - backendRefs: [{name: m}]\n") + R"(---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: keepalive}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  timeout:
    tcp: {connectTimeout: 3s}
    http: {connectionIdleTimeout: 2500ms, maxConnectionDuration: 1h}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: broken}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  timeout: {http: {connectionIdleTimeout: soon}}
)");
  ASSERT_EQ(r.config.traffic_policies.size(), 2u) << dump(r);
  EXPECT_EQ(r.config.traffic_policies[0].connection_idle_timeout_ms, 2500u);
  EXPECT_TRUE(r.config.traffic_policies[0].rules.empty());
  EXPECT_FALSE(r.config.traffic_policies[1].connection_idle_timeout_ms.has_value());
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.timeout.http.connectionIdleTimeout", "invalid duration \"soon\""})
                .size(),
            1u)
      << dump(r);
  // The fields tollgate does not apply are said, not silently dropped.
  EXPECT_EQ(matching(r, Severity::kInfo, {"spec.timeout.tcp"}).size() +
                matching(r, Severity::kWarning, {"spec.timeout.tcp"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kInfo, {"maxConnectionDuration"}).size() +
                matching(r, Severity::kWarning, {"maxConnectionDuration"}).size(),
            1u)
      << dump(r);
}

TEST(LoaderTest, RateLimitRuleErrors) {
  const LoadResult r = load(std::string(kGateway) + kTrafficPolicyHead + R"(
        - clientSelectors:
            - headers: [{name: x-user-id, type: Prefix}]
          limit: {requests: 10, unit: Week}
        - clientSelectors:
            - headers: [{name: x-user-id, type: RegularExpression, value: "(("}]
          limit: {requests: -1, unit: Hour}
        - clientSelectors:
            - sourceCIDR: {type: Distinct, value: 10.0.0.0/8}
          limit: {unit: Hour}
        - clientSelectors:
            - headers: [{name: x-user-id, type: Distinct, value: bob}]
          limit: {requests: 1, unit: Hour}
          cost:
            response: {from: Number}
)");
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.rateLimit.global.rules[0].clientSelectors[0].headers[0].type",
                      "\"Prefix\"", "Exact, Distinct, RegularExpression"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.rateLimit.global.rules[0].limit.unit", "\"Week\"",
                      "Second, Minute, Hour, Day, Month, Year"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError,
                     {"rules[1].clientSelectors[0].headers[0].value", "invalid regular expression"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"rules[1].limit.requests", "got -1"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"rules[2].clientSelectors[0].sourceCIDR"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"rules[2].limit.requests", "missing"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(
      matching(r, Severity::kError, {"rules[3].clientSelectors[0].headers[0].value", "Distinct"})
          .size(),
      1u)
      << dump(r);
  EXPECT_EQ(
      matching(r, Severity::kError, {"rules[3].cost.response.from", "allowed: Metadata"}).size(),
      1u)
      << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 8u) << dump(r);
  EXPECT_TRUE(r.config.traffic_policies.at(0).rules.empty());
}

TEST(LoaderTest, UndefinedCostMetadataKeyIsAWarning) {
  const LoadResult r = load(std::string(kGateway) + kTrafficPolicyHead + R"(
        - clientSelectors: [{headers: [{name: x-user-id, type: Distinct}]}]
          limit: {requests: 100, unit: Hour}
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_tokens}}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const auto warnings = ofSeverity(r, Severity::kWarning);
  ASSERT_EQ(warnings.size(), 1u) << dump(r);
  EXPECT_EQ(warnings[0].field, "spec.rateLimit.global.rules[0].cost.response.metadata.key");
  EXPECT_TRUE(contains(warnings[0].message, "\"llm_tokens\"")) << warnings[0].message;
  EXPECT_TRUE(contains(warnings[0].message, "llmRequestCosts")) << warnings[0].message;
}

TEST(LoaderTest, TwoTrafficPoliciesOnOneGatewayAreBothKept) {
  const std::string policy = R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: $NAME}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: Global
    global: {rules: [{limit: {requests: 10, unit: Minute}}]}
---
)";
  const LoadResult r =
      load(std::string(kGateway) + withName(policy, "first") + withName(policy, "second"));
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const auto warnings = ofSeverity(r, Severity::kWarning);
  ASSERT_EQ(warnings.size(), 1u) << dump(r);
  EXPECT_TRUE(contains(warnings[0].message, "default/first")) << warnings[0].message;
  EXPECT_TRUE(contains(warnings[0].message, "default/second")) << warnings[0].message;
  EXPECT_EQ(r.config.traffic_policies.size(), 2u);
}

TEST(LoaderTest, ClientTrafficPolicyBufferLimit) {
  const LoadResult r = load(std::string(kGateway) + R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ok}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  connection: {bufferLimit: 1Gi}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: bad}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  connection: {bufferLimit: 50MB}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: plain}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  connection: {bufferLimit: 1024}
  timeout: {http: {idleTimeout: 5s, requestReceivedTimeout: 1500ms}, tcp: {idleTimeout: 1h}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: bad-timeout}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  timeout: {http: {idleTimeout: soon}}
)");
  ASSERT_EQ(r.config.client_traffic_policies.size(), 4u);
  EXPECT_EQ(r.config.client_traffic_policies[0].buffer_limit_bytes, 1073741824u);
  EXPECT_FALSE(r.config.client_traffic_policies[1].buffer_limit_bytes.has_value());
  EXPECT_EQ(r.config.client_traffic_policies[2].buffer_limit_bytes, 1024u);
  EXPECT_EQ(r.config.client_traffic_policies[2].idle_timeout_ms, 5000u);
  EXPECT_EQ(r.config.client_traffic_policies[2].request_received_timeout_ms, 1500u);
  EXPECT_FALSE(r.config.client_traffic_policies[3].idle_timeout_ms.has_value());
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 2u) << dump(r);
  EXPECT_EQ(errors[0].object, "ClientTrafficPolicy default/bad");
  EXPECT_EQ(errors[0].field, "spec.connection.bufferLimit");
  EXPECT_EQ(errors[1].object, "ClientTrafficPolicy default/bad-timeout");
  EXPECT_EQ(errors[1].field, "spec.timeout.http.idleTimeout");
  EXPECT_EQ(matching(r, Severity::kInfo, {"spec.timeout.tcp", "not used by tollgate"}).size(), 1u)
      << dump(r);
}

}  // namespace
}  // namespace tollgate::config
