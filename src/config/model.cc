#include "config/model.h"

#include <algorithm>

namespace tollgate::config {

namespace {

template <typename T>
const T* findByName(const std::vector<T>& objects, const std::string& ns, const std::string& name) {
  for (const T& object : objects) {
    if (object.origin.ns == ns && object.origin.name == name) return &object;
  }
  return nullptr;
}

}  // namespace

const Backend* Config::findBackend(const std::string& ns, const std::string& name) const {
  return findByName(backends, ns, name);
}

const AIServiceBackend* Config::findAIServiceBackend(const std::string& ns,
                                                     const std::string& name) const {
  return findByName(ai_service_backends, ns, name);
}

const BackendSecurityPolicy* Config::securityPolicyFor(const AIServiceBackend& b) const {
  // The loader rejects two policies targeting one backend, so the first match is the only one.
  for (const BackendSecurityPolicy& policy : security_policies) {
    if (policy.origin.ns != b.origin.ns) continue;
    const auto& targets = policy.target_backends;
    if (std::find(targets.begin(), targets.end(), b.origin.name) != targets.end()) return &policy;
  }
  return nullptr;
}

std::string Diagnostic::toString() const {
  std::string out = file;
  if (!file.empty() && line > 0) out += ":" + std::to_string(line);
  if (!out.empty()) out += ": ";
  if (!object.empty()) out += object + ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

bool LoadResult::hasErrors() const {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

}  // namespace tollgate::config
