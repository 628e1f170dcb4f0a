#include "providers/formats/stop_reasons.h"

namespace tollgate::providers::formats {

std::string_view finishReasonForStopReason(std::string_view stop_reason) {
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "guardrail_intervened" || stop_reason == "content_filtered") {
    return "content_filter";
  }
  return "stop";  // end_turn, stop_sequence, and reasons added after this was written
}

std::string_view finishReasonForAnthropicStop(std::string_view stop_reason, bool client_tools) {
  if (stop_reason == "refusal") return "content_filter";
  if (stop_reason == "tool_use" && !client_tools) return "stop";
  return finishReasonForStopReason(stop_reason);
}

}  // namespace tollgate::providers::formats
