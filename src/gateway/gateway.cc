#include "gateway/gateway.h"

#include <boost/asio/this_coro.hpp>
#include <cstdio>
#include <random>

#include "api/errors.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/error_response.h"
#include "providers/translator.h"
#include "upstream/client.h"

namespace tollgate::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

class RequestHeaders final : public router::HeaderSource {
 public:
  RequestHeaders(const http::Request& req, std::string_view model) : req_(req), model_(model) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    // The body's model is the routing header (Envoy AI Gateway copies it to x-ai-eg-model); a
    // client-sent x-ai-eg-model never overrides the body.
    if (name == "x-ai-eg-model") return model_;
    auto it = req_.find(name);
    if (it == req_.end()) return std::nullopt;
    return std::string_view(it->value());
  }

 private:
  const http::Request& req_;
  std::string_view model_;
};

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

uint64_t requestRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// Repeated problems (a route to an undefined backend hit by every request) are logged at most
// once per second per thread, so a storm does not drown the log.
bool shouldLogNow() {
  thread_local Clock::time_point last{};
  auto now = Clock::now();
  if (now - last < std::chrono::seconds(1)) return false;
  last = now;
  return true;
}

std::string_view pathOnly(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace

ratelimit::RequestFacts Gateway::factsFor(const RequestContext& ctx,
                                          const router::HeaderSource* headers) {
  ratelimit::RequestFacts facts;
  facts.headers = headers;
  facts.route = ctx.route_name;
  facts.model = ctx.parsed.model;
  facts.backend = ctx.backend;
  facts.body_bytes = ctx.parsed.body_bytes;
  facts.max_tokens = ctx.parsed.max_tokens;
  return facts;
}

Snapshot::Snapshot(std::shared_ptr<const config::Config> cfg, ratelimit::Mode rate_limit_mode)
    : config(cfg),
      routes(cfg),
      policies(*cfg, rate_limit_mode),
      loaded_unix(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
  for (const auto& p : config->security_policies) {
    if (auto a = auth::makeBackendAuth(p, errors)) backend_auth[&p] = std::move(a);
  }
  for (const config::Backend& b : config->backends) {
    if (!b.tls.enabled || b.tls.ca_pem.empty()) continue;
    std::string error;
    auto context = upstream::makeTlsContextFromPem(b.tls.ca_pem, &error);
    if (!context) {
      config::Diagnostic problem;
      problem.file = b.origin.file;
      problem.line = b.origin.line;
      problem.object = "Backend " + b.origin.ns + "/" + b.origin.name;
      problem.field = "caCertificateRefs";
      problem.message = "the CA certificates of " + b.tls.ca_source + " cannot be used: " + error;
      errors.push_back(std::move(problem));
      continue;
    }
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", std::hash<std::string>{}(b.tls.ca_pem));
    backend_trust[&b] = BackendTrust{std::move(context), id};
  }
}

const auth::BackendAuth* Snapshot::authFor(const config::BackendSecurityPolicy* policy) const {
  if (!policy) return nullptr;
  auto it = backend_auth.find(policy);
  return it == backend_auth.end() ? nullptr : it->second.get();
}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> s) {
  std::lock_guard lock(mu_);
  snap_ = std::move(s);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Snapshot> SnapshotHolder::current() const {
  std::lock_guard lock(mu_);
  return snap_;
}

std::shared_ptr<const Snapshot> SnapshotHolder::acquire() const {
  struct PerThread {
    std::shared_ptr<const Snapshot> snap;
  };
  thread_local const SnapshotHolder* owner = nullptr;
  thread_local uint64_t seen = ~0ull;
  thread_local std::shared_ptr<const PerThread> cached;
  uint64_t gen = generation_.load(std::memory_order_acquire);
  if (owner != this || gen != seen || !cached) {
    cached = std::make_shared<const PerThread>(PerThread{current()});
    seen = gen;
    owner = this;
  }
  return std::shared_ptr<const Snapshot>(cached, cached->snap.get());
}

Gateway::Gateway(SnapshotHolder& snapshots, GatewayOptions opts, const AccessLog& access_log,
                 ratelimit::Limiter* limiter, GatewayMetrics* metrics,
                 tracing::OtlpExporter* exporter)
    : snapshots_(snapshots),
      opts_(std::move(opts)),
      access_log_(access_log),
      loop_credentials_{opts_.aws_credentials},
      limiter_(limiter),
      metrics_(metrics),
      exporter_(exporter) {}

std::string Gateway::renderError(std::string_view target, const Error& err,
                                 http::ResponseHead& head) {
  return renderErrorResponse(api::isAnthropicTarget(target), err, head);
}

asio::awaitable<void> Gateway::sendError(http::ResponseWriter& w, RequestContext& ctx,
                                         const Error& err) {
  if (!err.detail.empty()) {
    if (err.source == ErrorSource::kClient) {
      spdlog::debug("request {} {}: {}", ctx.request_id, err.name(), err.detail);
    } else if (shouldLogNow()) {
      spdlog::warn("request {} model={} route={} backend={}: {}: {}", ctx.request_id,
                   ctx.parsed.model, ctx.route, ctx.backend, err.name(), err.detail);
    }
  }
  ctx.status = err.httpStatus();
  ctx.error_type = std::string(err.name());
  http::ResponseHead head;
  std::string body = renderErrorResponse(
      api::isAnthropicApi(ctx.api) || api::isAnthropicTarget(ctx.path), err, head);
  head.headers.emplace_back("x-request-id", ctx.request_id);
  for (const auto& h : ctx.extra_headers) head.headers.push_back(h);
  co_await w.send(head, body);
  ctx.first_byte = Clock::now();
}

asio::awaitable<void> Gateway::listModels(http::ResponseWriter& w, RequestContext& ctx,
                                          const Snapshot& snap) {
  std::string body = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& m : snap.routes.models()) {
    if (!first) body += ',';
    first = false;
    body += R"({"id":)";
    appendJsonString(body, m);
    body += R"(,"object":"model","created":)";
    body += std::to_string(snap.loaded_unix);
    body += R"(,"owned_by":"tollgate"})";
  }
  body += "]}";
  http::ResponseHead head;
  head.headers.emplace_back("content-type", "application/json");
  head.headers.emplace_back("x-request-id", ctx.request_id);
  ctx.status = 200;
  co_await w.send(head, body);
  ctx.first_byte = Clock::now();
}

asio::awaitable<void> Gateway::handle(http::Request& req, http::ResponseWriter& w) {
  RequestContext ctx;
  ctx.method = std::string(req.method_string());
  ctx.path = std::string(pathOnly(req.target()));
  if (auto it = req.find("x-request-id"); it != req.end() && !it->value().empty() &&
                                          it->value().size() <= 128 &&
                                          !hasHeaderBreakingChars(it->value())) {
    ctx.request_id = std::string(it->value());
  } else {
    ctx.request_id = randomHexId();
  }
  if (auto it = req.find("x-user-id"); it != req.end()) ctx.user = std::string(it->value());
  // W3C trace context: continue the caller's trace (or start one); our span is the parent of
  // the upstream call.
  std::optional<tracing::TraceContext> incoming;
  if (auto it = req.find("traceparent"); it != req.end())
    incoming = tracing::parseTraceparent(it->value());
  ctx.trace = tracing::startSpan(incoming);
  if (incoming) {
    if (auto it = req.find("tracestate"); it != req.end() && !hasHeaderBreakingChars(it->value()))
      ctx.tracestate = std::string(it->value());
  }
  // One snapshot for the whole request, even if a reload happens while it runs.
  const std::shared_ptr<const Snapshot> snap = snapshots_.acquire();
  std::optional<Error> failure;
  try {
    co_await process(req, w, ctx, *snap);
  } catch (const std::exception& e) {
    // A bug, not a client problem: the client gets a 500 when nothing was sent yet.
    spdlog::error("request {} failed with an exception: {}", ctx.request_id, e.what());
    failure = Error::internal(e.what());
  }
  if (failure) {
    if (!w.started()) {
      co_await sendError(w, ctx, *failure);
    } else {
      w.forceClose();
    }
  }
  ctx.client_gone = ctx.client_gone || w.clientGone();
  if (limiter_ && !ctx.rate_limit.buckets.empty()) {
    // Token costs are charged once the response is complete (Envoy semantics: the request that
    // crosses a limit finishes; the next one is refused). A 2xx whose usage we could not read
    // (client left mid-stream before the usage chunk, or no usage in the body) still produced
    // tokens: the estimate is charged rather than nothing.
    ratelimit::RequestFacts facts = factsFor(ctx, nullptr);
    const bool produced_tokens = ctx.status >= 200 && ctx.status < 300;
    co_await limiter_->complete(snap->policies, ctx.rate_limit, facts, ctx.usage,
                                produced_tokens && !ctx.usage.known);
  }
  access_log_.write(ctx);
  if (metrics_) metrics_->record(ctx);
  if (exporter_ && ctx.trace.sampled()) exportSpan(ctx);
}

void Gateway::exportSpan(const RequestContext& ctx) {
  using tracing::Attribute;
  auto unix_nanos = [](std::chrono::system_clock::time_point t) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  tracing::SpanData span;
  span.trace_id = ctx.trace.trace_id;
  span.span_id = ctx.trace.span_id;
  span.parent_span_id = ctx.trace.parent_span_id;
  const std::string_view op = api::apiOperationName(ctx.api);
  span.name = ctx.parsed.model.empty() ? std::string(op) : std::string(op) + " " + ctx.parsed.model;
  span.start_unix_nanos = unix_nanos(ctx.wall_start);
  span.end_unix_nanos =
      span.start_unix_nanos +
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - ctx.start).count());
  span.error = ctx.status >= 500 || ctx.status == 0;
  if (span.error) span.status_message = ctx.error_type;
  auto& a = span.attributes;
  a.push_back({"gen_ai.operation.name", std::string(op)});
  if (!ctx.provider.empty()) a.push_back({"gen_ai.provider.name", ctx.provider});
  if (!ctx.parsed.model.empty()) a.push_back({"gen_ai.request.model", ctx.parsed.model});
  if (!ctx.response_model.empty()) a.push_back({"gen_ai.response.model", ctx.response_model});
  if (ctx.usage.known) {
    a.push_back({"gen_ai.usage.input_tokens", static_cast<int64_t>(ctx.usage.input_tokens)});
    a.push_back({"gen_ai.usage.output_tokens", static_cast<int64_t>(ctx.usage.output_tokens)});
  }
  a.push_back({"http.response.status_code", static_cast<int64_t>(ctx.status)});
  if (!ctx.error_type.empty()) a.push_back({"error.type", ctx.error_type});
  if (!ctx.route_name.empty()) a.push_back({"tollgate.route", ctx.route_name});
  if (!ctx.backend.empty()) a.push_back({"tollgate.backend", ctx.backend});
  if (!ctx.user.empty()) a.push_back({"enduser.id", ctx.user});
  a.push_back({"tollgate.request_id", ctx.request_id});
  exporter_->submit(std::move(span));
}

asio::awaitable<void> Gateway::process(http::Request& req, http::ResponseWriter& w,
                                       RequestContext& ctx, const Snapshot& snap) {
  ctx.api = api::apiFromTarget(ctx.path);
  if (ctx.api == api::ApiKind::kUnknown) {
    const Error err = Error::client(ErrorCode::kNotFound, "no such endpoint: " + ctx.path);
    co_await sendError(w, ctx, err);
    co_return;
  }
  if (ctx.api == api::ApiKind::kModels) {
    if (req.method() != beast::http::verb::get) {
      const Error err = Error::client(ErrorCode::kMethodNotAllowed, "use GET for " + ctx.path);
      co_await sendError(w, ctx, err);
      co_return;
    }
    co_await listModels(w, ctx, snap);
    co_return;
  }
  if (req.method() != beast::http::verb::post) {
    const Error err = Error::client(ErrorCode::kMethodNotAllowed, "use POST for " + ctx.path);
    co_await sendError(w, ctx, err);
    co_return;
  }

  // Parse: model, stream, usage option, offsets for splicing.
  auto parsed = api::parseRequest(ctx.api, req.body());
  if (!parsed) {
    co_await sendError(w, ctx, parsed.error());
    co_return;
  }
  ctx.parsed = std::move(parsed.value());
  ctx.stream = ctx.parsed.stream;
  if (hasHeaderBreakingChars(ctx.parsed.model)) {
    // The model travels upstream as the x-ai-eg-model header: never let it split a header.
    const Error err = Error::client(ErrorCode::kBadRequest,
                                    "'model' must not contain control characters", "model");
    co_await sendError(w, ctx, err);
    co_return;
  }

  // Route.
  RequestHeaders headers(req, ctx.parsed.model);
  const router::CompiledRule* rule = snap.routes.match(headers);
  if (!rule) {
    const Error err =
        Error::client(ErrorCode::kModelNotFound,
                      "model '" + ctx.parsed.model + "' is not served by this gateway", "model");
    co_await sendError(w, ctx, err);
    co_return;
  }
  ctx.route = rule->route + "#" + std::to_string(rule->rule_index);
  ctx.route_name = rule->route;

  // Rate limits: every matching bucket must pass before anything goes upstream.
  if (limiter_ && !snap.policies.empty()) {
    const ratelimit::RequestFacts facts = factsFor(ctx, &headers);
    ctx.rate_limit = co_await limiter_->check(snap.policies, facts);
    ratelimit::Limiter::appendHeaders(ctx.rate_limit, ctx.extra_headers);
    if (ctx.rate_limit.verdict == ratelimit::Verdict::kLimited) {
      const auto& b =
          ctx.rate_limit.buckets[static_cast<size_t>(std::max(ctx.rate_limit.tightest, 0))];
      const Error err = Error::client(
          ErrorCode::kRateLimited, "rate limit exceeded: " + std::to_string(b.rule->limit) +
                                       " per " + std::string(ratelimit::unitName(b.rule->unit)) +
                                       " (policy " + b.rule->policy + ", rule " +
                                       std::to_string(b.rule->index) + "); retry after the reset");
      co_await sendError(w, ctx, err);
      co_return;
    }
    if (ctx.rate_limit.verdict == ratelimit::Verdict::kFailClosed) {
      const Error err =
          Error::upstream(ErrorCode::kNoBackend, "rate limit service unavailable, try again",
                          "rate limit store failed and failure mode is closed", true);
      co_await sendError(w, ctx, err);
      co_return;
    }
  }
  std::vector<const router::Candidate*> order;
  router::RouteTable::attemptOrder(*rule, requestRandom(), order);
  const auto deadline = ctx.start + rule->timeout;

  upstream::Pool* pool = upstream::Pool::forThisThread();
  if (!pool) {
    const Error err = Error::internal("no upstream pool on this thread");
    co_await sendError(w, ctx, err);
    co_return;
  }

  std::optional<Error> last_error;
  for (size_t i = 0; i < order.size(); ++i) {
    const router::Candidate& cand = *order[i];
    if (ctx.attempts >= opts_.max_attempts) break;
    if (Clock::now() >= deadline) {
      last_error = Error::upstream(ErrorCode::kUpstreamTimeout, "upstream request timeout",
                                   "route timeout reached before attempt", false);
      break;
    }
    if (!cand.usable()) {
      std::string why = !cand.ai_backend ? "AIServiceBackend '" + cand.ref_name + "' is not defined"
                        : !cand.backend
                            ? "Backend '" + cand.ai_backend->backend_ref +
                                  "' of AIServiceBackend '" + cand.ref_name + "' is not defined"
                            : "Backend of '" + cand.ref_name + "' has no endpoints";
      last_error = Error::upstream(ErrorCode::kNoBackend,
                                   "no backend available for model '" + ctx.parsed.model + "'",
                                   "route " + rule->route + ": " + why, true);
      continue;
    }
    std::string_view anthropic_beta;
    if (auto it = req.find("anthropic-beta"); it != req.end()) anthropic_beta = it->value();
    auto translator = providers::createTranslator(ctx.api, cand.ai_backend->schema,
                                                  *cand.ai_backend, anthropic_beta);
    if (!translator) {
      last_error = Error::client(ErrorCode::kNotImplemented,
                                 "model '" + ctx.parsed.model + "' is served by a " +
                                     std::string(providers::schemaName(cand.ai_backend->schema)) +
                                     " backend, which this gateway cannot reach through " +
                                     ctx.path + " yet");
      last_error->detail = "no translator for " + ctx.path + " -> " +
                           std::string(providers::schemaName(cand.ai_backend->schema));
      continue;
    }
    auto up = translator->translateRequest(ctx.parsed, req.body(), cand.model_override);
    if (!up) {
      last_error = up.error();
      break;
    }

    // Upstream request: the client's end-to-end headers, the routing header, the request id,
    // then what the translator and the security policy add.
    upstream::OutgoingRequest out;
    out.method = up->method;
    out.target = up->path;
    const auth::BackendAuth* backend_auth = snap.authFor(cand.security);
    // The gateway's own credentials replace whatever the client sent for itself.
    const bool replaces_auth = backend_auth && backend_auth->replacesClientCredentials();
    for (const auto& f : req) {
      if (isNotForwarded(f)) continue;
      auto name = f.name_string();
      if (replaces_auth && (f.name() == beast::http::field::authorization ||
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
    for (auto& h : up->headers) {
      std::erase_if(out.headers, [&h](const auto& o) { return iequals(o.first, h.first); });
      out.headers.push_back(std::move(h));
    }
    out.body = up->body_unchanged ? std::string_view(req.body()) : std::string_view(up->body);

    thread_local uint32_t round_robin = 0;
    const auto& eps = cand.backend->endpoints;
    const auto& ep = eps[round_robin++ % eps.size()];
    upstream::UpstreamTarget target;
    target.host = ep.host;
    target.port = ep.port;
    target.tls = cand.backend->tls.enabled;
    target.tls_name = cand.backend->tls.hostname;
    if (!cand.backend->tls.ca_pem.empty()) {
      if (auto trust = snap.backend_trust.find(cand.backend); trust != snap.backend_trust.end()) {
        target.tls_context = trust->second.context.get();
        target.ca_id = trust->second.ca_id;
      }
    }

    if (backend_auth) {
      // After everything else: a signature covers the final headers and body.
      std::optional<Error> auth_error =
          co_await backend_auth->apply(out, target, loop_credentials_);
      if (auth_error) {
        last_error = std::move(*auth_error);
        if (last_error->retryable) continue;
        break;
      }
    }
    ++ctx.attempts;
    ctx.backend = cand.ref_name;
    ctx.provider = std::string(providers::providerName(cand.ai_backend->schema));
    ctx.fallback = cand.priority > order.front()->priority;
    upstream::Exchange ex(*pool);
    auto t0 = Clock::now();
    auto started = co_await ex.start(target, out, deadline);
    ctx.upstream_time += Clock::now() - t0;
    if (!started) {
      last_error = started.error();
      last_error->detail =
          "backend " + cand.ref_name + " (" + target.key() + "): " + last_error->detail;
      if (last_error->retryable) {
        spdlog::debug("request {} attempt {} failed: {}", ctx.request_id, ctx.attempts,
                      last_error->detail);
        continue;
      }
      break;
    }
    const int status = started.value();
    const bool can_retry = i + 1 < order.size() && ctx.attempts < opts_.max_attempts;
    // Throttling (429) and server errors go to the next choice while one is left (priority
    // fallback); a client error (4xx) would fail the same way anywhere and is passed on.
    if ((status == 429 || status >= 500) && can_retry) {
      // Nothing reached the client yet: try the next choice. The connection is dropped with `ex`.
      last_error =
          Error::upstream(ErrorCode::kUpstreamConnect, "upstream unavailable",
                          "backend " + cand.ref_name + " answered " + std::to_string(status), true);
      continue;
    }
    co_await relay(w, ctx, ex, *translator, rule->timeout, deadline);
    co_return;
  }
  if (!last_error) {
    last_error = Error::upstream(ErrorCode::kNoBackend,
                                 "no backend available for model '" + ctx.parsed.model + "'",
                                 "route " + rule->route + " has no backendRefs", false);
  }
  co_await sendError(w, ctx, *last_error);
}

asio::awaitable<void> Gateway::relay(http::ResponseWriter& w, RequestContext& ctx,
                                     upstream::Exchange& ex, providers::Translator& translator,
                                     std::chrono::milliseconds idle_timeout,
                                     Clock::time_point deadline) {
  const int status = ex.status();
  std::string content_type(ex.header("content-type"));
  auto upstream_headers = ex.endToEndHeaders();
  translator.onResponseHeaders(upstream_headers);
  translator.onResponseHead(status, content_type);
  const bool event_stream = translator.streamsResponse(content_type);

  http::ResponseHead head;
  head.status = status;
  head.headers = std::move(upstream_headers);
  for (auto& [n, v] : head.headers) {
    if (iequals(n, "content-type")) v = translator.clientContentType(v);
  }
  head.headers.emplace_back("x-request-id", ctx.request_id);
  for (const auto& h : ctx.extra_headers) head.headers.push_back(h);
  ctx.status = status;

  if (!event_stream) {
    std::string body;
    for (;;) {
      auto t0 = Clock::now();
      auto piece = co_await ex.readSome(deadline);
      ctx.upstream_time += Clock::now() - t0;
      if (!piece) {
        Error err = piece.error();
        err.detail = "backend " + ctx.backend + ": " + err.detail;
        co_await sendError(w, ctx, err);
        co_return;
      }
      if (piece->empty()) break;
      body.append(*piece);
      if (body.size() > opts_.max_response_bytes) {
        const Error err =
            Error::upstream(ErrorCode::kUpstreamBadResponse, "upstream response too large",
                            "backend " + ctx.backend + " response over " +
                                std::to_string(opts_.max_response_bytes) + " bytes",
                            false);
        co_await sendError(w, ctx, err);
        co_return;
      }
    }
    ex.finish();
    translator.onFullBody(body);
    head.status = translator.clientStatus(status);
    ctx.status = head.status;
    ctx.usage = translator.usage();
    ctx.response_model = translator.responseModel();
    co_await w.send(head, body);
    ctx.first_byte = Clock::now();
    co_return;
  }

  // Stream: relay each piece as it comes; never buffer the whole stream.
  struct ActiveStream {
    GatewayMetrics* m;
    explicit ActiveStream(GatewayMetrics* metrics) : m(metrics) {
      if (m) m->active_streams.fetch_add(1, std::memory_order_relaxed);
    }
    ~ActiveStream() {
      if (m) m->active_streams.fetch_sub(1, std::memory_order_relaxed);
    }
  } active_stream(metrics_);
  bool client_ok = co_await w.begin(head);
  ctx.first_byte = Clock::now();
  std::string out;
  Clock::time_point drain_until{};
  for (;;) {
    auto now = Clock::now();
    if (!client_ok && drain_until == Clock::time_point{})
      drain_until = now + opts_.drain_after_client_gone;
    auto read_deadline = client_ok ? now + idle_timeout : drain_until;
    auto t0 = now;
    auto piece = co_await ex.readSome(read_deadline);
    ctx.upstream_time += Clock::now() - t0;
    if (!piece) {
      spdlog::debug("request {} stream from {} ended early: {}", ctx.request_id, ctx.backend,
                    piece.error().detail);
      ctx.error_type = std::string(piece.error().name());
      if (client_ok) {
        // Tell the client in the stream's own format, then end the stream cleanly.
        out.clear();
        translator.onStreamFailure(piece.error(), out);
        client_ok = co_await w.writeChunk(out);
      }
      break;
    }
    const bool end = piece->empty();
    out.clear();
    translator.onResponseBody(*piece, end, out);
    if (client_ok && !out.empty()) {
      if (ctx.first_chunk == Clock::time_point{}) ctx.first_chunk = Clock::now();
      client_ok = co_await w.writeChunk(out);
    }
    if (end) {
      ex.finish();
      break;
    }
    // A client that left still owes its tokens: read on until the usage arrives.
    if (!client_ok && translator.usage().known) break;
  }
  ctx.usage = translator.usage();
  ctx.response_model = translator.responseModel();
  if (ctx.error_type.empty() && translator.streamFailed()) ctx.error_type = "upstream_stream_error";
  if (client_ok) {
    co_await w.finish();
  } else {
    ctx.client_gone = true;
  }
}

}  // namespace tollgate::gateway
