#include "api/request.h"

#include <gtest/gtest.h>

namespace tollgate::api {
namespace {

TEST(ApiFromTarget, MapsPathsAndIgnoresQuery) {
  EXPECT_EQ(apiFromTarget("/v1/chat/completions"), ApiKind::kChatCompletions);
  EXPECT_EQ(apiFromTarget("/v1/chat/completions?x=1"), ApiKind::kChatCompletions);
  EXPECT_EQ(apiFromTarget("/v1/completions"), ApiKind::kCompletions);
  EXPECT_EQ(apiFromTarget("/v1/embeddings"), ApiKind::kEmbeddings);
  EXPECT_EQ(apiFromTarget("/v1/models"), ApiKind::kModels);
  EXPECT_EQ(apiFromTarget("/anthropic/v1/messages"), ApiKind::kAnthropicMessages);
  EXPECT_EQ(apiFromTarget("/v1/messages?beta=true"), ApiKind::kAnthropicMessages);
  EXPECT_EQ(apiFromTarget("/anthropic/v1/messages/count_tokens?beta=true"),
            ApiKind::kAnthropicCountTokens);
  EXPECT_EQ(apiFromTarget("/v1/messages/count_tokens"), ApiKind::kAnthropicCountTokens);
  EXPECT_EQ(apiFromTarget("/anthropic/v1/models?limit=1000"), ApiKind::kAnthropicModels);
  EXPECT_EQ(apiFromTarget("/v1/responses"), ApiKind::kResponses);
  EXPECT_EQ(apiFromTarget("/v1/responses/input_tokens"), ApiKind::kResponsesInputTokens);
  EXPECT_TRUE(isAnthropicApi(ApiKind::kAnthropicCountTokens));
  EXPECT_FALSE(isAnthropicApi(ApiKind::kResponses));
  EXPECT_EQ(apiFromTarget("/v1/chat/completions/"), ApiKind::kUnknown);
  EXPECT_TRUE(isAnthropicTarget("/anthropic/v1/whatever"));
}

TEST(ParseRequest, ExtractsFieldsAndOffsets) {
  std::string body =
      R"({"messages":[{"role":"user","content":"hi \"model\":\"x\""}], "model" : "Qwen/Qwen3-1.7B",)"
      R"("stream":true,"stream_options":{"include_usage":false},"max_tokens":50}  )";
  auto r = parseRequest(ApiKind::kChatCompletions, body);
  ASSERT_TRUE(r.ok()) << r.error().public_message;
  EXPECT_EQ(r->model, "Qwen/Qwen3-1.7B");
  EXPECT_TRUE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(r->max_tokens, 50);
  locateSpliceOffsets(*r, body);
  EXPECT_EQ(body.substr(r->model_span.begin, r->model_span.end - r->model_span.begin),
            "\"Qwen/Qwen3-1.7B\"");
  ASSERT_TRUE(r->stream_options);
  EXPECT_EQ(
      body.substr(r->stream_options->begin, r->stream_options->end - r->stream_options->begin),
      R"({"include_usage":false})");
  EXPECT_EQ(body[r->object_end], '}');
}

// An escaped key is the same key to simdjson and to the upstream; the splice offsets must find
// it too, or a model override would be inserted at offset 0 and corrupt the body.
TEST(ParseRequest, OffsetsFindEscapedKeys) {
  std::string body = R"({"mod\u0065l":"m","stre\u0061m_options":null,"\"model":"no"})";
  auto r = parseRequest(ApiKind::kChatCompletions, body);
  ASSERT_TRUE(r.ok()) << r.error().public_message;
  EXPECT_EQ(r->model, "m");
  locateSpliceOffsets(*r, body);
  EXPECT_EQ(body.substr(r->model_span.begin, r->model_span.end - r->model_span.begin), "\"m\"");
  ASSERT_TRUE(r->stream_options);
  EXPECT_EQ(
      body.substr(r->stream_options->begin, r->stream_options->end - r->stream_options->begin),
      "null");
  EXPECT_FALSE(findMemberValue(R"({"mod\u00e9l":1})", "model"));
  EXPECT_FALSE(findMemberValue(R"({"mod\u006":1})", "model"));
  EXPECT_TRUE(findMemberValue(R"({"\/x\t":1})", "/x\t"));
}

TEST(WithModel, ReplacesOnlyTheTopLevelModel) {
  const std::string body = R"({"input":{"model":"inner"}, "\u006dodel" : "m","stream":true})";
  auto r = parseRequest(ApiKind::kResponses, body);
  ASSERT_TRUE(r);
  EXPECT_EQ(withModel(*r, body, "a\"b"),
            R"({"input":{"model":"inner"}, "\u006dodel" : "a\"b","stream":true})");
}

TEST(ParseRequest, ResponsesMaxOutputTokens) {
  auto r =
      parseRequest(ApiKind::kResponses, R"({"model":"m","input":"hi","max_output_tokens":64})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->max_tokens, 64);
}

TEST(ParseRequest, MaxCompletionTokensAndDefaults) {
  auto r = parseRequest(ApiKind::kChatCompletions, R"({"model":"m","max_completion_tokens":7})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_FALSE(r->stream_options);
}

TEST(ParseRequest, RejectsBadBodiesWithTheFieldAtFault) {
  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {"{", ""},
      {"[]", ""},
      {R"({"messages":[]})", "model"},
      {R"({"model":1})", "model"},
      {R"({"model":""})", "model"},
      {R"({"model":"m","stream":"yes"})", "stream"},
      {"{\"model\":\"m\xff\"}", ""},
  };
  for (const auto& c : cases) {
    auto r = parseRequest(ApiKind::kChatCompletions, c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(r.error().param, c.param) << c.body;
  }
  auto e = parseRequest(ApiKind::kEmbeddings, R"({"model":"m","stream":true})");
  EXPECT_FALSE(e.ok());
}

TEST(ParseRequest, DeepNestingIsABadRequestNotACrash) {
  std::string deep =
      R"({"model":"m","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = parseRequest(ApiKind::kChatCompletions, deep);
  EXPECT_FALSE(r.ok());
}

TEST(FindMemberValue, TopLevelOnly) {
  std::string_view j = R"({"a":{"model":"inner"},"b":[1,{"model":2}],"model":"outer"})";
  auto s = findMemberValue(j, "model");
  ASSERT_TRUE(s);
  EXPECT_EQ(j.substr(s->begin, s->end - s->begin), "\"outer\"");
  EXPECT_FALSE(findMemberValue(j, "missing"));
}

}  // namespace
}  // namespace tollgate::api
