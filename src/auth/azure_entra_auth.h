// AzureCredentials (BackendSecurityPolicy): the gateway gets an Entra ID access token for the
// policy's application (OAuth 2.0 client credentials grant, client secret) and sends it as
// `authorization: Bearer`, as Envoy AI Gateway's controller does
// (internal/controller/tokenprovider/azure_client_secret_token_provider.go, scope
// https://cognitiveservices.azure.com/.default in internal/controller/backend_security_policy.go).
//
// Tokens are cached per policy (bearer_token_cache.h: shared by every event loop, refreshed in the
// background, failures held for a second). The client secret and the tokens never appear in a
// log line or an Error.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "auth/backend_auth.h"

namespace tollgate::auth {

struct AzureTokenOptions {
  // Where tokens come from: AZURE_AUTHORITY_HOST, as the Azure SDKs read it (sovereign clouds,
  // tests), else Entra ID's public cloud. The token URL is {authority}/{tenant}/oauth2/v2.0/token.
  std::string authority = "https://login.microsoftonline.com";
  std::string scope = "https://cognitiveservices.azure.com/.default";
  std::chrono::seconds refresh_before{std::chrono::minutes(5)};
  std::chrono::milliseconds http_timeout{5000};
  // After a failed fetch, requests fail at once with its error for this long.
  std::chrono::milliseconds failure_hold{1000};
  std::function<std::chrono::system_clock::time_point()> clock;  // default: system_clock::now
};

std::unique_ptr<const BackendAuth> makeAzureEntraAuth(std::string tenant_id, std::string client_id,
                                                      std::string client_secret,
                                                      AzureTokenOptions opts);

// The options for the running process: AZURE_AUTHORITY_HOST from its environment.
AzureTokenOptions azureTokenOptionsFromEnvironment();

}  // namespace tollgate::auth
