// AIServiceBackend (aigateway.envoyproxy.io): the API schema of a Backend.

#include <optional>
#include <string>
#include <utility>

#include "config/loader_internal.h"

namespace tollgate::config::detail {

namespace {

constexpr const char* kResponsesApiAnnotation = "tollgate.io/responses-api";
constexpr const char* kAnthropicMessagesApiAnnotation = "tollgate.io/anthropic-messages-api";

// Reads one of the "native" / "translate" annotations; anything else is an error naming both
// values, since a typo would otherwise silently pick the default way of reaching the server.
void readApiModeAnnotation(const YAML::Node& annotations, const char* key, const Reporter& r,
                           bool& native) {
  const YAML::Node value = child(annotations, key);
  if (!present(value)) return;
  const std::string path = std::string("metadata.annotations.") + key;
  if (value.IsScalar() && value.Scalar() == "native") {
    native = true;
  } else if (value.IsScalar() && value.Scalar() == "translate") {
    native = false;
  } else {
    r.error(value, path, "must be \"native\" or \"translate\"");
  }
}

}  // namespace

void Loader::convertAIServiceBackend(const RawObject& o, const YAML::Node& spec,
                                     const Reporter& r) {
  AIServiceBackend backend;
  backend.origin = o.origin;
  const YAML::Node annotations = child(child(o.doc, "metadata"), "annotations");
  if (isMap(r, annotations, "metadata.annotations")) {
    readApiModeAnnotation(annotations, kResponsesApiAnnotation, r, backend.serves_responses);
    readApiModeAnnotation(annotations, kAnthropicMessagesApiAnnotation, r,
                          backend.serves_anthropic_messages);
  }
  const YAML::Node schema = child(spec, "schema");
  if (!present(schema)) {
    r.error(spec, "spec.schema", "required field is missing");
  } else if (isMap(r, schema, "spec.schema")) {
    const YAML::Node name = child(schema, "name");
    if (name.IsDefined() && name.IsScalar()) backend.schema_name = name.Scalar();
    const std::optional<Schema> value =
        requireEnum<Schema>(r, schema, "name", "spec.schema",
                            {{"OpenAI", Schema::kOpenAI},
                             {"AWSAnthropic", Schema::kAWSAnthropic},
                             {"AWSBedrock", Schema::kAWSBedrock},
                             {"Anthropic", Schema::kAnthropic},
                             {"AzureOpenAI", Schema::kAzureOpenAI}});
    backend.schema = value.value_or(Schema::kUnknown);
    backend.schema_version =
        getString(r, child(schema, "version"), "spec.schema.version").value_or("");
  }

  const YAML::Node ref = child(spec, "backendRef");
  if (!present(ref)) {
    r.error(spec, "spec.backendRef", "required field is missing");
  } else if (isMap(r, ref, "spec.backendRef")) {
    const std::optional<std::string> name = requireString(r, ref, "name", "spec.backendRef");
    const std::optional<std::string> kind =
        getString(r, child(ref, "kind"), "spec.backendRef.kind");
    const std::optional<std::string> group =
        getString(r, child(ref, "group"), "spec.backendRef.group");
    bool ok = name.has_value();
    if (kind && *kind != "Backend") {
      r.error(child(ref, "kind"), "spec.backendRef.kind",
              "only kind Backend (gateway.envoyproxy.io) is supported, got " + *kind);
      ok = false;
    }
    if (group && *group != kEnvoyGatewayGroup) {
      r.error(child(ref, "group"), "spec.backendRef.group",
              "only group gateway.envoyproxy.io is supported, got " + *group);
      ok = false;
    }
    if (ok) {
      backend.backend_ref = *name;
      backend.backend_ref_ns =
          getString(r, child(ref, "namespace"), "spec.backendRef.namespace").value_or(o.origin.ns);
      refs_.push_back(
          PendingRef{"Backend", backend.backend_ref_ns, backend.backend_ref,
                     r.make(Severity::kWarning, child(ref, "name"), "spec.backendRef.name",
                            "names Backend " + backend.backend_ref_ns + "/" + backend.backend_ref +
                                ", " + missing() +
                                "; requests routed to this AIServiceBackend "
                                "will answer 503")});
    }
  }

  // Before BackendSecurityPolicy had targetRefs, the backend pointed at its policy.
  const YAML::Node policy_ref = child(spec, "backendSecurityPolicyRef");
  if (isMap(r, policy_ref, "spec.backendSecurityPolicyRef")) {
    if (const std::optional<std::string> name =
            requireString(r, policy_ref, "name", "spec.backendSecurityPolicyRef")) {
      policy_links_.push_back(
          PendingPolicyLink{o.origin.name, o.origin.ns, *name,
                            r.make(Severity::kWarning, child(policy_ref, "name"),
                                   "spec.backendSecurityPolicyRef.name", "")});
    }
  }
  config_.ai_service_backends.push_back(std::move(backend));
}

}  // namespace tollgate::config::detail
