// For tests only: reading fixture files, whose last line may end in "\n" or "\r\n" depending on
// who wrote them.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

// CMake passes both; the fallback keeps a test built by hand working.
#ifndef TOLLGATE_SHARED_DIR
#define TOLLGATE_SHARED_DIR TOLLGATE_SOURCE_DIR "/../shared"
#endif

namespace tollgate::fixtures {

namespace fs = std::filesystem;

// ../shared/conformance: recorded third-party data (its README says what each set is).
inline std::filesystem::path conformanceDir() {
  return std::filesystem::path(TOLLGATE_SHARED_DIR) / "conformance";
}

// tests/fixtures/<sub>: this project's own fixture folders.
inline std::filesystem::path fixtureDir(std::string_view sub) {
  return std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/fixtures" / sub;
}

// The whole file, bytes as they are ("" for a file that cannot be read: the comparison that
// follows then fails and names the file).
inline std::string readFileText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Without trailing line ends and spaces: a one-line fixture such as an expected path.
inline std::string trimTrailing(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The lines that have something on them, each without its line end and trailing spaces.
inline std::vector<std::string> nonEmptyLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    l = trimTrailing(std::move(l));
    if (!l.empty()) out.push_back(std::move(l));
  }
  return out;
}

}  // namespace tollgate::fixtures
