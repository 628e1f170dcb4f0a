#include "gateway/upstream_request.h"

#include "common/strings.h"
#include "gateway/snapshot.h"
#include "tracing/trace_context.h"

namespace tollgate::gateway {

namespace beast = boost::beast;

namespace {

// Headers that only concern one hop, the Host and Expect of this hop, and those the gateway sets
// itself.
bool isNotForwarded(const http::Request::fields_type::value_type& f) {
  using beast::http::field;
  if (upstream::isHopByHop(f)) return true;
  switch (f.name()) {
    case field::host:
    case field::expect:
      return true;
    case field::unknown:
      return iequals(f.name_string(), "x-ai-eg-model") ||
             iequals(f.name_string(), "x-request-id") || iequals(f.name_string(), "traceparent") ||
             iequals(f.name_string(), "tracestate");
    default:
      return false;
  }
}

}  // namespace

upstream::OutgoingRequest buildUpstreamRequest(const http::Request& req, const RequestContext& ctx,
                                               providers::UpstreamRequest& up,
                                               bool drop_client_credentials) {
  upstream::OutgoingRequest out;
  out.method = std::move(up.method);
  out.target = std::move(up.path);
  if (up.forward_client_query && out.target.find('?') == std::string::npos) {
    const std::string_view target = req.target();
    if (const size_t q = target.find('?'); q != std::string_view::npos)
      out.target += target.substr(q);
  }
  for (const auto& f : req) {
    if (isNotForwarded(f)) continue;
    auto name = f.name_string();
    if (drop_client_credentials && (f.name() == beast::http::field::authorization ||
                                    iequals(name, "x-api-key") || iequals(name, "api-key")))
      continue;
    out.headers.emplace_back(std::string(name), std::string(f.value()));
  }
  out.headers.emplace_back("x-ai-eg-model", ctx.parsed.model);
  out.headers.emplace_back("x-request-id", ctx.request_id);
  out.headers.emplace_back("traceparent", tracing::formatTraceparent(ctx.trace));
  if (!ctx.tracestate.empty()) out.headers.emplace_back("tracestate", ctx.tracestate);
  // A translator's header replaces the client's of the same name (content-type, accept): a
  // duplicate would be merged differently by each receiver, and an AWS signature over it
  // would not verify.
  for (auto& h : up.headers) {
    std::erase_if(out.headers, [&h](const auto& o) { return iequals(o.first, h.first); });
    out.headers.push_back(std::move(h));
  }
  out.body = up.body_unchanged ? std::string_view(req.body()) : std::string_view(up.body);
  return out;
}

upstream::UpstreamTarget upstreamTarget(const config::Backend& backend, const Snapshot& snap,
                                        uint32_t pick) {
  const auto& eps = backend.endpoints;
  const auto& ep = eps[pick % eps.size()];
  upstream::UpstreamTarget target;
  target.host = ep.host;
  target.port = ep.port;
  target.tls = backend.tls.enabled;
  target.tls_name = backend.tls.hostname;
  if (!backend.tls.ca_pem.empty()) {
    if (auto trust = snap.backend_trust.find(&backend); trust != snap.backend_trust.end()) {
      target.tls_context = trust->second.context.get();
      target.ca_id = trust->second.ca_id;
    }
  }
  return target;
}

}  // namespace tollgate::gateway
