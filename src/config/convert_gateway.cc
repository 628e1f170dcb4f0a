// Gateway (gateway.networking.k8s.io): the listeners tollgate serves.

#include <optional>
#include <string>
#include <utility>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

void Loader::convertGateway(const RawObject& o, const YAML::Node& spec, const Reporter& r) {
  Gateway gateway;
  gateway.origin = o.origin;
  const YAML::Node listeners = child(spec, "listeners");
  if (!present(listeners)) r.error(spec, "spec.listeners", "required field is missing");
  forEach(r, listeners, "spec.listeners", [&](const YAML::Node& item, const std::string& path) {
    if (!requireMap(r, item, path)) return;
    const std::optional<std::string> name = requireString(r, item, "name", path);
    const std::optional<uint16_t> port = requirePort(r, item, "port", path);
    const std::optional<std::string> protocol = requireString(r, item, "protocol", path);
    if (!name || !port || !protocol) return;
    if (*protocol != "HTTP") {
      // TLS termination and raw TCP are left to whatever sits in front of tollgate.
      r.warning(
          child(item, "protocol"), sub(path, "protocol"),
          "tollgate serves plain HTTP listeners only; this " + *protocol + " listener is ignored");
      return;
    }
    gateway.listeners.push_back(Listener{*name, *port, *protocol});
  });
  config_.gateways.push_back(std::move(gateway));
}

}  // namespace tollgate::config::detail
