// Where AWS credentials come from: the default credential chain as the AWS SDKs resolve it
// (environment, shared config files, EKS Pod Identity / container endpoint, IRSA web identity),
// with caching and refresh before expiry.
//
// Threading: a provider belongs to the io_context it was made with; get() must be awaited from a
// coroutine running on that io_context (one chain per event loop). Providers hold no locks.
// Ownership: the caller owns the provider, which must outlive every get() in flight.
// The HTTP calls (container endpoint, STS) go through the project's upstream client on that loop;
// the small file reads (shared files, token files) are synchronous.
//
// Secrets (secret access key, session token, web identity token, container authorization token)
// never appear in a log line or in an Error's public_message or detail.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"
#include "common/error.h"

// Declared only: the providers run on an io_context and take a TLS context, but this header
// leaves Asio's io_context and OpenSSL out of every file that merely names them.
namespace boost::asio {
class io_context;
namespace ssl {
class context;
}  // namespace ssl
}  // namespace boost::asio

namespace tollgate::auth {

// The environment variables the providers read. Injectable so tests never touch the real process
// environment; a snapshot, so later setenv() calls are not seen.
class Environment {
 public:
  Environment() = default;  // nothing set
  Environment(std::initializer_list<std::pair<const std::string, std::string>> vars)
      : vars_(vars) {}
  static Environment process();  // a snapshot of this process's environment

  // nullopt when unset or empty (the SDKs treat an empty variable as unset).
  std::optional<std::string> get(std::string_view name) const;
  void set(std::string name, std::string value) { vars_[std::move(name)] = std::move(value); }
  void unset(std::string_view name);

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // Credentials, or an Error::internal whose detail says why not (never a secret).
  virtual boost::asio::awaitable<Result<AwsCredentials>> get() = 0;
  // Short source name for messages: "environment", "shared config files", ...
  virtual std::string_view name() const = 0;
};

struct ChainOptions {
  // TLS client context for https:// STS and container endpoints (the gateway's, with the system
  // CAs). Without one, https endpoints fail with a clear error.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // Wall clock for expiry decisions; tests inject a fake one. Default: system_clock::now.
  std::function<std::chrono::system_clock::time_point()> clock;
  // Cached credentials are refreshed this long before they expire.
  std::chrono::seconds refresh_before{std::chrono::minutes(5)};
  // Bound on each HTTP exchange (connect through last body byte).
  std::chrono::milliseconds http_timeout{5000};
  // Region of the STS endpoint. Empty: AWS_REGION, then AWS_DEFAULT_REGION, then the global
  // endpoint. Set, it wins over the environment, as a client's configured region does in the SDKs.
  std::string region;
  // Base of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (the ECS agent); tests point it at a fake.
  std::string container_relative_base = "http://169.254.170.2";
};

// The sources, usable alone (e.g. a BackendSecurityPolicy naming one) or through the chain.
std::unique_ptr<CredentialProvider> makeEnvironmentProvider(Environment env);
// AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) then AWS_CONFIG_FILE (~/.aws/config),
// profile AWS_PROFILE (default "default").
std::unique_ptr<CredentialProvider> makeProfileProvider(Environment env);
std::unique_ptr<CredentialProvider> makeContainerProvider(boost::asio::io_context& io,
                                                          Environment env, ChainOptions opts);
std::unique_ptr<CredentialProvider> makeWebIdentityProvider(boost::asio::io_context& io,
                                                            Environment env, ChainOptions opts);
std::unique_ptr<CredentialProvider> makeStaticProvider(AwsCredentials creds);
// Tries each provider in order; the first that yields credentials (not already expired by
// opts.clock) wins. When none does, ONE error naming every source and why it gave nothing.
std::unique_ptr<CredentialProvider> makeChainProvider(
    std::vector<std::unique_ptr<CredentialProvider>> providers, ChainOptions opts = {});
// Caches what `inner` yields. From `refresh_before` ahead of its expiration (forever when it has
// none) the next get() starts ONE refresh in the background and still returns the cached
// credentials: requests wait only when nothing valid is cached (first use, or expired), and then
// share one fetch. A failed refresh keeps the cached credentials until they expire (logged), and
// is retried at most every 30 s.
std::unique_ptr<CredentialProvider> makeCachingProvider(boost::asio::io_context& io,
                                                        std::unique_ptr<CredentialProvider> inner,
                                                        ChainOptions opts);

// Environment → shared files → container endpoint (EKS Pod Identity / ECS) → web identity (IRSA),
// behind a cache.
std::unique_ptr<CredentialProvider> makeDefaultChain(
    boost::asio::io_context& io, const Environment& env = Environment::process(),
    ChainOptions opts = {});

// ---- Exposed for tests --------------------------------------------------------------------

// An INI file as the AWS tools read it: [section] headers, key = value lines (keys lower-cased),
// full-line comments starting with '#' or ';', and inline comments after whitespace. Indented
// lines continue a nested value and are ignored. The error names the line number, never its text
// (it may hold a secret).
using IniSections = std::map<std::string, std::map<std::string, std::string>, std::less<>>;
Result<IniSections> parseIni(std::string_view text, std::string_view file_name);

// Why AWS_CONTAINER_CREDENTIALS_FULL_URI may not be used, or nullopt when it may: only http:// to
// a loopback address (127.0.0.0/8, ::1, localhost) or to the ECS/EKS agent addresses
// 169.254.170.2, 169.254.170.23, [fd00:ec2::23]; https:// to any host (TLS authenticates it), as
// the SDKs allow.
std::optional<std::string> containerUriRejection(std::string_view uri);

}  // namespace tollgate::auth
