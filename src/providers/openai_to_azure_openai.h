// OpenAI client API → Azure OpenAI (schema AzureOpenAI): the OpenAI pass-through (the body, the
// model splice, the stream relay and usage are OpenAI's: Azure speaks the same wire format) with
// Azure's paths. docs/azure-openai.md.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "providers/translator.h"

namespace tollgate::providers {

// The upstream path of `api` for deployment (model) `model`. `version` is the AIServiceBackend's
// schema.version, Azure's api-version, as Envoy AI Gateway reads it
// (internal/translator/openai_azureopenai.go): a dated version selects the deployments form,
// /openai/deployments/{model}/chat/completions?api-version={version} (Responses:
// /openai/responses?api-version={version}, the model in the body); empty or "v1" selects Azure's
// v1 API, /openai/v1/chat/completions with the model in the body and no api-version.
std::string azureOpenAIPath(api::ApiKind api, std::string_view model, std::string_view version);

// `openai`: the OpenAI pass-through translator for the same API (from createTranslator).
std::unique_ptr<Translator> makeOpenAIToAzureOpenAI(std::unique_ptr<Translator> openai,
                                                    std::string version);

}  // namespace tollgate::providers
