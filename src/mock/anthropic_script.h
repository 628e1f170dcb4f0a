// The scripted turns of the fake Bedrock's Anthropic answers, so that agent clients (Claude Code,
// Codex through the Responses pivot) can run a tool round trip on the demo's Bedrock Claude:
// the same marker rule as the recordings' mock (shared/conformance/agent-client-recordings).
//
// - The last user message holds tool_result blocks: a text answer quoting the results.
// - Tools are offered and the last user message's text contains TOOLTEST: a short text, then a
//   tool_use of the offered tool (Bash, shell or exec_command when offered, else the first),
//   with arguments for its required properties (a command: `echo tollgate-tool-ok`).
// - Otherwise the engine's words, as before.
// A thinking block with a signature opens the answer when the request turns thinking on.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::mock {

inline constexpr std::string_view kToolMarker = "TOOLTEST";
inline constexpr std::string_view kToolCommand = "echo tollgate-tool-ok";

struct AnthropicBlock {
  std::string type;       // "thinking", "text" or "tool_use"
  std::string text;       // thinking or text
  std::string signature;  // thinking
  std::string id, name;   // tool_use
  boost::json::object input;
};

struct AnthropicAnswer {
  std::vector<AnthropicBlock> blocks;
  bool scripted = false;  // a tool turn: the engine's words (and its max_tokens cut) are not used
  bool tool_use = false;  // stop_reason tool_use
};

// `engine_text`: the engine's reply; `id`: a per-request id (tool_use ids derive from it).
AnthropicAnswer scriptAnthropicAnswer(const boost::json::object& request,
                                      std::string_view engine_text, std::string_view id);

// A Converse body seen as the Anthropic body the script reads: toolConfig.tools[].toolSpec as
// tools (inputSchema.json the input_schema), text and toolResult blocks as text and tool_result
// blocks, additionalModelRequestFields.thinking as thinking.
boost::json::object anthropicViewOfConverse(const boost::json::object& converse);

// The tokens the blocks hold (the engine's rule, over texts and tool inputs).
int64_t blockTokens(const std::vector<AnthropicBlock>& blocks);

}  // namespace tollgate::mock
