// Internal to the mock engine (llm_engine.cc routes to these): one function per OpenAI endpoint,
// a parsed request object in, a complete response (or SSE events) out. Stateless.
#pragma once

#include <boost/json.hpp>

#include "mock/llm_engine.h"
#include "mock/llm_request.h"

namespace tollgate::mock::engine {

// POST /v1/chat/completions
EngineResult chatCompletions(const Context& ctx, const json::object& req);
// POST /v1/completions
EngineResult completions(const Context& ctx, const json::object& req);
// POST /v1/embeddings
EngineResult embeddings(const Context& ctx, const json::object& req);
// GET /v1/models
EngineResult listModels(const Context& ctx);

}  // namespace tollgate::mock::engine
