// Plain, immutable configuration structs. The YAML loader (loader.cc and its convert_<kind>.cc) is
// the only code that builds them; the runtime never sees YAML. A loaded Config is shared read-only
// by all threads through a std::shared_ptr<const Config> snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/header_match.h"

namespace tollgate::config {

// Where an object came from, for diagnostics: "file.yaml" and the object's kind/namespace/name.
struct Origin {
  std::string file;
  std::string kind;
  std::string ns;    // metadata.namespace ("default" when absent)
  std::string name;  // metadata.name
  int line = 0;      // 1-based line where the object's document starts; 0 when unknown
};

struct Listener {
  std::string name;
  uint16_t port = 0;
  std::string protocol;  // HTTP
};

struct Gateway {
  Origin origin;
  std::vector<Listener> listeners;
};

struct Endpoint {
  std::string host;  // fqdn hostname or ip address
  uint16_t port = 0;
  bool is_ip = false;
};

struct BackendTls {
  bool enabled = false;
  bool system_cas = true;  // wellKnownCACertificates: System
  std::string hostname;    // SNI / verification name; empty = endpoint host
  // caCertificateRefs: the PEM certificates of the referenced ConfigMaps/Secrets (key ca.crt),
  // concatenated. When set, these CAs alone are trusted (not the system ones), as Gateway API's
  // BackendTLSPolicy says.
  std::string ca_pem;
  std::string ca_source;  // "ConfigMap ns/name, Secret ns/name", for messages
};

// gateway.envoyproxy.io Backend.
struct Backend {
  Origin origin;
  std::vector<Endpoint> endpoints;
  BackendTls tls;  // from spec.tls or a BackendTLSPolicy targeting it
};

enum class Schema { kOpenAI, kAWSAnthropic, kAWSBedrock, kAnthropic, kAzureOpenAI, kUnknown };

// aigateway.envoyproxy.io AIServiceBackend.
struct AIServiceBackend {
  Origin origin;
  Schema schema = Schema::kOpenAI;
  std::string schema_name;     // as written, for messages
  std::string schema_version;  // e.g. bedrock-2023-05-31, or an OpenAI path prefix like "v1"
  std::string backend_ref;     // name of the Backend (same namespace unless given)
  std::string backend_ref_ns;
  // How an OpenAI-schema server is reached for the agent APIs, from the annotations below
  // (tollgate's own: Envoy AI Gateway has no field for either). Ignored for other schemas.
  // tollgate.io/responses-api: "native" (default: the server has /v1/responses, vLLM >= 0.10)
  // or "translate" (chat completions only: older vLLM, llama.cpp, SGLang builds).
  bool serves_responses = true;
  // tollgate.io/anthropic-messages-api: "translate" (default: Messages become chat completions,
  // which every OpenAI-compatible server has) or "native" (the server has /v1/messages itself:
  // recent vLLM, SGLang, llama.cpp, Ollama).
  bool serves_anthropic_messages = false;
};

// The matcher's own kinds (Exact, RegularExpression, Distinct): routing and rate limiting compile
// what the loader read without a mapping of their own.
using HeaderMatchType = HeaderMatchKind;

struct HeaderMatch {
  std::string name;  // lower-cased
  HeaderMatchType type = HeaderMatchType::kExact;
  std::string value;
  bool invert = false;  // BackendTrafficPolicy clientSelectors only
};

struct RouteMatch {
  std::vector<HeaderMatch> headers;  // all must match
};

struct RouteBackendRef {
  std::string name;  // AIServiceBackend name
  std::string ns;
  uint32_t weight = 1;
  uint32_t priority = 0;  // 0 is tried first; higher numbers are fallbacks
  std::string model_name_override;
};

// What Envoy AI Gateway uses when a rule sets no request timeout (Envoy Gateway's own is 15s).
constexpr uint32_t kDefaultRequestTimeoutMs = 60000;

struct RouteTimeouts {
  // Whole request, all attempts. nullopt = not set (use kDefaultRequestTimeoutMs); 0 = no timeout
  // (Gateway API: a zero duration disables the timeout).
  std::optional<uint32_t> request_ms;
};

enum class CostType { kInputToken, kCachedInputToken, kOutputToken, kTotalToken, kCEL };

struct LLMRequestCost {
  std::string metadata_key;
  CostType type = CostType::kTotalToken;
  std::string cel;  // when type == kCEL
};

struct RouteRule {
  std::vector<RouteMatch> matches;  // any may match; empty = match everything
  std::vector<RouteBackendRef> backend_refs;
  RouteTimeouts timeouts;
};

// aigateway.envoyproxy.io AIGatewayRoute.
struct AIGatewayRoute {
  Origin origin;
  std::vector<std::string> parent_gateways;
  std::vector<RouteRule> rules;
  std::vector<LLMRequestCost> llm_request_costs;
};

enum class SecurityType {
  kAPIKey,
  kAWSCredentials,
  kAnthropicAPIKey,
  kAzureAPIKey,
  kAzureCredentials,
  kUnknown
};

struct AWSCredentialsSpec {
  std::string region;
  std::optional<std::string> credentials_file_secret;  // credentialsFile.secretRef.name
  std::string credentials_profile;       // credentialsFile.profile ("default" when absent)
  std::string credentials_file_content;  // resolved "credentials" key of that Secret; never logged
  std::optional<std::string> oidc_role_arn;
};

// AzureCredentials: an Entra ID application whose access tokens the gateway fetches (client
// credentials grant) and sends as a bearer token.
struct AzureCredentialsSpec {
  std::string client_id;
  std::string tenant_id;
  std::string client_secret;  // resolved "client-secret" key of clientSecretRef; never logged
};

// aigateway.envoyproxy.io BackendSecurityPolicy.
struct BackendSecurityPolicy {
  Origin origin;
  std::vector<std::string> target_backends;  // AIServiceBackend names
  SecurityType type = SecurityType::kUnknown;
  std::string api_key_secret;  // secretRef.name for API keys (resolved below)
  std::string api_key;         // resolved secret value ("apiKey" key); never logged
  AWSCredentialsSpec aws;
  AzureCredentialsSpec azure;
};

enum class RateLimitUnit { kSecond, kMinute, kHour, kDay, kMonth, kYear };

struct RateLimitRule {
  std::vector<std::vector<HeaderMatch>> client_selectors;  // each selector: headers ANDed
  uint64_t limit = 0;
  RateLimitUnit unit = RateLimitUnit::kMinute;
  uint64_t request_cost = 1;                         // cost.request.number (default 1)
  std::optional<std::string> response_metadata_key;  // cost.response.metadata.key
  std::string response_metadata_namespace;           // cost.response.metadata.namespace
};

// gateway.envoyproxy.io BackendTrafficPolicy.
struct BackendTrafficPolicy {
  Origin origin;
  std::vector<std::string> target_gateways;
  // AIGatewayRoute names, from targetRefs of kind HTTPRoute: Envoy AI Gateway generates one
  // HTTPRoute per AIGatewayRoute with the same name, so users target routes that way. The rules
  // then apply only to requests matched by those routes.
  std::vector<std::string> target_routes;
  bool global = true;  // rateLimit.type Global / Local
  std::vector<RateLimitRule> rules;
  // timeout.http.connectionIdleTimeout (Envoy Gateway's HTTPTimeout.ConnectionIdleTimeout): how
  // long a pooled upstream connection of the targeted routes may sit idle before the gateway
  // closes it. Set it below the upstream's own keep-alive timeout.
  std::optional<uint64_t> connection_idle_timeout_ms;
  std::map<std::string, std::string> annotations;
};

// gateway.envoyproxy.io ClientTrafficPolicy.
struct ClientTrafficPolicy {
  Origin origin;
  std::vector<std::string> target_gateways;
  std::optional<uint64_t> buffer_limit_bytes;  // connection.bufferLimit
  // timeout.http.requestReceivedTimeout: the whole request (headers and body) must arrive
  // within it; timeout.http.idleTimeout: a keep-alive connection without a request is closed.
  std::optional<uint64_t> request_received_timeout_ms;
  std::optional<uint64_t> idle_timeout_ms;
};

struct Secret {
  Origin origin;
  std::map<std::string, std::string> data;  // decoded; never logged
};

// A core/v1 ConfigMap: only read for CA certificates (caCertificateRefs) today.
struct ConfigMap {
  Origin origin;
  std::map<std::string, std::string> data;
};

struct Config {
  std::vector<Gateway> gateways;
  std::vector<Backend> backends;
  std::vector<AIServiceBackend> ai_service_backends;
  std::vector<AIGatewayRoute> routes;
  std::vector<BackendSecurityPolicy> security_policies;
  std::vector<BackendTrafficPolicy> traffic_policies;
  std::vector<ClientTrafficPolicy> client_traffic_policies;
  std::vector<Secret> secrets;
  std::vector<ConfigMap> config_maps;

  // Look-ups by name (namespaces are compared too; nullptr when absent).
  const Backend* findBackend(const std::string& ns, const std::string& name) const;
  const AIServiceBackend* findAIServiceBackend(const std::string& ns,
                                               const std::string& name) const;
  const BackendSecurityPolicy* securityPolicyFor(const AIServiceBackend& b) const;
};

enum class Severity { kError, kWarning, kInfo };

// One problem found while loading. toString() gives
// "file.yaml:12: AIGatewayRoute default/x: spec.rules[2].backendRefs[0].weight: msg" (without the
// severity, which callers print their own way; parts that are unknown or empty are left out).
struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;        // 1-based; 0 when unknown
  std::string object;  // "Kind ns/name", empty when the problem is with the file itself
  std::string field;   // YAML path, e.g. spec.rules[0].backendRefs[1].weight
  std::string message;
  std::string toString() const;
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;
  bool hasErrors() const;
};

// Overrides applied after loading (from the command line).
struct LoadOptions {
  // BACKEND name -> endpoint replacing all endpoints of that Backend (in every namespace). The
  // override also turns the Backend's TLS off: it points at a local plain-HTTP server (a mock or a
  // port-forward). Naming a Backend that no file defines is an error.
  std::map<std::string, Endpoint> backend_endpoint_overrides;
  // How messages call an object that is referenced but was not loaded. The cluster controller says
  // more than "file": there the object may exist and have been rejected.
  std::string missing_phrase = "which no loaded file defines";
};

// Loads every path: a YAML file, or a directory whose *.yaml / *.yml files are read in name order
// (not recursive). Each file may hold several documents. Never throws; every problem is a
// Diagnostic (docs/configuration.md says what each severity means). No shared state: any thread
// may call these, e.g. a reload thread while requests use the previous Config.
LoadResult loadFiles(const std::vector<std::string>& paths, const LoadOptions& opts = {});
// Same, from in-memory text (for the embedded demo and tests); `name` stands for the file.
LoadResult loadString(const std::string& yaml_text, const std::string& name,
                      const LoadOptions& opts = {});
// Same, from single-line JSON objects (what the Kubernetes API returns): pairs of the object's
// label ("Kind ns/name", for problems found before its metadata could be read) and its text. All
// are reported as coming from `source`, without line numbers.
LoadResult loadObjects(const std::vector<std::pair<std::string, std::string>>& objects,
                       const std::string& source, const LoadOptions& opts = {});

// The value syntaxes the loader accepts, exposed for tests and the command line. nullopt when
// malformed or out of range.
// Gateway API duration: 1 to 4 parts of 1-5 digits with h, m, s or ms ("60s", "1h30m", "500ms").
std::optional<uint64_t> parseDurationMs(std::string_view text);
// Kubernetes quantity as a byte count: "1024", "500k", "50Mi", "1.5Gi", "1e6"; fractions round up.
std::optional<uint64_t> parseQuantityBytes(std::string_view text);

}  // namespace tollgate::config
