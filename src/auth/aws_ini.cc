#include "auth/aws_credentials_internal.h"
#include "common/strings.h"

namespace tollgate::auth {

std::string_view detail::trim(std::string_view s) {
  while (!s.empty() && (isBlank(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

using detail::fail;
using detail::isBlank;
using detail::trim;

Result<IniSections> parseIni(std::string_view text, std::string_view file_name) {
  IniSections out;
  std::map<std::string, std::string>* section = nullptr;
  bool have_key = false;
  size_t line_no = 0;
  auto error = [&](std::string_view what) {
    return fail(std::string(file_name) + " line " + std::to_string(line_no) + ": " +
                std::string(what));
  };
  // Cuts an inline comment: '#' or ';' after whitespace (a value itself never holds one there).
  auto stripComment = [](std::string_view s) {
    for (size_t i = 1; i < s.size(); ++i) {
      if ((s[i] == '#' || s[i] == ';') && isBlank(s[i - 1])) return s.substr(0, i);
    }
    return s;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == 1 && raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);  // UTF-8 BOM
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (isBlank(raw.front())) {
      // A nested value ("s3 =\n  max_concurrent_requests = 10"): part of the key above.
      if (!have_key) return error("indented line outside a key");
      continue;
    }
    if (line.front() == '[') {
      line = trim(stripComment(line));
      if (line.back() != ']') return error("section header without a closing ']'");
      std::string_view name = trim(line.substr(1, line.size() - 2));
      if (name.empty()) return error("empty section name");
      section = &out[std::string(name)];
      have_key = false;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return error("expected 'key = value'");
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) return error("expected 'key = value'");
    if (!section) return error("key outside any [section]");
    (*section)[toLower(key)] = std::string(trim(stripComment(trim(line.substr(eq + 1)))));
    have_key = true;
  }
  return out;
}

}  // namespace tollgate::auth
