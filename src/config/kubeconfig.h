// kubeconfig files (what kubectl reads): the cluster, user and namespace of one context. Parsed
// here because config/ is tollgate's only YAML reader; src/kube/ turns the result into a
// connection.
#pragma once

#include <optional>
#include <string>

namespace tollgate::config {

// One context of a kubeconfig, with every credential resolved to what the file says: inline data
// decoded (PEM text), paths made absolute against the kubeconfig's directory (as kubectl does).
// Files are not read here.
struct KubeconfigContext {
  std::string context;  // its name
  std::string server;   // https://host[:port][/path]
  std::string ca_file;  // certificate-authority
  std::string ca_pem;   // certificate-authority-data, decoded
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string token;       // never logged
  std::string token_file;  // tokenFile: re-read on every connection
  std::string client_certificate_file;
  std::string client_certificate_pem;
  std::string client_key_file;
  std::string client_key_pem;  // never logged
  std::string ns;              // the context's namespace; empty when unset
};

// Reads `text` (the kubeconfig at `path`, for messages and relative paths). `context` picks a
// context by name; empty means current-context. On failure returns nullopt and sets *error to one
// line that names the file and the field. Users that need exec plugins, auth providers or basic
// auth are refused: tollgate sends only bearer tokens and client certificates.
std::optional<KubeconfigContext> parseKubeconfig(const std::string& text, const std::string& path,
                                                 const std::string& context, std::string* error);

}  // namespace tollgate::config
