// Secret and ConfigMap (core v1): the data other objects reference (API keys, CA certificates).

#include <optional>
#include <string>
#include <utility>

#include "common/base64.h"
#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertSecret(const RawObject& o, const Reporter& r) {
  Secret secret;
  secret.origin = o.origin;
  const YAML::Node data = child(o.doc, "data");
  if (isMap(r, data, "data")) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      const std::string path = sub("data", key);
      const std::string encoded = getString(r, it->second, path).value_or("");
      // Whitespace is skipped: values are pasted by hand, and `base64` wraps long output.
      if (std::string decoded; base64Decode(encoded, decoded, Base64Whitespace::kSkip)) {
        secret.data[key] = std::move(decoded);
      } else {
        // The value itself is never echoed: it is a credential.
        r.error(it->second, path, "not valid base64 (Secret.data values are base64-encoded)");
      }
    }
  }
  // As in Kubernetes, stringData is plain text and wins over data for the same key.
  const YAML::Node string_data = child(o.doc, "stringData");
  if (isMap(r, string_data, "stringData")) {
    for (auto it = string_data.begin(); it != string_data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      secret.data[key] = getString(r, it->second, sub("stringData", key)).value_or("");
    }
  }
  config_.secrets.push_back(std::move(secret));
}

void Loader::convertConfigMap(const RawObject& o, const Reporter& r) {
  ConfigMap map;
  map.origin = o.origin;
  const YAML::Node data = child(o.doc, "data");
  if (isMap(r, data, "data")) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      map.data[key] = getString(r, it->second, sub("data", key)).value_or("");
    }
  }
  config_.config_maps.push_back(std::move(map));
}

}  // namespace tollgate::config::detail
