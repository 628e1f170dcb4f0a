// Azure OpenAI's paths (the rest is the OpenAI pass-through, tested in openai_to_openai_test.cc),
// through the registry as the gateway creates the translators.
#include "providers/openai_to_azure_openai.h"

#include <gtest/gtest.h>

#include <string>

namespace tollgate::providers {
namespace {

using api::ApiKind;

TEST(AzureOpenAIPath, DeploymentsFormWithApiVersionAndTheV1Api) {
  struct Case {
    ApiKind api;
    const char* model;
    const char* version;
    const char* path;
  };
  const Case cases[] = {
      {ApiKind::kChatCompletions, "gpt-4o", "2024-10-21",
       "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"},
      {ApiKind::kCompletions, "davinci", "2024-10-21",
       "/openai/deployments/davinci/completions?api-version=2024-10-21"},
      {ApiKind::kEmbeddings, "text-embedding-3-small", "2025-01-01-preview",
       "/openai/deployments/text-embedding-3-small/embeddings?api-version=2025-01-01-preview"},
      // Responses names its deployment in the body, on both forms.
      {ApiKind::kResponses, "gpt-4o", "2025-04-01-preview",
       "/openai/responses?api-version=2025-04-01-preview"},
      // A client's model name cannot change the path.
      {ApiKind::kChatCompletions, "a/../b?x", "2024-10-21",
       "/openai/deployments/a%2F..%2Fb%3Fx/chat/completions?api-version=2024-10-21"},
      {ApiKind::kChatCompletions, "gpt-4o", "", "/openai/v1/chat/completions"},
      {ApiKind::kEmbeddings, "gpt-4o", "v1", "/openai/v1/embeddings"},
      {ApiKind::kResponses, "gpt-4o", "v1", "/openai/v1/responses"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    EXPECT_EQ(azureOpenAIPath(c.api, c.model, c.version), c.path);
  }
}

config::AIServiceBackend azure(std::string version, bool serves_responses = true) {
  config::AIServiceBackend b;
  b.schema = config::Schema::kAzureOpenAI;
  b.schema_version = std::move(version);
  b.serves_responses = serves_responses;
  return b;
}

Result<UpstreamRequest> translate(ApiKind api, const config::AIServiceBackend& backend,
                                  const std::string& body, const std::string& override_model) {
  auto parsed = api::parseRequest(api, body);
  EXPECT_TRUE(parsed.ok());
  auto t = createTranslator(api, backend.schema, backend);
  EXPECT_NE(t, nullptr);
  return t->translateRequest(*parsed, body, override_model);
}

TEST(OpenAIToAzureOpenAI, TheRoutesModelIsTheDeploymentAndTheBodyPassesAsForOpenAI) {
  const std::string body = R"({"model":"gpt","messages":[{"role":"user","content":"hi"}]})";
  auto up = translate(ApiKind::kChatCompletions, azure("2024-10-21"), body, "prod-gpt-4o");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/openai/deployments/prod-gpt-4o/chat/completions?api-version=2024-10-21");
  EXPECT_NE(up->body.find("\"model\":\"prod-gpt-4o\""), std::string::npos) << up->body;

  up = translate(ApiKind::kChatCompletions, azure("2024-10-21"), body, "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/openai/deployments/gpt/chat/completions?api-version=2024-10-21");
  EXPECT_TRUE(up->body_unchanged);
}

TEST(OpenAIToAzureOpenAI, ResponsesPassThroughOrOverChatCompletions) {
  const std::string body = R"({"model":"gpt","input":"hi"})";
  auto up = translate(ApiKind::kResponses, azure("v1"), body, "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/openai/v1/responses");
  EXPECT_TRUE(up->body_unchanged);
  // A deployment without the Responses API: the request goes as chat completions.
  up = translate(ApiKind::kResponses, azure("2024-10-21", false), body, "");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->path, "/openai/deployments/gpt/chat/completions?api-version=2024-10-21");
  EXPECT_NE(up->body.find("\"messages\""), std::string::npos) << up->body;
}

TEST(OpenAIToAzureOpenAI, AnthropicMessagesGoAsChatCompletions) {
  const std::string body =
      R"({"model":"gpt","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
  auto up = translate(ApiKind::kAnthropicMessages, azure(""), body, "");
  ASSERT_TRUE(up.ok()) << up.error().public_message;
  EXPECT_EQ(up->path, "/openai/v1/chat/completions");
}

}  // namespace
}  // namespace tollgate::providers
