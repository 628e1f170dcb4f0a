// Loading as a whole: the blueprint and the demo, files, directories and documents, kinds, the
// diagnostics, and command-line overrides.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

TEST(BlueprintTest, MultiModelRouting) {
  const LoadResult r = loadFiles({kBlueprint + "gateway.yaml", kBlueprint + "model-backends.yaml",
                                  kBlueprint + "multi-model-routing"});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  for (const char* kind : {"ServiceAccount", "GatewayClass", "EnvoyProxy"}) {
    EXPECT_EQ(matching(r, Severity::kInfo, {std::string("ignored kind ") + kind}).size(), 1u)
        << kind << dump(r);
  }
  const Config& c = r.config;

  ASSERT_EQ(c.gateways.size(), 1u);
  EXPECT_EQ(c.gateways[0].origin.name, "ai-gateway");
  ASSERT_EQ(c.gateways[0].listeners.size(), 1u);
  EXPECT_EQ(c.gateways[0].listeners[0].name, "http");
  EXPECT_EQ(c.gateways[0].listeners[0].port, 80);
  EXPECT_EQ(c.gateways[0].listeners[0].protocol, "HTTP");

  ASSERT_EQ(c.client_traffic_policies.size(), 1u);
  EXPECT_EQ(c.client_traffic_policies[0].buffer_limit_bytes, 52428800u);
  EXPECT_EQ(c.client_traffic_policies[0].target_gateways, std::vector<std::string>{"ai-gateway"});

  ASSERT_EQ(c.backends.size(), 3u);
  const Backend* qwen3_backend = c.findBackend("default", "qwen3-backend");
  ASSERT_NE(qwen3_backend, nullptr);
  ASSERT_EQ(qwen3_backend->endpoints.size(), 1u);
  EXPECT_EQ(qwen3_backend->endpoints[0].host, "qwen3.default.svc.cluster.local");
  EXPECT_EQ(qwen3_backend->endpoints[0].port, 8000);
  EXPECT_FALSE(qwen3_backend->endpoints[0].is_ip);
  EXPECT_FALSE(qwen3_backend->tls.enabled);
  const Backend* bedrock_backend = c.findBackend("default", "bedrock-backend");
  ASSERT_NE(bedrock_backend, nullptr);
  EXPECT_EQ(bedrock_backend->endpoints[0].host, "bedrock-runtime.us-west-2.amazonaws.com");
  EXPECT_EQ(bedrock_backend->endpoints[0].port, 443);
  // TLS comes from the BackendTLSPolicy, not from the Backend itself.
  EXPECT_TRUE(bedrock_backend->tls.enabled);
  EXPECT_TRUE(bedrock_backend->tls.system_cas);
  EXPECT_EQ(bedrock_backend->tls.hostname, "bedrock-runtime.us-west-2.amazonaws.com");

  ASSERT_EQ(c.ai_service_backends.size(), 3u);
  const AIServiceBackend* qwen3 = c.findAIServiceBackend("default", "qwen3");
  ASSERT_NE(qwen3, nullptr);
  EXPECT_EQ(qwen3->schema, Schema::kOpenAI);
  EXPECT_EQ(qwen3->backend_ref, "qwen3-backend");
  EXPECT_EQ(qwen3->backend_ref_ns, "default");
  EXPECT_EQ(c.securityPolicyFor(*qwen3), nullptr);
  const AIServiceBackend* bedrock = c.findAIServiceBackend("default", "bedrock");
  ASSERT_NE(bedrock, nullptr);
  EXPECT_EQ(bedrock->schema, Schema::kAWSAnthropic);
  EXPECT_EQ(bedrock->schema_name, "AWSAnthropic");
  EXPECT_EQ(bedrock->schema_version, "bedrock-2023-05-31");
  const BackendSecurityPolicy* policy = c.securityPolicyFor(*bedrock);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->origin.name, "bedrock-policy");
  EXPECT_EQ(policy->type, SecurityType::kAWSCredentials);
  EXPECT_EQ(policy->aws.region, "us-west-2");
  EXPECT_FALSE(policy->aws.credentials_file_secret.has_value());
  EXPECT_FALSE(policy->aws.oidc_role_arn.has_value());

  ASSERT_EQ(c.routes.size(), 1u);
  const AIGatewayRoute& route = c.routes[0];
  EXPECT_EQ(route.origin.name, "ai-gateway-route");
  EXPECT_TRUE(contains(route.origin.file, "multi-model-routing/ai-gateway-route.yaml"));
  EXPECT_EQ(route.parent_gateways, std::vector<std::string>{"ai-gateway"});
  EXPECT_TRUE(route.llm_request_costs.empty());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Qwen/Qwen3-1.7B", "qwen3"},
      {"openai/gpt-oss-20b", "gpt-oss"},
      {"anthropic.claude-3-haiku-20240307-v1:0", "bedrock"}};
  ASSERT_EQ(route.rules.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const RouteRule& rule = route.rules[i];
    ASSERT_EQ(rule.matches.size(), 1u);
    ASSERT_EQ(rule.matches[0].headers.size(), 1u);
    EXPECT_EQ(rule.matches[0].headers[0].name, "x-ai-eg-model");
    EXPECT_EQ(rule.matches[0].headers[0].type, HeaderMatchType::kExact);
    EXPECT_EQ(rule.matches[0].headers[0].value, expected[i].first);
    ASSERT_EQ(rule.backend_refs.size(), 1u);
    EXPECT_EQ(rule.backend_refs[0].name, expected[i].second);
    EXPECT_EQ(rule.backend_refs[0].ns, "default");
    EXPECT_EQ(rule.backend_refs[0].weight, 1u);
    EXPECT_EQ(rule.backend_refs[0].priority, 0u);
    EXPECT_EQ(rule.backend_refs[0].model_name_override, "");
    EXPECT_FALSE(rule.timeouts.request_ms.has_value());
  }
}

TEST(BlueprintTest, RateLimitingHasThreeDefectsEachReportedOnce) {
  const LoadResult r =
      loadFiles({kBlueprint + "gateway.yaml", kBlueprint + "model-backends.yaml",
                 kBlueprint + "multi-model-routing", kBlueprint + "rate-limiting"});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  ASSERT_EQ(ofSeverity(r, Severity::kWarning).size(), 3u) << dump(r);

  // (a) the route defined in two files: the later one wins.
  const auto duplicate = matching(
      r, Severity::kWarning,
      {"AIGatewayRoute default/ai-gateway-route", "multi-model-routing/ai-gateway-route.yaml",
       "rate-limiting/ai-gateway-route.yaml", "replaces the earlier"});
  ASSERT_EQ(duplicate.size(), 1u) << dump(r);
  EXPECT_TRUE(contains(duplicate[0].file, "rate-limiting/ai-gateway-route.yaml"));
  EXPECT_TRUE(contains(duplicate[0].message,
                       "last one in load order, " + kBlueprint + "rate-limiting/ai-gateway-route"));
  // (b) two traffic policies on one Gateway: both named, both kept.
  ASSERT_EQ(matching(r, Severity::kWarning,
                     {"Gateway default/ai-gateway", "rate-limiting/ai-gateway-rate-limit.yaml",
                      "rate-limiting/backend-traffic-policy.yaml", "multi-model-rate-limit-policy",
                      "default/rate-limit-policy", "enforces every rule"})
                .size(),
            1u)
      << dump(r);
  // (c) the route to an AIServiceBackend no file here defines.
  const auto missing = matching(r, Severity::kWarning, {"bedrock-aws", "503"});
  ASSERT_EQ(missing.size(), 1u) << dump(r);
  EXPECT_TRUE(contains(missing[0].file, "rate-limiting/ai-gateway-route.yaml"));
  EXPECT_EQ(missing[0].object, "AIGatewayRoute default/ai-gateway-route");
  EXPECT_EQ(missing[0].field, "spec.rules[2].backendRefs[0].name");
  EXPECT_EQ(missing[0].line, 32);

  const Config& c = r.config;
  ASSERT_EQ(c.routes.size(), 2u);
  const AIGatewayRoute* route = findRoute(c, "ai-gateway-route");
  ASSERT_NE(route, nullptr);
  EXPECT_TRUE(contains(route->origin.file, "rate-limiting/ai-gateway-route.yaml"));
  ASSERT_EQ(route->rules.size(), 3u);
  EXPECT_EQ(route->rules[0].matches[0].headers[0].value, "openai/gpt-oss-20b");
  // The dangling reference stays, so the router can answer 503 for it.
  ASSERT_EQ(route->rules[2].backend_refs.size(), 1u);
  EXPECT_EQ(route->rules[2].backend_refs[0].name, "bedrock-aws");
  ASSERT_EQ(route->llm_request_costs.size(), 4u);
  EXPECT_EQ(route->llm_request_costs[0].metadata_key, "llm_input_token");
  EXPECT_EQ(route->llm_request_costs[0].type, CostType::kInputToken);
  EXPECT_EQ(route->llm_request_costs[1].type, CostType::kOutputToken);
  EXPECT_EQ(route->llm_request_costs[2].type, CostType::kTotalToken);
  EXPECT_EQ(route->llm_request_costs[3].metadata_key, "llm_cached_input_token");
  EXPECT_EQ(route->llm_request_costs[3].type, CostType::kCachedInputToken);
  const AIGatewayRoute* rate_route = findRoute(c, "multi-model-rate-limit-route");
  ASSERT_NE(rate_route, nullptr);
  EXPECT_EQ(rate_route->rules.size(), 2u);
  EXPECT_EQ(rate_route->llm_request_costs.size(), 3u);

  ASSERT_EQ(c.traffic_policies.size(), 2u);
  const BackendTrafficPolicy* testing_policy = findTrafficPolicy(c, "rate-limit-policy");
  ASSERT_NE(testing_policy, nullptr);
  EXPECT_TRUE(testing_policy->global);
  EXPECT_EQ(testing_policy->target_gateways, std::vector<std::string>{"ai-gateway"});
  ASSERT_EQ(testing_policy->rules.size(), 3u);
  const std::vector<std::pair<uint64_t, std::string>> tiny = {
      {10, "llm_input_token"}, {20, "llm_output_token"}, {25, "llm_total_token"}};
  for (size_t i = 0; i < tiny.size(); ++i) {
    const RateLimitRule& rule = testing_policy->rules[i];
    EXPECT_EQ(rule.limit, tiny[i].first);
    EXPECT_EQ(rule.unit, RateLimitUnit::kHour);
    EXPECT_EQ(rule.request_cost, 0u);
    EXPECT_EQ(rule.response_metadata_key, tiny[i].second);
    EXPECT_EQ(rule.response_metadata_namespace, "io.envoy.ai_gateway");
    ASSERT_EQ(rule.client_selectors.size(), 1u);
    ASSERT_EQ(rule.client_selectors[0].size(), 1u);
    EXPECT_EQ(rule.client_selectors[0][0].name, "x-user-id");
    EXPECT_EQ(rule.client_selectors[0][0].type, HeaderMatchType::kDistinct);
  }

  const BackendTrafficPolicy* prod = findTrafficPolicy(c, "multi-model-rate-limit-policy");
  ASSERT_NE(prod, nullptr);
  ASSERT_EQ(prod->rules.size(), 5u);
  EXPECT_EQ(prod->rules[0].limit, 50000u);
  EXPECT_EQ(prod->rules[1].limit, 25000u);
  EXPECT_EQ(prod->rules[2].limit, 75000u);
  EXPECT_EQ(prod->rules[2].unit, RateLimitUnit::kHour);
  EXPECT_EQ(prod->rules[3].limit, 60u);
  EXPECT_EQ(prod->rules[3].unit, RateLimitUnit::kMinute);
  EXPECT_EQ(prod->rules[3].request_cost, 1u);
  EXPECT_FALSE(prod->rules[3].response_metadata_key.has_value());
  const RateLimitRule& per_model = prod->rules[4];
  EXPECT_EQ(per_model.limit, 30u);
  EXPECT_EQ(per_model.unit, RateLimitUnit::kMinute);
  ASSERT_EQ(per_model.client_selectors.size(), 1u);
  ASSERT_EQ(per_model.client_selectors[0].size(), 2u);
  EXPECT_EQ(per_model.client_selectors[0][1].name, "x-ai-eg-model");
  EXPECT_EQ(per_model.client_selectors[0][1].type, HeaderMatchType::kExact);
  EXPECT_EQ(per_model.client_selectors[0][1].value, "openai/gpt-oss-20b");
  EXPECT_FALSE(per_model.client_selectors[0][1].invert);
}

TEST(BlueprintTest, WholeBlueprint) {
  // What `tollgate --config blueprint/ blueprint/*/` reads (the shell sorts the directories).
  const LoadResult r =
      loadFiles({kBlueprint, kBlueprint + "_infra", kBlueprint + "bedrock-integration",
                 kBlueprint + "multi-model-routing", kBlueprint + "rate-limiting"});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  // bedrock-integration/ defines bedrock-aws, so only defects (a) and (b) remain.
  ASSERT_EQ(ofSeverity(r, Severity::kWarning).size(), 2u) << dump(r);
  const auto duplicate = matching(
      r, Severity::kWarning,
      {"AIGatewayRoute default/ai-gateway-route", "bedrock-integration/ai-gateway-route.yaml",
       "multi-model-routing/ai-gateway-route.yaml", "rate-limiting/ai-gateway-route.yaml"});
  ASSERT_EQ(duplicate.size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kWarning, {"2 BackendTrafficPolicies target Gateway"}).size(), 1u)
      << dump(r);
  // The older revision repeats the self-hosted backends unchanged: noted, not warned.
  for (const char* object : {"Backend default/gpt-oss-backend", "AIServiceBackend default/gpt-oss",
                             "Backend default/qwen3-backend", "AIServiceBackend default/qwen3"}) {
    EXPECT_EQ(
        matching(r, Severity::kInfo, {object, "identically", "_model-backends-at-40f5c3b"}).size(),
        1u)
        << object << dump(r);
  }
  EXPECT_EQ(matching(r, Severity::kInfo, {"ignored kind Application"}).size(), 4u) << dump(r);

  const Config& c = r.config;
  const AIGatewayRoute* route = findRoute(c, "ai-gateway-route");
  ASSERT_NE(route, nullptr);
  EXPECT_TRUE(contains(route->origin.file, "rate-limiting/ai-gateway-route.yaml"));
  const AIServiceBackend* bedrock_aws = c.findAIServiceBackend("default", "bedrock-aws");
  ASSERT_NE(bedrock_aws, nullptr);
  EXPECT_EQ(bedrock_aws->schema, Schema::kAWSAnthropic);
  const Backend* backend = c.findBackend("default", "bedrock-aws-backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_TRUE(backend->tls.enabled);  // from the Backend's own spec.tls
  EXPECT_TRUE(backend->tls.system_cas);
  const BackendSecurityPolicy* policy = c.securityPolicyFor(*bedrock_aws);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->origin.name, "bedrock-aws-auth");
  EXPECT_EQ(c.ai_service_backends.size(), 4u);
  EXPECT_EQ(c.backends.size(), 4u);
}

TEST(BlueprintTest, DirectoriesAreNotRecursive) {
  const LoadResult r = loadFiles({kBlueprint});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  EXPECT_EQ(r.config.gateways.size(), 1u);
  EXPECT_EQ(r.config.ai_service_backends.size(), 3u);
  EXPECT_TRUE(r.config.routes.empty());
}

TEST(BlueprintTest, UnderscoreFilesInADirectoryAreLoaded) {
  const LoadResult r = loadFiles({kBlueprint + "gateway.yaml", kBlueprint + "bedrock-integration"});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  const AIServiceBackend* bedrock_aws = r.config.findAIServiceBackend("default", "bedrock-aws");
  ASSERT_NE(bedrock_aws, nullptr);
  EXPECT_TRUE(contains(bedrock_aws->origin.file, "bedrock-integration/_model-backends-at-40f5c3b"));
  ASSERT_EQ(r.config.routes.size(), 1u);
  EXPECT_EQ(r.config.routes[0].rules[0].backend_refs[0].name, "bedrock-aws");
}

TEST(DemoTest, LoadsWithoutWarnings) {
  const LoadResult r = loadFiles({kDemo});
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  const Config& c = r.config;
  ASSERT_EQ(c.gateways.size(), 1u);
  EXPECT_EQ(c.gateways[0].origin.name, "ai-gateway");
  ASSERT_EQ(c.gateways[0].listeners.size(), 1u);
  EXPECT_EQ(c.gateways[0].listeners[0].port, 1975);
  ASSERT_NE(c.findBackend("default", "qwen3-backend"), nullptr);
  ASSERT_NE(c.findBackend("default", "gpt-oss-backend"), nullptr);
  for (const char* name : {"qwen3", "gpt-oss"}) {
    const AIServiceBackend* b = c.findAIServiceBackend("default", name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(b->schema, Schema::kOpenAI);
  }
  ASSERT_EQ(c.client_traffic_policies.size(), 1u);
  EXPECT_EQ(c.client_traffic_policies[0].buffer_limit_bytes, 52428800u);

  ASSERT_EQ(c.routes.size(), 1u);
  const AIGatewayRoute& route = c.routes[0];
  std::vector<std::string> models;
  for (const RouteRule& rule : route.rules) models.push_back(rule.matches[0].headers[0].value);
  EXPECT_EQ(models, (std::vector<std::string>{"Qwen/Qwen3-1.7B", "openai/gpt-oss-20b",
                                              "tollgate/auto", "tollgate/reliable", "gpt-4o-mini",
                                              "anthropic.claude-3-haiku-20240307-v1:0"}));
  const RouteRule& weighted = route.rules[2];
  ASSERT_EQ(weighted.backend_refs.size(), 2u);
  EXPECT_EQ(weighted.backend_refs[0].weight, 80u);
  EXPECT_EQ(weighted.backend_refs[1].weight, 20u);
  EXPECT_EQ(weighted.backend_refs[0].model_name_override, "Qwen/Qwen3-1.7B");
  const RouteRule& fallback = route.rules[3];
  ASSERT_EQ(fallback.backend_refs.size(), 2u);
  EXPECT_EQ(fallback.backend_refs[0].priority, 0u);
  EXPECT_EQ(fallback.backend_refs[1].priority, 1u);
  EXPECT_EQ(route.rules[4].backend_refs[0].model_name_override, "openai/gpt-oss-20b");
  EXPECT_EQ(route.rules[4].timeouts.request_ms, 120000u);
  EXPECT_EQ(route.llm_request_costs.size(), 4u);
  ASSERT_EQ(c.traffic_policies.size(), 1u);
  EXPECT_EQ(c.traffic_policies[0].rules.size(), 2u);
}

TEST(DemoTest, EndpointOverridesPointAtLocalServers) {
  LoadOptions opts;
  opts.backend_endpoint_overrides["qwen3-backend"] = Endpoint{"127.0.0.1", 18001, true};
  opts.backend_endpoint_overrides["gpt-oss-backend"] = Endpoint{"127.0.0.1", 18002, true};
  const LoadResult r = loadFiles({kDemo}, opts);
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  const Backend* qwen3 = r.config.findBackend("default", "qwen3-backend");
  ASSERT_NE(qwen3, nullptr);
  ASSERT_EQ(qwen3->endpoints.size(), 1u);
  EXPECT_EQ(qwen3->endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(qwen3->endpoints[0].port, 18001);
}

// Found by tests/fuzz/config_fuzz (out of memory): aliases of aliases expand exponentially
// ("billion laughs"), and walking 9^8 shared nodes took minutes and gigabytes. Such a document is
// refused with one error; the other documents still load.
TEST(LoaderTest, ExponentialAliasExpansionIsRefused) {
  std::string laughs = R"(apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: laughs, namespace: default}
spec:
  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]
)";
  for (int i = 1; i <= 8; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    laughs += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 9; ++j) laughs += ", " + prev;
    laughs += "]\n";
  }
  laughs += "  rules: *a8\n---\n";
  const LoadResult r = load(laughs + modelBackend("m") + route("r", R"(
    - backendRefs: [{name: m}]
)"));
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_TRUE(contains(errors[0].message, "expands to more than")) << errors[0].message;
  EXPECT_NE(findRoute(r.config, "r"), nullptr);
  EXPECT_EQ(findRoute(r.config, "laughs"), nullptr);

  // Aliases that expand modestly still load.
  const LoadResult ok = load(modelBackend("m") + route("r", R"(
    - &rule
      backendRefs: [{name: m}]
    - *rule
)"));
  EXPECT_FALSE(ok.hasErrors()) << dump(ok);
}

// Found by tests/fuzz/config_fuzz (out of memory): yaml-cpp 0.7's LoadAll never returns on this
// input. The loader parses one document per chunk and must simply finish.
TEST(LoaderTest, InputThatHangsYamlCppLoadAllFinishes) {
  const LoadResult r = load(std::string("&=d\xff.n:,", 8));
  EXPECT_TRUE(r.config.routes.empty());
}

// "..." ends a document; the next one may follow without "---", and each keeps its line numbers.
TEST(LoaderTest, DocumentEndMarkerSeparatesDocuments) {
  std::string text = modelBackend("m");
  text.resize(text.rfind("---"));  // end the last document with "..." instead
  text += "...\n";
  text += route("r", "    - backendRefs: [{name: m, weight: nine}]\n");
  const LoadResult r = load(text);
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].object, "AIGatewayRoute default/r");
  EXPECT_EQ(errors[0].line, 23) << dump(r);
}

TEST(LoaderTest, UnknownKindsAreInfoNeverErrors) {
  const LoadResult r = load(R"(
apiVersion: v1
kind: ServiceAccount
metadata: {name: settings, namespace: tools}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-gw}
spec: {selector: {istio: ingress}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: plain}
spec: {rules: [{backendRefs: [{name: svc, port: 80}]}]}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  const auto infos = ofSeverity(r, Severity::kInfo);
  ASSERT_EQ(infos.size(), 3u) << dump(r);
  EXPECT_EQ(infos[0].object, "ServiceAccount tools/settings");
  EXPECT_TRUE(contains(infos[0].message, "ignored kind ServiceAccount")) << infos[0].message;
  EXPECT_TRUE(contains(infos[1].message, "ignored kind Gateway of apiVersion networking.istio.io"))
      << infos[1].message;
  EXPECT_TRUE(contains(infos[2].message, "ignored kind HTTPRoute")) << infos[2].message;
  EXPECT_TRUE(r.config.gateways.empty());
}

TEST(LoaderTest, ListsOfObjectsAreUnpacked) {
  const LoadResult r = load(R"(
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: a}
    stringData: {apiKey: x}
  - apiVersion: v1
    kind: Secret
    metadata: {name: b}
    stringData: {apiKey: y}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_EQ(r.config.secrets.size(), 2u);
}

TEST(LoaderTest, UnknownEnumValuesListTheAllowedOnes) {
  const LoadResult r = load(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: gem-backend}
spec: {endpoints: [{fqdn: {hostname: gemini.example.com, port: 443}}]}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: gem}
spec:
  schema: {name: Gemini}
  backendRef: {name: gem-backend}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules:
    - matches: [{headers: [{name: x-ai-eg-model, type: Distinct, value: a}]}]
      backendRefs: [{name: gem}]
  llmRequestCosts:
    - {metadataKey: a, type: Tokens}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: gcp}
spec:
  targetRefs: [{name: gem, kind: AIServiceBackend}]
  type: GCPCredentials
)");
  EXPECT_EQ(matching(r, Severity::kError,
                     {"AIServiceBackend default/gem", "spec.schema.name", "\"Gemini\"",
                      "allowed: OpenAI, AWSAnthropic, AWSBedrock, Anthropic, AzureOpenAI"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.rules[0].matches[0].headers[0].type", "\"Distinct\"",
                      "allowed: Exact, RegularExpression"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.llmRequestCosts[0].type", "\"Tokens\"",
                      "allowed: InputToken, CachedInputToken, OutputToken, TotalToken, CEL"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError,
                     {"BackendSecurityPolicy default/gcp", "spec.type", "\"GCPCredentials\"",
                      "AWSCredentials"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 4u) << dump(r);
  EXPECT_EQ(r.config.findAIServiceBackend("default", "gem")->schema, Schema::kUnknown);
}

TEST(LoaderTest, NumbersOutOfRange) {
  const LoadResult r = load(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  listeners:
    - {name: zero, port: 0, protocol: HTTP}
    - {name: ok, port: 8080, protocol: HTTP}
    - {name: word, port: eighty, protocol: HTTP}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: m-backend}
spec:
  endpoints:
    - ip: {address: 10.0.0.1, port: 70000}
    - ip: {address: 10.0.0.2, port: 8000}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: m}
spec: {schema: {name: OpenAI}, backendRef: {name: m-backend}}
---
)" + route("r", R"(
    - backendRefs:
        - {name: m, weight: 1}
        - {name: m, weight: -1}
        - {name: m, priority: -2}
)"));
  EXPECT_EQ(matching(r, Severity::kError, {"spec.listeners[0].port", "between 1 and 65535"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.listeners[2].port", "\"eighty\""}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.endpoints[0].ip.port", "got 70000"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.rules[0].backendRefs[1].weight", "got -1"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(
      matching(r, Severity::kError, {"spec.rules[0].backendRefs[2].priority", "got -2"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 5u) << dump(r);
  ASSERT_EQ(r.config.gateways[0].listeners.size(), 1u);
  EXPECT_EQ(r.config.gateways[0].listeners[0].port, 8080);
  ASSERT_EQ(r.config.backends[0].endpoints.size(), 1u);
  EXPECT_TRUE(r.config.backends[0].endpoints[0].is_ip);
  EXPECT_EQ(r.config.backends[0].endpoints[0].host, "10.0.0.2");
}

TEST(LoaderTest, DocumentsWithoutKindOrNameAndEmptyDocuments) {
  const LoadResult r = load(R"(
---
---
# only a comment
---
apiVersion: v1
metadata: {name: nameless-kind}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
spec: {listeners: [{name: http, port: 80, protocol: HTTP}]}
---
- just
- a list
---
apiVersion: v1
kind: Secret
metadata: {name: fine}
stringData: {apiKey: k}
)");
  EXPECT_EQ(matching(r, Severity::kError, {"kind", "\"nameless-kind\" has no kind"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"metadata.name", "Gateway has no metadata.name"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"a document must be a mapping"}).size(), 1u) << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 3u) << dump(r);
  EXPECT_EQ(r.config.secrets.size(), 1u);
}

TEST(LoaderTest, SyntaxErrorLosesOnlyItsDocumentAndKeepsLineNumbers) {
  const LoadResult r = load(R"(apiVersion: v1
kind: Secret
metadata: {name: first}
stringData: {apiKey: a}
---
apiVersion: v1
kind: Secret
metadata: {name: [broken
---
apiVersion: v1
kind: Secret
metadata: {name: third}
stringData:
  apiKey: 12
  other: [1, 2]
)");
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 2u) << dump(r);
  EXPECT_TRUE(contains(errors[0].message, "invalid YAML")) << errors[0].message;
  EXPECT_GE(errors[0].line, 8);
  EXPECT_LE(errors[0].line, 9);
  EXPECT_EQ(errors[1].object, "Secret default/third");
  EXPECT_EQ(errors[1].field, "stringData.other");
  EXPECT_EQ(errors[1].line, 15);
  ASSERT_EQ(r.config.secrets.size(), 2u);
  EXPECT_EQ(r.config.secrets[0].origin.line, 1);
  EXPECT_EQ(r.config.secrets[1].origin.line, 10);
  EXPECT_EQ(r.config.secrets[1].data.at("apiKey"), "12");
}

TEST(LoaderTest, DuplicateKeysAndRecursiveAliasesAreErrors) {
  const LoadResult r = load(R"(
apiVersion: v1
kind: Secret
metadata: {name: twice}
stringData:
  apiKey: first
  apiKey: second
---
apiVersion: v1
kind: Secret
metadata: {name: loop}
stringData: &x {apiKey: *x}
)");
  EXPECT_EQ(matching(r, Severity::kError,
                     {"test.yaml:7:", "Secret default/twice", "stringData.apiKey", "duplicate key"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"test.yaml:12:"}).size(), 1u) << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 2u) << dump(r);
}

TEST(LoaderTest, NonHttpListenersAreDroppedWithAWarning) {
  const LoadResult r = load(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  listeners:
    - {name: http, port: 80, protocol: HTTP}
    - {name: https, port: 443, protocol: HTTPS}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_EQ(matching(r, Severity::kWarning, {"spec.listeners[1].protocol", "HTTPS"}).size(), 1u)
      << dump(r);
  ASSERT_EQ(r.config.gateways[0].listeners.size(), 1u);
}

TEST(LoaderTest, EndpointOverrideReplacesEndpointsAndDisablesTls) {
  LoadOptions opts;
  opts.backend_endpoint_overrides["m-backend"] = Endpoint{"localhost", 9000, false};
  const LoadResult r = load(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: m-backend}
spec:
  endpoints:
    - fqdn: {hostname: a.example.com, port: 443}
    - fqdn: {hostname: b.example.com, port: 443}
  tls: {wellKnownCACertificates: System}
)",
                            opts);
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  const Backend* b = r.config.findBackend("default", "m-backend");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->endpoints.size(), 1u);
  EXPECT_EQ(b->endpoints[0].host, "localhost");
  EXPECT_EQ(b->endpoints[0].port, 9000);
  EXPECT_FALSE(b->tls.enabled);
  EXPECT_EQ(matching(r, Severity::kInfo, {"localhost:9000", "TLS off"}).size(), 1u) << dump(r);
}

TEST(LoaderTest, EndpointOverrideOfUnknownBackendIsAnError) {
  LoadOptions opts;
  opts.backend_endpoint_overrides["qwen-backend"] = Endpoint{"127.0.0.1", 8001, true};
  const LoadResult r = load(modelBackend("m"), opts);
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].file, "<command line>");
  EXPECT_TRUE(contains(errors[0].message, "\"qwen-backend\"")) << errors[0].message;
  EXPECT_TRUE(contains(errors[0].message, "m-backend")) << errors[0].message;  // the known ones
}

TEST(LoaderTest, LaterDefinitionReplacesTheEarlierWithOneWarning) {
  LoadResult r = load(std::string(kGateway) + modelBackend("a") + modelBackend("b") +
                      route("r", "    - backendRefs: [{name: a}]\n") +
                      route("r", "    - backendRefs: [{name: b}]\n"));
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const auto warnings = ofSeverity(r, Severity::kWarning);
  ASSERT_EQ(warnings.size(), 1u) << dump(r);
  EXPECT_EQ(warnings[0].object, "AIGatewayRoute default/r");
  EXPECT_TRUE(contains(warnings[0].message, "replaces the earlier")) << warnings[0].message;
  ASSERT_EQ(r.config.routes.size(), 1u);
  EXPECT_EQ(r.config.routes[0].rules[0].backend_refs[0].name, "b");

  // The same object written twice, identically, is only noted.
  r = load(modelBackend("a") + modelBackend("a"));
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_TRUE(ofSeverity(r, Severity::kWarning).empty()) << dump(r);
  EXPECT_EQ(matching(r, Severity::kInfo, {"identically"}).size(), 2u) << dump(r);
  EXPECT_EQ(r.config.backends.size(), 1u);
}

TEST(LoaderTest, ManyErrorsAreAllReported) {
  const LoadResult r = load(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: b}
spec:
  endpoints:
    - fqdn: {port: 80}
    - {}
    - unix: {path: /tmp/sock}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: s}
spec: {}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules:
    - matches: [{headers: [{type: Exact, value: a}, {name: b}]}]
      backendRefs: [{weight: 2}]
)");
  EXPECT_EQ(matching(r, Severity::kError, {"spec.endpoints[0].fqdn.hostname", "missing"}).size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.endpoints[1]"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.endpoints[2].unix"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.schema", "missing"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"spec.backendRef", "missing"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"headers[0].name", "missing"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"headers[1].value", "missing"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"backendRefs[0].name", "missing"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(ofSeverity(r, Severity::kError).size(), 8u) << dump(r);
}

TEST(LoaderTest, FilesAndDirectories) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / "tollgate_config_loader_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "nested");
  std::filesystem::create_directories(dir / "empty");
  const auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
  };
  const auto secret = [](const std::string& name) {
    return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\n";
  };
  write(dir / "b.yaml", secret("b"));
  write(dir / "_a.yml", secret("a"));
  write(dir / "c.txt", secret("c"));
  write(dir / ".hidden.yaml", secret("hidden"));
  write(dir / "nested" / "d.yaml", secret("d"));

  const LoadResult r = loadFiles({dir.string(), (dir / "b.yaml").string(),
                                  (dir / "missing.yaml").string(), (dir / "empty").string()});
  std::vector<std::string> names;
  for (const Secret& s : r.config.secrets) names.push_back(s.origin.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));  // '_' sorts before letters
  EXPECT_EQ(r.config.secrets[0].origin.file, (dir / "_a.yml").string());
  EXPECT_EQ(matching(r, Severity::kError, {"missing.yaml", "no such file"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kWarning, {"empty", "no *.yaml"}).size(), 1u) << dump(r);
  EXPECT_EQ(matching(r, Severity::kInfo, {"b.yaml", "already loaded"}).size(), 1u) << dump(r);
  std::filesystem::remove_all(dir);
}

TEST(DiagnosticTest, ToString) {
  Diagnostic d;
  d.severity = Severity::kWarning;
  d.file = "routes.yaml";
  d.line = 12;
  d.object = "AIGatewayRoute default/x";
  d.field = "spec.rules[0].backendRefs[1].weight";
  d.message = "something";
  EXPECT_EQ(d.toString(),
            "routes.yaml:12: AIGatewayRoute default/x: "
            "spec.rules[0].backendRefs[1].weight: something");
  Diagnostic bare;
  bare.message = "oops";
  EXPECT_EQ(bare.toString(), "oops");
  LoadResult result;
  EXPECT_FALSE(result.hasErrors());
  result.diagnostics.push_back(d);
  EXPECT_FALSE(result.hasErrors());
  result.diagnostics.push_back(bare);
  EXPECT_TRUE(result.hasErrors());
}

}  // namespace
}  // namespace tollgate::config
