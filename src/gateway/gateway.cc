#include "gateway/gateway.h"

#include <boost/asio/this_coro.hpp>
#include <random>

#include "api/errors.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/count_tokens.h"
#include "gateway/error_response.h"
#include "gateway/models.h"
#include "gateway/retry_state.h"
#include "gateway/span.h"
#include "gateway/upstream_request.h"
#include "providers/count_tokens_request.h"
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
  return renderErrorResponse(
      api::isAnthropicApi(api::apiFromTarget(target)) || api::isAnthropicTarget(target), err, head);
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

asio::awaitable<void> Gateway::sendJson(http::ResponseWriter& w, RequestContext& ctx,
                                        std::string body) {
  http::ResponseHead head;
  head.headers.emplace_back("content-type", "application/json");
  head.headers.emplace_back("x-request-id", ctx.request_id);
  for (const auto& h : ctx.extra_headers) head.headers.push_back(h);
  ctx.status = 200;
  co_await w.send(head, body);
  ctx.first_byte = Clock::now();
}

asio::awaitable<void> Gateway::sendCountEstimate(http::ResponseWriter& w, RequestContext& ctx,
                                                 std::string_view body) {
  ctx.extra_headers.emplace_back(kTokenCountHeader, "estimate");
  co_await sendJson(w, ctx, estimateAnswer(ctx.api, body));
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
    if (providers::isCountApi(ctx.api)) {
      // A count consumes no tokens: request costs only (charged at check).
      co_await limiter_->complete(snap->policies, ctx.rate_limit, facts, countUsageForLimits(),
                                  false);
    } else {
      co_await limiter_->complete(snap->policies, ctx.rate_limit, facts, ctx.usage,
                                  produced_tokens && !ctx.usage.known);
    }
  }
  access_log_.write(ctx);
  if (metrics_) metrics_->record(ctx);
  if (exporter_ && ctx.trace.sampled()) exporter_->submit(requestSpan(ctx));
}

asio::awaitable<void> Gateway::process(http::Request& req, http::ResponseWriter& w,
                                       RequestContext& ctx, const Snapshot& snap) {
  ctx.api = api::apiFromTarget(ctx.path);
  if (ctx.api == api::ApiKind::kUnknown) {
    const Error err = Error::client(ErrorCode::kNotFound, "no such endpoint: " + ctx.path);
    co_await sendError(w, ctx, err);
    co_return;
  }
  // Anthropic's SDKs pointed at the bare host (Claude Code's model discovery, base URL without
  // /anthropic) ask GET /v1/models too. They always send anthropic-version, which no OpenAI
  // client does, and read only Anthropic's list shape.
  if (ctx.api == api::ApiKind::kModels && req.find("anthropic-version") != req.end())
    ctx.api = api::ApiKind::kAnthropicModels;
  if (ctx.api == api::ApiKind::kModels || ctx.api == api::ApiKind::kAnthropicModels) {
    if (req.method() != beast::http::verb::get) {
      const Error err = Error::client(ErrorCode::kMethodNotAllowed, "use GET for " + ctx.path);
      co_await sendError(w, ctx, err);
      co_return;
    }
    if (ctx.api == api::ApiKind::kModels) {
      co_await sendJson(w, ctx, openAIModelList(snap.routes.models(), snap.loaded_unix));
      co_return;
    }
    const std::string_view target = req.target();
    const size_t q = target.find('?');
    auto list = anthropicModelList(snap.routes.models(), snap.loaded_unix,
                                   q == std::string_view::npos ? "" : target.substr(q + 1));
    if (!list) {
      co_await sendError(w, ctx, list.error());
      co_return;
    }
    co_await sendJson(w, ctx, std::move(list.value()));
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
  const bool count = providers::isCountApi(ctx.api);
  if (count) {
    if (auto bad = providers::checkCountRequest(ctx.api, req.body())) {
      co_await sendError(w, ctx, *bad);
      co_return;
    }
    ctx.parsed.stream = false;  // a count answers with one JSON object, whatever `stream` says
  }
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

  RetryState retry(order, opts_.max_attempts, deadline);
  while (const router::Candidate* next = retry.next(Clock::now())) {
    const router::Candidate& cand = *next;
    if (!cand.usable()) {
      std::string why = !cand.ai_backend ? "AIServiceBackend '" + cand.ref_name + "' is not defined"
                        : !cand.backend
                            ? "Backend '" + cand.ai_backend->backend_ref +
                                  "' of AIServiceBackend '" + cand.ref_name + "' is not defined"
                            : "Backend of '" + cand.ref_name + "' has no endpoints";
      retry.skip(Error::upstream(ErrorCode::kNoBackend,
                                 "no backend available for model '" + ctx.parsed.model + "'",
                                 "route " + rule->route + ": " + why, true));
      continue;
    }
    std::string_view anthropic_beta;
    if (auto it = req.find("anthropic-beta"); it != req.end()) anthropic_beta = it->value();
    auto translator = providers::createTranslator(ctx.api, cand.ai_backend->schema,
                                                  *cand.ai_backend, anthropic_beta);
    if (!translator && count) {
      // A backend that cannot count (no count translator for its schema): the estimate.
      ctx.backend = cand.ref_name;
      ctx.provider = std::string(providers::providerName(cand.ai_backend->schema));
      co_await sendCountEstimate(w, ctx, req.body());
      co_return;
    }
    if (!translator) {
      Error err = Error::client(ErrorCode::kNotImplemented,
                                "model '" + ctx.parsed.model + "' is served by a " +
                                    std::string(providers::schemaName(cand.ai_backend->schema)) +
                                    " backend, which this gateway cannot reach through " +
                                    ctx.path + " yet");
      err.detail = "no translator for " + ctx.path + " -> " +
                   std::string(providers::schemaName(cand.ai_backend->schema));
      retry.skip(std::move(err));
      continue;
    }
    auto up = translator->translateRequest(ctx.parsed, req.body(), cand.model_override);
    if (!up) {
      retry.stop(std::move(up.error()));
      continue;
    }

    const auth::BackendAuth* backend_auth = snap.authFor(cand.security);
    // The gateway's own credentials replace whatever the client sent for itself.
    upstream::OutgoingRequest out = buildUpstreamRequest(
        req, ctx, up.value(), backend_auth && backend_auth->replacesClientCredentials());
    thread_local uint32_t round_robin = 0;
    upstream::UpstreamTarget target = upstreamTarget(*cand.backend, snap, round_robin++);
    target.idle_timeout = snap.connectionIdleTimeout(ctx.route_name);
    if (backend_auth) {
      // After everything else: a signature covers the final headers and body.
      std::optional<Error> auth_error =
          co_await backend_auth->apply(out, target, loop_credentials_);
      if (auth_error) {
        retry.fail(std::move(*auth_error));
        continue;
      }
    }
    ctx.attempts = retry.beginAttempt();
    ctx.backend = cand.ref_name;
    ctx.provider = std::string(providers::providerName(cand.ai_backend->schema));
    ctx.fallback = retry.isFallback();
    upstream::Exchange ex(*pool);
    auto t0 = Clock::now();
    auto started = co_await ex.start(target, out, deadline);
    ctx.upstream_time += Clock::now() - t0;
    if (!started) {
      Error err = std::move(started.error());
      err.detail = "backend " + cand.ref_name + " (" + target.key() + "): " + err.detail;
      if (err.retryable) {
        spdlog::debug("request {} attempt {} failed: {}", ctx.request_id, ctx.attempts, err.detail);
      }
      retry.fail(std::move(err));
      continue;
    }
    const int status = started.value();
    if (count && countEndpointMissing(status)) {
      // The backend has no count endpoint: the estimate, not its 404. The connection goes with
      // `ex`, its body unread.
      co_await sendCountEstimate(w, ctx, req.body());
      co_return;
    }
    // Throttling (429) and server errors go to the next choice while one is left (priority
    // fallback); a client error (4xx) would fail the same way anywhere and is passed on.
    if (retry.retriesStatus(status)) {
      // Nothing reached the client yet: try the next choice. The connection is dropped with `ex`.
      retry.skip(Error::upstream(ErrorCode::kUpstreamConnect, "upstream unavailable",
                                 "backend " + cand.ref_name + " answered " + std::to_string(status),
                                 true));
      continue;
    }
    if (count) ctx.extra_headers.emplace_back(kTokenCountHeader, "backend");
    co_await relay(w, ctx, ex, *translator, rule->timeout, deadline);
    co_return;
  }
  std::optional<Error>& last_error = retry.lastError();
  if (!last_error) {
    last_error = Error::upstream(ErrorCode::kNoBackend,
                                 "no backend available for model '" + ctx.parsed.model + "'",
                                 "route " + rule->route + " has no backendRefs", false);
  }
  co_await sendError(w, ctx, *last_error);
}

}  // namespace tollgate::gateway
