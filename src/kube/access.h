// How tollgate reaches the Kubernetes API server: in-cluster (the pod's service account) or from
// a kubeconfig file. Produces the endpoint, the TLS client context and the bearer token source.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"

namespace tollgate::kube {

// Where the service account's token, CA bundle and namespace are mounted in a pod.
// TOLLGATE_KUBE_SA_DIR overrides it (tests; unusual mounts).
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct ClusterAccess {
  std::string host;  // IP literal or name, without brackets
  uint16_t port = 443;
  std::string tls_name;    // name the certificate must carry; empty = host
  std::string ca_pem;      // trusted CAs; empty = the system CAs
  bool insecure = false;   // no certificate verification (only when asked for twice)
  std::string token;       // static bearer token; never logged
  std::string token_file;  // re-read on every request: projected tokens rotate
  std::string client_certificate_pem;
  std::string client_key_pem;  // never logged
  std::string ns;              // the default namespace (pod's, or the context's)
  std::string description;     // for logs: "in-cluster https://10.0.0.1:443", "kubeconfig ..."

  // The bearer token to send now (the file's current content when there is one, trimmed); empty
  // for none. Sets *error when the file cannot be read (the caller keeps the previous token).
  std::string bearerToken(std::string* error) const;
  // A TLS client context trusting ca_pem (or the system CAs) and presenting the client
  // certificate when there is one. nullptr and *error on a bad PEM.
  std::shared_ptr<boost::asio::ssl::context> makeTlsContext(std::string* error) const;
};

// Reads environment variables (replaceable in tests).
using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
GetEnv processEnv();

// In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the service account directory
// (token, ca.crt, namespace).
Result<ClusterAccess> inCluster(const GetEnv& env);

// From a kubeconfig file: `context` (empty = current-context). A cluster with
// insecure-skip-tls-verify is refused unless allow_insecure.
Result<ClusterAccess> fromKubeconfig(const std::string& path, const std::string& context,
                                     bool allow_insecure);

// Splits "https://host[:port][/]" (IPv6 in brackets). nullopt for anything else (http://, paths).
struct ServerUrl {
  std::string host;
  uint16_t port = 443;
};
std::optional<ServerUrl> parseServerUrl(const std::string& url);

}  // namespace tollgate::kube
