// Internal to the mock engine (llm_*.cc): the generated choices of a request and the response
// pieces every endpoint shares: usage, token ids, and the SSE streams of chat and completions.
// Streams are written as text rather than through a DOM: a stream has one chunk per word, every
// chunk shares the same head, and the only untrusted string (the model) is escaped once.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mock/llm_chat_script.h"
#include "mock/llm_engine.h"
#include "mock/llm_request.h"
#include "mock/llm_text.h"

namespace tollgate::mock::engine {

// p.n replies to one prompt.
std::vector<Reply> generateChoices(uint64_t seed, const GenParams& p);
uint64_t completionTokens(const std::vector<Reply>& replies);
void putUsage(json::object& usage, uint64_t prompt, uint64_t completion);
json::array generatedTokenIds(const Reply& reply);

// Choices advance together, one word each per round, as a batched server emits them.
// `script` (mock/llm_chat_script.h) applies to choice 0: reasoning_content deltas first, then
// its tool call or text in place of the generated words.
EngineResult chatStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                        const std::vector<Reply>& replies, const ChatScript& script);
// The legacy API has no role chunk and no empty closing chunk: the last text chunk carries the
// finish_reason, as OpenAI and vLLM send it.
EngineResult completionStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                              const std::vector<Reply>& replies);

}  // namespace tollgate::mock::engine
