#include "kube/objects.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>

namespace tollgate::kube {

namespace json = boost::json;

namespace {

// o[key] as a string; empty when absent or not a string.
std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

const json::object* obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

int64_t integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

const json::object& emptyObject() {
  static const json::object kEmpty;
  return kEmpty;
}

const json::object& spec(const CachedObject& o) {
  const json::object* s = obj(o.object, "spec");
  return s != nullptr ? *s : emptyObject();
}

// A reference {name, namespace?, kind?}: the referenced label when kind matches (an absent kind
// is taken as `kind`), else empty.
std::string refLabel(const json::value& ref, std::string_view kind, const std::string& default_ns) {
  if (!ref.is_object()) return {};
  const json::object& r = ref.get_object();
  const std::string ref_kind = str(r, "kind");
  const std::string name = str(r, "name");
  if (name.empty() || (!ref_kind.empty() && ref_kind != kind)) return {};
  std::string ns = str(r, "namespace");
  if (ns.empty()) ns = default_ns;
  return objectLabel(kind, ns, name);
}

// targetRefs plus the older single targetRef.
std::vector<const json::value*> targetRefs(const json::object& s) {
  std::vector<const json::value*> out;
  if (const json::array* refs = arr(s, "targetRefs")) {
    for (const json::value& v : *refs) out.push_back(&v);
  }
  if (const json::value* one = s.if_contains("targetRef")) out.push_back(one);
  return out;
}

bool gatewayMatches(const std::string& label, const GatewaySelector& sel) {
  // label is "Gateway ns/name".
  const std::string want_suffix = "/" + sel.name;
  if (!label.ends_with(want_suffix)) return false;
  if (sel.ns.empty()) return true;
  return label == objectLabel("Gateway", sel.ns, sel.name);
}

// The Gateways a route is attached to (parentRefs, or targetRefs in early releases).
std::vector<std::string> routeParents(const CachedObject& route) {
  std::vector<std::string> out;
  const json::object& s = spec(route);
  const json::array* refs = arr(s, "parentRefs");
  if (refs == nullptr) refs = arr(s, "targetRefs");
  if (refs == nullptr) return out;
  for (const json::value& ref : *refs) {
    std::string label = refLabel(ref, "Gateway", route.ns);
    if (!label.empty()) out.push_back(std::move(label));
  }
  return out;
}

// The Secrets a BackendSecurityPolicy reads.
std::vector<std::string> policySecrets(const CachedObject& policy) {
  std::vector<std::string> out;
  const json::object& s = spec(policy);
  const auto add = [&](const json::object* block) {
    if (block == nullptr) return;
    const json::object* ref = obj(*block, "secretRef");
    if (ref == nullptr) return;
    std::string label = refLabel(*ref, "Secret", policy.ns);
    if (!label.empty()) out.push_back(std::move(label));
  };
  add(obj(s, "apiKey"));
  add(obj(s, "anthropicAPIKey"));
  add(obj(s, "azureAPIKey"));
  if (const json::object* aws = obj(s, "awsCredentials")) add(obj(*aws, "credentialsFile"));
  return out;
}

// The CA bundles (caCertificateRefs: ConfigMaps by default, or Secrets) a Backend's spec.tls or a
// BackendTLSPolicy's spec.validation trusts.
void caCertificateRefs(const CachedObject& o, std::set<std::string>& labels) {
  const json::object& s = spec(o);
  const json::object* block = o.kind == "Backend" ? obj(s, "tls") : obj(s, "validation");
  if (block == nullptr) return;
  const json::array* refs = arr(*block, "caCertificateRefs");
  if (refs == nullptr) return;
  for (const json::value& ref : *refs) {
    for (std::string_view kind : {"ConfigMap", "Secret"}) {
      std::string label = refLabel(ref, kind, o.ns);
      if (!label.empty()) {
        labels.insert(std::move(label));
        break;  // a ref without a kind is a ConfigMap, as the Gateway API defaults it
      }
    }
  }
}

// The AIServiceBackends a route's rules name.
std::vector<std::string> routeBackends(const CachedObject& route) {
  std::vector<std::string> out;
  const json::array* rules = arr(spec(route), "rules");
  if (rules == nullptr) return out;
  for (const json::value& rule : *rules) {
    if (!rule.is_object()) continue;
    const json::array* refs = arr(rule.get_object(), "backendRefs");
    if (refs == nullptr) continue;
    for (const json::value& ref : *refs) {
      std::string label = refLabel(ref, "AIServiceBackend", route.ns);
      if (!label.empty()) out.push_back(std::move(label));
    }
  }
  return out;
}

// Which Gateways are ours by class: Gateway label -> why not (empty = ours). Only cached
// Gateways are in it; a route attached to a Gateway that does not exist is judged as before.
std::map<std::string, std::string> gatewaysByClass(const std::vector<const CachedObject*>& all,
                                                   const std::string& controller_name) {
  std::map<std::string, std::string> classes;  // GatewayClass name -> its controllerName
  for (const CachedObject* o : all) {
    if (o->kind == "GatewayClass") classes[o->name] = str(spec(*o), "controllerName");
  }
  std::map<std::string, std::string> out;
  for (const CachedObject* o : all) {
    if (o->kind != "Gateway") continue;
    const std::string class_name = str(spec(*o), "gatewayClassName");
    std::string why;
    if (!controller_name.empty()) {
      auto it = classes.find(class_name);
      if (it == classes.end()) {
        why = "its GatewayClass '" + class_name + "' does not exist";
      } else if (it->second != controller_name) {
        why = "its GatewayClass '" + class_name + "' belongs to controller '" + it->second + "'";
      }
    }
    out[o->label] = std::move(why);
  }
  return out;
}

}  // namespace

const std::vector<Kind>& watchedKinds() {
  static const std::vector<Kind> kKinds = {
      {"Gateway", "gateway.networking.k8s.io", "v1", "gateways", false},
      {"BackendTLSPolicy", "gateway.networking.k8s.io", "v1alpha3", "backendtlspolicies", false},
      {"Backend", "gateway.envoyproxy.io", "v1alpha1", "backends", false},
      {"BackendTrafficPolicy", "gateway.envoyproxy.io", "v1alpha1", "backendtrafficpolicies",
       false},
      {"ClientTrafficPolicy", "gateway.envoyproxy.io", "v1alpha1", "clienttrafficpolicies", false},
      {"AIServiceBackend", "aigateway.envoyproxy.io", "v1alpha1", "aiservicebackends", true},
      {"AIGatewayRoute", "aigateway.envoyproxy.io", "v1alpha1", "aigatewayroutes", true},
      {"BackendSecurityPolicy", "aigateway.envoyproxy.io", "v1alpha1", "backendsecuritypolicies",
       false},
      {"Secret", "", "v1", "secrets", false},
      {"ConfigMap", "", "v1", "configmaps", false},
      {"GatewayClass", "gateway.networking.k8s.io", "v1", "gatewayclasses", false, true},
  };
  return kKinds;
}

const Kind* findKind(std::string_view kind) {
  for (const Kind& k : watchedKinds()) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

std::string apiVersionOf(const Kind& k) {
  if (k.group.empty()) return std::string(k.version);
  return std::string(k.group) + "/" + std::string(k.version);
}

std::string collectionPath(const Kind& k, std::string_view ns) {
  std::string path =
      k.group.empty() ? "/api/" + std::string(k.version) : "/apis/" + apiVersionOf(k);
  if (!ns.empty() && !k.cluster_scoped) path += "/namespaces/" + std::string(ns);
  path += "/";
  path += k.plural;
  return path;
}

std::string objectPath(const Kind& k, std::string_view ns, std::string_view name) {
  return collectionPath(k, ns) + "/" + std::string(name);
}

std::string objectLabel(std::string_view kind, std::string_view ns, std::string_view name) {
  return std::string(kind) + " " + std::string(ns) + "/" + std::string(name);
}

Result<CachedObject> toCached(const Kind& k, json::object raw) {
  CachedObject c;
  c.kind = std::string(k.kind);
  json::value* meta_value = raw.if_contains("metadata");
  if (meta_value == nullptr || !meta_value->is_object()) {
    return Error::internal(c.kind + " without metadata");
  }
  json::object& meta = meta_value->get_object();
  c.name = str(meta, "name");
  c.ns = str(meta, "namespace");
  if (c.name.empty()) return Error::internal(c.kind + " without metadata.name");
  if (c.ns.empty()) c.ns = "default";
  c.label = objectLabel(c.kind, c.ns, c.name);
  c.generation = integer(meta, "generation");
  c.resource_version = str(meta, "resourceVersion");
  if (const json::value* status = raw.if_contains("status"); status && status->is_object()) {
    if (const json::value* conds = status->get_object().if_contains("conditions")) {
      c.conditions = *conds;
    }
  }
  // What the server maintains changes on every write, status writes included; none of it is
  // configuration.
  for (const char* key :
       {"resourceVersion", "managedFields", "uid", "creationTimestamp", "generation", "selfLink",
        "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers"}) {
    meta.erase(key);
  }
  if (json::value* annotations = meta.if_contains("annotations");
      annotations && annotations->is_object()) {
    annotations->get_object().erase("kubectl.kubernetes.io/last-applied-configuration");
  }
  raw.erase("status");
  raw["kind"] = k.kind;
  raw["apiVersion"] = apiVersionOf(k);
  c.content = json::serialize(raw);
  c.object = std::move(raw);
  return c;
}

Result<ListPage> parseList(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Error::internal("list response is not a JSON object");
  json::object& o = v.get_object();
  ListPage page;
  if (const json::object* meta = obj(o, "metadata")) {
    page.resource_version = str(*meta, "resourceVersion");
    page.continue_token = str(*meta, "continue");
  }
  json::value* items = o.if_contains("items");
  if (items != nullptr && items->is_array()) {
    for (json::value& item : items->get_array()) {
      if (item.is_object()) page.items.push_back(std::move(item.get_object()));
    }
  } else if (items != nullptr && !items->is_null()) {
    return Error::internal("list response: items is not a list");
  }
  return page;
}

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return Error::internal("watch event is not a JSON object");
  json::object& o = v.get_object();
  static const std::map<std::string, EventType, std::less<>> kTypes = {
      {"ADDED", EventType::kAdded},
      {"MODIFIED", EventType::kModified},
      {"DELETED", EventType::kDeleted},
      {"BOOKMARK", EventType::kBookmark},
      {"ERROR", EventType::kError}};
  const std::string type = str(o, "type");
  auto it = kTypes.find(type);
  if (it == kTypes.end()) return Error::internal("watch event of unknown type '" + type + "'");
  json::value* object = o.if_contains("object");
  if (object == nullptr || !object->is_object()) {
    return Error::internal("watch event " + type + " without an object");
  }
  WatchEvent event;
  event.type = it->second;
  event.object = std::move(object->get_object());
  return event;
}

ApiStatus parseStatus(const json::object& o) {
  ApiStatus s;
  s.code = integer(o, "code");
  s.reason = str(o, "reason");
  s.message = str(o, "message");
  return s;
}

ApiStatus parseStatusBody(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  return parseStatus(v.get_object());
}

std::string resourceVersionOf(const json::object& o) {
  const json::object* meta = obj(o, "metadata");
  return meta != nullptr ? str(*meta, "resourceVersion") : std::string();
}

GatewaySelector parseGatewaySelector(const std::string& spec) {
  GatewaySelector sel;
  const auto slash = spec.find('/');
  if (slash == std::string::npos) {
    sel.name = spec;
  } else {
    sel.ns = spec.substr(0, slash);
    sel.name = spec.substr(slash + 1);
  }
  return sel;
}

std::vector<const CachedObject*> selectObjects(const std::vector<const CachedObject*>& all,
                                               const GatewaySelector& selector,
                                               std::vector<std::string>* skipped) {
  const std::map<std::string, std::string> by_class =
      gatewaysByClass(all, selector.controller_name);
  // Of another class (or of none that exists): never served, nor what is attached only to it.
  const auto foreign = [&by_class](const std::string& gateway_label) {
    auto it = by_class.find(gateway_label);
    return it != by_class.end() && !it->second.empty();
  };
  if (skipped != nullptr) {
    for (const auto& [label, why] : by_class) {
      if (!why.empty() && (selector.all() || gatewayMatches(label, selector))) {
        skipped->push_back(label + " is not served: " + why + " (serving controller '" +
                           selector.controller_name + "')");
      }
    }
  }
  std::set<std::string> routes;  // labels of the selected AIGatewayRoutes
  std::vector<const CachedObject*> out;
  // Two passes: routes first, since BackendTrafficPolicies may target them (as HTTPRoutes).
  for (const CachedObject* o : all) {
    if (o->kind != "AIGatewayRoute") continue;
    bool selected = selector.all();
    const std::vector<std::string> parents = routeParents(*o);
    for (const std::string& parent : parents) {
      if (!selected && gatewayMatches(parent, selector) && !foreign(parent)) selected = true;
    }
    if (selected && !parents.empty() && std::all_of(parents.begin(), parents.end(), foreign)) {
      selected = false;
    }
    if (selected) routes.insert(o->label);
  }
  std::set<std::string> secrets;
  for (const CachedObject* o : all) {
    const std::string& kind = o->kind;
    bool selected = true;
    if (kind == "AIGatewayRoute") {
      selected = routes.count(o->label) != 0;
    } else if (kind == "Secret" || kind == "ConfigMap" || kind == "GatewayClass") {
      // Secrets and ConfigMaps below, once the objects that reference them are known;
      // GatewayClasses were read above, and the loader has no use for them.
      continue;
    } else if (kind == "Gateway") {
      selected = (selector.all() || gatewayMatches(o->label, selector)) && !foreign(o->label);
    } else if (kind == "BackendTrafficPolicy" || kind == "ClientTrafficPolicy") {
      selected = false;
      bool any_gateway_target = false;
      for (const json::value* ref : targetRefs(spec(*o))) {
        const std::string gateway = refLabel(*ref, "Gateway", o->ns);
        const std::string route = refLabel(*ref, "HTTPRoute", o->ns);
        if (!gateway.empty()) any_gateway_target = true;
        if ((!gateway.empty() && (selector.all() || gatewayMatches(gateway, selector)) &&
             !foreign(gateway)) ||
            (!route.empty() && kind == "BackendTrafficPolicy" &&
             routes.count(
                 objectLabel("AIGatewayRoute", o->ns, route.substr(route.find('/') + 1))))) {
          selected = true;
        }
      }
      // Without a selector, a policy that targets no Gateway (or a route of another form) is
      // kept as before; one that targets only Gateways of other classes is not ours.
      if (selector.all() && !selected && !any_gateway_target) selected = true;
    }
    if (!selected) continue;
    if (kind == "BackendSecurityPolicy") {
      for (std::string& s : policySecrets(*o)) secrets.insert(std::move(s));
    }
    if (kind == "Backend" || kind == "BackendTLSPolicy") caCertificateRefs(*o, secrets);
    out.push_back(o);
  }
  for (const CachedObject* o : all) {
    if ((o->kind == "Secret" || o->kind == "ConfigMap") && secrets.count(o->label)) {
      out.push_back(o);
    }
  }
  return out;
}

std::set<std::string> statusSubjects(const std::vector<const CachedObject*>& selected,
                                     const GatewaySelector& selector) {
  std::set<std::string> out;
  std::set<std::string> referenced;
  for (const CachedObject* o : selected) {
    if (o->kind != "AIGatewayRoute") continue;
    out.insert(o->label);
    for (std::string& b : routeBackends(*o)) referenced.insert(std::move(b));
  }
  for (const CachedObject* o : selected) {
    if (o->kind != "AIServiceBackend") continue;
    if (selector.all() || referenced.count(o->label)) out.insert(o->label);
  }
  return out;
}

std::vector<std::string> securityPolicyTargets(const CachedObject& policy) {
  std::vector<std::string> out;
  for (const json::value* ref : targetRefs(spec(policy))) {
    std::string label = refLabel(*ref, "AIServiceBackend", policy.ns);
    // Targets live in the policy's namespace (the loader ignores a namespace there).
    if (!label.empty()) {
      out.push_back(objectLabel("AIServiceBackend", policy.ns, label.substr(label.find('/') + 1)));
    }
  }
  return out;
}

std::string backendPolicyRef(const CachedObject& backend) {
  const json::object* ref = obj(spec(backend), "backendSecurityPolicyRef");
  if (ref == nullptr) return {};
  const std::string name = str(*ref, "name");
  if (name.empty()) return {};
  return objectLabel("BackendSecurityPolicy", backend.ns, name);
}

}  // namespace tollgate::kube
