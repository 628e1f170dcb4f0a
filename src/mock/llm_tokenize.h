// Internal to the mock engine (llm_engine.cc routes to it): POST /tokenize as vLLM serves it
// (vllm/entrypoints/openai/protocol.py, TokenizeCompletionRequest / TokenizeChatRequest /
// TokenizeResponse): {"model"?, "prompt"} or {"model"?, "messages"} in, {"count",
// "max_model_len", "tokens"} out, in the mock's token rule (docs/mock-llm.md). Stateless.
#pragma once

#include "mock/llm_engine.h"
#include "mock/llm_request.h"

namespace tollgate::mock::engine {

// `messages` are rendered by the mock's chat template, which is the chat endpoint's own: the count
// is the prompt_tokens a chat completion of the same messages reports.
EngineResult tokenize(const Context& ctx, const json::object& req);

}  // namespace tollgate::mock::engine
