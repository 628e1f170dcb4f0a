// Upstream request assembly for one attempt (docs/life_of_a_request.md, "attempt"): what goes to
// the chosen backend before its BackendAuth adds credentials. Pure functions of their arguments,
// callable from any thread.
#pragma once

#include <cstdint>

#include "gateway/request_context.h"
#include "http/server.h"
#include "providers/translator.h"
#include "upstream/client.h"

namespace tollgate::gateway {

struct Snapshot;

// The client's end-to-end headers (without hop-by-hop ones, Host, Expect and the headers the
// gateway sets itself; without the client's credentials, authorization / x-api-key / api-key,
// when `drop_client_credentials`), then x-ai-eg-model, x-request-id, traceparent (the gateway's
// span as parent) and tracestate, then the translator's headers, each replacing the client's of
// the same name. Method, target and headers are taken from `up`; the body points at the
// translator's body, or at the client's when the translator left it unchanged, so `req` and `up`
// must outlive the result.
upstream::OutgoingRequest buildUpstreamRequest(const http::Request& req, const RequestContext& ctx,
                                               providers::UpstreamRequest& up,
                                               bool drop_client_credentials);

// Where the attempt goes: endpoint `pick` (modulo their number) of `backend`, which must have
// endpoints, verified with the backend's own CAs when `snap` has them (caCertificateRefs).
upstream::UpstreamTarget upstreamTarget(const config::Backend& backend, const Snapshot& snap,
                                        uint32_t pick);

}  // namespace tollgate::gateway
