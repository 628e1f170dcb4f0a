#include "kube/access.h"

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "config/kubeconfig.h"
#include "upstream/tls.h"

namespace tollgate::kube {

namespace asio = boost::asio;

namespace {

std::optional<std::string> readFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  s.erase(last + 1);
  s.erase(0, first);
  return s;
}

}  // namespace

GetEnv processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<ServerUrl> parseServerUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  if (auto hp = parseHostPort(rest); hp && hp->port != 0) return ServerUrl{hp->host, hp->port};
  // No port: 443. A bracketed IPv6 literal loses its brackets.
  if (rest.front() == '[') {
    if (rest.back() != ']') return std::nullopt;
    return ServerUrl{std::string(rest.substr(1, rest.size() - 2)), 443};
  }
  if (rest.find(':') != std::string_view::npos) return std::nullopt;
  return ServerUrl{std::string(rest), 443};
}

std::string ClusterAccess::bearerToken(std::string* error) const {
  if (token_file.empty()) return token;
  std::string read_error;
  auto text = readFile(token_file, &read_error);
  if (!text) {
    *error = read_error;
    return {};
  }
  return trim(std::move(*text));
}

std::shared_ptr<asio::ssl::context> ClusterAccess::makeTlsContext(std::string* error) const {
  auto ctx = upstream::makeTlsClientContext();
  boost::system::error_code ec;
  if (!ca_pem.empty()) {
    // The cluster's CA alone: an API server certificate from a public CA is not the cluster's.
    ctx->add_certificate_authority(asio::buffer(ca_pem), ec);
    if (ec) {
      *error = "the cluster CA is not valid PEM: " + ec.message();
      return nullptr;
    }
  } else {
    ctx->set_default_verify_paths(ec);
  }
  if (!client_certificate_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(client_certificate_pem), ec);
    if (ec) {
      *error = "the client certificate is not valid PEM: " + ec.message();
      return nullptr;
    }
    ctx->use_private_key(asio::buffer(client_key_pem), asio::ssl::context::pem, ec);
    if (ec) {
      *error = "the client key is not valid PEM or does not match the certificate: " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(insecure ? asio::ssl::verify_none : asio::ssl::verify_peer, ec);
  return ctx;
}

Result<ClusterAccess> inCluster(const GetEnv& env) {
  const std::string host = env("KUBERNETES_SERVICE_HOST").value_or("");
  const std::string port = env("KUBERNETES_SERVICE_PORT").value_or("");
  if (host.empty() || port.empty()) {
    return Error::internal(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set (outside a cluster, pass --kubeconfig FILE)");
  }
  ClusterAccess a;
  a.host = host;
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  char* end = nullptr;
  const unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (*end != '\0' || p == 0 || p > 65535) {
    return Error::internal("KUBERNETES_SERVICE_PORT is not a port: " + port);
  }
  a.port = static_cast<uint16_t>(p);
  const std::string dir = env("TOLLGATE_KUBE_SA_DIR").value_or(kServiceAccountDir);
  a.token_file = dir + "/token";
  std::string error;
  if (a.bearerToken(&error).empty()) {
    return Error::internal(error.empty() ? a.token_file + " is empty" : error);
  }
  auto ca = readFile(dir + "/ca.crt", &error);
  if (!ca) return Error::internal(error);
  a.ca_pem = std::move(*ca);
  if (auto ns = readFile(dir + "/namespace", &error)) a.ns = trim(std::move(*ns));
  a.description = "in-cluster " + formatHostPort(a.host, a.port);
  return a;
}

Result<ClusterAccess> fromKubeconfig(const std::string& path, const std::string& context,
                                     bool allow_insecure) {
  std::string error;
  auto text = readFile(path, &error);
  if (!text) return Error::internal(error);
  auto kc = config::parseKubeconfig(*text, path, context, &error);
  if (!kc) return Error::internal(error);
  auto url = parseServerUrl(kc->server);
  if (!url) {
    return Error::internal(path + ": server " + kc->server +
                           " is not https://HOST[:PORT] (tollgate sends credentials over TLS "
                           "only)");
  }
  ClusterAccess a;
  a.host = url->host;
  a.port = url->port;
  a.tls_name = kc->tls_server_name;
  a.ns = kc->ns;
  a.token = kc->token;
  a.token_file = kc->token_file;
  if (kc->insecure_skip_tls_verify) {
    if (!allow_insecure) {
      return Error::internal(path + ": context '" + kc->context +
                             "' sets insecure-skip-tls-verify; tollgate refuses to send "
                             "credentials to an unverified server unless "
                             "--kube-insecure-skip-tls-verify is given");
    }
    a.insecure = true;
  }
  a.ca_pem = kc->ca_pem;
  if (!kc->ca_file.empty()) {
    auto ca = readFile(kc->ca_file, &error);
    if (!ca) return Error::internal(path + ": certificate-authority: " + error);
    a.ca_pem = std::move(*ca);
  }
  a.client_certificate_pem = kc->client_certificate_pem;
  if (!kc->client_certificate_file.empty()) {
    auto cert = readFile(kc->client_certificate_file, &error);
    if (!cert) return Error::internal(path + ": client-certificate: " + error);
    a.client_certificate_pem = std::move(*cert);
  }
  a.client_key_pem = kc->client_key_pem;
  if (!kc->client_key_file.empty()) {
    auto key = readFile(kc->client_key_file, &error);
    if (!key) return Error::internal(path + ": client-key: " + error);
    a.client_key_pem = std::move(*key);
  }
  if (!a.token_file.empty() && a.bearerToken(&error).empty()) {
    return Error::internal(path + ": tokenFile: " + (error.empty() ? "empty" : error));
  }
  a.description = "kubeconfig " + path + " context " + kc->context + " (" +
                  formatHostPort(a.host, a.port) + ")";
  return a;
}

}  // namespace tollgate::kube
