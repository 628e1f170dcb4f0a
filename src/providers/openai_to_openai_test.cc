// Data-driven: each folder of tests/fixtures/providers/openai/ is one case (see its files). A new
// case is a new folder, not new code.
#include "providers/openai_to_openai.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tollgate::providers {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& p, bool trim = false) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (trim)
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

api::ApiKind apiOf(const std::string& s) {
  if (s == "completions") return api::ApiKind::kCompletions;
  if (s == "embeddings") return api::ApiKind::kEmbeddings;
  return api::ApiKind::kChatCompletions;
}

const fs::path kDir = fs::path(TOLLGATE_SOURCE_DIR) / "tests/fixtures/providers/openai";

TEST(OpenAIPassthrough, FixtureCases) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const fs::path& d = entry.path();
    SCOPED_TRACE(d.filename().string());
    ++cases;
    const auto kind = apiOf(readFile(d / "client_api", true));
    const std::string body = readFile(d / "request.json");
    const std::string override_model =
        fs::exists(d / "model_override") ? readFile(d / "model_override", true) : "";
    auto parsed = api::parseRequest(kind, body);
    ASSERT_TRUE(parsed.ok()) << parsed.error().public_message;

    // Whole-body and piece-by-piece feeding must give the same client bytes.
    for (size_t piece_size : {size_t{1}, size_t{7}, size_t{1} << 20}) {
      OpenAIToOpenAITranslator t(kind, "");
      auto up = t.translateRequest(*parsed, body, override_model);
      ASSERT_TRUE(up.ok());
      EXPECT_EQ(up->path,
                kind == api::ApiKind::kCompletions ? "/v1/completions" : "/v1/chat/completions");
      EXPECT_EQ(up->body_unchanged ? body : up->body, readFile(d / "upstream_request.json"));

      const std::string ct = readFile(d / "response_content_type", true);
      const std::string response = readFile(d / "response.txt");
      const bool stream = ct.find("event-stream") != std::string::npos;
      const ResponseStart start = t.onResponseStart(200, ct, {});
      EXPECT_EQ(start.stream, stream);
      EXPECT_EQ(start.content_type, "");  // the upstream's passes
      std::string out;
      ResponseOutput last;
      if (stream) {
        for (size_t i = 0; i < response.size(); i += piece_size)
          last = t.onChunk(std::string_view(response).substr(i, piece_size), false, out);
        last = t.onChunk({}, true, out);
      } else {
        last = t.onChunk(response, true, out);
      }
      EXPECT_EQ(out, readFile(d / "client_response.txt")) << "piece size " << piece_size;

      auto want = boost::json::parse(readFile(d / "usage.json")).as_object();
      EXPECT_EQ(last.usage.known, want["known"].as_bool());
      EXPECT_EQ(last.usage.input_tokens, want["input"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.output_tokens, want["output"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.total_tokens, want["total"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.cached_input_tokens, want["cached"].to_number<uint64_t>());
      EXPECT_EQ(last.model, want["model"].as_string().c_str());
      EXPECT_EQ(last.status, 200);
    }
  }
  EXPECT_GE(cases, 5);
}

}  // namespace
}  // namespace tollgate::providers
