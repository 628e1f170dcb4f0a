// Backend (gateway.envoyproxy.io) and BackendTLSPolicy (gateway.networking.k8s.io): upstream
// endpoints and how tollgate verifies their TLS. The CA bundles are resolved later, in link.cc.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertBackend(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  Backend backend;
  backend.origin = o.origin;
  const YAML::Node endpoints = child(spec, "endpoints");
  if (!present(endpoints)) r.error(spec, "spec.endpoints", "required field is missing");
  forEach(r, endpoints, "spec.endpoints", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const YAML::Node fqdn = child(item, "fqdn");
    const YAML::Node ip = child(item, "ip");
    const YAML::Node unix_socket = child(item, "unix");
    const int kinds = int{present(fqdn)} + int{present(ip)} + int{present(unix_socket)};
    if (kinds != 1) {
      r.error(item, path,
              kinds == 0 ? "an endpoint needs fqdn or ip" : "set only one of fqdn, ip, unix");
      return;
    }
    if (present(unix_socket)) {
      r.error(unix_socket, sub(path, "unix"), "unix socket endpoints are not supported");
      return;
    }
    const bool is_ip = present(ip);
    const YAML::Node address = is_ip ? ip : fqdn;
    const std::string address_path = sub(path, is_ip ? "ip" : "fqdn");
    if (!requireMap(r, address, address_path)) return;
    const std::optional<std::string> host =
        requireString(r, address, is_ip ? "address" : "hostname", address_path);
    const std::optional<uint16_t> port = requirePort(r, address, "port", address_path);
    if (!host || !port) return;
    backend.endpoints.push_back(Endpoint{*host, *port, is_ip});
  });
  if (present(endpoints) && endpoints.IsSequence() && endpoints.size() == 0) {
    r.error(endpoints, "spec.endpoints", "needs at least one endpoint");
  }

  const YAML::Node tls = child(spec, "tls");
  if (isMap(r, tls, "spec.tls")) {
    backend.tls.enabled = true;
    const YAML::Node cas = child(tls, "wellKnownCACertificates");
    if (present(cas)) {
      getEnum<bool>(r, cas, "spec.tls.wellKnownCACertificates", {{"System", true}});
    }
    std::vector<CaRef> refs = parseCaRefs(tls, "spec.tls", r);
    if (!refs.empty()) {
      backend.tls.system_cas = false;
      backend_cas_.push_back(PendingBackendCa{config_.backends.size(), std::move(refs)});
    }
    const YAML::Node insecure = child(tls, "insecureSkipVerify");
    if (getBool(r, insecure, "spec.tls.insecureSkipVerify").value_or(false)) {
      r.error(
          insecure, "spec.tls.insecureSkipVerify",
          "tollgate always verifies upstream certificates; insecureSkipVerify is not supported");
    }
    backend.tls.hostname = getString(r, child(tls, "sni"), "spec.tls.sni").value_or("");
  }
  config_.backends.push_back(std::move(backend));
}

void Loader::convertTlsPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  TlsPolicy policy;
  policy.origin = o.origin;
  const YAML::Node targets = child(spec, "targetRefs");
  if (!present(targets)) r.error(spec, "spec.targetRefs", "required field is missing");
  forEach(r, targets, "spec.targetRefs", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<std::string> kind = requireString(r, item, "kind", path);
    if (!name || !kind) return;
    if (*kind != "Backend") {
      r.warning(child(item, "kind"), sub(path, "kind"),
                "tollgate applies BackendTLSPolicies to Backends only; this " + *kind +
                    " target is ignored");
      return;
    }
    policy.target_backends.push_back(*name);
    refs_.push_back(PendingRef{"Backend", o.origin.ns, *name,
                               r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                                      "names Backend " + o.origin.ns + "/" + *name + ", " +
                                          missing() + "; this target has no effect")});
  });

  const YAML::Node validation = child(spec, "validation");
  if (!present(validation)) {
    r.error(spec, "spec.validation", "required field is missing");
  } else if (isMap(r, validation, "spec.validation")) {
    const YAML::Node cas = child(validation, "wellKnownCACertificates");
    if (present(cas)) {
      getEnum<bool>(r, cas, "spec.validation.wellKnownCACertificates", {{"System", true}});
    }
    policy.ca_refs = parseCaRefs(validation, "spec.validation", r);
    if (!policy.ca_refs.empty()) policy.system_cas = false;
    policy.hostname = requireString(r, validation, "hostname", "spec.validation").value_or("");
  }
  tls_policies_.push_back(std::move(policy));
}

// Gateway API: caCertificateRefs and wellKnownCACertificates are mutually exclusive; each ref
// is a LocalObjectReference (group "", kind ConfigMap or Secret, name) whose key ca.crt holds
// PEM certificates.
std::vector<CaRef> Loader::parseCaRefs(const YAML::Node& tls, const std::string& path,
                                       const Reporter& r) {
  std::vector<CaRef> out;
  const YAML::Node refs = child(tls, "caCertificateRefs");
  if (!present(refs)) return out;
  const std::string refs_path = sub(path, "caCertificateRefs");
  if (present(child(tls, "wellKnownCACertificates"))) {
    r.error(refs, refs_path,
            "caCertificateRefs and wellKnownCACertificates are mutually exclusive; set one");
    return out;
  }
  forEach(r, refs, refs_path, [&](const YAML::Node& item, const std::string& item_path) {
    if (!requireMap(r, item, item_path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", item_path);
    const std::string kind =
        getString(r, child(item, "kind"), sub(item_path, "kind")).value_or("ConfigMap");
    const std::string group =
        getString(r, child(item, "group"), sub(item_path, "group")).value_or("");
    if (!name) return;
    if ((kind != "ConfigMap" && kind != "Secret") || !(group.empty() || group == "core")) {
      r.error(item, item_path,
              "a CA certificate reference must be a core ConfigMap or Secret, not " +
                  (group.empty() ? kind : group + "/" + kind));
      return;
    }
    out.push_back(CaRef{kind, *name,
                        r.make(Severity::kError, child(item, "name"), sub(item_path, "name"), "")});
  });
  if (refs.IsSequence() && refs.size() == 0) r.error(refs, refs_path, "needs at least one entry");
  return out;
}

}  // namespace tollgate::config::detail
