// The loader's insides, shared by its parts and by nothing outside config/ (model.h is the API):
//   loader.cc           files and directories -> documents -> objects; dispatch by kind; finish()
//   convert_<kind>.cc   one object of a kind -> its struct in Config, every field validated; what
//                       needs other objects is queued as a Pending* entry
//   link.cc             the Pending* entries once every object is known: Secrets, CA bundles,
//                       BackendTLSPolicies, overrides, references that lead nowhere
//   yaml_read.h         the node readers and the Reporter all of them use
// A new kind is a convert_<kind>.cc, its declaration below, and its line in loader.cc's table of
// kinds (Loader::findKind); a new field of a kind touches its convert_<kind>.cc only.
//
// One Loader serves one load call on one thread; it owns everything it reads and builds until
// finish() moves the Config and the diagnostics out.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "config/yaml_read.h"

namespace tollgate::config::detail {

// The API groups of the kinds tollgate reads.
constexpr std::string_view kGatewayApiGroup = "gateway.networking.k8s.io";
constexpr std::string_view kEnvoyGatewayGroup = "gateway.envoyproxy.io";
constexpr std::string_view kAIGatewayGroup = "aigateway.envoyproxy.io";
constexpr std::string_view kCoreGroup = "";

// An object as read, before conversion.
struct RawObject {
  Origin origin;  // origin.kind is the kind
  YAML::Node doc;
  int line_base = 0;
  std::string canonical;
  std::vector<Origin> replaced;  // earlier, different definitions it replaced, in load order
};

// BackendTLSPolicy has no struct of its own: it only changes the Backends it targets.
// One entry of caCertificateRefs, resolved once every object is loaded.
struct CaRef {
  std::string kind;  // ConfigMap or Secret
  std::string name;  // same namespace as the referring object
  Diagnostic where;  // the error to report when it leads nowhere; message filled in then
};

struct TlsPolicy {
  Origin origin;
  std::vector<std::string> target_backends;  // same namespace as the policy
  bool system_cas = true;
  std::string hostname;
  std::vector<CaRef> ca_refs;
};

// caCertificateRefs written on a Backend's own spec.tls.
struct PendingBackendCa {
  size_t backend = 0;  // index into Config::backends
  std::vector<CaRef> refs;
};

// A reference to check once every object is known; `if_missing` is reported when it leads nowhere.
struct PendingRef {
  std::string kind;
  std::string ns;
  std::string name;
  Diagnostic if_missing;
};

// A Secret a BackendSecurityPolicy needs; `where` points at the secretRef.
// What a BackendSecurityPolicy's Secret holds, and so which key of it is read.
enum class SecretUse {
  kApiKey,              // "apiKey"
  kAwsCredentialsFile,  // "credentials"
  kAzureClientSecret,   // "client-secret"
};

struct PendingSecret {
  size_t policy = 0;  // index into Config::security_policies
  SecretUse use = SecretUse::kApiKey;
  std::string ns;
  std::string name;
  Diagnostic where;
};

// The older way to attach a policy: AIServiceBackend.spec.backendSecurityPolicyRef.
struct PendingPolicyLink {
  std::string backend;
  std::string ns;
  std::string policy;
  Diagnostic where;
};

// A rate-limit rule charging a response cost read from a metadata key some route must define.
struct PendingCostKey {
  std::string key;
  Diagnostic where;
};

// "Kind/ns/name", the key of Loader's object index.
std::string objectKey(std::string_view kind, std::string_view ns, std::string_view name);

class Loader {
 public:
  explicit Loader(const LoadOptions& opts) : opts_(opts) {}

  void addPath(const std::string& path);
  // line_offset shifts every reported line: -1 with one single-line document (a JSON object from
  // the API server) reports no line at all, since none would mean anything to the reader.
  void addText(std::string_view text, const std::string& file, int line_offset = 0);
  // One single-line document known as `label` ("Kind ns/name"): a problem found before the
  // object's name could be read (unparsable text) is still reported against it.
  void addObjectText(std::string_view text, const std::string& file, const std::string& label);
  LoadResult finish();

 private:
  // How a reference to an object that was not loaded reads ("which no loaded file defines").
  const std::string& missing() const { return opts_.missing_phrase; }

  // loader.cc
  void addFile(const std::string& path);
  void addDocument(const YAML::Node& doc, const std::string& file, int line_base);
  void addObject(RawObject object);
  void fileProblem(Severity severity, const std::string& file, std::string message);
  void reportDuplicates();
  // The kinds tollgate reads, with their API group and converter; nullptr for any other kind.
  struct Kind;
  static const Kind* findKind(std::string_view kind);
  void convert(const RawObject& o);

  // One per kind, each in its convert_<kind>.cc; `spec` is a mapping, checked by convert().
  void convertGateway(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertBackend(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertTlsPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertAIServiceBackend(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertRoute(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertSecurityPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertClientTrafficPolicy(const RawObject& o, const YAML::Node& spec, const Reporter& r);
  void convertSecret(const RawObject& o, const Reporter& r);
  void convertConfigMap(const RawObject& o, const Reporter& r);
  // Parts more than one kind reads: caCertificateRefs (convert_backend.cc), header matches
  // (convert_header_match.cc), rate-limit rules (convert_traffic_policy.cc).
  std::vector<CaRef> parseCaRefs(const YAML::Node& tls, const std::string& path, const Reporter& r);
  std::optional<HeaderMatch> parseHeaderMatch(const YAML::Node& n, const std::string& path,
                                              bool rate_limit, const Reporter& r);
  std::optional<RateLimitRule> parseRateLimitRule(const YAML::Node& n, const std::string& path,
                                                  const Reporter& r);

  // link.cc, in the order finish() calls them.
  void linkSecurityPolicies();
  void checkSecurityPolicyTargets();
  void resolveSecrets();
  void applyTlsPolicies();
  void applyOverrides();
  void checkReferences();
  void checkSharedTrafficPolicies();
  // The CA bundle `refs` name (namespace `ns`), or nullopt after reporting why there is none.
  std::optional<std::string> resolveCaBundle(std::vector<CaRef>& refs, const std::string& ns,
                                             std::string* source);

  const LoadOptions& opts_;
  std::vector<Diagnostic> diags_;
  std::vector<RawObject> objects_;              // in order of first definition
  std::map<std::string, size_t> object_index_;  // "Kind/ns/name" -> objects_ index
  std::set<std::string> loaded_files_;          // canonical paths, to read each file once
  Config config_;
  std::vector<TlsPolicy> tls_policies_;
  std::vector<PendingBackendCa> backend_cas_;
  std::vector<PendingRef> refs_;
  std::vector<PendingSecret> secrets_;
  std::vector<PendingPolicyLink> policy_links_;
  std::vector<PendingCostKey> cost_keys_;
  std::set<std::string> route_cost_keys_;  // every llmRequestCosts metadataKey of every route
};

// Reads targetRefs (and the older single targetRef) of an Envoy Gateway policy. Gateways go to
// `gateways`; HTTPRoutes go to `routes` when given (see BackendTrafficPolicy::target_routes).
// In convert_traffic_policy.cc; ClientTrafficPolicy uses it too.
void readPolicyTargets(const YAML::Node& spec, const Origin& origin, const Reporter& r,
                       std::vector<std::string>* gateways, std::vector<std::string>* routes,
                       std::vector<PendingRef>* refs, const std::string& missing);

}  // namespace tollgate::config::detail
