#include "auth/backend_auth.h"

#include "auth/aws_sigv4_auth.h"
#include "auth/azure_entra_auth.h"
#include "config/model.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;

namespace {

// A static key in the header the provider expects it in. The client's own credentials were
// already left out of `out`, so the header is appended, last, as it always was.
class HeaderKeyAuth final : public BackendAuth {
 public:
  HeaderKeyAuth(std::string header, std::string value)
      : header_(std::move(header)), value_(std::move(value)) {}

  asio::awaitable<std::optional<Error>> apply(upstream::OutgoingRequest& out,
                                              const upstream::UpstreamTarget& /*target*/,
                                              const LoopCredentials& /*loop*/) const override {
    out.headers.emplace_back(header_, value_);
    co_return std::nullopt;
  }

 private:
  std::string header_;
  std::string value_;  // secret: never log
};

}  // namespace

std::unique_ptr<const BackendAuth> makeApiKeyAuth(std::string key) {
  key.insert(0, "Bearer ");
  return std::make_unique<HeaderKeyAuth>("authorization", std::move(key));
}

std::unique_ptr<const BackendAuth> makeAnthropicKeyAuth(std::string key) {
  return std::make_unique<HeaderKeyAuth>("x-api-key", std::move(key));
}

std::unique_ptr<const BackendAuth> makeAzureKeyAuth(std::string key) {
  return std::make_unique<HeaderKeyAuth>("api-key", std::move(key));
}

std::unique_ptr<const BackendAuth> makeBackendAuth(const config::BackendSecurityPolicy& policy,
                                                   std::vector<config::Diagnostic>& errors) {
  switch (policy.type) {
    case config::SecurityType::kAWSCredentials:
      return makeAwsSigV4Auth(policy, errors);
    case config::SecurityType::kAPIKey:
      return policy.api_key.empty() ? nullptr : makeApiKeyAuth(policy.api_key);
    case config::SecurityType::kAnthropicAPIKey:
      return policy.api_key.empty() ? nullptr : makeAnthropicKeyAuth(policy.api_key);
    case config::SecurityType::kAzureAPIKey:
      return policy.api_key.empty() ? nullptr : makeAzureKeyAuth(policy.api_key);
    case config::SecurityType::kAzureCredentials:
      if (policy.azure.client_secret.empty()) return nullptr;  // the loader reported why
      return makeAzureEntraAuth(policy.azure.tenant_id, policy.azure.client_id,
                                policy.azure.client_secret, azureTokenOptionsFromEnvironment());
    case config::SecurityType::kUnknown:
      break;
  }
  return nullptr;
}

}  // namespace tollgate::auth
