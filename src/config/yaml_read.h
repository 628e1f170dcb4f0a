// Reading Kubernetes manifests with yaml-cpp without letting it throw, and saying what is wrong
// with a file, line, object and field path. Internal to config/: the loader and its per-kind
// converters use it, nothing outside config/ includes it. No shared state: a Reporter appends to
// the diagnostics vector its creator owns, so one thread uses one Reporter at a time.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.h"

namespace tollgate::config::detail {

// ---------------------------------------------------------------------------------------------
// Field paths and messages.

// "path.key" ("key" when path is empty).
std::string sub(const std::string& path, std::string_view key);
// "path[i]".
std::string idx(const std::string& path, size_t i);
std::string inQuotes(std::string_view s);
// "Kind ns/name".
std::string objectLabel(std::string_view kind, std::string_view ns, std::string_view name);
std::string objectLabel(const Origin& o);
// "file:line", to point at another object from a message.
std::string place(const Origin& o);

// ---------------------------------------------------------------------------------------------
// Reading YAML nodes without letting yaml-cpp throw.

// Absent keys come back from yaml-cpp as "zombie" nodes on which almost every call throws; only
// IsDefined() is safe, so check it first.
bool present(const YAML::Node& n);

// map[key], or an undefined node when `map` is not a mapping (subscripting a scalar throws).
YAML::Node child(const YAML::Node& map, const char* key);

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
bool isMap(const Reporter& r, const YAML::Node& n, const std::string& path);

// Like isMap, but an absent or empty value is an error too (list items, required blocks).
bool requireMap(const Reporter& r, const YAML::Node& n, const std::string& path);

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

// The getX readers return nullopt, without a message, for an absent or null node, and after
// reporting an error for a node of the wrong type; the requireX readers report an absent one too.
std::optional<std::string> getString(const Reporter& r, const YAML::Node& n,
                                     const std::string& path);

// A required, non-empty string at parent[key].
std::optional<std::string> requireString(const Reporter& r, const YAML::Node& parent,
                                         const char* key, const std::string& parent_path);

std::optional<int64_t> getInt(const Reporter& r, const YAML::Node& n, const std::string& path);

std::optional<int64_t> getIntInRange(const Reporter& r, const YAML::Node& n,
                                     const std::string& path, int64_t lo, int64_t hi);

// A duration above zero (Gateway API syntax: 10s, 1m, 500ms) in milliseconds; an error for a
// malformed or zero one. The traffic policies' timeouts, where zero would mean "closed at once".
std::optional<uint64_t> getPositiveDurationMs(const Reporter& r, const YAML::Node& n,
                                              const std::string& path);

// spec.timeout.http of a traffic policy (Client- or BackendTrafficPolicy), its fields other than
// `used` reported as unused; an undefined node when there is none (or it is not a map: reported).
YAML::Node getHttpTimeouts(const Reporter& r, const YAML::Node& spec,
                           std::initializer_list<std::string_view> used);

// A required port (1..65535) at parent[key].
std::optional<uint16_t> requirePort(const Reporter& r, const YAML::Node& parent, const char* key,
                                    const std::string& parent_path);

std::optional<bool> getBool(const Reporter& r, const YAML::Node& n, const std::string& path);

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

// Spec fields of a policy that tollgate reads nothing from get one info line each, so users do not
// believe a retry or timeout setting is in force.
void reportUnusedFields(const YAML::Node& map, const std::string& path,
                        std::initializer_list<std::string_view> used, const Reporter& r);

// ---------------------------------------------------------------------------------------------
// Whole documents.

// A stable text form of a node: maps with sorted keys, no styles or comments. Two definitions of
// an object with the same form are the same object, written twice.
void appendCanonical(const YAML::Node& n, std::string& out, int depth = 0);

// yaml-cpp keeps both entries of a repeated key and answers look-ups with the first; kubectl
// rejects such a document, and silently using one of the values would hide a mistake.
bool checkKeys(const YAML::Node& n, const std::string& path, const Reporter& r, int depth = 0);

// YAML aliases share nodes, so a few hundred bytes can stand for billions of them ("billion
// laughs"), and the loader walks the expanded tree: a document that expands past this many nodes
// is refused before anything walks it. Real manifests have a few thousand.
constexpr size_t kMaxExpandedNodes = 250'000;

// The node count of the tree with every alias expanded, counted only up to just past `limit`,
// and (like the recursive walks above) not below a depth where a self-referencing alias would
// never end.
size_t countExpandedNodes(const YAML::Node& root, size_t limit);

// One document (a "---" line starts one, a "..." line ends one), with the file line it starts on.
// Parsing documents one by one means a syntax error loses only its own document, and line numbers
// stay right: yaml-cpp counts from the start of the text it is given.
struct Chunk {
  std::string text;
  int line_base = 0;  // 0-based file line of the chunk's first line
};

std::vector<Chunk> splitDocuments(std::string_view text);

}  // namespace tollgate::config::detail
