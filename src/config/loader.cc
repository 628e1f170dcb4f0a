// YAML manifests -> Config. config/ is the only yaml-cpp user in tollgate: every yaml-cpp exception
// is caught here and becomes a Diagnostic, so callers get a LoadResult and never an exception.
//
// Kubernetes objects name each other in any order across files, so loading runs in passes:
//   1. read every file, split it into documents and index the objects by kind/namespace/name; a
//      later definition of the same object replaces the earlier one (what `kubectl apply` does);
//   2. convert each surviving object into its struct, validating every field;
//   3. resolve what crosses objects (Secrets, BackendTLSPolicies, command-line overrides) and
//      report the references that lead nowhere.
// Every problem is collected; nothing stops at the first error.

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/loader_internal.h"

namespace tollgate::config::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDefaultNamespace = "default";
// The dynamic-metadata namespace Envoy AI Gateway writes llmRequestCosts into; rate-limit rules
// read token costs from there.
constexpr std::string_view kAIGatewayMetadataNamespace = "io.envoy.ai_gateway";

bool hasYamlExtension(const std::string& name) {
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

// The API group each supported kind must come from. Other groups with the same kind (an Istio
// Gateway, say) are someone else's objects.
std::optional<std::string_view> expectedGroup(std::string_view kind) {
  static const std::map<std::string_view, std::string_view> kGroups = {
      {"Gateway", kGatewayApiGroup},
      {"BackendTLSPolicy", kGatewayApiGroup},
      {"Backend", kEnvoyGatewayGroup},
      {"BackendTrafficPolicy", kEnvoyGatewayGroup},
      {"ClientTrafficPolicy", kEnvoyGatewayGroup},
      {"AIServiceBackend", kAIGatewayGroup},
      {"AIGatewayRoute", kAIGatewayGroup},
      {"BackendSecurityPolicy", kAIGatewayGroup},
      {"Secret", kCoreGroup},
      {"ConfigMap", kCoreGroup},
  };
  const auto it = kGroups.find(kind);
  if (it == kGroups.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::string objectKey(std::string_view kind, std::string_view ns, std::string_view name) {
  return std::string(kind) + "/" + std::string(ns) + "/" + std::string(name);
}

void Loader::fileProblem(Severity severity, const std::string& file, std::string message) {
  Diagnostic d;
  d.severity = severity;
  d.file = file;
  d.message = std::move(message);
  diags_.push_back(std::move(d));
}

void Loader::addPath(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    fileProblem(Severity::kError, path, "cannot read: no such file or directory");
    return;
  }
  if (!fs::is_directory(status)) {
    addFile(path);
    return;
  }
  // Like `kubectl apply -f DIR`: the directory's own YAML files, not its subdirectories. Hidden
  // files are skipped: editors leave swap and lock files there.
  std::vector<std::string> names;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !hasYamlExtension(name)) continue;
    std::error_code file_ec;
    if (!fs::is_regular_file(it->path(), file_ec)) continue;
    names.push_back(name);
  }
  if (ec) {
    fileProblem(Severity::kError, path, "cannot list directory: " + ec.message());
    return;
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    fileProblem(Severity::kWarning, path, "directory has no *.yaml or *.yml files");
  }
  for (const std::string& name : names) addFile((fs::path(path) / name).string());
}

void Loader::addFile(const std::string& path) {
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(path, ec).string();
  if (ec) canonical = path;
  if (!loaded_files_.insert(canonical).second) {
    fileProblem(Severity::kInfo, path, "already loaded; skipped");
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fileProblem(Severity::kError, path, std::string("cannot read: ") + std::strerror(errno));
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    fileProblem(Severity::kError, path, "read error");
    return;
  }
  addText(text.str(), path);
}

void Loader::addText(std::string_view text, const std::string& file, int line_offset) {
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  for (Chunk& chunk : splitDocuments(text)) {
    chunk.line_base += line_offset;
    const Reporter r(&diags_, file, chunk.line_base);
    // One document per chunk, so YAML::Load rather than LoadAll: yaml-cpp 0.7's LoadAll loops
    // forever, adding a null document each time, on some invalid input ("&=d\xff.n:,"; fixed
    // upstream after 0.8.0, jbeder/yaml-cpp#1319), until the process runs out of memory.
    std::vector<YAML::Node> docs;
    try {
      docs.push_back(YAML::Load(chunk.text));
    } catch (const YAML::Exception& e) {
      Diagnostic d = r.make(Severity::kError, YAML::Node(YAML::NodeType::Undefined), "",
                            "invalid YAML: " + e.msg);
      if (!e.mark.is_null()) d.line = chunk.line_base + e.mark.line + 1;
      diags_.push_back(std::move(d));
      continue;
    } catch (const std::exception& e) {
      fileProblem(Severity::kError, file, std::string("invalid YAML: ") + e.what());
      continue;
    }
    for (const YAML::Node& doc : docs) {
      try {
        if (countExpandedNodes(doc, kMaxExpandedNodes) > kMaxExpandedNodes) {
          r.error(doc, "",
                  "document expands to more than " + std::to_string(kMaxExpandedNodes) +
                      " YAML nodes (aliases of aliases?); refused");
          continue;
        }
        addDocument(doc, file, chunk.line_base);
      } catch (const std::exception& e) {
        r.error(doc, "", std::string("cannot read document: ") + e.what());
      }
    }
  }
}

void Loader::addObjectText(std::string_view text, const std::string& file,
                           const std::string& label) {
  const size_t first = diags_.size();
  addText(text, file, -1);
  for (size_t i = first; i < diags_.size(); ++i) {
    if (diags_[i].object.empty()) diags_[i].object = label;
  }
}

void Loader::addDocument(const YAML::Node& doc, const std::string& file, int line_base) {
  const Reporter r(&diags_, file, line_base);
  if (!present(doc)) return;  // an empty document, e.g. after a trailing "---"
  if (!doc.IsMap()) {
    r.error(doc, "", "a document must be a mapping (a Kubernetes object)");
    return;
  }
  const YAML::Node metadata = child(doc, "metadata");
  std::string name;
  std::string ns;
  if (isMap(r, metadata, "metadata")) {
    name = getString(r, child(metadata, "name"), "metadata.name").value_or("");
    ns = getString(r, child(metadata, "namespace"), "metadata.namespace").value_or("");
  }
  if (ns.empty()) ns = kDefaultNamespace;

  const YAML::Node kind_node = child(doc, "kind");
  if (!present(kind_node)) {
    r.error(doc, "kind",
            name.empty() ? "document has no kind" : "document " + inQuotes(name) + " has no kind");
    return;
  }
  const std::optional<std::string> kind = getString(r, kind_node, "kind");
  if (!kind) return;
  const std::string api_version = getString(r, child(doc, "apiVersion"), "apiVersion").value_or("");

  // `kubectl get -o yaml` writes a List of objects; apply accepts it, so do we.
  const YAML::Node items = child(doc, "items");
  if (*kind == "List" || (kind->ends_with("List") && present(items))) {
    forEach(r, items, "items", [&](const YAML::Node& item, const std::string&) {
      addDocument(item, file, line_base);
    });
    return;
  }

  const size_t slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::optional<std::string_view> expected = expectedGroup(*kind);
  if (!expected || (!api_version.empty() && group != *expected)) {
    const Reporter obj(&diags_, file, line_base,
                       name.empty() ? *kind : objectLabel(*kind, ns, name));
    std::string message = "ignored kind " + *kind;
    if (expected) {
      message += " of apiVersion " + api_version + " (tollgate reads " + *kind + " from " +
                 (expected->empty() ? std::string("v1") : std::string(*expected)) + ")";
    } else {
      message += ": tollgate does not use it";
    }
    obj.info(doc, "", message);
    return;
  }
  if (name.empty()) {
    r.error(present(metadata) ? metadata : doc, "metadata.name", *kind + " has no metadata.name");
    return;
  }
  const Reporter obj(&diags_, file, line_base, objectLabel(*kind, ns, name));
  if (!checkKeys(doc, "", obj)) return;
  RawObject object;
  object.origin.file = file;
  object.origin.kind = *kind;
  object.origin.ns = ns;
  object.origin.name = name;
  object.origin.line = r.lineOf(doc);
  object.doc = doc;
  object.line_base = line_base;
  appendCanonical(doc, object.canonical);
  addObject(std::move(object));
}

void Loader::addObject(RawObject object) {
  const std::string key = objectKey(object.origin.kind, object.origin.ns, object.origin.name);
  const auto [it, inserted] = object_index_.emplace(key, objects_.size());
  if (inserted) {
    objects_.push_back(std::move(object));
    return;
  }
  RawObject& current = objects_[it->second];
  if (current.canonical == object.canonical) {
    Diagnostic d;
    d.severity = Severity::kInfo;
    d.file = object.origin.file;
    d.line = object.origin.line;
    d.object = objectLabel(object.origin);
    d.message =
        "defined again, identically (first in " + place(current.origin) + "); nothing changes";
    diags_.push_back(std::move(d));
    return;
  }
  // kubectl apply semantics: the later definition replaces the object, which keeps its place in
  // the load order (so the routes' order does not depend on which file redefined one).
  object.replaced = std::move(current.replaced);
  object.replaced.push_back(current.origin);
  current = std::move(object);
}

void Loader::reportDuplicates() {
  for (const RawObject& o : objects_) {
    if (o.replaced.empty()) continue;
    std::string where;
    for (const Origin& earlier : o.replaced) where += place(earlier) + ", ";
    where += place(o.origin);
    Diagnostic d;
    d.severity = Severity::kWarning;
    d.file = o.origin.file;
    d.line = o.origin.line;
    d.object = objectLabel(o.origin);
    d.message = "defined more than once, differently (" + where +
                "); the last one in load order, " + place(o.origin) +
                ", replaces the earlier (as kubectl apply would)";
    diags_.push_back(std::move(d));
  }
}

LoadResult Loader::finish() {
  reportDuplicates();
  for (const RawObject& o : objects_) {
    const Reporter r(&diags_, o.origin.file, o.line_base, objectLabel(o.origin));
    try {
      convert(o);
    } catch (const std::exception& e) {
      r.error(o.doc, "", std::string("cannot read object: ") + e.what());
    }
  }
  linkSecurityPolicies();
  checkSecurityPolicyTargets();
  resolveSecrets();
  applyTlsPolicies();
  applyOverrides();
  checkReferences();
  checkSharedTrafficPolicies();
  LoadResult result;
  result.config = std::move(config_);
  result.diagnostics = std::move(diags_);
  return result;
}

void Loader::convert(const RawObject& o) {
  const Reporter r(&diags_, o.origin.file, o.line_base, objectLabel(o.origin));
  const std::string& kind = o.origin.kind;
  if (kind == "Secret") {
    convertSecret(o, r);
    return;
  }
  if (kind == "ConfigMap") {
    convertConfigMap(o, r);
    return;
  }
  const YAML::Node spec = child(o.doc, "spec");
  if (!present(spec)) {
    r.error(o.doc, "spec", "required field is missing");
    return;
  }
  if (!isMap(r, spec, "spec")) return;
  if (kind == "Gateway") {
    convertGateway(o, spec, r);
  } else if (kind == "Backend") {
    convertBackend(o, spec, r);
  } else if (kind == "AIServiceBackend") {
    convertAIServiceBackend(o, spec, r);
  } else if (kind == "AIGatewayRoute") {
    convertRoute(o, spec, r);
  } else if (kind == "BackendSecurityPolicy") {
    convertSecurityPolicy(o, spec, r);
  } else if (kind == "BackendTLSPolicy") {
    convertTlsPolicy(o, spec, r);
  } else if (kind == "BackendTrafficPolicy") {
    convertTrafficPolicy(o, spec, r);
  } else if (kind == "ClientTrafficPolicy") {
    convertClientTrafficPolicy(o, spec, r);
  }
}

void Loader::convertGateway(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  Gateway gateway;
  gateway.origin = o.origin;
  const YAML::Node listeners = child(spec, "listeners");
  if (!present(listeners)) r.error(spec, "spec.listeners", "required field is missing");
  forEach(r, listeners, "spec.listeners", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<uint16_t> port = requirePort(r, item, "port", path);
    const std::optional<std::string> protocol = requireString(r, item, "protocol", path);
    if (!name || !port || !protocol) return;
    if (*protocol != "HTTP") {
      // TLS termination and raw TCP are left to whatever sits in front of tollgate.
      r.warning(
          child(item, "protocol"), sub(path, "protocol"),
          "tollgate serves plain HTTP listeners only; this " + *protocol + " listener is ignored");
      return;
    }
    gateway.listeners.push_back(Listener{*name, *port, *protocol});
  });
  config_.gateways.push_back(std::move(gateway));
}

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

void Loader::convertAIServiceBackend(const RawObject& o, const YAML::Node& spec,
                                     const Reporter& r) {
  AIServiceBackend backend;
  backend.origin = o.origin;
  const YAML::Node schema = child(spec, "schema");
  if (!present(schema)) {
    r.error(spec, "spec.schema", "required field is missing");
  } else if (isMap(r, schema, "spec.schema")) {
    const YAML::Node name = child(schema, "name");
    if (name.IsDefined() && name.IsScalar()) backend.schema_name = name.Scalar();
    const std::optional<Schema> value =
        requireEnum<Schema>(r, schema, "name", "spec.schema",
                            {{"OpenAI", Schema::kOpenAI},
                             {"AWSAnthropic", Schema::kAWSAnthropic},
                             {"AWSBedrock", Schema::kAWSBedrock},
                             {"Anthropic", Schema::kAnthropic},
                             {"AzureOpenAI", Schema::kAzureOpenAI}});
    backend.schema = value.value_or(Schema::kUnknown);
    backend.schema_version =
        getString(r, child(schema, "version"), "spec.schema.version").value_or("");
  }

  const YAML::Node ref = child(spec, "backendRef");
  if (!present(ref)) {
    r.error(spec, "spec.backendRef", "required field is missing");
  } else if (isMap(r, ref, "spec.backendRef")) {
    const std::optional<std::string> name = requireString(r, ref, "name", "spec.backendRef");
    const std::optional<std::string> kind =
        getString(r, child(ref, "kind"), "spec.backendRef.kind");
    const std::optional<std::string> group =
        getString(r, child(ref, "group"), "spec.backendRef.group");
    bool ok = name.has_value();
    if (kind && *kind != "Backend") {
      r.error(child(ref, "kind"), "spec.backendRef.kind",
              "only kind Backend (gateway.envoyproxy.io) is supported, got " + *kind);
      ok = false;
    }
    if (group && *group != kEnvoyGatewayGroup) {
      r.error(child(ref, "group"), "spec.backendRef.group",
              "only group gateway.envoyproxy.io is supported, got " + *group);
      ok = false;
    }
    if (ok) {
      backend.backend_ref = *name;
      backend.backend_ref_ns =
          getString(r, child(ref, "namespace"), "spec.backendRef.namespace").value_or(o.origin.ns);
      refs_.push_back(
          PendingRef{"Backend", backend.backend_ref_ns, backend.backend_ref,
                     r.make(Severity::kWarning, child(ref, "name"), "spec.backendRef.name",
                            "names Backend " + backend.backend_ref_ns + "/" + backend.backend_ref +
                                ", " + missing() +
                                "; requests routed to this AIServiceBackend "
                                "will answer 503")});
    }
  }

  // Before BackendSecurityPolicy had targetRefs, the backend pointed at its policy.
  const YAML::Node policy_ref = child(spec, "backendSecurityPolicyRef");
  if (isMap(r, policy_ref, "spec.backendSecurityPolicyRef")) {
    if (const std::optional<std::string> name =
            requireString(r, policy_ref, "name", "spec.backendSecurityPolicyRef")) {
      policy_links_.push_back(
          PendingPolicyLink{o.origin.name, o.origin.ns, *name,
                            r.make(Severity::kWarning, child(policy_ref, "name"),
                                   "spec.backendSecurityPolicyRef.name", "")});
    }
  }
  config_.ai_service_backends.push_back(std::move(backend));
}

std::optional<HeaderMatch> Loader::parseHeaderMatch(const YAML::Node& n, const std::string& path,
                                                    bool rate_limit, const Reporter& r) {
  if (!requireMap(r, n, path)) return std::nullopt;
  HeaderMatch match;
  bool ok = true;
  // Header names are case-insensitive; the matchers compare lower-case names.
  if (const std::optional<std::string> name = requireString(r, n, "name", path)) {
    match.name = toLower(*name);
  } else {
    ok = false;
  }
  const YAML::Node type = child(n, "type");
  bool type_ok = true;
  if (present(type)) {
    const std::optional<HeaderMatchType> value =
        rate_limit
            ? getEnum<HeaderMatchType>(r, type, sub(path, "type"),
                                       {{"Exact", HeaderMatchType::kExact},
                                        {"Distinct", HeaderMatchType::kDistinct},
                                        {"RegularExpression", HeaderMatchType::kRegularExpression}})
            : getEnum<HeaderMatchType>(
                  r, type, sub(path, "type"),
                  {{"Exact", HeaderMatchType::kExact},
                   {"RegularExpression", HeaderMatchType::kRegularExpression}});
    if (value) {
      match.type = *value;
    } else {
      ok = type_ok = false;
    }
  }
  const YAML::Node value = child(n, "value");
  const std::string value_path = sub(path, "value");
  if (!type_ok) {
    // What the value must be depends on the type; one error for the type is enough.
  } else if (match.type == HeaderMatchType::kDistinct) {
    if (present(value)) {
      r.error(value, value_path,
              "must not be set when type is Distinct (every distinct value gets its own bucket)");
      ok = false;
    }
  } else if (!present(value)) {
    r.error(n, value_path, "required field is missing");
    ok = false;
  } else if (const std::optional<std::string> text = getString(r, value, value_path)) {
    match.value = *text;
    if (match.type == HeaderMatchType::kRegularExpression) {
      // Compiled here only to reject bad patterns at load time; the router compiles its own.
      const RE2 re(match.value, RE2::Quiet);
      if (!re.ok()) {
        r.error(value, value_path,
                "invalid regular expression " + inQuotes(match.value) + ": " + re.error());
        ok = false;
      }
    }
  } else {
    ok = false;
  }
  if (rate_limit) {
    match.invert = getBool(r, child(n, "invert"), sub(path, "invert")).value_or(false);
  }
  if (!ok) return std::nullopt;
  return match;
}

void Loader::convertRoute(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  AIGatewayRoute route;
  route.origin = o.origin;

  // Early releases of the CRD called the parents targetRefs.
  const char* parents_key = present(child(spec, "parentRefs")) ? "parentRefs" : "targetRefs";
  const std::string parents_path = sub("spec", parents_key);
  forEach(
      r, child(spec, parents_key), parents_path,
      [&](const YAML::Node& item, const std::string& path) {
        if (!requireMap(r, item, path)) return;
        const std::optional<std::string> name = requireString(r, item, "name", path);
        const std::optional<std::string> kind =
            getString(r, child(item, "kind"), sub(path, "kind"));
        if (kind && *kind != "Gateway") {
          r.error(child(item, "kind"), sub(path, "kind"),
                  "only kind Gateway is supported, got " + *kind);
          return;
        }
        if (!name) return;
        const std::string ns =
            getString(r, child(item, "namespace"), sub(path, "namespace")).value_or(o.origin.ns);
        route.parent_gateways.push_back(*name);
        refs_.push_back(
            PendingRef{"Gateway", ns, *name,
                       r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                              "names Gateway " + ns + "/" + *name + ", " + missing())});
      });

  const YAML::Node rules = child(spec, "rules");
  if (!present(rules)) r.error(spec, "spec.rules", "required field is missing");
  forEach(r, rules, "spec.rules", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    RouteRule rule;
    forEach(r, child(item, "matches"), sub(path, "matches"),
            [&](const YAML::Node& m, const std::string& match_path) {
              if (!requireMap(r, m, match_path)) return;
              RouteMatch match;
              forEach(r, child(m, "headers"), sub(match_path, "headers"),
                      [&](const YAML::Node& h, const std::string& header_path) {
                        if (auto header = parseHeaderMatch(h, header_path, false, r)) {
                          match.headers.push_back(std::move(*header));
                        }
                      });
              rule.matches.push_back(std::move(match));
            });

    const YAML::Node refs = child(item, "backendRefs");
    const std::string refs_path = sub(path, "backendRefs");
    forEach(r, refs, refs_path, [&](const YAML::Node& ref, const std::string& ref_path) {
      if (!requireMap(r, ref, ref_path)) return;
      const std::optional<std::string> name = requireString(r, ref, "name", ref_path);
      const std::optional<std::string> kind =
          getString(r, child(ref, "kind"), sub(ref_path, "kind"));
      bool ok = name.has_value();
      if (kind && *kind != "AIServiceBackend") {
        r.error(child(ref, "kind"), sub(ref_path, "kind"),
                "only AIServiceBackend references are supported, got " + *kind);
        ok = false;
      }
      RouteBackendRef backend_ref;
      backend_ref.ns =
          getString(r, child(ref, "namespace"), sub(ref_path, "namespace")).value_or(o.origin.ns);
      // Gateway API bounds: weight is an int32 >= 0, priority a uint32.
      if (const YAML::Node weight = child(ref, "weight"); present(weight)) {
        const std::optional<int64_t> value = getIntInRange(r, weight, sub(ref_path, "weight"), 0,
                                                           std::numeric_limits<int32_t>::max());
        if (value) {
          backend_ref.weight = static_cast<uint32_t>(*value);
        } else {
          ok = false;
        }
      }
      if (const YAML::Node priority = child(ref, "priority"); present(priority)) {
        const std::optional<int64_t> value = getIntInRange(r, priority, sub(ref_path, "priority"),
                                                           0, std::numeric_limits<uint32_t>::max());
        if (value) {
          backend_ref.priority = static_cast<uint32_t>(*value);
        } else {
          ok = false;
        }
      }
      backend_ref.model_name_override =
          getString(r, child(ref, "modelNameOverride"), sub(ref_path, "modelNameOverride"))
              .value_or("");
      if (!ok) return;
      backend_ref.name = *name;
      // A missing backend is a warning, not an error: the rest of the route is fine, and the
      // reference stays in the rule so the router answers 503 for it rather than falling
      // through to another rule.
      refs_.push_back(
          PendingRef{"AIServiceBackend", backend_ref.ns, backend_ref.name,
                     r.make(Severity::kWarning, child(ref, "name"), sub(ref_path, "name"),
                            "names AIServiceBackend " + backend_ref.ns + "/" + backend_ref.name +
                                ", " + missing() +
                                "; the route rule will answer 503 when it "
                                "selects this backend")});
      rule.backend_refs.push_back(std::move(backend_ref));
    });
    if (!present(refs) || (refs.IsSequence() && refs.size() == 0)) {
      r.warning(item, refs_path, "rule has no backendRefs; requests it matches will answer 503");
    }

    const YAML::Node timeouts = child(item, "timeouts");
    const std::string timeouts_path = sub(path, "timeouts");
    if (isMap(r, timeouts, timeouts_path)) {
      for (const char* key : {"request", "backendRequest"}) {
        const YAML::Node value = child(timeouts, key);
        const std::string value_path = sub(timeouts_path, key);
        const std::optional<std::string> text = getString(r, value, value_path);
        if (!text) continue;
        const std::optional<uint64_t> ms = parseDurationMs(*text);
        if (!ms) {
          r.error(value, value_path,
                  "invalid duration " + inQuotes(*text) +
                      "; expected a Gateway API duration such as 60s, 1m, 500ms or 1h30m");
        } else if (*ms > std::numeric_limits<uint32_t>::max()) {
          r.error(value, value_path,
                  "duration " + inQuotes(*text) + " is too long (at most 4294967295ms, ~49 days)");
        } else if (std::string_view(key) == "request") {
          rule.timeouts.request_ms = static_cast<uint32_t>(*ms);
        } else {
          r.info(value, value_path,
                 "not used by tollgate: the request timeout bounds all attempts together");
        }
      }
    }
    route.rules.push_back(std::move(rule));
  });

  std::set<std::string> keys;
  forEach(r, child(spec, "llmRequestCosts"), "spec.llmRequestCosts",
          [&](const YAML::Node& item, const std::string& path) {
            if (!requireMap(r, item, path)) return;
            const std::optional<std::string> key = requireString(r, item, "metadataKey", path);
            const std::optional<CostType> type =
                requireEnum<CostType>(r, item, "type", path,
                                      {{"InputToken", CostType::kInputToken},
                                       {"CachedInputToken", CostType::kCachedInputToken},
                                       {"OutputToken", CostType::kOutputToken},
                                       {"TotalToken", CostType::kTotalToken},
                                       {"CEL", CostType::kCEL}});
            LLMRequestCost cost;
            bool ok = key && type;
            if (type == CostType::kCEL) {
              const std::optional<std::string> cel =
                  getString(r, child(item, "cel"), sub(path, "cel"));
              if (!cel || cel->empty()) {
                r.error(item, sub(path, "cel"), "required when type is CEL");
                ok = false;
              } else {
                cost.cel = *cel;
              }
            }
            if (!ok) return;
            if (!keys.insert(*key).second) {
              r.error(child(item, "metadataKey"), sub(path, "metadataKey"),
                      "metadataKey " + inQuotes(*key) + " is defined twice in this route");
              return;
            }
            cost.metadata_key = *key;
            cost.type = *type;
            route_cost_keys_.insert(*key);
            route.llm_request_costs.push_back(std::move(cost));
          });
  config_.routes.push_back(std::move(route));
}

void Loader::convertSecurityPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  BackendSecurityPolicy policy;
  policy.origin = o.origin;
  const size_t policy_index = config_.security_policies.size();

  const auto add_target = [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<std::string> kind = getString(r, child(item, "kind"), sub(path, "kind"));
    if (kind && *kind != "AIServiceBackend") {
      r.warning(child(item, "kind"), sub(path, "kind"),
                "tollgate attaches BackendSecurityPolicies to AIServiceBackends only; this " +
                    *kind + " target is ignored");
      return;
    }
    if (!name) return;
    policy.target_backends.push_back(*name);
    refs_.push_back(PendingRef{"AIServiceBackend", o.origin.ns, *name,
                               r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                                      "names AIServiceBackend " + o.origin.ns + "/" + *name + ", " +
                                          missing() + "; this target has no effect")});
  };
  forEach(r, child(spec, "targetRefs"), "spec.targetRefs", add_target);
  // Earlier releases had a single targetRef.
  if (present(child(spec, "targetRef"))) add_target(child(spec, "targetRef"), "spec.targetRef");

  const std::optional<SecurityType> type =
      requireEnum<SecurityType>(r, spec, "type", "spec",
                                {{"APIKey", SecurityType::kAPIKey},
                                 {"AnthropicAPIKey", SecurityType::kAnthropicAPIKey},
                                 {"AzureAPIKey", SecurityType::kAzureAPIKey},
                                 {"AWSCredentials", SecurityType::kAWSCredentials}});
  policy.type = type.value_or(SecurityType::kUnknown);

  // Reads <block>.secretRef {name, namespace} and queues the Secret look-up.
  const auto secret_ref = [&](const YAML::Node& block, const std::string& block_path,
                              bool aws_credentials_file) -> std::optional<std::string> {
    const YAML::Node ref = child(block, "secretRef");
    const std::string ref_path = sub(block_path, "secretRef");
    if (!present(ref)) {
      r.error(block, ref_path, "required field is missing");
      return std::nullopt;
    }
    if (!isMap(r, ref, ref_path)) return std::nullopt;
    std::optional<std::string> name = requireString(r, ref, "name", ref_path);
    if (!name) return std::nullopt;
    const std::string ns =
        getString(r, child(ref, "namespace"), sub(ref_path, "namespace")).value_or(o.origin.ns);
    secrets_.push_back(
        PendingSecret{policy_index, aws_credentials_file, ns, *name,
                      r.make(Severity::kError, child(ref, "name"), sub(ref_path, "name"), "")});
    return name;
  };

  const auto api_key = [&](const char* key, std::string_view type_name) {
    const YAML::Node block = child(spec, key);
    const std::string block_path = sub("spec", key);
    if (!present(block)) {
      r.error(spec, block_path, "required when type is " + std::string(type_name));
      return;
    }
    if (!isMap(r, block, block_path)) return;
    if (auto name = secret_ref(block, block_path, false)) policy.api_key_secret = *name;
  };

  switch (policy.type) {
    case SecurityType::kAPIKey:
      api_key("apiKey", "APIKey");
      break;
    case SecurityType::kAnthropicAPIKey:
      api_key("anthropicAPIKey", "AnthropicAPIKey");
      break;
    case SecurityType::kAzureAPIKey:
      api_key("azureAPIKey", "AzureAPIKey");
      break;
    case SecurityType::kAWSCredentials: {
      const YAML::Node aws = child(spec, "awsCredentials");
      if (!present(aws)) {
        r.error(spec, "spec.awsCredentials", "required when type is AWSCredentials");
        break;
      }
      if (!isMap(r, aws, "spec.awsCredentials")) break;
      policy.aws.region = requireString(r, aws, "region", "spec.awsCredentials").value_or("");
      const YAML::Node file = child(aws, "credentialsFile");
      const std::string file_path = "spec.awsCredentials.credentialsFile";
      if (isMap(r, file, file_path)) {
        policy.aws.credentials_file_secret = secret_ref(file, file_path, true);
        policy.aws.credentials_profile =
            getString(r, child(file, "profile"), sub(file_path, "profile")).value_or("default");
      }
      const YAML::Node oidc = child(aws, "oidcExchangeToken");
      if (isMap(r, oidc, "spec.awsCredentials.oidcExchangeToken")) {
        policy.aws.oidc_role_arn =
            requireString(r, oidc, "awsRoleArn", "spec.awsCredentials.oidcExchangeToken");
      }
      break;
    }
    case SecurityType::kUnknown:
      break;
  }
  config_.security_policies.push_back(std::move(policy));
}

std::optional<RateLimitRule> Loader::parseRateLimitRule(const YAML::Node& n,
                                                        const std::string& path,
                                                        const Reporter& r) {
  if (!requireMap(r, n, path)) return std::nullopt;
  RateLimitRule rule;
  bool ok = true;

  forEach(r, child(n, "clientSelectors"), sub(path, "clientSelectors"),
          [&](const YAML::Node& selector, const std::string& selector_path) {
            if (!requireMap(r, selector, selector_path)) {
              ok = false;
              return;
            }
            // Ignoring a selector part would silently widen who shares a bucket, so the parts
            // tollgate cannot evaluate are errors.
            for (auto it = selector.begin(); it != selector.end(); ++it) {
              const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
              if (key != "headers") {
                r.error(it->first, sub(selector_path, key),
                        "client selector " + inQuotes(key) +
                            " is not supported by tollgate (only headers)");
                ok = false;
              }
            }
            std::vector<HeaderMatch> headers;
            forEach(r, child(selector, "headers"), sub(selector_path, "headers"),
                    [&](const YAML::Node& h, const std::string& header_path) {
                      if (auto header = parseHeaderMatch(h, header_path, true, r)) {
                        headers.push_back(std::move(*header));
                      } else {
                        ok = false;
                      }
                    });
            rule.client_selectors.push_back(std::move(headers));
          });

  const YAML::Node limit = child(n, "limit");
  const std::string limit_path = sub(path, "limit");
  if (!present(limit)) {
    r.error(n, limit_path, "required field is missing");
    ok = false;
  } else if (isMap(r, limit, limit_path)) {
    const YAML::Node requests = child(limit, "requests");
    if (!present(requests)) {
      r.error(limit, sub(limit_path, "requests"), "required field is missing");
      ok = false;
    } else if (auto value = getIntInRange(r, requests, sub(limit_path, "requests"), 0,
                                          std::numeric_limits<int64_t>::max())) {
      rule.limit = static_cast<uint64_t>(*value);
    } else {
      ok = false;
    }
    const std::optional<RateLimitUnit> unit =
        requireEnum<RateLimitUnit>(r, limit, "unit", limit_path,
                                   {{"Second", RateLimitUnit::kSecond},
                                    {"Minute", RateLimitUnit::kMinute},
                                    {"Hour", RateLimitUnit::kHour},
                                    {"Day", RateLimitUnit::kDay},
                                    {"Month", RateLimitUnit::kMonth},
                                    {"Year", RateLimitUnit::kYear}});
    if (unit) {
      rule.unit = *unit;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }

  const YAML::Node cost = child(n, "cost");
  const std::string cost_path = sub(path, "cost");
  if (isMap(r, cost, cost_path)) {
    const YAML::Node request = child(cost, "request");
    const std::string request_path = sub(cost_path, "request");
    if (isMap(r, request, request_path)) {
      // Only a fixed request cost: the request path has no metadata to read a cost from yet.
      if (requireEnum<bool>(r, request, "from", request_path, {{"Number", true}})) {
        const YAML::Node number = child(request, "number");
        if (!present(number)) {
          r.error(request, sub(request_path, "number"), "required when from is Number");
          ok = false;
        } else if (auto value = getIntInRange(r, number, sub(request_path, "number"), 0,
                                              std::numeric_limits<int64_t>::max())) {
          rule.request_cost = static_cast<uint64_t>(*value);
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    const YAML::Node response = child(cost, "response");
    const std::string response_path = sub(cost_path, "response");
    if (isMap(r, response, response_path)) {
      const YAML::Node metadata = child(response, "metadata");
      const std::string metadata_path = sub(response_path, "metadata");
      // Every failed step sets ok = false: the repeated branch is the point.
      // NOLINTNEXTLINE(bugprone-branch-clone)
      if (!requireEnum<bool>(r, response, "from", response_path, {{"Metadata", true}})) {
        ok = false;
      } else if (!present(metadata)) {
        r.error(response, metadata_path, "required when from is Metadata");
        ok = false;
      } else if (isMap(r, metadata, metadata_path)) {
        const std::optional<std::string> key = requireString(r, metadata, "key", metadata_path);
        const std::string ns =
            getString(r, child(metadata, "namespace"), sub(metadata_path, "namespace"))
                .value_or(std::string(kAIGatewayMetadataNamespace));
        if (ns != kAIGatewayMetadataNamespace) {
          r.warning(child(metadata, "namespace"), sub(metadata_path, "namespace"),
                    "tollgate records token costs only under namespace " +
                        std::string(kAIGatewayMetadataNamespace) +
                        "; this response cost will "
                        "always be 0");
        }
        if (key) {
          rule.response_metadata_key = *key;
          rule.response_metadata_namespace = ns;
          cost_keys_.push_back(PendingCostKey{
              *key,
              r.make(Severity::kWarning, child(metadata, "key"), sub(metadata_path, "key"), "")});
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
  }
  if (!ok) return std::nullopt;
  return rule;
}

void readPolicyTargets(const YAML::Node& spec, const Origin& origin, const Reporter& r,
                       std::vector<std::string>* gateways, std::vector<std::string>* routes,
                       std::vector<PendingRef>* refs, const std::string& missing) {
  const auto add_target = [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<std::string> kind = requireString(r, item, "kind", path);
    if (!name || !kind) return;
    if (*kind == "Gateway") {
      gateways->push_back(*name);
      refs->push_back(PendingRef{"Gateway", origin.ns, *name,
                                 r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                                        "names Gateway " + origin.ns + "/" + *name + ", " +
                                            missing + "; this target has no effect")});
    } else if (*kind == "HTTPRoute" && routes != nullptr) {
      routes->push_back(*name);
      refs->push_back(PendingRef{
          "AIGatewayRoute", origin.ns, *name,
          r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                 "names HTTPRoute " + origin.ns + "/" + *name +
                     "; tollgate knows routes as AIGatewayRoutes and none is named so, so this "
                     "target has no effect")});
    } else {
      r.warning(child(item, "kind"), sub(path, "kind"),
                "tollgate applies this policy to " +
                    std::string(routes != nullptr ? "Gateways and HTTPRoutes" : "Gateways") +
                    " only; this " + *kind + " target is ignored");
    }
  };
  forEach(r, child(spec, "targetRefs"), "spec.targetRefs", add_target);
  if (present(child(spec, "targetRef"))) add_target(child(spec, "targetRef"), "spec.targetRef");
  if (present(child(spec, "targetSelectors"))) {
    r.warning(child(spec, "targetSelectors"), "spec.targetSelectors",
              "label selectors are not supported by tollgate and are ignored; use targetRefs");
  }
}

void Loader::convertTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  BackendTrafficPolicy policy;
  policy.origin = o.origin;
  const YAML::Node annotations = child(child(o.doc, "metadata"), "annotations");
  if (isMap(r, annotations, "metadata.annotations")) {
    for (auto it = annotations.begin(); it != annotations.end(); ++it) {
      if (it->first.IsScalar() && it->second.IsScalar()) {
        policy.annotations[it->first.Scalar()] = it->second.Scalar();
      }
    }
  }
  readPolicyTargets(spec, o.origin, r, &policy.target_gateways, &policy.target_routes, &refs_,
                    missing());
  reportUnusedFields(spec, "spec", {"targetRefs", "targetRef", "targetSelectors", "rateLimit"}, r);

  const YAML::Node rate_limit = child(spec, "rateLimit");
  if (isMap(r, rate_limit, "spec.rateLimit")) {
    const std::optional<bool> global = requireEnum<bool>(r, rate_limit, "type", "spec.rateLimit",
                                                         {{"Global", true}, {"Local", false}});
    if (global) {
      policy.global = *global;
      const char* key = *global ? "global" : "local";
      const char* other = *global ? "local" : "global";
      const std::string block_path = sub("spec.rateLimit", key);
      const YAML::Node block = child(rate_limit, key);
      if (present(child(rate_limit, other))) {
        r.warning(child(rate_limit, other), sub("spec.rateLimit", other),
                  std::string("ignored: type is ") + (*global ? "Global" : "Local"));
      }
      if (!present(block)) {
        r.error(rate_limit, block_path,
                std::string("required when type is ") + (*global ? "Global" : "Local"));
      } else if (isMap(r, block, block_path)) {
        const YAML::Node rules = child(block, "rules");
        if (!present(rules)) r.error(block, sub(block_path, "rules"), "required field is missing");
        forEach(r, rules, sub(block_path, "rules"),
                [&](const YAML::Node& item, const std::string& path) {
                  if (auto rule = parseRateLimitRule(item, path, r)) {
                    policy.rules.push_back(std::move(*rule));
                  }
                });
      }
    }
  }
  config_.traffic_policies.push_back(std::move(policy));
}

void Loader::convertClientTrafficPolicy(const RawObject& o, const YAML::Node& spec,
                                        const Reporter& r) {
  ClientTrafficPolicy policy;
  policy.origin = o.origin;
  readPolicyTargets(spec, o.origin, r, &policy.target_gateways, nullptr, &refs_, missing());
  reportUnusedFields(spec, "spec",
                     {"targetRefs", "targetRef", "targetSelectors", "connection", "timeout"}, r);
  const YAML::Node timeout = child(spec, "timeout");
  if (isMap(r, timeout, "spec.timeout")) {
    reportUnusedFields(timeout, "spec.timeout", {"http"}, r);
    const YAML::Node http = child(timeout, "http");
    if (isMap(r, http, "spec.timeout.http")) {
      reportUnusedFields(http, "spec.timeout.http", {"requestReceivedTimeout", "idleTimeout"}, r);
      auto duration = [&](const char* name, std::optional<uint64_t>& into) {
        const std::string path = std::string("spec.timeout.http.") + name;
        const YAML::Node n = child(http, name);
        const std::optional<std::string> text = getString(r, n, path);
        if (!text) return;
        const std::optional<uint64_t> ms = parseDurationMs(*text);
        if (!ms || *ms == 0) {
          r.error(n, path,
                  "invalid duration " + inQuotes(*text) + "; expected e.g. 10s, 1m, 500ms");
          return;
        }
        into = *ms;
      };
      duration("requestReceivedTimeout", policy.request_received_timeout_ms);
      duration("idleTimeout", policy.idle_timeout_ms);
    }
  }
  const YAML::Node connection = child(spec, "connection");
  if (isMap(r, connection, "spec.connection")) {
    reportUnusedFields(connection, "spec.connection", {"bufferLimit"}, r);
    const YAML::Node limit = child(connection, "bufferLimit");
    if (const std::optional<std::string> text =
            getString(r, limit, "spec.connection.bufferLimit")) {
      const std::optional<uint64_t> bytes = parseQuantityBytes(*text);
      if (!bytes) {
        r.error(limit, "spec.connection.bufferLimit",
                "invalid quantity " + inQuotes(*text) +
                    "; expected a Kubernetes quantity such as 1024, 500k, 50Mi or 1Gi");
      } else if (*bytes == 0) {
        r.error(limit, "spec.connection.bufferLimit", "must be more than 0 bytes");
      } else {
        policy.buffer_limit_bytes = *bytes;
      }
    }
  }
  config_.client_traffic_policies.push_back(std::move(policy));
}

void Loader::convertSecret(const RawObject& o, const Reporter& r) {
  Secret secret;
  secret.origin = o.origin;
  const YAML::Node data = child(o.doc, "data");
  if (isMap(r, data, "data")) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      const std::string path = sub("data", key);
      const std::string encoded = getString(r, it->second, path).value_or("");
      if (const std::optional<std::string> decoded = decodeBase64(encoded)) {
        secret.data[key] = *decoded;
      } else {
        // The value itself is never echoed: it is a credential.
        r.error(it->second, path, "not valid base64 (Secret.data values are base64-encoded)");
      }
    }
  }
  // As in Kubernetes, stringData is plain text and wins over data for the same key.
  const YAML::Node string_data = child(o.doc, "stringData");
  if (isMap(r, string_data, "stringData")) {
    for (auto it = string_data.begin(); it != string_data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      secret.data[key] = getString(r, it->second, sub("stringData", key)).value_or("");
    }
  }
  config_.secrets.push_back(std::move(secret));
}

void Loader::convertConfigMap(const RawObject& o, const Reporter& r) {
  ConfigMap map;
  map.origin = o.origin;
  const YAML::Node data = child(o.doc, "data");
  if (isMap(r, data, "data")) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      map.data[key] = getString(r, it->second, sub("data", key)).value_or("");
    }
  }
  config_.config_maps.push_back(std::move(map));
}

}  // namespace tollgate::config::detail

namespace tollgate::config {

LoadResult loadFiles(const std::vector<std::string>& paths, const LoadOptions& opts) {
  detail::Loader loader(opts);
  for (const std::string& path : paths) loader.addPath(path);
  return loader.finish();
}

LoadResult loadString(const std::string& yaml_text, const std::string& name,
                      const LoadOptions& opts) {
  detail::Loader loader(opts);
  loader.addText(yaml_text, name);
  return loader.finish();
}

LoadResult loadObjects(const std::vector<std::pair<std::string, std::string>>& objects,
                       const std::string& source, const LoadOptions& opts) {
  detail::Loader loader(opts);
  for (const auto& [label, text] : objects) loader.addObjectText(text, source, label);
  return loader.finish();
}

}  // namespace tollgate::config
