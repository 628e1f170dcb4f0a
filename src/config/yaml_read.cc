#include "config/yaml_read.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <system_error>

namespace tollgate::config::detail {

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

std::string place(const Origin& o) {
  return o.line > 0 ? o.file + ":" + std::to_string(o.line) : o.file;
}

bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

YAML::Node child(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}

bool isMap(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) return false;
  if (n.IsMap()) return true;
  r.error(n, path, "expected a mapping");
  return false;
}

bool requireMap(const Reporter& r, const YAML::Node& n, const std::string& path) {
  if (!present(n)) {
    r.error(n, path, "expected a mapping, found nothing");
    return false;
  }
  return isMap(r, n, path);
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

std::optional<uint64_t> getPositiveDurationMs(const Reporter& r, const YAML::Node& n,
                                              const std::string& path) {
  const std::optional<std::string> text = getString(r, n, path);
  if (!text) return std::nullopt;
  const std::optional<uint64_t> ms = parseDurationMs(*text);
  if (!ms || *ms == 0) {
    r.error(n, path, "invalid duration " + inQuotes(*text) + "; expected e.g. 10s, 1m, 500ms");
    return std::nullopt;
  }
  return ms;
}

YAML::Node getHttpTimeouts(const Reporter& r, const YAML::Node& spec,
                           std::initializer_list<std::string_view> used) {
  const YAML::Node timeout = child(spec, "timeout");
  if (!isMap(r, timeout, "spec.timeout")) return YAML::Node(YAML::NodeType::Undefined);
  reportUnusedFields(timeout, "spec.timeout", {"http"}, r);
  const YAML::Node http = child(timeout, "http");
  if (!isMap(r, http, "spec.timeout.http")) return YAML::Node(YAML::NodeType::Undefined);
  reportUnusedFields(http, "spec.timeout.http", used, r);
  return http;
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

void reportUnusedFields(const YAML::Node& map, const std::string& path,
                        std::initializer_list<std::string_view> used, const Reporter& r) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    if (std::find(used.begin(), used.end(), key) != used.end()) continue;
    r.info(it->first, sub(path, key), "not used by tollgate (ignored)");
  }
}

namespace {

// Kubernetes objects nest a dozen levels at most. The limit stops the recursive walks below on a
// self-referencing alias ("a: &x {b: *x}"), which yaml-cpp turns into a cyclic node.
constexpr int kMaxDepth = 64;

}  // namespace

void appendCanonical(const YAML::Node& n, std::string& out, int depth) {
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

bool checkKeys(const YAML::Node& n, const std::string& path, const Reporter& r, int depth) {
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

namespace {

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

}  // namespace

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

}  // namespace tollgate::config::detail
