// The request's span for OTLP export (GenAI semantic conventions), built in the complete phase
// from what the pipeline recorded. Pure; any thread.
#pragma once

#include "gateway/request_context.h"
#include "tracing/otlp_exporter.h"

namespace tollgate::gateway {

tracing::SpanData requestSpan(const RequestContext& ctx);

}  // namespace tollgate::gateway
