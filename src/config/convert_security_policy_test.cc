// BackendSecurityPolicy: API keys and AWS credentials from Secrets, and their targets.

#include <gtest/gtest.h>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

const char kApiKeyPolicy[] = R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: m-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: m}]
  type: APIKey
  apiKey:
    secretRef: {name: m-secret}
---
)";

TEST(LoaderTest, ApiKeyFromBase64SecretData) {
  const LoadResult r = load(modelBackend("m") + kApiKeyPolicy + R"(
apiVersion: v1
kind: Secret
metadata: {name: m-secret}
type: Opaque
data:
  apiKey: c2stdGVzdAo=   # "sk-test\n", as `echo sk-test | base64` makes it
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  ASSERT_EQ(r.config.secrets.size(), 1u);
  EXPECT_EQ(r.config.secrets[0].data.at("apiKey"), "sk-test\n");
  const AIServiceBackend* m = r.config.findAIServiceBackend("default", "m");
  ASSERT_NE(m, nullptr);
  const BackendSecurityPolicy* policy = r.config.securityPolicyFor(*m);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->type, SecurityType::kAPIKey);
  EXPECT_EQ(policy->api_key_secret, "m-secret");
  EXPECT_EQ(policy->api_key, "sk-test");  // the newline would break the header
}

TEST(LoaderTest, ApiKeyFromStringDataWhichWinsOverData) {
  const LoadResult r = load(modelBackend("m") + R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: m-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: m}]
  type: AnthropicAPIKey
  anthropicAPIKey:
    secretRef: {name: m-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: m-secret}
data: {apiKey: b2xk}
stringData: {apiKey: sk-ant-plain}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const BackendSecurityPolicy* policy = findSecurityPolicy(r.config, "m-key");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->type, SecurityType::kAnthropicAPIKey);
  EXPECT_EQ(policy->api_key, "sk-ant-plain");
}

TEST(LoaderTest, AzureApiKeyAndLegacyTargetRef) {
  const LoadResult r = load(modelBackend("m") + R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: m-key}
spec:
  targetRef: {group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: m}
  type: AzureAPIKey
  azureAPIKey:
    secretRef: {name: m-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: m-secret}
stringData: {apiKey: azure-key}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const BackendSecurityPolicy* policy =
      r.config.securityPolicyFor(*r.config.findAIServiceBackend("default", "m"));
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->type, SecurityType::kAzureAPIKey);
  EXPECT_EQ(policy->api_key, "azure-key");
}

// AzureCredentials as Envoy AI Gateway's examples/basic/azure_openai.yaml writes it, and the
// variants its CRD validation refuses (exactly one of clientSecretRef / oidcExchangeToken).
TEST(LoaderTest, AzureCredentialsWithAClientSecret) {
  const std::string secret = R"(
---
apiVersion: v1
kind: Secret
metadata: {name: m-client-secret}
stringData: {client-secret: "entra-secret\n"}
)";
  const auto policy = [](const std::string& azure) {
    return modelBackend("m") + R"(
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: m-azure}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: m}]
  type: AzureCredentials
  azureCredentials: )" +
           azure;
  };
  const LoadResult ok =
      load(policy("{clientID: app, tenantID: tenant, clientSecretRef: {name: m-client-secret}}") +
           secret);
  EXPECT_FALSE(ok.hasErrors()) << dump(ok);
  const BackendSecurityPolicy* p = findSecurityPolicy(ok.config, "m-azure");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->type, SecurityType::kAzureCredentials);
  EXPECT_EQ(p->azure.client_id, "app");
  EXPECT_EQ(p->azure.tenant_id, "tenant");
  EXPECT_EQ(p->azure.client_secret, "entra-secret");

  struct Refused {
    const char* azure;
    std::vector<std::string> error;
  };
  const Refused refused[] = {
      {"{tenantID: t, clientSecretRef: {name: m-client-secret}}",
       {"spec.azureCredentials.clientID", "required"}},
      {"{clientID: a, tenantID: t}", {"spec.azureCredentials", "exactly one of"}},
      {"{clientID: a, tenantID: t, oidcExchangeToken: {oidc: {clientID: x}}}",
       {"spec.azureCredentials.oidcExchangeToken", "not supported", "clientSecretRef"}},
      {"{clientID: a, tenantID: t, clientSecretRef: {name: nowhere}}",
       {"spec.azureCredentials.clientSecretRef.name", "Secret default/nowhere"}},
  };
  for (const Refused& c : refused) {
    SCOPED_TRACE(c.azure);
    const LoadResult r = load(policy(c.azure) + secret);
    EXPECT_EQ(matching(r, Severity::kError, c.error).size(), 1u) << dump(r);
  }
  // The Secret's key is Envoy AI Gateway's "client-secret".
  const LoadResult wrong_key =
      load(policy("{clientID: a, tenantID: t, clientSecretRef: {name: m-client-secret}}") + R"(
---
apiVersion: v1
kind: Secret
metadata: {name: m-client-secret}
stringData: {apiKey: x}
)");
  EXPECT_EQ(matching(wrong_key, Severity::kError, {"has no key \"client-secret\""}).size(), 1u)
      << dump(wrong_key);
}

TEST(LoaderTest, LegacyBackendSecurityPolicyRefOnTheBackend) {
  const LoadResult r = load(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: m-backend}
spec: {endpoints: [{fqdn: {hostname: m.example.com, port: 443}}]}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: m}
spec:
  schema: {name: OpenAI}
  backendRef: {name: m-backend}
  backendSecurityPolicyRef: {name: m-key}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: m-key}
spec:
  type: APIKey
  apiKey: {secretRef: {name: s}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {apiKey: k}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const BackendSecurityPolicy* policy =
      r.config.securityPolicyFor(*r.config.findAIServiceBackend("default", "m"));
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->api_key, "k");
}

TEST(LoaderTest, MissingSecretIsAnError) {
  const LoadResult r = load(modelBackend("m") + kApiKeyPolicy);
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].object, "BackendSecurityPolicy default/m-key");
  EXPECT_EQ(errors[0].field, "spec.apiKey.secretRef.name");
  EXPECT_TRUE(contains(errors[0].message, "Secret default/m-secret")) << errors[0].message;
}

TEST(LoaderTest, SecretWithoutApiKeyOrWithBadBase64IsAnError) {
  const LoadResult r = load(modelBackend("m") + kApiKeyPolicy + R"(
apiVersion: v1
kind: Secret
metadata: {name: m-secret}
data:
  token: c2stdGVzdA==
  broken: "not base64!"
)");
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 2u) << dump(r);
  EXPECT_EQ(
      matching(r, Severity::kError, {"Secret default/m-secret", "data.broken", "base64"}).size(),
      1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"has no key \"apiKey\""}).size(), 1u) << dump(r);
  // A credential never appears in a message.
  EXPECT_FALSE(contains(dump(r), "not base64!"));
}

TEST(LoaderTest, AwsCredentials) {
  const LoadResult r = load(modelBackend("m") + R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: aws}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: m}]
  type: AWSCredentials
  awsCredentials:
    region: eu-west-1
    credentialsFile:
      secretRef: {name: aws-file}
    oidcExchangeToken:
      awsRoleArn: arn:aws:iam::123456789012:role/bedrock
      oidc: {provider: {issuer: https://idp.example.com}, clientID: tollgate}
---
apiVersion: v1
kind: Secret
metadata: {name: aws-file}
stringData:
  credentials: |
    [default]
    aws_access_key_id = AKIDEXAMPLE
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const BackendSecurityPolicy* policy = findSecurityPolicy(r.config, "aws");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->type, SecurityType::kAWSCredentials);
  EXPECT_EQ(policy->aws.region, "eu-west-1");
  EXPECT_EQ(policy->aws.credentials_file_secret, "aws-file");
  EXPECT_EQ(policy->aws.credentials_profile, "default");
  EXPECT_TRUE(contains(policy->aws.credentials_file_content, "AKIDEXAMPLE"));
  EXPECT_EQ(policy->aws.oidc_role_arn, "arn:aws:iam::123456789012:role/bedrock");
}

TEST(LoaderTest, TwoSecurityPoliciesOnOneBackendIsAnError) {
  const LoadResult r = load(modelBackend("m") + R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: one}
spec:
  targetRefs: [{name: m, kind: AIServiceBackend}]
  type: AWSCredentials
  awsCredentials: {region: us-east-1}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: two}
spec:
  targetRefs: [{name: m, kind: AIServiceBackend}]
  type: AWSCredentials
  awsCredentials: {region: us-west-2}
)");
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].object, "BackendSecurityPolicy default/two");
  EXPECT_TRUE(contains(errors[0].message, "default/one")) << errors[0].message;
}

}  // namespace
}  // namespace tollgate::config
