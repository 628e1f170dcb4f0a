// Anthropic count_tokens → AWS Bedrock CountTokens (schema AWSAnthropic):
// POST /model/{modelId}/count-tokens with {"input":{"invokeModel":{"body":"<base64>"}}}, where
// the body is the InvokeModel body the registry's Messages → AWSAnthropic translator builds for
// the same request (anthropic_version, anthropic-beta as anthropic_beta; max_tokens added when the
// client sent none, as InvokeModel requires it). {"inputTokens":N} becomes {"input_tokens":N};
// Bedrock errors become Anthropic errors. A cross-region inference profile id
// ("us.anthropic.claude-...") is counted on its foundation model ("anthropic.claude-..."): the
// API takes a foundation model id (docs/api-count-tokens.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "providers/translator.h"

namespace tollgate::providers {

std::unique_ptr<Translator> makeCountTokensOnBedrock(api::ApiKind client_api,
                                                     const config::AIServiceBackend& backend,
                                                     std::string_view anthropic_beta);

// The foundation model id of a Bedrock cross-region inference profile id (a lowercase region
// group and a dot before "anthropic."); any other id unchanged.
std::string bedrockFoundationModel(std::string_view model);

}  // namespace tollgate::providers
