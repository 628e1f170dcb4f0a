// YAML manifests -> Config. This is the only yaml-cpp user in tollgate: every yaml-cpp exception is
// caught here and becomes a Diagnostic, so callers get a LoadResult and never an exception.
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
#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "common/strings.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDefaultNamespace = "default";
constexpr std::string_view kGatewayApiGroup = "gateway.networking.k8s.io";
constexpr std::string_view kEnvoyGatewayGroup = "gateway.envoyproxy.io";
constexpr std::string_view kAIGatewayGroup = "aigateway.envoyproxy.io";
constexpr std::string_view kCoreGroup = "";
// The dynamic-metadata namespace Envoy AI Gateway writes llmRequestCosts into; rate-limit rules
// read token costs from there.
constexpr std::string_view kAIGatewayMetadataNamespace = "io.envoy.ai_gateway";
constexpr std::string_view kCommandLine = "<command line>";
// Secret keys Envoy AI Gateway reads.
constexpr std::string_view kApiKeySecretKey = "apiKey";
constexpr std::string_view kAwsCredentialsSecretKey = "credentials";

// ---------------------------------------------------------------------------------------------
// Field paths and messages.

std::string sub(const std::string& path, std::string_view key) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string inQuotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string objectLabel(std::string_view kind, std::string_view ns, std::string_view name) {
  return std::string(kind) + " " + std::string(ns) + "/" + std::string(name);
}

std::string objectLabel(const Origin& o) { return objectLabel(o.kind, o.ns, o.name); }

// "file:line", to point at another object from a message.
std::string place(const Origin& o) {
  return o.line > 0 ? o.file + ":" + std::to_string(o.line) : o.file;
}

// ---------------------------------------------------------------------------------------------
// Reading YAML nodes without letting yaml-cpp throw.

// Absent keys come back from yaml-cpp as "zombie" nodes on which almost every call throws; only
// IsDefined() is safe, so check it first.
bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// map[key], or an undefined node when `map` is not a mapping (subscripting a scalar throws).
YAML::Node child(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}

// Reports the problems of one file or of one object. Knows where the document sits in its file so
// node marks (relative to the document's chunk) become file lines.
class Reporter {
 public:
  Reporter(std::vector<Diagnostic>* out, std::string file, int line_base, std::string object = {})
      : out_(out), file_(std::move(file)), line_base_(line_base), object_(std::move(object)) {}

  Diagnostic make(Severity severity, const YAML::Node& at, std::string field,
                  std::string message) const {
    Diagnostic d;
    d.severity = severity;
    d.file = file_;
    d.line = lineOf(at);
    d.object = object_;
    d.field = std::move(field);
    d.message = std::move(message);
    return d;
  }
  void error(const YAML::Node& at, std::string field, std::string message) const {
    out_->push_back(make(Severity::kError, at, std::move(field), std::move(message)));
  }
  void warning(const YAML::Node& at, std::string field, std::string message) const {
    out_->push_back(make(Severity::kWarning, at, std::move(field), std::move(message)));
  }
  void info(const YAML::Node& at, std::string field, std::string message) const {
    out_->push_back(make(Severity::kInfo, at, std::move(field), std::move(message)));
  }

  int lineOf(const YAML::Node& n) const {
    if (!n.IsDefined()) return 0;
    const YAML::Mark mark = n.Mark();
    if (mark.is_null()) return 0;
    return line_base_ + mark.line + 1;
  }

 private:
  std::vector<Diagnostic>* out_;
  std::string file_;
  int line_base_;
  std::string object_;
};

// True when n is a mapping; reports an error when it is present but something else.
bool isMap(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) return false;
  if (n.IsMap()) return true;
  r.error(n, path, "expected a mapping");
  return false;
}

// Like isMap, but an absent or empty value is an error too (list items, required blocks).
bool requireMap(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) {
    r.error(n, path, "expected a mapping, found nothing");
    return false;
  }
  return isMap(r, n, path);
}

// Calls fn(item, item_path) for every item when n is a sequence; anything else but null is an
// error.
template <typename Fn>
void forEach(const Reporter& r, const YAML::Node& n, const std::string& path, Fn&& fn) {
  if (!present(n)) return;
  if (!n.IsSequence()) {
    r.error(n, path, "expected a list");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) fn(n[i], idx(path, i));
}

std::optional<std::string> getString(const Reporter& r, const YAML::Node& n,
                                     const std::string& path) {
  if (!present(n)) return std::nullopt;
  if (!n.IsScalar()) {
    r.error(n, path, "expected a string");
    return std::nullopt;
  }
  return n.Scalar();
}

// A required, non-empty string at parent[key].
std::optional<std::string> requireString(const Reporter& r, const YAML::Node& parent,
                                         const char* key, const std::string& parent_path) {
  const std::string path = sub(parent_path, key);
  const YAML::Node n = child(parent, key);
  if (!present(n)) {
    r.error(parent, path, "required field is missing");
    return std::nullopt;
  }
  std::optional<std::string> s = getString(r, n, path);
  if (s && s->empty()) {
    r.error(n, path, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> getInt(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) return std::nullopt;
  if (!n.IsScalar()) {
    r.error(n, path, "expected an integer");
    return std::nullopt;
  }
  std::string_view s = n.Scalar();
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    r.error(n, path, "expected an integer, got " + inQuotes(n.Scalar()));
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> getIntInRange(const Reporter& r, const YAML::Node& n,
                                     const std::string& path, int64_t lo, int64_t hi) {
  const std::optional<int64_t> value = getInt(r, n, path);
  if (!value) return std::nullopt;
  if (*value < lo || *value > hi) {
    r.error(n, path,
            "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                std::to_string(*value));
    return std::nullopt;
  }
  return value;
}

// A required port (1..65535) at parent[key].
std::optional<uint16_t> requirePort(const Reporter& r, const YAML::Node& parent, const char* key,
                                    const std::string& parent_path) {
  const YAML::Node n = child(parent, key);
  if (!present(n)) {
    r.error(parent, sub(parent_path, key), "required field is missing");
    return std::nullopt;
  }
  const std::optional<int64_t> port = getIntInRange(r, n, sub(parent_path, key), 1, 65535);
  if (!port) return std::nullopt;
  return static_cast<uint16_t>(*port);
}

std::optional<bool> getBool(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) return std::nullopt;
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  r.error(n, path, "expected true or false");
  return std::nullopt;
}

template <typename E>
using EnumNames = std::initializer_list<std::pair<std::string_view, E>>;

// Enum values are case-sensitive, as the Kubernetes API server treats them.
template <typename E>
std::optional<E> getEnum(const Reporter& r, const YAML::Node& n, const std::string& path,
                         EnumNames<E> allowed) {
  const std::optional<std::string> s = getString(r, n, path);
  if (!s) return std::nullopt;
  for (const auto& entry : allowed) {
    if (*s == entry.first) return entry.second;
  }
  std::string list;
  for (const auto& entry : allowed) {
    if (!list.empty()) list += ", ";
    list += entry.first;
  }
  r.error(n, path, "unknown value " + inQuotes(*s) + "; allowed: " + list);
  return std::nullopt;
}

template <typename E>
std::optional<E> requireEnum(const Reporter& r, const YAML::Node& parent, const char* key,
                             const std::string& parent_path, EnumNames<E> allowed) {
  const YAML::Node n = child(parent, key);
  if (!present(n)) {
    r.error(parent, sub(parent_path, key), "required field is missing");
    return std::nullopt;
  }
  return getEnum<E>(r, n, sub(parent_path, key), allowed);
}

// Kubernetes objects nest a dozen levels at most. The limit stops the recursive walks below on a
// self-referencing alias ("a: &x {b: *x}"), which yaml-cpp turns into a cyclic node.
constexpr int kMaxDepth = 64;

// A stable text form of a node: maps with sorted keys, no styles or comments. Two definitions of
// an object with the same form are the same object, written twice.
void appendCanonical(const YAML::Node& n, std::string& out, int depth = 0) {
  if (depth > kMaxDepth) {
    out += '!';
    return;
  }
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out += '~';
      return;
    case YAML::NodeType::Scalar:
      out += std::to_string(n.Scalar().size());
      out += ':';
      out += n.Scalar();
      return;
    case YAML::NodeType::Sequence:
      out += '[';
      for (size_t i = 0; i < n.size(); ++i) {
        appendCanonical(n[i], out, depth + 1);
        out += ',';
      }
      out += ']';
      return;
    case YAML::NodeType::Map: {
      std::vector<std::pair<std::string, std::string>> entries;
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::pair<std::string, std::string> entry;
        appendCanonical(it->first, entry.first, depth + 1);
        appendCanonical(it->second, entry.second, depth + 1);
        entries.push_back(std::move(entry));
      }
      std::sort(entries.begin(), entries.end());
      out += '{';
      for (const auto& [key, value] : entries) {
        out += key;
        out += '=';
        out += value;
        out += ',';
      }
      out += '}';
      return;
    }
  }
}

// yaml-cpp keeps both entries of a repeated key and answers look-ups with the first; kubectl
// rejects such a document, and silently using one of the values would hide a mistake.
bool checkKeys(const YAML::Node& n, const std::string& path, const Reporter& r, int depth = 0) {
  if (depth > kMaxDepth) {
    constexpr size_t kShownPath = 60;
    r.error(n, path.size() > kShownPath ? path.substr(0, kShownPath) + "..." : path,
            "nested too deeply (more than " + std::to_string(kMaxDepth) +
                " levels; a recursive alias?)");
    return false;
  }
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      if (!checkKeys(n[i], idx(path, i), r, depth + 1)) return false;
    }
  } else if (n.IsMap()) {
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (it->first.IsScalar() && !seen.insert(key).second) {
        r.error(it->first, sub(path, key), "duplicate key " + inQuotes(key));
      }
      if (!checkKeys(it->second, sub(path, key), r, depth + 1)) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Splitting a file into documents.

// One document (a "---" line starts one, a "..." line ends one), with the file line it starts on.
// Parsing documents one by one means a syntax error loses only its own document, and line numbers
// stay right: yaml-cpp counts from the start of the text it is given.
// YAML aliases share nodes, so a few hundred bytes can stand for billions of them ("billion
// laughs"), and the loader walks the expanded tree: a document that expands past this many nodes
// is refused before anything walks it. Real manifests have a few thousand.
constexpr size_t kMaxExpandedNodes = 250'000;

// The node count of the tree with every alias expanded, counted only up to just past `limit`,
// and (like the walks above) not below kMaxDepth, where a self-referencing alias would never end.
size_t countExpandedNodes(const YAML::Node& root, size_t limit) {
  std::vector<std::pair<YAML::Node, int>> pending{{root, 0}};
  size_t count = 0;
  while (!pending.empty() && count <= limit) {
    const auto [n, depth] = pending.back();
    pending.pop_back();
    ++count;
    if (depth > kMaxDepth) continue;
    if (n.IsSequence()) {
      for (const auto& c : n) pending.emplace_back(c, depth + 1);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        pending.emplace_back(kv.first, depth + 1);
        pending.emplace_back(kv.second, depth + 1);
      }
    }
  }
  return count;
}

struct Chunk {
  std::string text;
  int line_base = 0;  // 0-based file line of the chunk's first line
};

bool isDocumentStart(std::string_view line) {
  return line.substr(0, 3) == "---" &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

// "..." ends a document; what follows (without a "---") is the next one.
bool isDocumentEnd(std::string_view line) {
  return line.substr(0, 3) == "..." &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

// Blank lines, comments and directives may come before a document's "---" without being content.
bool isPreamble(std::string_view line) {
  const size_t i = line.find_first_not_of(" \t\r");
  return i == std::string_view::npos || line[i] == '#' || line[0] == '%';
}

std::vector<Chunk> splitDocuments(std::string_view text) {
  std::vector<Chunk> chunks(1);
  bool has_content = false;
  bool started = false;  // the chunk has its "---" line
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t newline = text.find('\n', pos);
    const size_t line_end = newline == std::string_view::npos ? text.size() : newline;
    const size_t next = newline == std::string_view::npos ? text.size() : newline + 1;
    const std::string_view line = text.substr(pos, line_end - pos);
    if (isDocumentStart(line)) {
      // A "---" after content, or after an earlier "---" whose document stayed empty, starts a
      // new chunk: each chunk holds one document.
      if (has_content || started) {
        chunks.push_back(Chunk{{}, line_no});
        has_content = false;
      }
      started = true;
      // "--- key: value" starts a document and holds content on the same line.
      if (!isPreamble(line.substr(3))) has_content = true;
    } else if (!isPreamble(line)) {
      has_content = true;
    }
    chunks.back().text.append(text.substr(pos, next - pos));
    pos = next;
    ++line_no;
    if (isDocumentEnd(line) && has_content) {
      chunks.push_back(Chunk{{}, line_no});
      has_content = false;
      started = false;
    }
  }
  return chunks;
}

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

// ---------------------------------------------------------------------------------------------
// The loader.

// An object as read, before conversion.
struct RawObject {
  Origin origin;  // origin.kind is the kind
  YAML::Node doc;
  int line_base = 0;
  std::string canonical;
  std::vector<Origin> replaced;  // earlier, different definitions it replaced, in load order
};

// BackendTLSPolicy has no struct of its own: it only changes the Backends it targets.
// One entry of caCertificateRefs, resolved once every object is loaded.
struct CaRef {
  std::string kind;  // ConfigMap or Secret
  std::string name;  // same namespace as the referring object
  Diagnostic where;  // the error to report when it leads nowhere; message filled in then
};

struct TlsPolicy {
  Origin origin;
  std::vector<std::string> target_backends;  // same namespace as the policy
  bool system_cas = true;
  std::string hostname;
  std::vector<CaRef> ca_refs;
};

// caCertificateRefs written on a Backend's own spec.tls.
struct PendingBackendCa {
  size_t backend = 0;  // index into Config::backends
  std::vector<CaRef> refs;
};

// A reference to check once every object is known; `if_missing` is reported when it leads nowhere.
struct PendingRef {
  std::string kind;
  std::string ns;
  std::string name;
  Diagnostic if_missing;
};

// A Secret a BackendSecurityPolicy needs; `where` points at the secretRef.
struct PendingSecret {
  size_t policy = 0;                  // index into Config::security_policies
  bool aws_credentials_file = false;  // else an API key
  std::string ns;
  std::string name;
  Diagnostic where;
};

// The older way to attach a policy: AIServiceBackend.spec.backendSecurityPolicyRef.
struct PendingPolicyLink {
  std::string backend;
  std::string ns;
  std::string policy;
  Diagnostic where;
};

// A rate-limit rule charging a response cost read from a metadata key some route must define.
struct PendingCostKey {
  std::string key;
  Diagnostic where;
};

class Loader {
 public:
  explicit Loader(const LoadOptions& opts) : opts_(opts) {}

  void addPath(const std::string& path);
  // line_offset shifts every reported line: -1 with one single-line document (a JSON object from
  // the API server) reports no line at all, since none would mean anything to the reader.
  void addText(std::string_view text, const std::string& file, int line_offset = 0);
  // One single-line document known as `label` ("Kind ns/name"): a problem found before the
  // object's name could be read (unparsable text) is still reported against it.
  void addObjectText(std::string_view text, const std::string& file, const std::string& label);
  LoadResult finish();

 private:
  // How a reference to an object that was not loaded reads ("which no loaded file defines").
  const std::string& missing() const { return opts_.missing_phrase; }
  void addFile(const std::string& path);
  void addDocument(const YAML::Node& doc, const std::string& file, int line_base);
  void addObject(RawObject object);
  void fileProblem(Severity severity, const std::string& file, std::string message);

  void convert(const RawObject& o);
  void convertGateway(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertBackend(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertAIServiceBackend(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertRoute(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertSecurityPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertTlsPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertClientTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertSecret(const RawObject& o, const Reporter& r);
  void convertConfigMap(const RawObject& o, const Reporter& r);
  std::vector<CaRef> parseCaRefs(const YAML::Node& tls, const std::string& path, const Reporter& r);
  // The CA bundle `refs` name (namespace `ns`), or nullopt after reporting why there is none.
  std::optional<std::string> resolveCaBundle(std::vector<CaRef>& refs, const std::string& ns,
                                             std::string* source);
  std::optional<RateLimitRule> parseRateLimitRule(const YAML::Node& n, const std::string& path,
                                                  const Reporter& r);
  std::optional<HeaderMatch> parseHeaderMatch(const YAML::Node& n, const std::string& path,
                                              bool rate_limit, const Reporter& r);

  void reportDuplicates();
  void linkSecurityPolicies();
  void checkSecurityPolicyTargets();
  void resolveSecrets();
  void applyTlsPolicies();
  void applyOverrides();
  void checkReferences();
  void checkSharedTrafficPolicies();

  const LoadOptions& opts_;
  std::vector<Diagnostic> diags_;
  std::vector<RawObject> objects_;              // in order of first definition
  std::map<std::string, size_t> object_index_;  // "Kind/ns/name" -> objects_ index
  std::set<std::string> loaded_files_;          // canonical paths, to read each file once
  Config config_;
  std::vector<TlsPolicy> tls_policies_;
  std::vector<PendingBackendCa> backend_cas_;
  std::vector<PendingRef> refs_;
  std::vector<PendingSecret> secrets_;
  std::vector<PendingPolicyLink> policy_links_;
  std::vector<PendingCostKey> cost_keys_;
  std::set<std::string> route_cost_keys_;  // every llmRequestCosts metadataKey of every route
};

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

// Reads targetRefs (and the older single targetRef) of an Envoy Gateway policy. Gateways go to
// `gateways`; HTTPRoutes go to `routes` when given (see BackendTrafficPolicy::target_routes).
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

// Spec fields of a policy that tollgate reads nothing from get one info line each, so users do not
// believe a retry or timeout setting is in force.
void reportUnusedFields(const YAML::Node& map, const std::string& path,
                        std::initializer_list<std::string_view> used, const Reporter& r) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    if (std::find(used.begin(), used.end(), key) != used.end()) continue;
    r.info(it->first, sub(path, key), "not used by tollgate (ignored)");
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
        pending.aws_credentials_file ? kAwsCredentialsSecretKey : kApiKeySecretKey;
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
    if (pending.aws_credentials_file) {
      policy.aws.credentials_file_content = it->second;
      continue;
    }
    // `echo KEY | base64` leaves a newline in the secret, which would break the header.
    policy.api_key = trim(it->second);
    if (policy.api_key.empty()) {
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

}  // namespace

LoadResult loadFiles(const std::vector<std::string>& paths, const LoadOptions& opts) {
  Loader loader(opts);
  for (const std::string& path : paths) loader.addPath(path);
  return loader.finish();
}

LoadResult loadString(const std::string& yaml_text, const std::string& name,
                      const LoadOptions& opts) {
  Loader loader(opts);
  loader.addText(yaml_text, name);
  return loader.finish();
}

LoadResult loadObjects(const std::vector<std::pair<std::string, std::string>>& objects,
                       const std::string& source, const LoadOptions& opts) {
  Loader loader(opts);
  for (const auto& [label, text] : objects) loader.addObjectText(text, source, label);
  return loader.finish();
}

std::optional<uint64_t> parseDurationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t total = 0;
  int parts = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    const size_t digits = i - start;
    if (digits == 0 || digits > 5 || ++parts > 4) return std::nullopt;
    uint64_t value = 0;
    std::from_chars(text.data() + start, text.data() + i, value);
    uint64_t unit_ms = 0;
    if (text.substr(i, 2) == "ms") {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 3600 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else {
      return std::nullopt;
    }
    total += value * unit_ms;  // at most 4 * 99999h: far from overflowing
  }
  return total;
}

std::optional<uint64_t> parseQuantityBytes(std::string_view text) {
  // Grammar (k8s.io/apimachinery resource.Quantity): [+]digits[.digits] then a binary suffix
  // (Ki..Ei), a decimal one (m, k, M..E) or an exponent (e3, E-2). Exact arithmetic on 128 bits;
  // a fraction of a byte rounds up, as Quantity.Value() does.
  using U128 = unsigned __int128;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::string digits;  // without leading zeros
  int fraction_digits = 0;
  bool seen_digit = false;
  bool seen_dot = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (!(digits.empty() && c == '0')) digits += c;
      if (seen_dot) ++fraction_digits;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!seen_digit || digits.size() > 36) return std::nullopt;
  U128 value = 0;
  for (const char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');

  const std::string_view suffix = text.substr(i);
  int exponent10 = 0;
  int shift = 0;
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    const size_t pos = std::string_view("KMGTPE").find(suffix[0]);
    if (pos == std::string_view::npos) return std::nullopt;
    shift = 10 * static_cast<int>(pos + 1);
  } else if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view exponent = suffix.substr(1);
    if (!exponent.empty() && exponent.front() == '+') exponent.remove_prefix(1);
    const auto [end, ec] =
        std::from_chars(exponent.data(), exponent.data() + exponent.size(), exponent10);
    if (exponent.empty() || ec != std::errc() || end != exponent.data() + exponent.size() ||
        exponent10 > 1000 || exponent10 < -1000) {
      return std::nullopt;
    }
  } else if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'm':
        exponent10 = -3;
        break;
      case 'k':
        exponent10 = 3;
        break;
      case 'M':
        exponent10 = 6;
        break;
      case 'G':
        exponent10 = 9;
        break;
      case 'T':
        exponent10 = 12;
        break;
      case 'P':
        exponent10 = 15;
        break;
      case 'E':
        exponent10 = 18;
        break;
      default:
        return std::nullopt;
    }
  } else {
    return std::nullopt;
  }

  constexpr U128 kMax = ~U128{0};
  if (shift > 0) {
    if (value > (kMax >> shift)) return std::nullopt;
    value <<= shift;
  }
  int scale = exponent10 - fraction_digits;
  for (; scale > 0; --scale) {
    if (value > kMax / 10) return std::nullopt;
    value *= 10;
  }
  if (scale < 0) {
    if (scale < -38) {
      value = value != 0 ? 1 : 0;
    } else {
      U128 divisor = 1;
      for (; scale < 0; ++scale) divisor *= 10;
      value = value / divisor + (value % divisor != 0 ? 1 : 0);
    }
  }
  if (value > std::numeric_limits<uint64_t>::max()) return std::nullopt;
  return static_cast<uint64_t>(value);
}

std::optional<std::string> decodeBase64(std::string_view text) {
  const auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  size_t data_chars = 0;
  size_t padding = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    const int v = sextet(c);
    if (v < 0) return std::nullopt;
    bits = ((bits << 6) | static_cast<uint32_t>(v)) & 0xFFFFFF;
    bit_count += 6;
    ++data_chars;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  if (data_chars % 4 == 1) return std::nullopt;
  if (padding > 2 || (padding > 0 && (data_chars + padding) % 4 != 0)) return std::nullopt;
  return out;
}

}  // namespace tollgate::config
