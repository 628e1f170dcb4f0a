// The last pass of loading: what crosses objects (Secrets, CA bundles, BackendTLSPolicies,
// legacy policy references, command-line overrides), the references that lead nowhere, and
// the warnings about objects that conflict.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/loader_internal.h"

namespace tollgate::config::detail {
namespace {

constexpr std::string_view kCommandLine = "<command line>";

// Secret keys Envoy AI Gateway reads.
constexpr std::string_view kApiKeySecretKey = "apiKey";
constexpr std::string_view kAwsCredentialsSecretKey = "credentials";
constexpr std::string_view kAzureClientSecretKey = "client-secret";  // Envoy AI Gateway's name

}  // namespace

std::optional<std::string> Loader::resolveCaBundle(std::vector<CaRef>& refs, const std::string& ns,
                                                   std::string* source) {
  std::string bundle;
  bool ok = true;
  for (CaRef& ref : refs) {
    const std::string label = ref.kind + " " + ns + "/" + ref.name;
    const std::map<std::string, std::string>* data = nullptr;
    const Origin* origin = nullptr;
    if (ref.kind == "Secret") {
      for (const Secret& s : config_.secrets) {
        if (s.origin.ns == ns && s.origin.name == ref.name) data = &s.data, origin = &s.origin;
      }
    } else {
      for (const ConfigMap& m : config_.config_maps) {
        if (m.origin.ns == ns && m.origin.name == ref.name) data = &m.data, origin = &m.origin;
      }
    }
    Diagnostic d = ref.where;
    if (data == nullptr) {
      d.message = "names " + label + ", " + missing() +
                  "; without its CA certificates tollgate cannot verify the backend";
      diags_.push_back(std::move(d));
      ok = false;
      continue;
    }
    const auto it = data->find("ca.crt");
    if (it == data->end() || it->second.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      d.message = label + " (" + place(*origin) + ") has no PEM certificate under key \"ca.crt\"";
      diags_.push_back(std::move(d));
      ok = false;
      continue;
    }
    bundle += it->second;
    if (!bundle.ends_with('\n')) bundle += '\n';
    if (!source->empty()) *source += ", ";
    *source += label;
  }
  if (!ok) return std::nullopt;
  return bundle;
}

void Loader::linkSecurityPolicies() {
  for (PendingPolicyLink& link : policy_links_) {
    BackendSecurityPolicy* found = nullptr;
    for (BackendSecurityPolicy& policy : config_.security_policies) {
      if (policy.origin.ns == link.ns && policy.origin.name == link.policy) found = &policy;
    }
    if (found == nullptr) {
      link.where.message = "names BackendSecurityPolicy " + link.ns + "/" + link.policy + ", " +
                           missing() +
                           "; requests to this backend will not "
                           "be authenticated";
      diags_.push_back(std::move(link.where));
      continue;
    }
    auto& targets = found->target_backends;
    if (std::find(targets.begin(), targets.end(), link.backend) == targets.end()) {
      targets.push_back(link.backend);
    }
  }
}

void Loader::checkSecurityPolicyTargets() {
  // Envoy AI Gateway rejects two policies on one backend; which credentials to send would
  // otherwise depend on load order.
  std::map<std::string, const BackendSecurityPolicy*> owner;  // "ns/backend" -> first policy
  for (BackendSecurityPolicy& policy : config_.security_policies) {
    std::set<std::string> mine;
    std::vector<std::string> unique;
    for (const std::string& target : policy.target_backends) {
      if (!mine.insert(target).second) continue;
      unique.push_back(target);
      const std::string key = policy.origin.ns + "/" + target;
      const auto [it, inserted] = owner.emplace(key, &policy);
      if (inserted) continue;
      Diagnostic d;
      d.severity = Severity::kError;
      d.file = policy.origin.file;
      d.line = policy.origin.line;
      d.object = objectLabel(policy.origin);
      d.field = "spec.targetRefs";
      d.message = "AIServiceBackend " + key + " is also targeted by BackendSecurityPolicy " +
                  it->second->origin.ns + "/" + it->second->origin.name + " (" +
                  place(it->second->origin) + "); a backend can have only one";
      diags_.push_back(std::move(d));
    }
    policy.target_backends = std::move(unique);
  }
}

void Loader::resolveSecrets() {
  for (PendingSecret& pending : secrets_) {
    BackendSecurityPolicy& policy = config_.security_policies[pending.policy];
    const std::string_view key =
        pending.use == SecretUse::kAwsCredentialsFile  ? kAwsCredentialsSecretKey
        : pending.use == SecretUse::kAzureClientSecret ? kAzureClientSecretKey
                                                       : kApiKeySecretKey;
    const std::string label = "Secret " + pending.ns + "/" + pending.name;
    const Secret* secret = nullptr;
    for (const Secret& s : config_.secrets) {
      if (s.origin.ns == pending.ns && s.origin.name == pending.name) secret = &s;
    }
    Diagnostic& d = pending.where;
    if (secret == nullptr) {
      d.message = "names " + label + ", " + missing() +
                  "; tollgate cannot authenticate to the backend "
                  "without it";
      diags_.push_back(std::move(d));
      continue;
    }
    const auto it = secret->data.find(std::string(key));
    if (it == secret->data.end()) {
      d.message = label + " (" + place(secret->origin) + ") has no key " + inQuotes(key);
      diags_.push_back(std::move(d));
      continue;
    }
    if (pending.use == SecretUse::kAwsCredentialsFile) {
      policy.aws.credentials_file_content = it->second;
      continue;
    }
    // `echo KEY | base64` leaves a newline in the secret, which would break the header.
    std::string& value =
        pending.use == SecretUse::kAzureClientSecret ? policy.azure.client_secret : policy.api_key;
    value = trim(it->second);
    if (value.empty()) {
      d.message = label + " (" + place(secret->origin) + ") has an empty " + inQuotes(key);
      diags_.push_back(std::move(d));
    }
  }
}

void Loader::applyTlsPolicies() {
  // A Backend's own spec.tls first: a BackendTLSPolicy targeting it replaces those settings.
  for (PendingBackendCa& pending : backend_cas_) {
    Backend& backend = config_.backends[pending.backend];
    std::string source;
    if (auto bundle = resolveCaBundle(pending.refs, backend.origin.ns, &source)) {
      backend.tls.ca_pem = std::move(*bundle);
      backend.tls.ca_source = std::move(source);
    }
  }
  for (TlsPolicy& policy : tls_policies_) {
    std::string ca_pem;
    std::string ca_source;
    if (!policy.ca_refs.empty()) {
      ca_pem = resolveCaBundle(policy.ca_refs, policy.origin.ns, &ca_source).value_or("");
    }
    for (Backend& backend : config_.backends) {
      if (backend.origin.ns != policy.origin.ns) continue;
      const auto& targets = policy.target_backends;
      if (std::find(targets.begin(), targets.end(), backend.origin.name) == targets.end()) {
        continue;
      }
      backend.tls.enabled = true;
      backend.tls.system_cas = policy.system_cas;
      backend.tls.hostname = policy.hostname;
      backend.tls.ca_pem = ca_pem;
      backend.tls.ca_source = ca_source;
    }
  }
}

void Loader::applyOverrides() {
  for (const auto& [name, endpoint] : opts_.backend_endpoint_overrides) {
    Diagnostic d;
    d.file = std::string(kCommandLine);
    d.field = "--backend-endpoint " + name;
    if (endpoint.host.empty() || endpoint.port == 0) {
      d.severity = Severity::kError;
      d.message = "an override needs a host and a port between 1 and 65535";
      diags_.push_back(std::move(d));
      continue;
    }
    bool found = false;
    std::string known;
    for (Backend& backend : config_.backends) {
      if (!known.empty()) known += ", ";
      known += backend.origin.name;
      if (backend.origin.name != name) continue;
      found = true;
      backend.endpoints = {endpoint};
      // An override points at a local plain-HTTP server (a mock, a port-forward, a vLLM on this
      // machine), so the Backend's TLS settings, meant for the real endpoint, no longer apply.
      backend.tls = BackendTls{};
      Diagnostic info = d;
      info.severity = Severity::kInfo;
      info.object = objectLabel(backend.origin);
      info.message = "endpoints replaced by " + endpoint.host + ":" +
                     std::to_string(endpoint.port) + " (plain HTTP, TLS off)";
      diags_.push_back(std::move(info));
    }
    if (!found) {
      d.severity = Severity::kError;
      d.message = "names Backend " + inQuotes(name) + ", " + missing() +
                  (known.empty() ? std::string() : " (known Backends: " + known + ")");
      diags_.push_back(std::move(d));
    }
  }
}

void Loader::checkReferences() {
  for (PendingRef& ref : refs_) {
    if (object_index_.count(objectKey(ref.kind, ref.ns, ref.name)) == 0) {
      diags_.push_back(std::move(ref.if_missing));
    }
  }
  for (PendingCostKey& pending : cost_keys_) {
    if (route_cost_keys_.count(pending.key) != 0) continue;
    pending.where.message = "metadata key " + inQuotes(pending.key) +
                            " is not defined by any AIGatewayRoute's llmRequestCosts; this "
                            "rule's response cost will always be 0";
    diags_.push_back(std::move(pending.where));
  }
}

void Loader::checkSharedTrafficPolicies() {
  // Envoy Gateway would accept only the oldest policy on a Gateway and mark the others
  // Conflicted. tollgate has no creation times to compare, and dropping a rate limit silently is
  // the worse failure, so every policy is kept and every rule enforced.
  std::map<std::string, std::vector<const BackendTrafficPolicy*>> by_gateway;
  for (const BackendTrafficPolicy& policy : config_.traffic_policies) {
    std::set<std::string> mine;
    for (const std::string& gateway : policy.target_gateways) {
      const std::string key = policy.origin.ns + "/" + gateway;
      if (mine.insert(key).second) by_gateway[key].push_back(&policy);
    }
  }
  for (const auto& [gateway, policies] : by_gateway) {
    if (policies.size() < 2) continue;
    std::string list;
    for (const BackendTrafficPolicy* policy : policies) {
      if (!list.empty()) list += ", ";
      list += policy->origin.ns + "/" + policy->origin.name + " (" + place(policy->origin) + ")";
    }
    const Origin& last = policies.back()->origin;
    Diagnostic d;
    d.severity = Severity::kWarning;
    d.file = last.file;
    d.line = last.line;
    d.object = objectLabel(last);
    d.field = "spec.targetRefs";
    d.message = std::to_string(policies.size()) + " BackendTrafficPolicies target Gateway " +
                gateway + ": " + list +
                "; tollgate keeps them all and enforces every rule of each (a request must pass "
                "all the limits that match it)";
    diags_.push_back(std::move(d));
  }
}

}  // namespace tollgate::config::detail
