// The explicit list of providers: one line per (client API, backend schema) pair supported.
#include "api/errors.h"
#include "providers/anthropic_to_anthropic.h"
#include "providers/anthropic_to_aws_anthropic.h"
#include "providers/openai_to_aws_anthropic.h"
#include "providers/openai_to_aws_bedrock.h"
#include "providers/openai_to_openai.h"
#include "providers/translator.h"

namespace tollgate::providers {

std::unique_ptr<Translator> createTranslator(api::ApiKind client_api, config::Schema schema,
                                             const config::AIServiceBackend& backend,
                                             std::string_view anthropic_beta) {
  using api::ApiKind;
  using config::Schema;
  switch (schema) {
    case Schema::kOpenAI:
      if (client_api == ApiKind::kChatCompletions || client_api == ApiKind::kCompletions ||
          client_api == ApiKind::kEmbeddings) {
        return std::make_unique<OpenAIToOpenAITranslator>(client_api, backend.schema_version);
      }
      return nullptr;
    case Schema::kAWSAnthropic:
      if (client_api == ApiKind::kAnthropicMessages) {
        return std::make_unique<AnthropicToAwsAnthropicTranslator>(backend.schema_version,
                                                                   std::string(anthropic_beta));
      }
      if (client_api == ApiKind::kChatCompletions) {
        return std::make_unique<OpenAIToAwsAnthropicTranslator>(backend.schema_version);
      }
      return nullptr;
    case Schema::kAnthropic:
      if (client_api == ApiKind::kAnthropicMessages) {
        return std::make_unique<AnthropicToAnthropicTranslator>();
      }
      return nullptr;
    case Schema::kAWSBedrock:
      if (client_api == ApiKind::kChatCompletions) {
        return std::make_unique<OpenAIToAwsBedrockTranslator>();
      }
      return nullptr;
    case Schema::kAzureOpenAI:
    case Schema::kUnknown:
      return nullptr;
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

void Translator::onStreamFailure(const Error& err, std::string& out) {
  onResponseBody({}, true, out);  // flush complete events still buffered
  out += "data: ";
  out += api::renderOpenAIError(err);
  out += "\n\n";
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
