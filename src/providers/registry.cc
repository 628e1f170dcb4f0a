// The explicit list of providers: one line per (client API, backend schema) pair supported.
#include "providers/anthropic_to_anthropic.h"
#include "providers/anthropic_to_aws_anthropic.h"
#include "providers/openai_to_aws_anthropic.h"
#include "providers/openai_to_aws_bedrock.h"
#include "providers/openai_to_openai.h"
#include "providers/translator.h"

namespace tollgate::providers {

namespace {

using api::ApiKind;
using config::Schema;

struct Pair {
  ApiKind api;
  Schema schema;
  std::unique_ptr<Translator> (*make)(ApiKind api, const config::AIServiceBackend& backend,
                                      std::string_view anthropic_beta);
};

std::unique_ptr<Translator> openAIToOpenAI(ApiKind api, const config::AIServiceBackend& backend,
                                           std::string_view /*anthropic_beta*/) {
  return std::make_unique<OpenAIToOpenAITranslator>(api, backend.schema_version);
}

std::unique_ptr<Translator> anthropicToAwsAnthropic(ApiKind /*api*/,
                                                    const config::AIServiceBackend& backend,
                                                    std::string_view anthropic_beta) {
  return makeAnthropicToAwsAnthropic(backend.schema_version, std::string(anthropic_beta));
}

std::unique_ptr<Translator> openAIToAwsAnthropic(ApiKind /*api*/,
                                                 const config::AIServiceBackend& backend,
                                                 std::string_view /*anthropic_beta*/) {
  return makeOpenAIToAwsAnthropic(backend.schema_version);
}

std::unique_ptr<Translator> anthropicToAnthropic(ApiKind /*api*/,
                                                 const config::AIServiceBackend& /*backend*/,
                                                 std::string_view /*anthropic_beta*/) {
  return makeAnthropicToAnthropic();
}

std::unique_ptr<Translator> openAIToAwsBedrock(ApiKind /*api*/,
                                               const config::AIServiceBackend& /*backend*/,
                                               std::string_view /*anthropic_beta*/) {
  return makeOpenAIToAwsBedrock();
}

// Every supported pair; a pair not listed is answered with a 501 naming both.
constexpr Pair kPairs[] = {
    {ApiKind::kChatCompletions, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kCompletions, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kEmbeddings, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kAnthropicMessages, Schema::kAWSAnthropic, anthropicToAwsAnthropic},
    {ApiKind::kChatCompletions, Schema::kAWSAnthropic, openAIToAwsAnthropic},
    {ApiKind::kAnthropicMessages, Schema::kAnthropic, anthropicToAnthropic},
    {ApiKind::kChatCompletions, Schema::kAWSBedrock, openAIToAwsBedrock},
};

}  // namespace

std::unique_ptr<Translator> createTranslator(api::ApiKind client_api, config::Schema schema,
                                             const config::AIServiceBackend& backend,
                                             std::string_view anthropic_beta) {
  for (const Pair& p : kPairs) {
    if (p.api == client_api && p.schema == schema)
      return p.make(client_api, backend, anthropic_beta);
  }
  return nullptr;
}

std::string_view schemaName(config::Schema s) {
  switch (s) {
    case config::Schema::kOpenAI:
      return "OpenAI";
    case config::Schema::kAWSAnthropic:
      return "AWSAnthropic";
    case config::Schema::kAWSBedrock:
      return "AWSBedrock";
    case config::Schema::kAnthropic:
      return "Anthropic";
    case config::Schema::kAzureOpenAI:
      return "AzureOpenAI";
    case config::Schema::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

std::string_view providerName(config::Schema s) {
  switch (s) {
    case config::Schema::kOpenAI:
      return "openai";
    case config::Schema::kAWSAnthropic:
    case config::Schema::kAWSBedrock:
      return "aws.bedrock";
    case config::Schema::kAnthropic:
      return "anthropic";
    case config::Schema::kAzureOpenAI:
      return "azure.ai.openai";
    case config::Schema::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace tollgate::providers
