// Internal to the mock engine (llm_engine.cc routes to it): POST /v1/responses, the OpenAI
// Responses API as vLLM (>= 0.10) and OpenAI serve it, stream and not. The reply text is chat's
// for the same last user message; a scripted tool call answers `TOOLTEST` when tools are offered,
// and a tool result is answered by quoting it (docs/mock-llm.md). Stateless.
#pragma once

#include "mock/llm_engine.h"
#include "mock/llm_request.h"

namespace tollgate::mock::engine {

EngineResult responses(const Context& ctx, const json::object& req);

}  // namespace tollgate::mock::engine
