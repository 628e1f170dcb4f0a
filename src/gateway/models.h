// The bodies of the model lists: GET /v1/models in OpenAI's shape and GET /anthropic/v1/models in
// Anthropic's (paginated by limit, after_id, before_id; docs/api-count-tokens.md). The models are
// the route table's, in its order; `created_unix` is when the configuration was loaded. Pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tollgate::gateway {

// {"object":"list","data":[{"id","object":"model","created","owned_by"}...]}
std::string openAIModelList(const std::vector<std::string>& models, int64_t created_unix);

// {"data":[{"type":"model","id","display_name","created_at"}...],"has_more","first_id","last_id"}.
// `query` is the request's query string (without '?'): limit (1 to 1000, default 20), after_id or
// before_id (one model id; an id no route serves gives an empty page). A bad limit, or both
// cursors, is a client error (400).
Result<std::string> anthropicModelList(const std::vector<std::string>& models, int64_t created_unix,
                                       std::string_view query);

}  // namespace tollgate::gateway
