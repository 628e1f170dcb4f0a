// BackendSecurityPolicy (aigateway.envoyproxy.io): which credentials tollgate sends to which
// AIServiceBackends. The Secrets are looked up later, in link.cc.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertSecurityPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  BackendSecurityPolicy policy;
  policy.origin = o.origin;
  const size_t policy_index = config_.security_policies.size();

  const auto add_target = [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<std::string> kind = getString(r, child(item, "kind"), sub(path, "kind"));
    if (kind && *kind != "AIServiceBackend") {
      r.warning(child(item, "kind"), sub(path, "kind"),
                "tollgate attaches BackendSecurityPolicies to AIServiceBackends only; this " +
                    *kind + " target is ignored");
      return;
    }
    if (!name) return;
    policy.target_backends.push_back(*name);
    refs_.push_back(PendingRef{"AIServiceBackend", o.origin.ns, *name,
                               r.make(Severity::kWarning, child(item, "name"), sub(path, "name"),
                                      "names AIServiceBackend " + o.origin.ns + "/" + *name + ", " +
                                          missing() + "; this target has no effect")});
  };
  forEach(r, child(spec, "targetRefs"), "spec.targetRefs", add_target);
  // Earlier releases had a single targetRef.
  if (present(child(spec, "targetRef"))) add_target(child(spec, "targetRef"), "spec.targetRef");

  const std::optional<SecurityType> type =
      requireEnum<SecurityType>(r, spec, "type", "spec",
                                {{"APIKey", SecurityType::kAPIKey},
                                 {"AnthropicAPIKey", SecurityType::kAnthropicAPIKey},
                                 {"AzureAPIKey", SecurityType::kAzureAPIKey},
                                 {"AWSCredentials", SecurityType::kAWSCredentials},
                                 {"AzureCredentials", SecurityType::kAzureCredentials}});
  policy.type = type.value_or(SecurityType::kUnknown);

  // Reads <block>.<ref_key> {name, namespace} and queues the Secret look-up.
  const auto secret_ref = [&](const YAML::Node& block, const std::string& block_path, SecretUse use,
                              const char* ref_key = "secretRef") -> std::optional<std::string> {
    const YAML::Node ref = child(block, ref_key);
    const std::string ref_path = sub(block_path, ref_key);
    if (!present(ref)) {
      r.error(block, ref_path, "required field is missing");
      return std::nullopt;
    }
    if (!isMap(r, ref, ref_path)) return std::nullopt;
    std::optional<std::string> name = requireString(r, ref, "name", ref_path);
    if (!name) return std::nullopt;
    const std::string ns =
        getString(r, child(ref, "namespace"), sub(ref_path, "namespace")).value_or(o.origin.ns);
    secrets_.push_back(
        PendingSecret{policy_index, use, ns, *name,
                      r.make(Severity::kError, child(ref, "name"), sub(ref_path, "name"), "")});
    return name;
  };

  const auto api_key = [&](const char* key, std::string_view type_name) {
    const YAML::Node block = child(spec, key);
    const std::string block_path = sub("spec", key);
    if (!present(block)) {
      r.error(spec, block_path, "required when type is " + std::string(type_name));
      return;
    }
    if (!isMap(r, block, block_path)) return;
    if (auto name = secret_ref(block, block_path, SecretUse::kApiKey))
      policy.api_key_secret = *name;
  };

  switch (policy.type) {
    case SecurityType::kAPIKey:
      api_key("apiKey", "APIKey");
      break;
    case SecurityType::kAnthropicAPIKey:
      api_key("anthropicAPIKey", "AnthropicAPIKey");
      break;
    case SecurityType::kAzureAPIKey:
      api_key("azureAPIKey", "AzureAPIKey");
      break;
    case SecurityType::kAWSCredentials: {
      const YAML::Node aws = child(spec, "awsCredentials");
      if (!present(aws)) {
        r.error(spec, "spec.awsCredentials", "required when type is AWSCredentials");
        break;
      }
      if (!isMap(r, aws, "spec.awsCredentials")) break;
      policy.aws.region = requireString(r, aws, "region", "spec.awsCredentials").value_or("");
      const YAML::Node file = child(aws, "credentialsFile");
      const std::string file_path = "spec.awsCredentials.credentialsFile";
      if (isMap(r, file, file_path)) {
        policy.aws.credentials_file_secret =
            secret_ref(file, file_path, SecretUse::kAwsCredentialsFile);
        policy.aws.credentials_profile =
            getString(r, child(file, "profile"), sub(file_path, "profile")).value_or("default");
      }
      const YAML::Node oidc = child(aws, "oidcExchangeToken");
      if (isMap(r, oidc, "spec.awsCredentials.oidcExchangeToken")) {
        policy.aws.oidc_role_arn =
            requireString(r, oidc, "awsRoleArn", "spec.awsCredentials.oidcExchangeToken");
      }
      break;
    }
    case SecurityType::kAzureCredentials: {
      const YAML::Node azure = child(spec, "azureCredentials");
      const std::string path = "spec.azureCredentials";
      if (!present(azure)) {
        r.error(spec, path, "required when type is AzureCredentials");
        break;
      }
      if (!isMap(r, azure, path)) break;
      policy.azure.client_id = requireString(r, azure, "clientID", path).value_or("");
      policy.azure.tenant_id = requireString(r, azure, "tenantID", path).value_or("");
      const bool secret = present(child(azure, "clientSecretRef"));
      const bool oidc = present(child(azure, "oidcExchangeToken"));
      if (secret == oidc) {
        r.error(azure, path, "exactly one of clientSecretRef or oidcExchangeToken must be set");
      } else if (oidc) {
        // Entra ID's client assertion from an OIDC provider's token is not built yet: refusing
        // the policy says so at load, where sending unauthenticated requests would not.
        r.error(child(azure, "oidcExchangeToken"), sub(path, "oidcExchangeToken"),
                "is not supported by tollgate yet; use clientSecretRef (an Entra ID client "
                "secret)");
      } else {
        secret_ref(azure, path, SecretUse::kAzureClientSecret, "clientSecretRef");
      }
      break;
    }
    case SecurityType::kUnknown:
      break;
  }
  config_.security_policies.push_back(std::move(policy));
}

}  // namespace tollgate::config::detail
