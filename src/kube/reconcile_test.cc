#include "kube/reconcile.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <deque>

#include "ratelimit/limiter.h"

namespace tollgate::kube {
namespace {

namespace json = boost::json;

// The cluster as the controller's cache holds it.
class Cluster {
 public:
  void put(std::string_view kind, std::string_view text, int64_t generation = 1) {
    json::object o = json::parse(text).as_object();
    o["metadata"].as_object()["generation"] = generation;
    auto c = toCached(*findKind(kind), std::move(o));
    ASSERT_TRUE(c) << text;
    for (auto& existing : objects_) {
      if (existing.label == c.value().label) {
        existing = std::move(c.value());
        return;
      }
    }
    objects_.push_back(std::move(c.value()));
  }
  void remove(const std::string& label) {
    std::erase_if(objects_, [&](const CachedObject& o) { return o.label == label; });
  }
  std::vector<const CachedObject*> all() const {
    std::vector<const CachedObject*> out;
    for (const auto& o : objects_) out.push_back(&o);
    return out;
  }

 private:
  std::deque<CachedObject> objects_;
};

// What run_cmd.cc's build does, minus the snapshot: the loader, then the rate-limit compiler
// (whose errors name their object too). Keeps the last configuration for the assertions.
struct Builder {
  config::Config last;
  std::vector<std::string> extra_unattributed;
  BuildFn fn() {
    return [this](const std::vector<std::pair<std::string, std::string>>& docs) {
      config::LoadOptions lo;
      lo.missing_phrase = "which is not in the cluster or was not accepted";
      config::LoadResult lr = config::loadObjects(docs, "cluster", lo);
      ratelimit::Policies policies(lr.config, ratelimit::Mode::kEnvoy);
      for (const auto& e : policies.errors()) lr.diagnostics.push_back(e);
      for (const auto& m : extra_unattributed) {
        config::Diagnostic d;
        d.file = "AWS_ENDPOINT_URL";
        d.message = m;
        lr.diagnostics.push_back(d);
      }
      last = std::move(lr.config);
      return lr.diagnostics;
    };
  }
  bool hasRoute(const std::string& name) const {
    for (const auto& r : last.routes) {
      if (r.origin.name == name) return true;
    }
    return false;
  }
};

constexpr const char* kBackend = R"({"metadata":{"name":"llm-backend","namespace":"ns"},
  "spec":{"endpoints":[{"ip":{"address":"127.0.0.1","port":8000}}]}})";
constexpr const char* kService = R"({"metadata":{"name":"llm","namespace":"ns"},
  "spec":{"schema":{"name":"OpenAI"},"backendRef":{"name":"llm-backend","kind":"Backend",
  "group":"gateway.envoyproxy.io"}}})";

std::string route(const std::string& name, const std::string& weight) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"ns"},"spec":{"rules":[
    {"matches":[{"headers":[{"name":"x-ai-eg-model","value":")" +
         name + R"("}]}],"backendRefs":[{"name":"llm","weight":)" + weight + "}]}]}}";
}

TEST(KubeReconcile, EverythingValidIsOneBuild) {
  Cluster c;
  c.put("Backend", kBackend);
  c.put("AIServiceBackend", kService);
  c.put("AIGatewayRoute", route("a", "1"));
  Builder b;
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.builds, 1);
  EXPECT_EQ(result.objects.size(), 3u);
  for (const auto& [label, o] : result.objects) {
    EXPECT_TRUE(o.verdict.accepted) << label << ": " << o.verdict.message;
    EXPECT_TRUE(o.served) << label;
  }
  EXPECT_EQ(result.objects.at("AIGatewayRoute ns/a").verdict.message, "accepted by tollgate");
  EXPECT_TRUE(b.hasRoute("a"));
  EXPECT_FALSE(result.fingerprint.empty());
}

TEST(KubeReconcile, ANewBadObjectIsLeftOutAndTheRestServes) {
  Cluster c;
  c.put("Backend", kBackend);
  c.put("AIServiceBackend", kService);
  c.put("AIGatewayRoute", route("good", "1"));
  c.put("AIGatewayRoute", route("bad", "-1"), 7);
  Builder b;
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.builds, 2);
  const ObjectOutcome& bad = result.objects.at("AIGatewayRoute ns/bad");
  EXPECT_FALSE(bad.verdict.accepted);
  EXPECT_FALSE(bad.served);
  EXPECT_EQ(bad.verdict.generation, 7);
  EXPECT_EQ(bad.verdict.message,
            "spec.rules[0].backendRefs[0].weight: must be between 0 and 2147483647, got -1 (not "
            "served)");
  EXPECT_TRUE(result.objects.at("AIGatewayRoute ns/good").verdict.accepted);
  EXPECT_TRUE(b.hasRoute("good"));
  EXPECT_FALSE(b.hasRoute("bad"));
}

TEST(KubeReconcile, AnInvalidChangeKeepsTheLastAcceptedVersionOfThatObject) {
  Cluster c;
  c.put("Backend", kBackend);
  c.put("AIServiceBackend", kService);
  c.put("AIGatewayRoute", route("a", "3"), 1);
  Builder b;
  Reconciler r;
  ASSERT_TRUE(r.run(c.all(), b.fn()).ok);

  c.put("AIGatewayRoute", route("a", "\"heavy\""), 2);
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  const ObjectOutcome& a = result.objects.at("AIGatewayRoute ns/a");
  EXPECT_FALSE(a.verdict.accepted);
  EXPECT_TRUE(a.served);
  EXPECT_TRUE(a.previous);
  EXPECT_EQ(a.verdict.generation, 2);
  EXPECT_NE(a.verdict.message.find("keeps serving generation 1"), std::string::npos)
      << a.verdict.message;
  ASSERT_TRUE(b.hasRoute("a"));
  EXPECT_EQ(b.last.routes[0].rules[0].backend_refs[0].weight, 3u) << "the old version serves";

  // Fixed: the new version serves.
  c.put("AIGatewayRoute", route("a", "5"), 3);
  result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_TRUE(result.objects.at("AIGatewayRoute ns/a").verdict.accepted);
  EXPECT_EQ(b.last.routes[0].rules[0].backend_refs[0].weight, 5u);

  // Deleted, then re-created broken: nothing old to fall back on.
  c.remove("AIGatewayRoute ns/a");
  ASSERT_TRUE(r.run(c.all(), b.fn()).ok);
  c.put("AIGatewayRoute", route("a", "-2"), 1);
  result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_FALSE(result.objects.at("AIGatewayRoute ns/a").served);
}

TEST(KubeReconcile, AMissingReferenceIsAWarningInTheAcceptedMessage) {
  Cluster c;
  c.put("AIGatewayRoute", route("a", "1"));
  Builder b;
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  const Verdict& v = result.objects.at("AIGatewayRoute ns/a").verdict;
  EXPECT_TRUE(v.accepted);
  EXPECT_EQ(v.message,
            "accepted by tollgate, with 1 warning: spec.rules[0].backendRefs[0].name: names "
            "AIServiceBackend ns/llm, which is not in the cluster or was not accepted; the route "
            "rule will answer 503 when it selects this backend");
}

TEST(KubeReconcile, CascadeFromABadSecretToThePolicyToItsBackend) {
  Cluster c;
  c.put("Backend", kBackend);
  c.put("AIServiceBackend", kService);
  c.put("BackendSecurityPolicy", R"({"metadata":{"name":"key","namespace":"ns"},
    "spec":{"type":"APIKey","targetRefs":[{"kind":"AIServiceBackend","name":"llm",
    "group":"aigateway.envoyproxy.io"}],"apiKey":{"secretRef":{"name":"llm-key"}}}})");
  c.put("Secret", R"({"metadata":{"name":"llm-key","namespace":"ns"},"data":{"apiKey":"!!"}})");
  Builder b;
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_FALSE(result.objects.at("Secret ns/llm-key").served);
  EXPECT_NE(result.objects.at("Secret ns/llm-key").verdict.message.find("not valid base64"),
            std::string::npos);
  const ObjectOutcome& policy = result.objects.at("BackendSecurityPolicy ns/key");
  EXPECT_FALSE(policy.served);
  // Both fail in the first build: the key could not be decoded, so the policy finds none.
  EXPECT_EQ(policy.verdict.message,
            "spec.apiKey.secretRef.name: Secret ns/llm-key (cluster) has no key \"apiKey\" (not "
            "served)");
  const ObjectOutcome& backend = result.objects.at("AIServiceBackend ns/llm");
  EXPECT_TRUE(backend.served);
  EXPECT_FALSE(backend.verdict.accepted);
  EXPECT_NE(backend.verdict.message.find("BackendSecurityPolicy ns/key is not accepted"),
            std::string::npos)
      << backend.verdict.message;
  EXPECT_NE(backend.verdict.message.find("without its credentials"), std::string::npos);
}

TEST(KubeReconcile, CompileErrorsNameTheirObjectToo) {
  Cluster c;
  c.put("AIGatewayRoute", R"({"metadata":{"name":"costly","namespace":"ns"},
    "spec":{"rules":[{"backendRefs":[{"name":"llm"}]}],
    "llmRequestCosts":[{"metadataKey":"k","type":"CEL","cel":"input_tokens +"}]}})");
  c.put("AIGatewayRoute", route("fine", "1"));
  Builder b;
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_FALSE(result.objects.at("AIGatewayRoute ns/costly").served);
  EXPECT_NE(result.objects.at("AIGatewayRoute ns/costly")
                .verdict.message.find("spec.llmRequestCosts[0].cel"),
            std::string::npos);
  EXPECT_TRUE(b.hasRoute("fine"));
}

TEST(KubeReconcile, AnErrorNoObjectOwnsRejectsTheWholeChange) {
  Cluster c;
  c.put("AIGatewayRoute", route("a", "1"));
  Builder b;
  b.extra_unattributed = {"must be an http:// or https:// URL"};
  Reconciler r;
  auto result = r.run(c.all(), b.fn());
  EXPECT_FALSE(result.ok);
  ASSERT_EQ(result.unattributed.size(), 1u);
  EXPECT_EQ(result.unattributed[0].file, "AWS_ENDPOINT_URL");
}

TEST(KubeReconcile, UnreadableTextIsPinnedOnItsObject) {
  // Not something the API server sends, but the loader must never make it everyone's problem.
  CachedObject broken;
  broken.kind = "Backend";
  broken.ns = "ns";
  broken.name = "b";
  broken.label = "Backend ns/b";
  broken.content = "{\"metadata\": [unclosed";
  Cluster c;
  c.put("AIGatewayRoute", route("a", "1"));
  auto all = c.all();
  all.push_back(&broken);
  Builder b;
  Reconciler r;
  auto result = r.run(all, b.fn());
  ASSERT_TRUE(result.ok);
  EXPECT_FALSE(result.objects.at("Backend ns/b").served);
  EXPECT_NE(result.objects.at("Backend ns/b").verdict.message.find("invalid YAML"),
            std::string::npos);
}

}  // namespace
}  // namespace tollgate::kube
