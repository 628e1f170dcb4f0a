// AWSCredentials backends (Bedrock): SigV4 over exactly what is sent, with the policy's
// credentialsFile when it has one (first in the chain, as Envoy AI Gateway does), else the
// default credential chain of the calling event loop. Threading and ownership: backend_auth.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/backend_auth.h"
#include "auth/sigv4.h"

namespace tollgate::auth {

// Parses the policy's credentialsFile once; a file that cannot be used is reported in `errors`
// and the auth falls back to the default chain.
std::unique_ptr<const BackendAuth> makeAwsSigV4Auth(const config::BackendSecurityPolicy& policy,
                                                    std::vector<config::Diagnostic>& errors);
// `creds`: static credentials; nullopt: the calling loop's default chain. Signs for service
// "bedrock" in `region`.
std::unique_ptr<const BackendAuth> makeAwsSigV4Auth(std::string region,
                                                    std::optional<AwsCredentials> creds);

}  // namespace tollgate::auth
