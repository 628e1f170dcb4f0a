// The explicit list of providers: one line per (client API, backend schema) pair supported.
#include "providers/anthropic_to_anthropic.h"
#include "providers/anthropic_to_aws_anthropic.h"
#include "providers/chat_over_messages.h"
#include "providers/count_tokens_aws_anthropic.h"
#include "providers/count_tokens_passthrough.h"
#include "providers/messages_over_chat.h"
#include "providers/messages_tokenize.h"
#include "providers/openai_to_aws_anthropic.h"
#include "providers/openai_to_aws_bedrock.h"
#include "providers/openai_to_azure_openai.h"
#include "providers/openai_to_openai.h"
#include "providers/openai_to_openai_responses.h"
#include "providers/responses_over_chat.h"
#include "providers/responses_over_messages.h"
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

// Responses on an OpenAI-schema backend: passed through when the backend serves /v1/responses
// itself (tollgate.io/responses-api: native, the default); a chat-only backend
// (tollgate.io/responses-api: translate) needs the Responses-over-chat translator.
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

// Chat completions on Anthropic's own API: the chat body as a Messages request, through the
// Anthropic pass-through.
std::unique_ptr<Translator> chatOverMessages(ApiKind /*api*/,
                                             const config::AIServiceBackend& /*backend*/,
                                             std::string_view /*anthropic_beta*/) {
  return makeChatOverMessages(makeAnthropicToAnthropic());
}

std::unique_ptr<Translator> openAIToAwsBedrock(ApiKind /*api*/,
                                               const config::AIServiceBackend& /*backend*/,
                                               std::string_view /*anthropic_beta*/) {
  return makeOpenAIToAwsBedrock();
}

// Responses over an Anthropic-schema backend: the backend's own Messages translator, wrapped.
std::unique_ptr<Translator> responsesOverMessages(ApiKind /*api*/,
                                                  const config::AIServiceBackend& backend,
                                                  std::string_view anthropic_beta) {
  auto inner =
      createTranslator(ApiKind::kAnthropicMessages, backend.schema, backend, anthropic_beta);
  return inner ? makeResponsesOverMessages(std::move(inner), backend.schema) : nullptr;
}

// Messages on a backend that takes chat completions: through its chat translator (the pivot), or,
// for an OpenAI-schema server that serves /v1/messages itself (vLLM >= 0.10 with
// tollgate.io/anthropic-messages-api: native), passed through as to Anthropic.
std::unique_ptr<Translator> messagesOverChat(ApiKind /*api*/,
                                             const config::AIServiceBackend& backend,
                                             std::string_view anthropic_beta) {
  if (backend.schema == Schema::kOpenAI && backend.serves_anthropic_messages)
    return makeAnthropicToAnthropic();
  auto chat = createTranslator(ApiKind::kChatCompletions, backend.schema, backend, anthropic_beta);
  return chat ? makeMessagesOverChat(std::move(chat)) : nullptr;
}

// Responses on a backend that takes chat completions only: through its chat translator (the
// pivot). An OpenAI-schema server with its own /v1/responses (the default annotation,
// tollgate.io/responses-api: native) gets the pass-through instead, which is not this factory's.
std::unique_ptr<Translator> responsesOverChat(ApiKind /*api*/,
                                              const config::AIServiceBackend& backend,
                                              std::string_view anthropic_beta) {
  if (backend.schema == Schema::kOpenAI && backend.serves_responses) return nullptr;
  auto chat = createTranslator(ApiKind::kChatCompletions, backend.schema, backend, anthropic_beta);
  return chat ? makeResponsesOverChat(std::move(chat)) : nullptr;
}

// Responses on an OpenAI-schema server: passed through when it serves /v1/responses itself (the
// default), else through its chat completions (tollgate.io/responses-api: translate).
std::unique_ptr<Translator> responsesToOpenAI(ApiKind api, const config::AIServiceBackend& backend,
                                              std::string_view anthropic_beta) {
  if (backend.serves_responses) return makeOpenAIResponsesPassThrough(backend.schema_version);
  return responsesOverChat(api, backend, anthropic_beta);
}

// Azure OpenAI speaks OpenAI's wire format on paths of its own (Responses on a deployment that
// has no Responses API, tollgate.io/responses-api: translate, goes through its chat completions).
std::unique_ptr<Translator> openAIToAzureOpenAI(ApiKind api,
                                                const config::AIServiceBackend& backend,
                                                std::string_view anthropic_beta) {
  std::unique_ptr<Translator> openai;
  if (api == ApiKind::kResponses) {
    if (!backend.serves_responses) return responsesOverChat(api, backend, anthropic_beta);
    openai = makeOpenAIResponsesPassThrough({});
  } else {
    openai = std::make_unique<OpenAIToOpenAITranslator>(api, std::string());
  }
  return makeOpenAIToAzureOpenAI(std::move(openai), backend.schema_version);
}

std::unique_ptr<Translator> messagesTokenize(ApiKind /*api*/,
                                             const config::AIServiceBackend& /*backend*/,
                                             std::string_view /*anthropic_beta*/) {
  return makeMessagesTokenize();
}

// Every supported pair; a pair not listed is answered with a 501 naming both.
constexpr Pair kPairs[] = {
    {ApiKind::kChatCompletions, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kCompletions, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kEmbeddings, Schema::kOpenAI, openAIToOpenAI},
    {ApiKind::kResponses, Schema::kOpenAI, responsesToOpenAI},
    {ApiKind::kAnthropicMessages, Schema::kAWSAnthropic, anthropicToAwsAnthropic},
    {ApiKind::kChatCompletions, Schema::kAWSAnthropic, openAIToAwsAnthropic},
    {ApiKind::kAnthropicMessages, Schema::kAnthropic, anthropicToAnthropic},
    {ApiKind::kChatCompletions, Schema::kAnthropic, chatOverMessages},
    {ApiKind::kChatCompletions, Schema::kAWSBedrock, openAIToAwsBedrock},
    {ApiKind::kAnthropicCountTokens, Schema::kAnthropic, makeCountTokensPassThrough},
    {ApiKind::kAnthropicCountTokens, Schema::kAWSAnthropic, makeCountTokensOnBedrock},
    {ApiKind::kResponsesInputTokens, Schema::kOpenAI, makeCountTokensPassThrough},
    {ApiKind::kResponses, Schema::kAWSAnthropic, responsesOverMessages},
    {ApiKind::kResponses, Schema::kAnthropic, responsesOverMessages},
    {ApiKind::kAnthropicMessages, Schema::kOpenAI, messagesOverChat},
    {ApiKind::kAnthropicMessages, Schema::kAWSBedrock, messagesOverChat},
    {ApiKind::kAnthropicCountTokens, Schema::kOpenAI, messagesTokenize},
    {ApiKind::kResponses, Schema::kAWSBedrock, responsesOverChat},
    {ApiKind::kChatCompletions, Schema::kAzureOpenAI, openAIToAzureOpenAI},
    {ApiKind::kCompletions, Schema::kAzureOpenAI, openAIToAzureOpenAI},
    {ApiKind::kEmbeddings, Schema::kAzureOpenAI, openAIToAzureOpenAI},
    {ApiKind::kResponses, Schema::kAzureOpenAI, openAIToAzureOpenAI},
    {ApiKind::kAnthropicMessages, Schema::kAzureOpenAI, messagesOverChat},
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
