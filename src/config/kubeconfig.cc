#include "config/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <filesystem>

#include "common/base64.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

// A scalar at map[key]; empty when absent or not a scalar (checked by the callers that care).
std::string scalar(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return {};
  const YAML::Node n = map[key];
  if (!n.IsDefined() || !n.IsScalar()) return {};
  return n.Scalar();
}

// The `inner` mapping of the list entry named `name` in `list` (clusters, contexts, users).
YAML::Node namedEntry(const YAML::Node& root, const char* list, const char* inner,
                      const std::string& name) {
  const YAML::Node entries = root[list];
  if (!entries.IsDefined() || !entries.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const YAML::Node& entry : entries) {
    if (entry.IsMap() && scalar(entry, "name") == name) return entry[inner];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

std::optional<KubeconfigContext> parseKubeconfig(const std::string& text, const std::string& path,
                                                 const std::string& context, std::string* error) {
  namespace fs = std::filesystem;
  const auto fail = [&](const std::string& message) -> std::optional<KubeconfigContext> {
    *error = path + ": " + message;
    return std::nullopt;
  };
  // Relative paths in a kubeconfig are relative to the file, not to the working directory.
  const fs::path dir = fs::path(path).parent_path();
  const auto resolve = [&](const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (dir / p).lexically_normal().string();
  };
  // Inline credentials are base64 in the file; the value is never echoed in a message.
  const auto decode = [&](const std::string& field, const std::string& value,
                          std::string* out) -> bool {
    if (value.empty()) return true;
    std::string decoded;
    if (!base64Decode(value, decoded, Base64Whitespace::kSkip)) {
      *error = path + ": " + field + ": not valid base64";
      return false;
    }
    *out = std::move(decoded);
    return true;
  };
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return fail("not a kubeconfig (expected a mapping)");
    KubeconfigContext out;
    out.context = context.empty() ? scalar(root, "current-context") : context;
    if (out.context.empty()) return fail("no current-context (pass --kube-context NAME)");
    const YAML::Node ctx = namedEntry(root, "contexts", "context", out.context);
    if (!ctx.IsDefined() || !ctx.IsMap()) return fail("no context named '" + out.context + "'");
    const std::string cluster_name = scalar(ctx, "cluster");
    const std::string user_name = scalar(ctx, "user");
    out.ns = scalar(ctx, "namespace");

    const YAML::Node cluster = namedEntry(root, "clusters", "cluster", cluster_name);
    if (!cluster.IsDefined() || !cluster.IsMap()) {
      return fail("context '" + out.context + "' names cluster '" + cluster_name +
                  "', which the file does not define");
    }
    out.server = scalar(cluster, "server");
    if (out.server.empty()) return fail("cluster '" + cluster_name + "' has no server");
    out.ca_file = resolve(scalar(cluster, "certificate-authority"));
    if (!decode("clusters[" + cluster_name + "].certificate-authority-data",
                scalar(cluster, "certificate-authority-data"), &out.ca_pem)) {
      return std::nullopt;
    }
    out.insecure_skip_tls_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";
    out.tls_server_name = scalar(cluster, "tls-server-name");
    if (!scalar(cluster, "proxy-url").empty()) {
      return fail("cluster '" + cluster_name + "': proxy-url is not supported");
    }

    // A context may name no user (a cluster that needs no credentials, e.g. behind a local proxy
    // that adds them): requests then carry none.
    if (!user_name.empty()) {
      const YAML::Node user = namedEntry(root, "users", "user", user_name);
      if (!user.IsDefined() || !user.IsMap()) {
        return fail("context '" + out.context + "' names user '" + user_name +
                    "', which the file does not define");
      }
      for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
        if (user[unsupported].IsDefined() && !user[unsupported].IsNull()) {
          return fail("user '" + user_name + "' uses " + unsupported +
                      ", which tollgate does not support; use a token, tokenFile or client "
                      "certificate (e.g. a ServiceAccount token)");
        }
      }
      out.token = scalar(user, "token");
      out.token_file = resolve(scalar(user, "tokenFile"));
      out.client_certificate_file = resolve(scalar(user, "client-certificate"));
      out.client_key_file = resolve(scalar(user, "client-key"));
      if (!decode("users[" + user_name + "].client-certificate-data",
                  scalar(user, "client-certificate-data"), &out.client_certificate_pem) ||
          !decode("users[" + user_name + "].client-key-data", scalar(user, "client-key-data"),
                  &out.client_key_pem)) {
        return std::nullopt;
      }
      const bool has_cert =
          !out.client_certificate_file.empty() || !out.client_certificate_pem.empty();
      const bool has_key = !out.client_key_file.empty() || !out.client_key_pem.empty();
      if (has_cert != has_key) {
        return fail("user '" + user_name +
                    "': a client certificate needs both client-certificate and client-key");
      }
    }
    return out;
  } catch (const std::exception& e) {
    return fail(std::string("invalid YAML: ") + e.what());
  }
}

}  // namespace tollgate::config
