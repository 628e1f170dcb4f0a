// `tollgate run`: wires configuration, rate limiting, metrics, tracing, the listeners and the
// admin port together, then hands the main thread to serveUntilStopped (lifecycle.cc).
#include <algorithm>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "auth/aws_credentials.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/gateway.h"
#include "kube/controller.h"
#include "main/admin.h"
#include "main/run_internal.h"
#include "ratelimit/redis_store.h"
#include "tracing/otlp_exporter.h"
#include "upstream/client.h"

namespace tollgate::cli {

namespace {

// The Redis store of the event loop running on this thread (one connection per loop).
thread_local ratelimit::Store* t_redis_store = nullptr;
// The AWS credential chain of the event loop running on this thread (created lazily by use).
thread_local auth::CredentialProvider* t_aws_credentials = nullptr;

unsigned defaultThreads(unsigned requested) {
  if (requested > 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

struct Listening {
  std::string host;
  uint16_t port = 0;
};

std::optional<Listening> resolveListen(const std::string& spec, const config::Config* cfg) {
  if (!spec.empty()) {
    auto hp = parseHostPort(spec);
    if (!hp) return std::nullopt;
    return Listening{hp->host, hp->port};
  }
  if (cfg) {
    for (const auto& gw : cfg->gateways)
      for (const auto& l : gw.listeners)
        if (l.port != 0) return Listening{"0.0.0.0", l.port};
  }
  return Listening{"127.0.0.1", 1975};
}

}  // namespace

int runGateway(const RunOptions& opts) {
  log::init(opts.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  raiseOpenFilesLimit();
  config::LoadOptions lo;
  if (!parseOverrides(opts.backend_endpoints, lo)) return 2;
  const auto mode =
      opts.rate_limit_mode == "reserve" ? ratelimit::Mode::kReserve : ratelimit::Mode::kEnvoy;
  gateway::SnapshotHolder snapshots;
  ReloadState reload_state;
  // The one way a configuration goes live, from files or from the cluster: in-flight requests
  // keep the snapshot they started with; rate-limit counters live in the stores, keyed by policy
  // and rule, so budgets carry over.
  auto publish = [&](std::shared_ptr<const gateway::Snapshot> snap, std::string_view why,
                     std::string hash) {
    const bool first = snapshots.current() == nullptr;
    snapshots.publish(snap);
    if (!first) reload_state.ok.fetch_add(1);
    reload_state.loaded_unix = snap->loaded_unix;
    {
      std::lock_guard lock(reload_state.mu);
      reload_state.hash = std::move(hash);
    }
    if (!first) {
      spdlog::info("configuration reloaded ({}): {} route rule(s), {} rate-limit rule(s)", why,
                   snap->routes.rules().size(), snap->policies.rules().size());
    }
  };

  std::shared_ptr<const gateway::Snapshot> snapshot;
  std::unique_ptr<kube::Controller> controller;
  if (opts.kube) {
    controller = startController(opts, lo, mode, publish, reload_state);
    if (!controller) return 1;
    // Nothing listens until the cluster was read once: a gateway that served an empty
    // configuration meanwhile would answer 404 to everyone.
    if (!waitForFirstSnapshot(snapshots, reload_state)) {
      controller->stop();
      return reload_state.failed.load() > 0 ? 1 : 0;
    }
    snapshot = snapshots.current();
  } else {
    Compiled compiled = compile(loadAll(opts, lo), mode);
    if (!report(compiled.diagnostics, false) || !compiled.snapshot) {
      spdlog::error(
          "configuration has errors; not starting (run 'tollgate validate' for the list)");
      return 1;
    }
    snapshot = compiled.snapshot;
    publish(snapshot, "start", configFingerprint(opts));
  }
  const auto& cfg = snapshot->config;
  auto listen = resolveListen(opts.listen, cfg.get());
  auto admin_hp = parseHostPort(opts.admin);
  if (!listen || !admin_hp) {
    std::cerr << "tollgate: error: --listen and --admin expect HOST:PORT\n";
    return 2;
  }
  std::optional<ratelimit::RedisOptions> redis;
  if (!opts.redis_url.empty()) {
    std::string error;
    redis = ratelimit::redisOptionsFrom(opts.redis_url, opts.redis_tls, &error);
    if (!redis) {
      std::cerr << "tollgate: error: " << error << "\n";
      return 2;
    }
    redis->timeout = std::chrono::milliseconds(opts.redis_timeout_ms);
  }
  ratelimit::LimiterOptions limiter_opts;
  limiter_opts.fail_closed = opts.rate_limit_failure == "closed";
  ratelimit::Limiter limiter(limiter_opts, [] { return t_redis_store; });
  if (!snapshot->policies.empty()) {
    spdlog::info("rate limits: {} rule(s), {} store, {} mode, fail {}",
                 snapshot->policies.rules().size(), redis ? "redis" : "in-process",
                 opts.rate_limit_mode, opts.rate_limit_failure);
  }

  http::ServerOptions sopts;
  for (const auto& ctp : cfg->client_traffic_policies) {
    if (ctp.buffer_limit_bytes) sopts.max_body_bytes = *ctp.buffer_limit_bytes;
    if (ctp.request_received_timeout_ms) {
      // Envoy's requestReceivedTimeout bounds the whole request; the server checks the headers
      // and the body separately, each within it.
      sopts.header_timeout = std::chrono::milliseconds(*ctp.request_received_timeout_ms);
      sopts.body_timeout = std::chrono::milliseconds(*ctp.request_received_timeout_ms);
    }
    if (ctp.idle_timeout_ms) sopts.idle_timeout = std::chrono::milliseconds(*ctp.idle_timeout_ms);
  }

  metrics::Registry registry;
  gateway::GatewayMetricsOptions mopts;
  mopts.user_labels = opts.metrics_user_labels;
  gateway::GatewayMetrics gateway_metrics(registry, mopts);
  gateway::AccessLog access_log(opts.access_log);
  std::unique_ptr<tracing::OtlpExporter> exporter;
  if (!opts.otlp_endpoint.empty()) {
    std::string why;
    if (!tracing::parseOtlpEndpoint(opts.otlp_endpoint, &why)) {
      std::cerr << "tollgate: error: --otlp-endpoint: " << why << "\n";
      return 2;
    }
    tracing::OtlpOptions oo;
    oo.endpoint = opts.otlp_endpoint;
    oo.service_name = opts.otlp_service_name;
    exporter = std::make_unique<tracing::OtlpExporter>(oo);
    spdlog::info("tracing: exporting spans to {}", opts.otlp_endpoint);
  }
  // --metrics off leaves the per-request recording out (benchmarks measure what it costs).
  gateway::GatewayOptions gw_opts;
  gw_opts.aws_credentials = [] { return t_aws_credentials; };
  gateway::Gateway gw(snapshots, gw_opts, access_log, &limiter,
                      opts.metrics ? &gateway_metrics : nullptr, exporter.get());

  http::EventLoops loops(defaultThreads(opts.threads));
  std::string tls_error;
  upstream::PoolOptions pool_opts;
  pool_opts.tls_context = upstream::makeTlsContext(opts.upstream_ca_file, &tls_error);
  if (!pool_opts.tls_context) {
    spdlog::error("{}", tls_error);
    return 1;
  }
  if (!tls_error.empty()) spdlog::warn("{}", tls_error);
  std::vector<std::unique_ptr<upstream::Pool>> pools;
  for (unsigned i = 0; i < loops.size(); ++i)
    pools.push_back(std::make_unique<upstream::Pool>(loops.at(i), pool_opts));
  http::Server server(loops, gw, sopts);
  http::tcp::endpoint bound;
  if (auto err = server.listen(listen->host, listen->port, &bound); !err.empty()) {
    spdlog::error("{} (use --listen HOST:PORT)", err);
    return 1;
  }

  RunMetricSources metric_sources;
  metric_sources.server = &server.stats();
  metric_sources.gateway = &gateway_metrics;
  metric_sources.pools = &pools;
  metric_sources.limiter = &limiter;
  metric_sources.redis = redis.has_value();
  metric_sources.exporter = exporter.get();
  metric_sources.reload = &reload_state;
  metric_sources.controller = controller.get();
  registerRunMetrics(registry, metric_sources);

  std::atomic<bool> draining{false};
  http::EventLoops admin_loops(1);
  AdminContext admin_ctx;
  admin_ctx.snapshots = &snapshots;
  admin_ctx.server_stats = &server.stats();
  admin_ctx.limiter = &limiter;
  admin_ctx.registry = &registry;
  admin_ctx.draining = &draining;
  if (redis) {
    admin_ctx.redis_state = [] {
      return std::string(ratelimit::redisStats().connected.load() > 0 ? "connected"
                                                                      : "disconnected");
    };
  }
  AdminHandler admin(admin_ctx);
  http::Server admin_server(admin_loops, admin, http::ServerOptions{});
  http::tcp::endpoint admin_bound;
  if (auto err = admin_server.listen(admin_hp->host, admin_hp->port, &admin_bound); !err.empty()) {
    spdlog::error("admin: {} (use --admin HOST:PORT)", err);
    return 1;
  }
  // One Redis connection per event loop (and one for the admin loop), created on its thread.
  std::vector<std::unique_ptr<ratelimit::RedisStore>> redis_stores(loops.size() + 1);
  // AWS credentials (env, shared files, Pod Identity, IRSA): one cached chain per loop; nothing
  // is fetched until a request to an AWSCredentials backend needs it.
  std::vector<std::unique_ptr<auth::CredentialProvider>> aws_chains(loops.size());
  loops.start([&](unsigned i) {
    upstream::Pool::setForThisThread(pools[i].get());
    auth::ChainOptions chain_opts;
    chain_opts.tls_context = pool_opts.tls_context;  // STS (IRSA) is https
    aws_chains[i] = auth::makeDefaultChain(loops.at(i), auth::Environment::process(), chain_opts);
    t_aws_credentials = aws_chains[i].get();
    if (redis) {
      redis_stores[i] = std::make_unique<ratelimit::RedisStore>(loops.at(i), *redis);
      t_redis_store = redis_stores[i].get();
    }
  });
  admin_loops.start([&](unsigned) {
    if (redis) {
      redis_stores.back() = std::make_unique<ratelimit::RedisStore>(admin_loops.at(0), *redis);
      t_redis_store = redis_stores.back().get();
    }
  });

  std::string listen_str = formatHostPort(bound.address().to_string(), bound.port());
  std::string admin_str = formatHostPort(admin_bound.address().to_string(), admin_bound.port());
  spdlog::info("tollgate ready listen={} admin={}", listen_str, admin_str);
  if (opts.demo_banner) printDemoBanner("http://" + listen_str);

  // The main thread handles signals and reloads; request threads never wait on it.
  auto reload = [&](std::string_view why) {
    if (controller) {
      controller->rebuild();  // the cluster is the configuration: build again from it
      return;
    }
    Compiled next = compile(loadAll(opts, lo), mode);
    if (!report(next.diagnostics, false) || !next.snapshot) {
      reload_state.failed.fetch_add(1);
      spdlog::error(
          "reload ({}) rejected: the configuration has errors (above); still serving the last "
          "good configuration",
          why);
      return;
    }
    publish(next.snapshot, why, configFingerprint(opts));
  };

  serveUntilStopped(opts, server, access_log, draining, reload_state, reload,
                    opts.embedded_configs.empty() && !controller);

  // The drain is over: give the Lease back so another replica writes status without waiting a
  // lease duration.
  if (controller) controller->stop();
  admin_server.stopAccepting();
  loops.stop();
  admin_loops.stop();
  loops.join();
  admin_loops.join();
  if (exporter) exporter->shutdown(std::chrono::seconds(2));  // send the last spans
  spdlog::info("tollgate stopped");
  // Connections still open after the drain belong to suspended coroutines that reference the
  // server, pools and stores; unwinding them in destructor order cannot be made safe (their
  // sockets need the io_context, the io_context destroys them). The drain is over and the
  // access log is written with write(2), so leave without running destructors.
  exitWithoutUnwinding();
}

}  // namespace tollgate::cli
