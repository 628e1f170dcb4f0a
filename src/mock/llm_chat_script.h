// Internal to the mock engine (llm_*.cc): the scripted parts of a chat answer, so that agent
// clients (Claude Code, Codex) can run a whole tool round trip against the mock, and thinking is
// testable. Deterministic: the same request always gets the same script. docs/mock-llm.md has the
// rules:
//  - the last user message contains TOOLTEST and the request offers tools: the answer is one call
//    to a tool it offers (Bash, else shell, else exec_command, else the first), with arguments
//    that satisfy the tool's required properties (a command runs `echo tollgate-tool-ok`);
//  - the conversation ends with a tool result: the answer is "tool said: <that result>";
//  - the request asks for reasoning (reasoning_effort, include_reasoning, or
//    chat_template_kwargs.enable_thinking): the answer carries reasoning_content, as vLLM's
//    reasoning parsers return it.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "mock/llm_text.h"

namespace tollgate::mock::engine {

struct ChatScript {
  std::string reasoning;            // reasoning_content; empty: none
  std::optional<std::string> text;  // replaces the generated words (the tool result echo)
  std::string tool_call_id;         // set with tool_name: the answer is this call, no text
  std::string tool_name;
  std::string tool_arguments;  // JSON text
  bool toolCall() const { return !tool_name.empty(); }
  // The answer's tokens: reasoning, then the text, the arguments or the generated `reply`.
  uint64_t completionTokens(const Reply& reply) const;
};

// The script for a chat request (messages already validated); `seed` is the reply's seed.
ChatScript scriptChat(const boost::json::object& req, const boost::json::array& messages,
                      uint64_t seed);

}  // namespace tollgate::mock::engine
