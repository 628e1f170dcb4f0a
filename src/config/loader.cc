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

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config/loader_internal.h"

namespace tollgate::config::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDefaultNamespace = "default";

bool hasYamlExtension(const std::string& name) {
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

}  // namespace

std::string objectKey(std::string_view kind, std::string_view ns, std::string_view name) {
  return std::string(kind) + "/" + std::string(ns) + "/" + std::string(name);
}

// Every kind tollgate reads: the API group it must come from (other groups with the same kind, an
// Istio Gateway say, are someone else's objects) and its converter.
struct Loader::Kind {
  std::string_view name;
  std::string_view group;
  // Converts an object whose spec is a mapping; or, for the core kinds, which have no spec, the
  // whole object. One of the two is set.
  void (Loader::*convert_spec)(const RawObject&, const YAML::Node& spec, const Reporter&) = nullptr;
  void (Loader::*convert_object)(const RawObject&, const Reporter&) = nullptr;
};

const Loader::Kind* Loader::findKind(std::string_view kind) {
  static const Kind kKinds[] = {
      {"Gateway", kGatewayApiGroup, &Loader::convertGateway},
      {"BackendTLSPolicy", kGatewayApiGroup, &Loader::convertTlsPolicy},
      {"Backend", kEnvoyGatewayGroup, &Loader::convertBackend},
      {"BackendTrafficPolicy", kEnvoyGatewayGroup, &Loader::convertTrafficPolicy},
      {"ClientTrafficPolicy", kEnvoyGatewayGroup, &Loader::convertClientTrafficPolicy},
      {"AIServiceBackend", kAIGatewayGroup, &Loader::convertAIServiceBackend},
      {"AIGatewayRoute", kAIGatewayGroup, &Loader::convertRoute},
      {"BackendSecurityPolicy", kAIGatewayGroup, &Loader::convertSecurityPolicy},
      {"Secret", kCoreGroup, nullptr, &Loader::convertSecret},
      {"ConfigMap", kCoreGroup, nullptr, &Loader::convertConfigMap},
  };
  for (const Kind& k : kKinds) {
    if (k.name == kind) return &k;
  }
  return nullptr;
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
  const Kind* known = findKind(*kind);
  const std::optional<std::string_view> expected =
      known != nullptr ? std::optional<std::string_view>(known->group) : std::nullopt;
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
  const Kind* kind = findKind(o.origin.kind);
  if (kind == nullptr) return;  // addDocument keeps only the kinds findKind knows
  if (kind->convert_object != nullptr) {
    (this->*kind->convert_object)(o, r);
    return;
  }
  const YAML::Node spec = child(o.doc, "spec");
  if (!present(spec)) {
    r.error(o.doc, "spec", "required field is missing");
    return;
  }
  if (!isMap(r, spec, "spec")) return;
  (this->*kind->convert_spec)(o, spec, r);
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
