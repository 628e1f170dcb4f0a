// The Kubernetes objects tollgate watches, as plain data: which kinds (API group, version, plural),
// their URLs, the list and watch wire formats, and the cached form of one object. No I/O here.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tollgate::kube {

struct Kind {
  std::string_view kind;     // AIGatewayRoute
  std::string_view group;    // aigateway.envoyproxy.io; empty for the core group
  std::string_view version;  // v1alpha1
  std::string_view plural;   // aigatewayroutes
  bool status = false;       // tollgate writes status.conditions (Accepted) on these
  bool cluster_scoped = false;  // listed and watched without a namespace (GatewayClass)
};

// Every kind the configuration loader reads, in the versions the blueprint uses. ConfigMaps are
// not among them: nothing tollgate supports reads one (custom CA bundles are refused).
const std::vector<Kind>& watchedKinds();
const Kind* findKind(std::string_view kind);

std::string apiVersionOf(const Kind& k);  // "group/version", or "v1" for the core group
// /api/v1/secrets, /apis/G/V/namespaces/NS/plural; `ns` empty = every namespace.
std::string collectionPath(const Kind& k, std::string_view ns);
std::string objectPath(const Kind& k, std::string_view ns, std::string_view name);

// "Kind ns/name": the label the loader's diagnostics carry in Diagnostic::object, so an error
// finds its object by string equality.
std::string objectLabel(std::string_view kind, std::string_view ns, std::string_view name);

// One object as the cache keeps it.
struct CachedObject {
  std::string kind;
  std::string ns;
  std::string name;
  std::string label;  // objectLabel(kind, ns, name)
  int64_t generation = 0;
  std::string resource_version;
  // What the loader reads: the object without status and server-managed metadata
  // (resourceVersion, managedFields, uid, timestamps, last-applied annotation), with kind and
  // apiVersion set (list items may lack them). Equal content = nothing to reload.
  boost::json::object object;
  std::string content;  // `object` serialised (one line of JSON, which is YAML)
  // status.conditions as last seen from the server (null when none): compared before writing.
  boost::json::value conditions;
};

// Builds the cached form; an error when metadata.name is missing.
Result<CachedObject> toCached(const Kind& k, boost::json::object raw);

struct ListPage {
  std::vector<boost::json::object> items;
  std::string resource_version;  // metadata.resourceVersion: where a watch starts
  std::string continue_token;    // metadata.continue: more pages follow when not empty
};
Result<ListPage> parseList(std::string_view body);

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
struct WatchEvent {
  EventType type = EventType::kAdded;
  boost::json::object object;  // the object; for ERROR a metav1.Status
};
// One line of a watch stream ({"type":"ADDED","object":{...}}).
Result<WatchEvent> parseWatchEvent(std::string_view line);

// A metav1.Status (error bodies, ERROR events): code 410 means "relist".
struct ApiStatus {
  int64_t code = 0;
  std::string reason;
  std::string message;
};
ApiStatus parseStatus(const boost::json::object& o);
ApiStatus parseStatusBody(std::string_view body);

std::string resourceVersionOf(const boost::json::object& o);  // metadata.resourceVersion

// Envoy Gateway's controller name: the GatewayClasses users already have name it, and tollgate
// stands in for Envoy Gateway.
inline constexpr std::string_view kDefaultControllerName =
    "gateway.envoyproxy.io/gatewayclass-controller";

// --gateway NAME or NS/NAME: which Gateway's routes tollgate serves. Empty name = every route.
struct GatewaySelector {
  std::string ns;  // empty = any namespace
  std::string name;
  // --controller-name: only Gateways whose GatewayClass has this spec.controllerName are served
  // (as every Gateway API implementation does); empty = Gateways of any class.
  std::string controller_name;
  bool all() const { return name.empty(); }
};
GatewaySelector parseGatewaySelector(const std::string& spec);

// What goes to the loader, chosen from everything cached (in cache order):
// - with a selector, only that Gateway, the AIGatewayRoutes whose parentRefs name it, and the
//   Backend/ClientTrafficPolicies that target it (or, for BackendTrafficPolicy, one of those
//   routes); other kinds all;
// - Secrets and ConfigMaps only when a selected object references them (a BackendSecurityPolicy's
//   secretRef, a Backend's or BackendTLSPolicy's caCertificateRefs), so unrelated ones never
//   reach the configuration (or its diagnostics).
// - Gateways only when their GatewayClass is the selector's controller's (GatewayClass objects
//   themselves never reach the loader); routes and traffic policies attached only to Gateways of
//   other classes are left out with them. `skipped`, when given, gets one line per Gateway left
//   out for its class, saying why.
std::vector<const CachedObject*> selectObjects(const std::vector<const CachedObject*>& all,
                                               const GatewaySelector& selector,
                                               std::vector<std::string>* skipped = nullptr);

// Labels of the selected objects whose status tollgate writes: every AIGatewayRoute selected, and
// the AIServiceBackends they reference (all of them without a selector).
std::set<std::string> statusSubjects(const std::vector<const CachedObject*>& selected,
                                     const GatewaySelector& selector);

// Labels of the AIServiceBackends a BackendSecurityPolicy object applies to (its targetRefs).
std::vector<std::string> securityPolicyTargets(const CachedObject& policy);
// The label of the BackendSecurityPolicy an AIServiceBackend names in the older
// spec.backendSecurityPolicyRef; empty when none.
std::string backendPolicyRef(const CachedObject& backend);

}  // namespace tollgate::kube
