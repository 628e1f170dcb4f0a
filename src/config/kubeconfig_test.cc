#include "config/kubeconfig.h"

#include <gtest/gtest.h>

#include <string>

namespace tollgate::config {
namespace {

// base64 of "-----BEGIN CERTIFICATE-----\nCA\n" and of "KEY": decoding, not PEM checking, is
// this layer's job.
constexpr const char* kKubeconfig = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod-cluster
  cluster:
    server: https://prod.example:6443
    certificate-authority: certs/ca.pem
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==
    tls-server-name: kubernetes.default
contexts:
- name: dev
  context: { cluster: dev-cluster, user: dev-user, namespace: team-a }
- name: prod
  context: { cluster: prod-cluster, user: prod-user }
users:
- name: dev-user
  user:
    token: dev-token-value
- name: prod-user
  user:
    client-certificate: /abs/client.pem
    client-key-data: S0VZ
    tokenFile: token
)";

TEST(Kubeconfig, CurrentContextWithInlineCaAndToken) {
  std::string error;
  auto kc = parseKubeconfig(kKubeconfig, "/home/u/.kube/config", "", &error);
  ASSERT_TRUE(kc) << error;
  EXPECT_EQ(kc->context, "dev");
  EXPECT_EQ(kc->server, "https://127.0.0.1:6443");
  EXPECT_EQ(kc->ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n");
  EXPECT_EQ(kc->tls_server_name, "kubernetes.default");
  EXPECT_EQ(kc->token, "dev-token-value");
  EXPECT_EQ(kc->ns, "team-a");
  EXPECT_FALSE(kc->insecure_skip_tls_verify);
}

TEST(Kubeconfig, NamedContextResolvesRelativePathsAgainstTheFile) {
  std::string error;
  auto kc = parseKubeconfig(kKubeconfig, "/home/u/.kube/config", "prod", &error);
  ASSERT_TRUE(kc) << error;
  EXPECT_EQ(kc->ca_file, "/home/u/.kube/certs/ca.pem");
  EXPECT_EQ(kc->client_certificate_file, "/abs/client.pem");
  EXPECT_EQ(kc->client_key_pem, "KEY");
  EXPECT_EQ(kc->token_file, "/home/u/.kube/token");
  EXPECT_EQ(kc->ns, "");
}

TEST(Kubeconfig, InsecureSkipVerifyIsReported) {
  std::string error;
  auto kc = parseKubeconfig(R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k:443", insecure-skip-tls-verify: true } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { token: t } }]
)",
                            "kc", "", &error);
  ASSERT_TRUE(kc) << error;
  EXPECT_TRUE(kc->insecure_skip_tls_verify);
}

TEST(Kubeconfig, ProblemsNameTheFileAndTheField) {
  std::string error;
  EXPECT_FALSE(parseKubeconfig(kKubeconfig, "kc", "staging", &error));
  EXPECT_EQ(error, "kc: no context named 'staging'");

  EXPECT_FALSE(parseKubeconfig("clusters: []", "kc", "", &error));
  EXPECT_NE(error.find("no current-context"), std::string::npos) << error;

  EXPECT_FALSE(parseKubeconfig(R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { exec: { command: aws } } }]
)",
                               "kc", "", &error));
  EXPECT_NE(error.find("uses exec, which tollgate does not support"), std::string::npos) << error;

  EXPECT_FALSE(parseKubeconfig(R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k", certificate-authority-data: "%%%" } }]
contexts: [{ name: c, context: { cluster: k } }]
)",
                               "kc", "", &error));
  EXPECT_EQ(error, "kc: clusters[k].certificate-authority-data: not valid base64");

  EXPECT_FALSE(parseKubeconfig(R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { client-certificate-data: QQ== } }]
)",
                               "kc", "", &error));
  EXPECT_NE(error.find("needs both client-certificate and client-key"), std::string::npos) << error;

  EXPECT_FALSE(parseKubeconfig("a: [unclosed", "kc", "", &error));
  EXPECT_NE(error.find("kc: invalid YAML"), std::string::npos) << error;
}

TEST(Kubeconfig, SecretsNeverAppearInErrors) {
  std::string error;
  EXPECT_FALSE(parseKubeconfig(R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { token: super-secret-token, client-key-data: "not base64!" } }]
)",
                               "kc", "", &error));
  EXPECT_EQ(error.find("super-secret-token"), std::string::npos) << error;
  EXPECT_EQ(error.find("not base64!"), std::string::npos) << error;
}

}  // namespace
}  // namespace tollgate::config
