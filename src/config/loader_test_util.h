// What the loader's tests share: looking into a LoadResult and building small manifests. Included
// by the config/*_test.cc files only.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "config/model.h"

namespace tollgate::config {

inline const std::string kBlueprint = std::string(TOLLGATE_SHARED_DIR) + "/blueprint/";
inline const std::string kDemo = std::string(TOLLGATE_SOURCE_DIR) + "/examples/demo";

inline std::vector<Diagnostic> ofSeverity(const LoadResult& r, Severity severity) {
  std::vector<Diagnostic> out;
  for (const Diagnostic& d : r.diagnostics) {
    if (d.severity == severity) out.push_back(d);
  }
  return out;
}

// Every diagnostic, one a line: the failure message of most assertions of the loader tests.
inline std::string dump(const LoadResult& r) {
  std::string out = "\n";
  for (const Diagnostic& d : r.diagnostics) out += "  " + d.toString() + "\n";
  return out;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The diagnostics of one severity whose toString() contains every needle.
inline std::vector<Diagnostic> matching(const LoadResult& r, Severity severity,
                                        const std::vector<std::string>& needles) {
  std::vector<Diagnostic> out;
  for (const Diagnostic& d : ofSeverity(r, severity)) {
    const std::string text = d.toString();
    if (std::all_of(needles.begin(), needles.end(),
                    [&](const std::string& n) { return contains(text, n); })) {
      out.push_back(d);
    }
  }
  return out;
}

inline const AIGatewayRoute* findRoute(const Config& c, const std::string& name) {
  for (const AIGatewayRoute& route : c.routes) {
    if (route.origin.name == name) return &route;
  }
  return nullptr;
}

inline const BackendTrafficPolicy* findTrafficPolicy(const Config& c, const std::string& name) {
  for (const BackendTrafficPolicy& policy : c.traffic_policies) {
    if (policy.origin.name == name) return &policy;
  }
  return nullptr;
}

inline const BackendSecurityPolicy* findSecurityPolicy(const Config& c, const std::string& name) {
  for (const BackendSecurityPolicy& policy : c.security_policies) {
    if (policy.origin.name == name) return &policy;
  }
  return nullptr;
}

inline LoadResult load(const std::string& yaml, const LoadOptions& opts = {}) {
  return loadString(yaml, "test.yaml", opts);
}

// Replaces every "$NAME" in text.
inline std::string withName(std::string text, const std::string& name) {
  for (size_t at = text.find("$NAME"); at != std::string::npos; at = text.find("$NAME", at)) {
    text.replace(at, 5, name);
  }
  return text;
}

// A Backend + AIServiceBackend pair, the smallest thing a route can point at.
inline std::string modelBackend(const std::string& name) {
  return withName(R"(
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: $NAME-backend}
spec:
  endpoints:
    - fqdn: {hostname: $NAME.example.com, port: 8000}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: $NAME}
spec:
  schema: {name: OpenAI}
  backendRef: {name: $NAME-backend}
---
)",
                  name);
}

inline constexpr char kGateway[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
)";

// A route attached to Gateway gw, with its rules (and optional llmRequestCosts) as YAML text.
inline std::string route(const std::string& name, const std::string& rules,
                         const std::string& costs = "") {
  const std::string head = withName(R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: $NAME}
spec:
  parentRefs: [{name: gw, kind: Gateway}]
  rules:
)",
                                    name);
  return head + rules + costs + "\n---\n";
}

}  // namespace tollgate::config
