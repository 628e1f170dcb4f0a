// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header a client
// sends us, the span tollgate opens for the request, and the header it sends to the backend so
// the backend's spans hang under tollgate's span.
//
// Everything here is a pure function (plus a per-thread RNG); callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::tracing {

// Flag bits we understand and propagate; every other bit is reserved and sent as zero.
inline constexpr uint8_t kFlagSampled = 0x01;
inline constexpr uint8_t kFlagRandomTraceId = 0x02;  // Trace Context level 2

struct TraceContext {
  std::string trace_id;        // 32 lower-case hex, never all zeros
  std::string span_id;         // 16 lower-case hex: this hop's span (the "parent-id" field on
                               // the wire when this context is sent on)
  std::string parent_span_id;  // 16 lower-case hex, or empty for a root span
  uint8_t flags = kFlagSampled;

  // The caller asked for this trace to be recorded. A gateway that follows the caller's decision
  // (parent-based sampling) exports a span only when this is true.
  bool sampled() const { return (flags & kFlagSampled) != 0; }
};

// Parses a `traceparent` header value. nullopt when it is invalid, in which case the spec says
// to start a new trace (startSpan(nullopt)). Version 00 must match exactly
// `00-<32 hex>-<16 hex>-<2 hex>` in lower case with non-zero ids; a higher version is accepted
// when its first four fields have that shape and anything after them starts with '-'. Version
// ff is invalid. Surrounding spaces/tabs (HTTP optional whitespace) are ignored.
std::optional<TraceContext> parseTraceparent(std::string_view header);

// Opens this hop's span: a fresh random span id, the incoming trace id (or a fresh random one
// when there is no valid incoming context), the incoming span as parent, the incoming flags.
TraceContext startSpan(const std::optional<TraceContext>& incoming);

// The `traceparent` value to send upstream: `00-<trace_id>-<span_id>-<flags>`, so the backend
// sees tollgate's span as its parent.
std::string formatTraceparent(const TraceContext& ctx);

// True when s is exactly n lower-case hex digits and not all zeros (a valid W3C/OTLP id).
bool isValidHexId(std::string_view s, size_t n);

}  // namespace tollgate::tracing
