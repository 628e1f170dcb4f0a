// Data-driven: each folder of tests/fixtures/providers/openai/ (chat, completions, embeddings) and
// of tests/fixtures/translators/responses-openai/ (request, optional model_override, the
// upstream's answer, what the client must get, expected.json with status, failed and usage) is one
// case. A new case is a new folder, not new code. The small loader here is local until the shared
// golden-case walker lands (providers/golden_cases_test_util.h).
#include "providers/openai_to_openai.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file_test_util.h"
#include "providers/openai_to_openai_responses.h"

namespace tollgate::providers {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs

api::ApiKind apiOf(const std::string& s) {
  if (s == "completions") return api::ApiKind::kCompletions;
  if (s == "embeddings") return api::ApiKind::kEmbeddings;
  return api::ApiKind::kChatCompletions;
}

const fs::path kDir = fixtureDir("providers/openai");

// Runs `check(case_dir)` for each case folder of `dir`, traced by its name; returns how many.
template <class F>
int forEachCase(const fs::path& dir, F&& check) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().filename().string());
    ++cases;
    check(entry.path());
  }
  return cases;
}

TEST(OpenAIPassthrough, FixtureCases) {
  const int cases = forEachCase(kDir, [](const fs::path& d) {
    const auto kind = apiOf(trimTrailing(readFileText(d / "client_api")));
    const std::string body = readFileText(d / "request.json");
    const std::string override_model =
        fs::exists(d / "model_override") ? trimTrailing(readFileText(d / "model_override")) : "";
    auto parsed = api::parseRequest(kind, body);
    ASSERT_TRUE(parsed.ok()) << parsed.error().public_message;

    // Whole-body and piece-by-piece feeding must give the same client bytes.
    for (size_t piece_size : {size_t{1}, size_t{7}, size_t{1} << 20}) {
      OpenAIToOpenAITranslator t(kind, "");
      auto up = t.translateRequest(*parsed, body, override_model);
      ASSERT_TRUE(up.ok());
      EXPECT_EQ(up->path,
                kind == api::ApiKind::kCompletions ? "/v1/completions" : "/v1/chat/completions");
      EXPECT_EQ(up->body_unchanged ? body : up->body, readFileText(d / "upstream_request.json"));

      const std::string ct = trimTrailing(readFileText(d / "response_content_type"));
      const std::string response = readFileText(d / "response.txt");
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
      EXPECT_EQ(out, readFileText(d / "client_response.txt")) << "piece size " << piece_size;

      auto want = boost::json::parse(readFileText(d / "usage.json")).as_object();
      EXPECT_EQ(last.usage.known, want["known"].as_bool());
      EXPECT_EQ(last.usage.input_tokens, want["input"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.output_tokens, want["output"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.total_tokens, want["total"].to_number<uint64_t>());
      EXPECT_EQ(last.usage.cached_input_tokens, want["cached"].to_number<uint64_t>());
      EXPECT_EQ(last.model, want["model"].as_string().c_str());
      EXPECT_EQ(last.status, 200);
    }
  });
  EXPECT_GE(cases, 5);
}

// ---- Responses pass-through ----

// The file's text, or empty when the case has no such file.
std::string optional(const fs::path& p, bool trim = true) {
  if (!fs::exists(p)) return {};
  return trim ? trimTrailing(readFileText(p)) : readFileText(p);
}

const fs::path kResponsesCases = fixtureDir("translators/responses-openai");

// Feeds the upstream's answer in pieces of `piece_size` and returns what the client received.
std::string relay(Translator& t, const fs::path& d, size_t piece_size, ResponseOutput& last) {
  std::string out;
  if (fs::exists(d / "upstream_response.json")) {
    out = readFileText(d / "upstream_response.json");
    last = t.onBody(out);
    return out;
  }
  const std::string stream = readFileText(d / "upstream_stream.txt");
  for (size_t i = 0; i < stream.size(); i += piece_size)
    last = t.onChunk(std::string_view(stream).substr(i, piece_size), false, out);
  const std::string failure = optional(d / "upstream_failure");
  if (failure.empty()) {
    last = t.onChunk({}, true, out);
  } else {
    last = t.onFailure(Error::upstream(ErrorCode::kUpstreamConnect, failure, failure, true), out);
  }
  return out;
}

TEST(ResponsesPassThrough, GoldenCases) {
  const int cases = forEachCase(kResponsesCases, [](const fs::path& d) {
    const std::string body = readFileText(d / "request.json");
    auto parsed = api::parseRequest(api::ApiKind::kResponses, body);
    ASSERT_TRUE(parsed.ok()) << parsed.error().public_message;
    const bool stream = fs::exists(d / "upstream_stream.txt");
    const std::string status_text = optional(d / "upstream_status");
    const int status = status_text.empty() ? 200 : std::stoi(status_text);
    const auto want = boost::json::parse(readFileText(d / "expected.json")).as_object();
    const auto& want_usage = want.at("usage").as_object();

    // Byte by byte, a few bytes at a time and whole: the same client bytes.
    for (size_t piece_size : {size_t{1}, size_t{7}, size_t{1} << 20}) {
      SCOPED_TRACE(piece_size);
      auto t = makeOpenAIResponsesPassThrough("");
      auto up = t->translateRequest(*parsed, body, optional(d / "model_override"));
      ASSERT_TRUE(up.ok());
      EXPECT_EQ(up->path, "/v1/responses");
      const std::string want_up = optional(d / "expected_upstream.json", false);
      EXPECT_EQ(up->body_unchanged, want_up.empty());
      EXPECT_EQ(up->body_unchanged ? body : up->body, want_up.empty() ? body : want_up);

      const ResponseStart start =
          t->onResponseStart(status, stream ? "text/event-stream" : "application/json", {});
      EXPECT_EQ(start.stream, stream);
      EXPECT_EQ(start.content_type, "");  // the upstream's passes
      ResponseOutput last;
      const std::string got = relay(*t, d, piece_size, last);
      EXPECT_EQ(got,
                readFileText(d / (stream ? "expected_client_stream.txt" : "expected_client.json")));
      EXPECT_EQ(last.status, want.at("status").to_number<int>());
      EXPECT_EQ(last.failed, want.at("failed").as_bool());
      EXPECT_EQ(last.usage.known, want_usage.at("known").as_bool());
      EXPECT_EQ(last.usage.input_tokens, want_usage.at("input").to_number<uint64_t>());
      EXPECT_EQ(last.usage.output_tokens, want_usage.at("output").to_number<uint64_t>());
      EXPECT_EQ(last.usage.cached_input_tokens, want_usage.at("cached").to_number<uint64_t>());
      EXPECT_EQ(last.usage.reasoning_tokens, want_usage.at("reasoning").to_number<uint64_t>());
      EXPECT_EQ(last.usage.total_tokens, want_usage.at("total").to_number<uint64_t>());
      EXPECT_EQ(last.model, want.at("model").as_string().c_str());
    }
  });
  EXPECT_GE(cases, 10);
}

TEST(ResponsesPassThrough, PathFollowsSchemaVersion) {
  auto parsed = api::parseRequest(api::ApiKind::kResponses, R"({"model":"m","input":"x"})");
  ASSERT_TRUE(parsed.ok());
  auto up = makeOpenAIResponsesPassThrough("openai/v1")->translateRequest(*parsed, "", "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/openai/v1/responses");
}

// The registry picks the pass-through only for backends that serve /v1/responses themselves
// (a chat-only backend gets nullptr, a 501, until Responses-over-chat is registered).
TEST(ResponsesPassThrough, RegistryFollowsTheAnnotation) {
  config::AIServiceBackend native;
  native.schema = config::Schema::kOpenAI;
  EXPECT_NE(createTranslator(api::ApiKind::kResponses, config::Schema::kOpenAI, native), nullptr);
  config::AIServiceBackend chat_only = native;
  chat_only.serves_responses = false;
  // A chat-only server gets the chat pivot: a translator, and one that rewrites the body.
  auto pivot = createTranslator(api::ApiKind::kResponses, config::Schema::kOpenAI, chat_only);
  ASSERT_NE(pivot, nullptr);
  auto req = api::parseRequest(api::ApiKind::kResponses, R"({"model":"m","input":"hi"})");
  ASSERT_TRUE(req);
  auto up = pivot->translateRequest(*req, R"({"model":"m","input":"hi"})", "");
  ASSERT_TRUE(up);
  EXPECT_FALSE(up->body_unchanged);
  EXPECT_NE(up->path.find("chat/completions"), std::string::npos) << up->path;
}

}  // namespace
}  // namespace tollgate::providers
