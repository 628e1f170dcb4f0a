// How the gateway authenticates to a backend: one BackendAuth per BackendSecurityPolicy, built
// once per configuration snapshot (makeBackendAuth) and called once per upstream attempt. A new
// kind of backend credentials (Azure Entra ID, GCP) is one class implementing BackendAuth and one
// case in makeBackendAuth.
//
// Ownership: the snapshot owns its auths; they are immutable after construction and shared by
// every event loop, so anything that belongs to one loop (a credential chain with its cache and
// connection pool) reaches apply() through LoopCredentials instead of living in the object.
// Secrets (keys, signing credentials) never appear in a log line, an Error or a Diagnostic.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace tollgate::upstream {
struct OutgoingRequest;
struct UpstreamTarget;
}  // namespace tollgate::upstream

namespace tollgate::config {
struct BackendSecurityPolicy;
struct Diagnostic;
}  // namespace tollgate::config

namespace tollgate::auth {

class CredentialProvider;

// Credential sources of the calling event loop, owned by the caller (the gateway) and valid for
// the whole apply() call.
struct LoopCredentials {
  // The AWS default credential chain of the calling loop; empty, or returning null, when there is
  // none on this thread.
  std::function<CredentialProvider*()> aws_default_chain;
};

class BackendAuth {
 public:
  virtual ~BackendAuth() = default;

  // True when the gateway supplies this backend's credentials itself: the client's own
  // (authorization, x-api-key, api-key) are then not forwarded.
  virtual bool replacesClientCredentials() const { return true; }

  // Adds the credentials to `out`, whose method, target, headers and body are otherwise final
  // (a signature covers them), for sending to `target`. Called on the request's event loop.
  // nullopt when done; otherwise the error of this attempt: retryable when another candidate may
  // have credentials (the gateway then moves on), not retryable when the request must fail.
  virtual boost::asio::awaitable<std::optional<Error>> apply(upstream::OutgoingRequest& out,
                                                             const upstream::UpstreamTarget& target,
                                                             const LoopCredentials& loop) const = 0;
};

// The auth of `policy`, or null when the gateway adds no credentials for it (an API key policy
// without a key, an unknown type). Problems with its content (a credentialsFile that cannot be
// used) are appended to `errors`, naming the policy's file, line and field, never a secret.
std::unique_ptr<const BackendAuth> makeBackendAuth(const config::BackendSecurityPolicy& policy,
                                                   std::vector<config::Diagnostic>& errors);

// The kinds that send a static key in a header, as Envoy AI Gateway sends them.
std::unique_ptr<const BackendAuth> makeApiKeyAuth(std::string key);        // authorization: Bearer
std::unique_ptr<const BackendAuth> makeAnthropicKeyAuth(std::string key);  // x-api-key
std::unique_ptr<const BackendAuth> makeAzureKeyAuth(std::string key);      // api-key

}  // namespace tollgate::auth
