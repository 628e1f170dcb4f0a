// Token counting apart from the network: the request checks, the gateway's estimate, and the
// count translators as golden cases. Each folder of tests/fixtures/translators/<pair>/ is one
// case: request.json (the client body), optional case.json ({"anthropic_beta", "model_override"}),
// expected_upstream.json ({"path", "body"}; no body: the client's bytes go unchanged; for Bedrock
// the base64 invokeModel body is compared decoded), upstream_response.json ({"status",
// "headers", "body"}) and expected_client.json ({"status", "body"}). A loader of its own until the
// shared golden-case walker (src/providers/golden_cases_test_util.h) is merged.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/base64.h"
#include "common/file_test_util.h"
#include "providers/count_tokens_aws_anthropic.h"
#include "providers/count_tokens_request.h"
#include "providers/translator.h"

namespace tollgate::providers {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace): fixture helpers and fs
namespace json = boost::json;
using api::ApiKind;

const fs::path kCases = fixtureDir("translators");

// ---- checks ----

TEST(CountTokensCheckTest, MalformedRequestsAreClientErrorsNamingTheField) {
  struct Case {
    ApiKind kind;
    std::string_view body;
    std::string_view param;  // empty: well formed
  } cases[] = {
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","messages":[{"role":"user","content":"x"}]})", ""},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m"})", "messages"},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m","messages":{}})", "messages"},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m","messages":[]})", "messages"},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m","messages":["hi"]})", "messages.0"},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m","messages":[{"content":"x"}]})",
       "messages.0.role"},
      {ApiKind::kAnthropicCountTokens, R"({"model":"m","messages":[{"role":"user"}]})",
       "messages.0.content"},
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"system":3})", "system"},
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}})", "tools"},
      {ApiKind::kResponsesInputTokens, R"({"model":"m"})", ""},
      {ApiKind::kResponsesInputTokens, R"({"model":"m","input":"hi","tools":[]})", ""},
      {ApiKind::kResponsesInputTokens, R"({"model":"m","input":5})", "input"},
      {ApiKind::kResponsesInputTokens, R"({"model":"m","instructions":[]})", "instructions"},
      {ApiKind::kResponsesInputTokens, R"({"model":"m","tools":"x"})", "tools"},
  };
  for (const Case& c : cases) {
    const auto err = checkCountRequest(c.kind, c.body);
    if (c.param.empty()) {
      EXPECT_FALSE(err) << c.body << ": " << err->public_message;
      continue;
    }
    ASSERT_TRUE(err) << c.body;
    EXPECT_EQ(err->httpStatus(), 400) << c.body;
    EXPECT_EQ(err->param, c.param) << c.body;
  }
}

// ---- estimate ----

TEST(CountTokensEstimateTest, TextBytesOverFourRoundedUpPlusFixedCosts) {
  struct Case {
    ApiKind kind;
    std::string_view body;
    uint64_t tokens;
  } cases[] = {
      // "foo": 3 bytes → 1, one message → 4.
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","messages":[{"role":"user","content":"foo"}]})", 1 + 4},
      // System string (8 bytes) and text blocks (5 + 4 bytes): ids, types and cache markers are
      // not text. 17 bytes → 5, plus two messages.
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","system":"12345678","messages":[)"
       R"({"role":"user","content":[{"type":"text","text":"hello","cache_control":{"type":"ephemeral"}}]},)"
       R"({"role":"assistant","content":[{"type":"text","text":"abcd"}]}]})",
       5 + 8},
      // tool_use input counts as its JSON ({"a":1} = 7 bytes), its name (2); tool_result content
      // (2).
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"ls","input":{"a":1}}]},)"
       R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]})",
       3 + 8},
      // A tool: name (4) + description (4) + schema JSON ({"type":"object"} = 17) = 25 → 7, plus
      // the tool's and the message's fixed costs; an image is a fixed cost whatever its bytes.
      {ApiKind::kAnthropicCountTokens,
       R"({"model":"m","tools":[{"name":"Bash","description":"runs","input_schema":{"type":"object"}}],)"
       R"("messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AAAAAAAAAAAAAAAA"}}]}]})",
       7 + kEstimateTokensPerTool + kEstimateTokensPerMessage + kEstimateTokensPerImage},
      // Responses: input as a string is one message; instructions count as text (4 + 4 bytes).
      {ApiKind::kResponsesInputTokens, R"({"model":"m","instructions":"abcd","input":"efgh"})",
       2 + 4},
      // Input items: a message with input_text parts, a function call (name 2 + arguments 7) and
      // its output (2); call ids are not text.
      {ApiKind::kResponsesInputTokens,
       R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]},)"
       R"({"type":"function_call","call_id":"c1","name":"ls","arguments":"{\"a\":1}"},)"
       R"({"type":"function_call_output","call_id":"c1","output":"ok"}]})",
       4 + 3 * kEstimateTokensPerMessage},
      // Nothing to count.
      {ApiKind::kResponsesInputTokens, R"({"model":"m"})", 0},
  };
  for (const Case& c : cases) EXPECT_EQ(estimateInputTokens(c.kind, c.body), c.tokens) << c.body;
}

TEST(CountTokensEstimateTest, AnswersInTheClientApisShape) {
  EXPECT_EQ(countAnswerBody(ApiKind::kAnthropicCountTokens, 12), R"({"input_tokens":12})");
  EXPECT_EQ(countAnswerBody(ApiKind::kResponsesInputTokens, 3),
            R"({"object":"response.input_tokens","input_tokens":3})");
}

TEST(CountTokensEstimateTest, RecordedClaudeCodeCountRequestIsEstimated) {
  // The body Claude Code sends for /context (agent-client-recordings/cc-count-tokens.json).
  std::ifstream in(kCases / "anthropic_count_tokens_to_anthropic/claude_code_context/request.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const uint64_t n = estimateInputTokens(ApiKind::kAnthropicCountTokens, ss.str());
  // One message ("foo"), two tools: at least their fixed costs, and no more than the body's bytes.
  EXPECT_GE(n, kEstimateTokensPerMessage + 2 * kEstimateTokensPerTool);
  EXPECT_LT(n, ss.str().size());
}

TEST(BedrockFoundationModelTest, InferenceProfilesLoseTheirRegionGroup) {
  EXPECT_EQ(bedrockFoundationModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_EQ(bedrockFoundationModel("us-gov.anthropic.claude-3-haiku"), "anthropic.claude-3-haiku");
  EXPECT_EQ(bedrockFoundationModel("global.anthropic.claude-opus-4"), "anthropic.claude-opus-4");
  for (std::string_view same :
       {"anthropic.claude-3-haiku-20240307-v1:0", "claude-opus-5-5", "US.anthropic.claude",
        "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude", ".anthropic.x"})
    EXPECT_EQ(bedrockFoundationModel(same), same);
}

// ---- golden cases ----

json::value readJson(const fs::path& p) {
  EXPECT_TRUE(fs::exists(p)) << p;
  json::error_code ec;
  json::value v = json::parse(readFileText(p), ec);
  EXPECT_FALSE(ec) << p;
  return v;
}

// The decoded (and parsed) invokeModel body of a Bedrock CountTokens request, in place.
void decodeInvokeBody(json::value& body) {
  json::value* b = body.is_object() ? body.as_object().if_contains("input") : nullptr;
  b = b && b->is_object() ? b->as_object().if_contains("invokeModel") : nullptr;
  b = b && b->is_object() ? b->as_object().if_contains("body") : nullptr;
  if (!b || !b->is_string()) return;
  std::string decoded;
  ASSERT_TRUE(base64Decode(std::string_view(b->as_string()), decoded));
  *b = json::parse(decoded);
}

struct Pair {
  std::string_view folder;
  ApiKind api;
  config::Schema schema;
};

constexpr Pair kPairs[] = {
    {"anthropic_count_tokens_to_anthropic", ApiKind::kAnthropicCountTokens,
     config::Schema::kAnthropic},
    {"anthropic_count_tokens_to_aws_anthropic", ApiKind::kAnthropicCountTokens,
     config::Schema::kAWSAnthropic},
    {"responses_input_tokens_to_openai", ApiKind::kResponsesInputTokens, config::Schema::kOpenAI},
};

void runCase(const Pair& pair, const fs::path& dir) {
  SCOPED_TRACE(dir.string());
  const std::string client_body = readFileText(dir / "request.json");
  json::object options;
  if (fs::exists(dir / "case.json")) options = readJson(dir / "case.json").as_object();
  auto option = [&](std::string_view key) -> std::string {
    const json::value* v = options.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  config::AIServiceBackend backend;
  backend.schema = pair.schema;
  auto translator = createTranslator(pair.api, pair.schema, backend, option("anthropic_beta"));
  ASSERT_TRUE(translator);
  auto parsed = api::parseRequest(pair.api, client_body);
  ASSERT_TRUE(parsed) << parsed.error().public_message;
  auto up = translator->translateRequest(*parsed, client_body, option("model_override"));
  ASSERT_TRUE(up) << up.error().detail;

  const json::value expected_up = readJson(dir / "expected_upstream.json");
  EXPECT_EQ(up->method, "POST");
  EXPECT_EQ(up->path, expected_up.at("path").as_string());
  if (const json::value* body = expected_up.as_object().if_contains("body")) {
    ASSERT_FALSE(up->body_unchanged);
    json::value actual = json::parse(up->body);
    decodeInvokeBody(actual);
    EXPECT_EQ(actual, *body) << up->body;
  } else {
    EXPECT_TRUE(up->body_unchanged) << up->body;
  }

  const json::value response = readJson(dir / "upstream_response.json");
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  if (const json::value* h = response.as_object().if_contains("headers")) {
    for (const auto& kv : h->as_object()) {
      headers.emplace_back(kv.key(), kv.value().as_string());
      if (kv.key() == "content-type") content_type = kv.value().as_string();
    }
  }
  const json::value& rb = response.at("body");
  std::string body = rb.is_string() ? std::string(rb.as_string()) : json::serialize(rb);
  const int status = static_cast<int>(response.at("status").as_int64());
  const ResponseStart start = translator->onResponseStart(status, content_type, headers);
  EXPECT_FALSE(start.stream);
  const ResponseOutput out = translator->onBody(body);
  const json::value expected = readJson(dir / "expected_client.json");
  EXPECT_EQ(out.status, expected.at("status").as_int64());
  EXPECT_EQ(json::parse(body), expected.at("body")) << body;
  // A count is never metered as tokens used.
  EXPECT_FALSE(out.usage.known);
  EXPECT_EQ(out.usage.input_tokens, 0u);
}

TEST(CountTokensGoldenTest, EveryCaseFolder) {
  size_t cases = 0;
  for (const Pair& pair : kPairs) {
    const fs::path root = kCases / pair.folder;
    ASSERT_TRUE(fs::is_directory(root)) << root;
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory()) continue;
      runCase(pair, entry.path());
      ++cases;
    }
  }
  EXPECT_GE(cases, 9u);
}

}  // namespace
}  // namespace tollgate::providers
