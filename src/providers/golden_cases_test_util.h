// Data-driven translator tests: a case is a folder under tests/fixtures/translators/<pair>/, run
// through a fresh translator by runGoldenCases. A new case is a new folder, not new code. Files:
//   request.json               the client body (required)
//   model_override             the route's modelNameOverride (optional)
//   expected_error.json        {"status": N, "message_contains": "..."}: translateRequest fails
//   expected_upstream.json     the body sent upstream (compared as JSON values)
//   expected_path              the upstream path and query
//   upstream_status            the backend's status (default 200)
//   upstream_response.json     a JSON answer, and expected_client.json what the client gets
//   upstream_stream.txt        an SSE answer, and expected_client_stream.txt (compared byte for
//                              byte; fed whole, in 7-byte and in 1-byte pieces)
//   expected_status            the status the client gets (default: the upstream's)
//   expected_usage.json        {"input", "output", "cached", "total"} (optional)
// Time stamps ("created", "created_at") are compared as 0: see zeroClock.
// TOLLGATE_UPDATE_GOLDEN=1 writes the expected_* files from what the translator produced (then
// read them: a golden file is a claim).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "providers/translator.h"

namespace tollgate::providers::golden {

namespace fs = std::filesystem;

inline std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string readTrimmed(const fs::path& p) {
  std::string s = readText(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline bool updating() {
  const char* v = std::getenv("TOLLGATE_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

inline void writeText(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

inline std::string pretty(const boost::json::value& v, int indent = 0) {
  // Stable, readable golden files: two-space indentation, keys in the translator's order.
  std::string pad(indent, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) return "{}";
    std::string s = "{\n";
    bool first = true;
    for (const auto& kv : o) {
      if (!first) s += ",\n";
      first = false;
      s += pad + "  " + boost::json::serialize(boost::json::value(kv.key())) + ": " +
           pretty(kv.value(), indent + 2);
    }
    return s + "\n" + pad + "}";
  }
  if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) return "[]";
    std::string s = "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      if (i > 0) s += ",\n";
      s += pad + "  " + pretty(a[i], indent + 2);
    }
    return s + "\n" + pad + "]";
  }
  return boost::json::serialize(v);
}

// Translators to a backend that reports no time stamp the answer with the clock; the goldens
// hold 0 there ("created": 0), and what a translator produced is compared with its time zeroed.
inline std::string zeroClock(const std::string& text) {
  static const std::regex kCreated(R"re("(created|created_at)":\s*[0-9]+)re");
  return std::regex_replace(text, kCreated, "\"$1\":0");
}

// `got` (JSON text) equals the JSON in file `name` of `dir`, or is written there when updating.
inline void expectJsonFile(const fs::path& dir, const char* name, const std::string& got_text) {
  const std::string got = zeroClock(got_text);
  boost::system::error_code ec;
  const boost::json::value got_v = boost::json::parse(got, ec);
  ASSERT_FALSE(ec) << name << ": the translator produced no JSON: " << got;
  if (updating()) {
    writeText(dir / name, pretty(got_v) + "\n");
    return;
  }
  ASSERT_TRUE(fs::exists(dir / name)) << name << " missing";
  const boost::json::value want = boost::json::parse(zeroClock(readText(dir / name)));
  EXPECT_EQ(boost::json::serialize(got_v), boost::json::serialize(want)) << name;
}

inline void expectTextFile(const fs::path& dir, const char* name, const std::string& got_text,
                           size_t piece) {
  const std::string got = zeroClock(got_text);
  if (updating()) {
    writeText(dir / name, got);
    return;
  }
  EXPECT_EQ(got, zeroClock(readText(dir / name))) << name << ", fed in pieces of " << piece;
}

using Factory = std::function<std::unique_ptr<Translator>()>;

// Runs one case folder through translators from `make`.
inline void runGoldenCase(const Factory& make, api::ApiKind kind, const fs::path& d) {
  SCOPED_TRACE(d.filename().string());
  const std::string body = readText(d / "request.json");
  const std::string override_model =
      fs::exists(d / "model_override") ? readTrimmed(d / "model_override") : "";
  auto parsed = api::parseRequest(kind, body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().public_message;

  const bool stream = fs::exists(d / "upstream_stream.txt");
  const std::string response =
      readText(d / (stream ? "upstream_stream.txt" : "upstream_response.json"));
  const int upstream_status =
      fs::exists(d / "upstream_status") ? std::stoi(readTrimmed(d / "upstream_status")) : 200;
  for (size_t piece : {size_t{1} << 24, size_t{7}, size_t{1}}) {
    if (!stream && piece != (size_t{1} << 24)) break;
    std::unique_ptr<Translator> t = make();
    auto up = t->translateRequest(*parsed, body, override_model);
    if (fs::exists(d / "expected_error.json")) {
      ASSERT_FALSE(up.ok()) << "the request was accepted";
      const auto want = boost::json::parse(readText(d / "expected_error.json")).as_object();
      EXPECT_EQ(up.error().httpStatus(), want.at("status").to_number<int>());
      EXPECT_NE(up.error().public_message.find(want.at("message_contains").as_string().c_str()),
                std::string::npos)
          << up.error().public_message;
      return;
    }
    ASSERT_TRUE(up.ok()) << up.error().public_message;
    if (piece == (size_t{1} << 24)) {
      expectJsonFile(d, "expected_upstream.json", up->body_unchanged ? body : up->body);
      if (fs::exists(d / "expected_path")) {
        EXPECT_EQ(up->path, readTrimmed(d / "expected_path"));
      }
    }
    const ResponseStart start =
        t->onResponseStart(upstream_status, stream ? "text/event-stream" : "application/json", {});
    EXPECT_EQ(start.stream, stream);
    std::string out;
    ResponseOutput last;
    if (stream) {
      for (size_t i = 0; i < response.size(); i += piece)
        last = t->onChunk(std::string_view(response).substr(i, piece), false, out);
      last = t->onChunk({}, true, out);
      expectTextFile(d, "expected_client_stream.txt", out, piece);
    } else {
      out = response;
      last = t->onBody(out);
      expectJsonFile(d, "expected_client.json", out);
    }
    const int want_status = fs::exists(d / "expected_status")
                                ? std::stoi(readTrimmed(d / "expected_status"))
                                : upstream_status;
    EXPECT_EQ(last.status, want_status);
    if (fs::exists(d / "expected_usage.json")) {
      const auto want = boost::json::parse(readText(d / "expected_usage.json")).as_object();
      EXPECT_TRUE(last.usage.known);
      EXPECT_EQ(last.usage.input_tokens, want.at("input").to_number<uint64_t>());
      EXPECT_EQ(last.usage.output_tokens, want.at("output").to_number<uint64_t>());
      EXPECT_EQ(last.usage.cached_input_tokens, want.at("cached").to_number<uint64_t>());
      EXPECT_EQ(last.usage.total_tokens, want.at("total").to_number<uint64_t>());
    }
  }
}

// Runs every case folder of tests/fixtures/translators/<pair>/; returns how many there were.
inline int runGoldenCases(const std::string& pair, const Factory& make, api::ApiKind kind) {
  const fs::path root = fs::path(TOLLGATE_SOURCE_DIR) / "tests/fixtures/translators" / pair;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    ++cases;
    runGoldenCase(make, kind, entry.path());
  }
  return cases;
}

}  // namespace tollgate::providers::golden
