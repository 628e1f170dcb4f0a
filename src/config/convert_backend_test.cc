// Backend, AIServiceBackend and BackendTLSPolicy: endpoints, references and TLS trust.

#include <gtest/gtest.h>

#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

TEST(LoaderTest, AIServiceBackendWithoutItsBackendIsAWarning) {
  const LoadResult r = load(R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: m, namespace: ml}
spec:
  schema: {name: OpenAI, version: v1}
  backendRef: {name: m-backend, kind: Backend, group: gateway.envoyproxy.io}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const auto warnings = ofSeverity(r, Severity::kWarning);
  ASSERT_EQ(warnings.size(), 1u) << dump(r);
  EXPECT_EQ(warnings[0].object, "AIServiceBackend ml/m");
  EXPECT_TRUE(contains(warnings[0].message, "Backend ml/m-backend")) << warnings[0].message;
  const AIServiceBackend* m = r.config.findAIServiceBackend("ml", "m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->schema_version, "v1");
  EXPECT_EQ(m->backend_ref_ns, "ml");
  EXPECT_EQ(r.config.findAIServiceBackend("default", "m"), nullptr);
}

TEST(LoaderTest, AIServiceBackendApiModeAnnotations) {
  const LoadResult r = load(R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata:
  name: old-vllm
  annotations: {tollgate.io/responses-api: translate, tollgate.io/anthropic-messages-api: native}
spec:
  schema: {name: OpenAI}
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: plain}
spec:
  schema: {name: OpenAI}
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata:
  name: typo
  annotations: {tollgate.io/responses-api: chat-only}
spec:
  schema: {name: OpenAI}
  backendRef: {name: b, kind: Backend, group: gateway.envoyproxy.io}
)");
  const AIServiceBackend* old_vllm = r.config.findAIServiceBackend("default", "old-vllm");
  ASSERT_NE(old_vllm, nullptr) << dump(r);
  EXPECT_FALSE(old_vllm->serves_responses);
  EXPECT_TRUE(old_vllm->serves_anthropic_messages);
  const AIServiceBackend* plain = r.config.findAIServiceBackend("default", "plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->serves_responses);
  EXPECT_FALSE(plain->serves_anthropic_messages);
  const auto errors = ofSeverity(r, Severity::kError);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0].object, "AIServiceBackend default/typo");
  EXPECT_TRUE(contains(errors[0].message, "\"native\" or \"translate\"")) << errors[0].message;
}

TEST(LoaderTest, BackendTlsFromSpecAndFromPolicy) {
  const LoadResult r = load(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: own}
spec:
  endpoints: [{fqdn: {hostname: api.example.com, port: 443}}]
  tls: {wellKnownCACertificates: System, sni: sni.example.com}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: by-policy}
spec:
  endpoints: [{fqdn: {hostname: other.example.com, port: 443}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls}
spec:
  targetRefs:
    - {group: gateway.envoyproxy.io, kind: Backend, name: by-policy}
    - {group: "", kind: Service, name: svc}
  validation: {wellKnownCACertificates: System, hostname: verify.example.com}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  EXPECT_EQ(matching(r, Severity::kWarning, {"spec.targetRefs[1].kind", "Service"}).size(), 1u)
      << dump(r);
  const Backend* own = r.config.findBackend("default", "own");
  ASSERT_NE(own, nullptr);
  EXPECT_TRUE(own->tls.enabled);
  EXPECT_EQ(own->tls.hostname, "sni.example.com");
  const Backend* by_policy = r.config.findBackend("default", "by-policy");
  ASSERT_NE(by_policy, nullptr);
  EXPECT_TRUE(by_policy->tls.enabled);
  EXPECT_TRUE(by_policy->tls.system_cas);
  EXPECT_EQ(by_policy->tls.hostname, "verify.example.com");
}

TEST(LoaderTest, CaCertificateRefsFromConfigMapsAndSecretsReplaceTheSystemCas) {
  const LoadResult r = load(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: private-ca}
data:
  ca.crt: |
    -----BEGIN CERTIFICATE-----
    MIIBconfigmap
    -----END CERTIFICATE-----
---
apiVersion: v1
kind: Secret
metadata: {name: other-ca}
stringData:
  ca.crt: "-----BEGIN CERTIFICATE-----\nMIIBsecret\n-----END CERTIFICATE-----\n"
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: own}
spec:
  endpoints: [{fqdn: {hostname: api.internal, port: 443}}]
  tls:
    caCertificateRefs: [{name: other-ca, kind: Secret, group: ""}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: by-policy}
spec:
  endpoints: [{fqdn: {hostname: vllm.internal, port: 8443}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: {name: tls}
spec:
  targetRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: by-policy}]
  validation:
    hostname: vllm.internal
    caCertificateRefs:
      - {group: "", kind: ConfigMap, name: private-ca}
      - {group: "", kind: Secret, name: other-ca}
)");
  EXPECT_FALSE(r.hasErrors()) << dump(r);
  const Backend* own = r.config.findBackend("default", "own");
  ASSERT_NE(own, nullptr);
  EXPECT_TRUE(own->tls.enabled);
  EXPECT_FALSE(own->tls.system_cas);
  EXPECT_TRUE(contains(own->tls.ca_pem, "MIIBsecret")) << own->tls.ca_pem;
  EXPECT_EQ(own->tls.ca_source, "Secret default/other-ca");
  const Backend* by_policy = r.config.findBackend("default", "by-policy");
  ASSERT_NE(by_policy, nullptr);
  EXPECT_TRUE(by_policy->tls.enabled);
  EXPECT_FALSE(by_policy->tls.system_cas);
  EXPECT_TRUE(contains(by_policy->tls.ca_pem, "MIIBconfigmap")) << by_policy->tls.ca_pem;
  EXPECT_TRUE(contains(by_policy->tls.ca_pem, "MIIBsecret")) << by_policy->tls.ca_pem;
  EXPECT_EQ(by_policy->tls.ca_source, "ConfigMap default/private-ca, Secret default/other-ca");
}

TEST(LoaderTest, BadCaCertificateRefsAreErrorsNamingTheReference) {
  const LoadResult r = load(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: no-pem}
data: {ca.crt: "not a certificate"}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: b}
spec:
  endpoints: [{fqdn: {hostname: api.internal, port: 443}}]
  tls:
    caCertificateRefs:
      - {name: missing}
      - {name: no-pem, kind: ConfigMap}
      - {name: bundle, kind: ClusterTrustBundle, group: certificates.k8s.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: both}
spec:
  endpoints: [{fqdn: {hostname: api.internal, port: 443}}]
  tls:
    wellKnownCACertificates: System
    caCertificateRefs: [{name: no-pem}]
)");
  EXPECT_EQ(matching(r, Severity::kError,
                     {"spec.tls.caCertificateRefs[0].name", "ConfigMap default/missing"})
                .size(),
            1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"ConfigMap default/no-pem", "ca.crt"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"certificates.k8s.io/ClusterTrustBundle"}).size(), 1u)
      << dump(r);
  EXPECT_EQ(matching(r, Severity::kError, {"mutually exclusive"}).size(), 1u) << dump(r);
}

}  // namespace
}  // namespace tollgate::config
