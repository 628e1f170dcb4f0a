// The mock-llm /tokenize endpoint (src/mock/llm_tokenize.cc): vLLM's shapes, counts equal to the
// chat endpoint's prompt tokens, and its errors.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "mock/llm_engine.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;

json::object post(const LlmEngine& engine, std::string_view path, std::string_view body,
                  int expected_status = 200) {
  const EngineResult r = engine.handle("POST", path, body);
  EXPECT_EQ(r.status, expected_status) << r.body;
  json::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << r.body;
    return {};
  }
  return v.as_object();
}

TEST(TokenizeTest, PromptGivesVllmShapeWithOneIdPerToken) {
  EngineOptions opts;
  opts.max_model_len = 4096;
  LlmEngine engine{opts};
  const json::object o =
      post(engine, "/tokenize", R"({"model":"m","prompt":"count  these\nthree words"})");
  EXPECT_EQ(o.at("count").as_int64(), 4);
  EXPECT_EQ(o.at("max_model_len").as_int64(), 4096);
  ASSERT_EQ(o.at("tokens").as_array().size(), 4u);
  // The same word is the same id, as with any tokenizer.
  const json::object again = post(engine, "/tokenize", R"({"prompt":"three"})");
  EXPECT_EQ(again.at("tokens").at(0), o.at("tokens").at(2));
}

TEST(TokenizeTest, MessagesCountWhatChatCompletionsReportsAsPromptTokens) {
  LlmEngine engine{EngineOptions{}};
  constexpr std::string_view kMessages =
      R"([{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"one two"},{"type":"text","text":"three"}]}])";
  const json::object tok =
      post(engine, "/tokenize",
           std::string(R"({"model":"m","messages":)") + std::string(kMessages) + "}");
  const json::object chat =
      post(engine, "/v1/chat/completions",
           std::string(R"({"model":"m","messages":)") + std::string(kMessages) + "}");
  EXPECT_EQ(tok.at("count").as_int64(), 5);
  EXPECT_EQ(tok.at("count"), chat.at("usage").at("prompt_tokens"));
  EXPECT_EQ(tok.at("tokens").as_array().size(), 5u);
}

TEST(TokenizeTest, BadRequestsAreVllmErrors) {
  EngineOptions opts;
  opts.served_models_csv = "served";
  LlmEngine engine{opts};
  struct Case {
    std::string_view body;
    int status;
  } cases[] = {
      {R"({"model":"served"})", 400},                               // neither prompt nor messages
      {R"({"model":"served","prompt":7})", 400},                    // prompt not a string
      {R"({"model":"served","messages":"hi"})", 400},               // messages not an array
      {R"({"model":"other","prompt":"hi"})", 404},                  // a model not served
      {R"({"model":"served","messages":[{"content":"x"}]})", 400},  // message without a role
  };
  for (const Case& c : cases) {
    const json::object o = post(engine, "/tokenize", c.body, c.status);
    EXPECT_TRUE(o.contains("error") || o.contains("message")) << c.body;
  }
  EXPECT_EQ(engine.handle("GET", "/tokenize", "").status, 405);
}

}  // namespace
}  // namespace tollgate::mock
