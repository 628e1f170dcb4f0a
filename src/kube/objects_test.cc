#include "kube/objects.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>

#include "kube/access.h"
#include "kube/api_client.h"

namespace tollgate::kube {
namespace {

namespace json = boost::json;

json::object parseObject(std::string_view text) { return json::parse(text).as_object(); }

TEST(KubeObjects, PathsForNamespacedAndClusterWideWatches) {
  const Kind* route = findKind("AIGatewayRoute");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(collectionPath(*route, ""), "/apis/aigateway.envoyproxy.io/v1alpha1/aigatewayroutes");
  EXPECT_EQ(collectionPath(*route, "team-a"),
            "/apis/aigateway.envoyproxy.io/v1alpha1/namespaces/team-a/aigatewayroutes");
  EXPECT_EQ(objectPath(*route, "ns", "r"),
            "/apis/aigateway.envoyproxy.io/v1alpha1/namespaces/ns/aigatewayroutes/r");
  const Kind* secret = findKind("Secret");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(collectionPath(*secret, "ns"), "/api/v1/namespaces/ns/secrets");
  EXPECT_EQ(apiVersionOf(*secret), "v1");
  EXPECT_EQ(apiVersionOf(*findKind("BackendTLSPolicy")), "gateway.networking.k8s.io/v1alpha3");
  EXPECT_EQ(collectionPath(*findKind("ConfigMap"), "ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(findKind("Pod"), nullptr);
}

TEST(KubeObjects, CachedFormDropsWhatTheServerMaintains) {
  auto c = toCached(*findKind("AIGatewayRoute"), parseObject(R"({
    "metadata": {"name": "r", "namespace": "ns", "generation": 3, "resourceVersion": "77",
      "uid": "u-1", "creationTimestamp": "2025-01-01T00:00:00Z",
      "managedFields": [{"manager": "kubectl"}],
      "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}},
    "spec": {"rules": []},
    "status": {"conditions": [{"type": "Accepted", "status": "True"}]}})"));
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c.value().label, "AIGatewayRoute ns/r");
  EXPECT_EQ(c.value().generation, 3);
  EXPECT_EQ(c.value().resource_version, "77");
  ASSERT_TRUE(c.value().conditions.is_array());
  EXPECT_EQ(c.value().conditions.as_array().size(), 1u);
  EXPECT_EQ(c.value().content,
            R"({"metadata":{"name":"r","namespace":"ns","annotations":{"keep":"me"}},)"
            R"("spec":{"rules":[]},"kind":"AIGatewayRoute",)"
            R"("apiVersion":"aigateway.envoyproxy.io/v1alpha1"})");

  // A status write changes resourceVersion and status only: the content stays the same.
  auto after_status = toCached(*findKind("AIGatewayRoute"), parseObject(R"({
    "metadata": {"name": "r", "namespace": "ns", "generation": 3, "resourceVersion": "78",
      "uid": "u-1", "annotations": {"keep": "me"}},
    "spec": {"rules": []},
    "status": {"conditions": []}})"));
  ASSERT_TRUE(after_status);
  EXPECT_EQ(after_status.value().content, c.value().content);

  EXPECT_FALSE(toCached(*findKind("Backend"), parseObject(R"({"metadata": {}})")));
  auto no_ns = toCached(*findKind("Backend"), parseObject(R"({"metadata": {"name": "b"}})"));
  ASSERT_TRUE(no_ns);
  EXPECT_EQ(no_ns.value().label, "Backend default/b");
}

TEST(KubeObjects, ListPagesAndContinueTokens) {
  auto page = parseList(R"({"kind": "SecretList", "apiVersion": "v1",
    "metadata": {"resourceVersion": "123", "continue": "eyJ2Ijo+/="},
    "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]})");
  ASSERT_TRUE(page) << page.error().detail;
  EXPECT_EQ(page.value().resource_version, "123");
  EXPECT_EQ(page.value().continue_token, "eyJ2Ijo+/=");
  EXPECT_EQ(page.value().items.size(), 2u);
  EXPECT_EQ(queryEscape("eyJ2Ijo+/="), "eyJ2Ijo%2B%2F%3D");

  auto empty = parseList(R"({"metadata": {"resourceVersion": "9"}, "items": null})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty.value().items.empty());
  EXPECT_FALSE(parseList("not json"));
  EXPECT_FALSE(parseList(R"({"items": 3})"));
}

TEST(KubeObjects, WatchLines) {
  auto added = parseWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"x","resourceVersion":"5"}}})");
  ASSERT_TRUE(added) << added.error().detail;
  EXPECT_EQ(added.value().type, EventType::kAdded);
  EXPECT_EQ(resourceVersionOf(added.value().object), "5");

  auto bookmark = parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"AIGatewayRoute","metadata":{"resourceVersion":"12"}}})");
  ASSERT_TRUE(bookmark);
  EXPECT_EQ(bookmark.value().type, EventType::kBookmark);
  EXPECT_EQ(resourceVersionOf(bookmark.value().object), "12");

  auto gone = parseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired",)"
      R"j("message":"too old resource version: 1 (5)","code":410}})j");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone.value().type, EventType::kError);
  const ApiStatus st = parseStatus(gone.value().object);
  EXPECT_EQ(st.code, 410);
  EXPECT_EQ(st.reason, "Expired");

  EXPECT_EQ(parseWatchEvent(R"({"type":"DELETED","object":{}})").value().type, EventType::kDeleted);
  EXPECT_EQ(parseWatchEvent(R"({"type":"MODIFIED","object":{}})").value().type,
            EventType::kModified);
  EXPECT_FALSE(parseWatchEvent(R"({"type":"RENAMED","object":{}})"));
  EXPECT_FALSE(parseWatchEvent(R"({"type":"ADDED"})"));
  EXPECT_FALSE(parseWatchEvent(R"({"type":"ADDED","object":{"metadata":)"));  // cut short
}

TEST(KubeObjects, ServerUrls) {
  auto a = parseServerUrl("https://10.0.0.1:6443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 6443);
  auto b = parseServerUrl("https://api.example.com/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "api.example.com");
  EXPECT_EQ(b->port, 443);
  auto c = parseServerUrl("https://[::1]:8443");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 8443);
  EXPECT_EQ(parseServerUrl("https://[fd00::1]")->host, "fd00::1");
  EXPECT_FALSE(parseServerUrl("http://10.0.0.1:8080"));
  EXPECT_FALSE(parseServerUrl("https://h/k8s/clusters/c-1"));
  EXPECT_FALSE(parseServerUrl("https://h:notaport"));
}

TEST(KubeObjects, InClusterReadsTheServiceAccountDirectory) {
  const std::string dir = ::testing::TempDir() + "/sa-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
  };
  write("token", "tok-1\n");
  write("ca.crt", "PEM");
  write("namespace", "gateways");
  std::map<std::string, std::string> vars = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                             {"KUBERNETES_SERVICE_PORT", "443"},
                                             {"TOLLGATE_KUBE_SA_DIR", dir}};
  const GetEnv env = [&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  auto a = inCluster(env);
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(a.value().host, "10.96.0.1");
  EXPECT_EQ(a.value().port, 443);
  EXPECT_EQ(a.value().ns, "gateways");
  EXPECT_EQ(a.value().ca_pem, "PEM");
  std::string error;
  EXPECT_EQ(a.value().bearerToken(&error), "tok-1");
  // Projected tokens rotate: the next request reads the new one.
  write("token", "tok-2");
  EXPECT_EQ(a.value().bearerToken(&error), "tok-2");
  EXPECT_TRUE(error.empty()) << error;

  vars.erase("KUBERNETES_SERVICE_HOST");
  auto outside = inCluster(env);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().detail.find("--kubeconfig"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Builds cached objects from JSON snippets for the selection tests.
class Objects {
 public:
  const CachedObject* add(std::string_view kind, std::string_view text) {
    auto c = toCached(*findKind(kind), parseObject(text));
    EXPECT_TRUE(c) << text;
    store_.push_back(std::move(c.value()));
    return &store_.back();
  }
  std::vector<const CachedObject*> all() const {
    std::vector<const CachedObject*> out;
    for (const auto& o : store_) out.push_back(&o);
    return out;
  }

 private:
  std::deque<CachedObject> store_;
};

std::vector<std::string> labels(const std::vector<const CachedObject*>& objects) {
  std::vector<std::string> out;
  out.reserve(objects.size());
  for (const CachedObject* o : objects) out.push_back(o->label);
  return out;
}

TEST(KubeObjects, GatewaySelectionAndReferencedSecrets) {
  Objects o;
  o.add("Gateway", R"({"metadata":{"name":"public","namespace":"gw"},"spec":{}})");
  o.add("Gateway", R"({"metadata":{"name":"internal","namespace":"gw"},"spec":{}})");
  o.add("AIGatewayRoute", R"({"metadata":{"name":"a","namespace":"apps"},
    "spec":{"parentRefs":[{"name":"public","namespace":"gw"}],
            "rules":[{"backendRefs":[{"name":"llm"}]}]}})");
  o.add("AIGatewayRoute", R"({"metadata":{"name":"b","namespace":"apps"},
    "spec":{"parentRefs":[{"name":"internal","namespace":"gw"}],"rules":[]}})");
  o.add("BackendTrafficPolicy", R"({"metadata":{"name":"limit-public","namespace":"gw"},
    "spec":{"targetRefs":[{"kind":"Gateway","name":"public"}]}})");
  o.add("BackendTrafficPolicy", R"({"metadata":{"name":"limit-b","namespace":"apps"},
    "spec":{"targetRefs":[{"kind":"HTTPRoute","name":"b"}]}})");
  o.add("BackendTrafficPolicy", R"({"metadata":{"name":"limit-a","namespace":"apps"},
    "spec":{"targetRefs":[{"kind":"HTTPRoute","name":"a"}]}})");
  o.add("AIServiceBackend", R"({"metadata":{"name":"llm","namespace":"apps"},"spec":{}})");
  o.add("AIServiceBackend", R"({"metadata":{"name":"other","namespace":"apps"},"spec":{}})");
  o.add("BackendSecurityPolicy", R"({"metadata":{"name":"key","namespace":"apps"},
    "spec":{"type":"APIKey","apiKey":{"secretRef":{"name":"llm-key"}}}})");
  o.add("Secret", R"({"metadata":{"name":"llm-key","namespace":"apps"},"data":{"apiKey":"eA=="}})");
  o.add("Secret", R"({"metadata":{"name":"unrelated","namespace":"apps"},"data":{}})");

  const GatewaySelector public_gw = parseGatewaySelector("gw/public");
  EXPECT_EQ(public_gw.ns, "gw");
  EXPECT_EQ(public_gw.name, "public");
  const auto selected = selectObjects(o.all(), public_gw);
  EXPECT_EQ(
      labels(selected),
      (std::vector<std::string>{
          "Gateway gw/public", "AIGatewayRoute apps/a", "BackendTrafficPolicy gw/limit-public",
          "BackendTrafficPolicy apps/limit-a", "AIServiceBackend apps/llm",
          "AIServiceBackend apps/other", "BackendSecurityPolicy apps/key", "Secret apps/llm-key"}));
  const auto subjects = statusSubjects(selected, public_gw);
  EXPECT_EQ(subjects,
            (std::set<std::string>{"AIGatewayRoute apps/a", "AIServiceBackend apps/llm"}));

  // Without a selector: every route and backend, still only the referenced Secret.
  const auto everything = selectObjects(o.all(), GatewaySelector{});
  EXPECT_EQ(everything.size(), o.all().size() - 1);
  EXPECT_EQ(statusSubjects(everything, GatewaySelector{}).size(), 4u);
  // A bare name matches the Gateway in any namespace.
  EXPECT_EQ(labels(selectObjects(o.all(), parseGatewaySelector("internal")))[0],
            "Gateway gw/internal");
}

TEST(KubeObjects, OnlyGatewaysOfOurControllersClassesAreServed) {
  Objects o;
  o.add("GatewayClass", R"({"metadata":{"name":"eg"},
    "spec":{"controllerName":"gateway.envoyproxy.io/gatewayclass-controller"}})");
  o.add("GatewayClass", R"({"metadata":{"name":"istio"},
    "spec":{"controllerName":"istio.io/gateway-controller"}})");
  o.add("Gateway",
        R"({"metadata":{"name":"ours","namespace":"gw"},"spec":{"gatewayClassName":"eg"}})");
  o.add("Gateway", R"({"metadata":{"name":"theirs","namespace":"gw"},
    "spec":{"gatewayClassName":"istio"}})");
  o.add("Gateway", R"({"metadata":{"name":"classless","namespace":"gw"},
    "spec":{"gatewayClassName":"gone"}})");
  o.add("AIGatewayRoute", R"({"metadata":{"name":"on-ours","namespace":"gw"},
    "spec":{"parentRefs":[{"name":"ours"}],"rules":[]}})");
  o.add("AIGatewayRoute", R"({"metadata":{"name":"on-theirs","namespace":"gw"},
    "spec":{"parentRefs":[{"name":"theirs"},{"name":"classless"}],"rules":[]}})");
  o.add("AIGatewayRoute", R"({"metadata":{"name":"on-both","namespace":"gw"},
    "spec":{"parentRefs":[{"name":"theirs"},{"name":"ours"}],"rules":[]}})");
  o.add("AIGatewayRoute",
        R"({"metadata":{"name":"unattached","namespace":"gw"},"spec":{"rules":[]}})");
  o.add("BackendTrafficPolicy", R"({"metadata":{"name":"theirs-limit","namespace":"gw"},
    "spec":{"targetRefs":[{"kind":"Gateway","name":"theirs"}]}})");
  o.add("ClientTrafficPolicy", R"({"metadata":{"name":"ours-timeouts","namespace":"gw"},
    "spec":{"targetRefs":[{"kind":"Gateway","name":"ours"}]}})");

  GatewaySelector sel;
  sel.controller_name = std::string(kDefaultControllerName);
  std::vector<std::string> skipped;
  EXPECT_EQ(labels(selectObjects(o.all(), sel, &skipped)),
            (std::vector<std::string>{"Gateway gw/ours", "AIGatewayRoute gw/on-ours",
                                      "AIGatewayRoute gw/on-both", "AIGatewayRoute gw/unattached",
                                      "ClientTrafficPolicy gw/ours-timeouts"}));
  EXPECT_EQ(skipped,
            (std::vector<std::string>{
                "Gateway gw/classless is not served: its GatewayClass 'gone' does not "
                "exist (serving controller 'gateway.envoyproxy.io/gatewayclass-controller')",
                "Gateway gw/theirs is not served: its GatewayClass 'istio' belongs to "
                "controller 'istio.io/gateway-controller' (serving controller "
                "'gateway.envoyproxy.io/gatewayclass-controller')"}));
  // --controller-name '': every class, as before GatewayClasses were read.
  EXPECT_EQ(selectObjects(o.all(), GatewaySelector{}).size(), o.all().size() - 2);
  // A selected Gateway of another class is not served either.
  sel.name = "theirs";
  EXPECT_TRUE(labels(selectObjects(o.all(), sel)).empty());
}

TEST(KubeObjects, CaBundlesReferencedByBackendsAndTlsPoliciesAreSelected) {
  Objects o;
  o.add("Backend", R"({"metadata":{"name":"vllm","namespace":"apps"},
    "spec":{"tls":{"caCertificateRefs":[{"name":"own-ca","kind":"Secret","group":""}]}}})");
  o.add("BackendTLSPolicy", R"({"metadata":{"name":"tls","namespace":"apps"},
    "spec":{"validation":{"hostname":"x","caCertificateRefs":[{"name":"private-ca"}]}}})");
  o.add("ConfigMap", R"({"metadata":{"name":"private-ca","namespace":"apps"},"data":{}})");
  o.add("ConfigMap", R"({"metadata":{"name":"kube-root-ca.crt","namespace":"apps"},"data":{}})");
  o.add("Secret", R"({"metadata":{"name":"own-ca","namespace":"apps"},"data":{}})");
  o.add("ConfigMap", R"({"metadata":{"name":"private-ca","namespace":"other"},"data":{}})");
  EXPECT_EQ(labels(selectObjects(o.all(), GatewaySelector{})),
            (std::vector<std::string>{"Backend apps/vllm", "BackendTLSPolicy apps/tls",
                                      "ConfigMap apps/private-ca", "Secret apps/own-ca"}));
}

TEST(KubeObjects, SecurityPolicyTargets) {
  Objects o;
  const CachedObject* policy =
      o.add("BackendSecurityPolicy", R"({"metadata":{"name":"p","namespace":"ns"},
    "spec":{"targetRefs":[{"kind":"AIServiceBackend","name":"a"},{"kind":"Backend","name":"x"}],
            "targetRef":{"name":"b"}}})");
  EXPECT_EQ(securityPolicyTargets(*policy),
            (std::vector<std::string>{"AIServiceBackend ns/a", "AIServiceBackend ns/b"}));
  const CachedObject* backend = o.add("AIServiceBackend", R"({"metadata":{"name":"old"},
    "spec":{"backendSecurityPolicyRef":{"name":"p"}}})");
  EXPECT_EQ(backendPolicyRef(*backend), "BackendSecurityPolicy default/p");
}

}  // namespace
}  // namespace tollgate::kube
