// `tollgate run`, `validate`, `demo` and `mock-llm`.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "auth/aws_credentials.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/model.h"
#include "gateway/gateway.h"
#include "kube/controller.h"
#include "main/admin.h"
#include "main/commands.h"
#include "metrics/metrics.h"
#include "mock/mock_server.h"
#include "ratelimit/limiter.h"
#include "ratelimit/redis_store.h"
#include "tracing/otlp_exporter.h"
#include "upstream/client.h"

#if defined(__SANITIZE_ADDRESS__)
#define TOLLGATE_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TOLLGATE_HAS_LSAN 1
#endif
#endif
#ifdef TOLLGATE_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace tollgate::cli {

namespace {

namespace asio = boost::asio;

// Leaves after a completed drain without running destructors (runGateway says why). std::_Exit
// also skips LeakSanitizer's exit-time check, so sanitizer builds run that check here: what the
// suspended sessions still hold is reachable from the io_contexts on this stack and is not
// reported; memory nothing points to any more is, and the exit status becomes LSan's.
[[noreturn]] void exitWithoutUnwinding() {
  spdlog::shutdown();
  std::fflush(nullptr);
#ifdef TOLLGATE_HAS_LSAN
  __lsan_do_leak_check();
#endif
  std::_Exit(0);
}

// The Redis store of the event loop running on this thread (one connection per loop).
thread_local ratelimit::Store* t_redis_store = nullptr;
// The AWS credential chain of the event loop running on this thread (created lazily by use).
thread_local auth::CredentialProvider* t_aws_credentials = nullptr;

unsigned defaultThreads(unsigned requested) {
  if (requested > 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

bool parseOverrides(const std::vector<std::string>& specs, config::LoadOptions& opts) {
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    std::optional<HostPort> hp;
    if (eq != std::string::npos) hp = parseHostPort(std::string_view(spec).substr(eq + 1));
    if (eq == std::string::npos || eq == 0 || !hp || hp->port == 0) {
      std::cerr << "tollgate: error: --backend-endpoint expects BACKEND=HOST:PORT, got '" << spec
                << "'\n";
      return false;
    }
    config::Endpoint ep;
    ep.host = hp->host;
    ep.port = hp->port;
    boost::system::error_code ec;
    asio::ip::make_address(hp->host, ec);
    ep.is_ip = !ec;
    opts.backend_endpoint_overrides[spec.substr(0, eq)] = ep;
  }
  return true;
}

// Prints diagnostics; returns false when there are errors.
bool report(const std::vector<config::Diagnostic>& diagnostics, bool to_stdout) {
  size_t errors = 0, warnings = 0;
  for (const auto& d : diagnostics) {
    if (d.severity == config::Severity::kError) {
      ++errors;
      if (to_stdout)
        std::cout << "error: " << d.toString() << "\n";
      else
        spdlog::error("config: {}", d.toString());
    } else if (d.severity == config::Severity::kWarning) {
      ++warnings;
      // validate's listing follows --log-level too: warn hides the info lines, error the
      // warnings (errors and the summary are always shown; they are the answer).
      if (to_stdout && spdlog::should_log(spdlog::level::warn))
        std::cout << "warning: " << d.toString() << "\n";
      else if (!to_stdout)
        spdlog::warn("config: {}", d.toString());
    } else {
      if (to_stdout && spdlog::should_log(spdlog::level::info))
        std::cout << "info: " << d.toString() << "\n";
      else if (!to_stdout)
        spdlog::debug("config: {}", d.toString());
    }
  }
  if (to_stdout) {
    std::cout << (errors ? "invalid" : "valid") << ": " << errors << " error(s), " << warnings
              << " warning(s)\n";
  }
  return errors == 0;
}

// The endpoint overrides the AWS SDKs honour: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else
// AWS_ENDPOINT_URL (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true). They replace the endpoints
// of every Backend an AWS-schema AIServiceBackend uses, except those --backend-endpoint names.
void applyAwsEndpointOverride(config::LoadResult& lr, const config::LoadOptions& lo) {
  auto env = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v ? v : "";
  };
  if (env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "true") return;
  std::string url = env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
  std::string source = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME";
  if (url.empty()) {
    url = env("AWS_ENDPOINT_URL");
    source = "AWS_ENDPOINT_URL";
  }
  if (url.empty()) return;
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    lr.diagnostics.push_back(
        {config::Severity::kError, source, 0, "", "", "must be an http:// or https:// URL"});
    return;
  }
  std::string_view rest = std::string_view(url).substr(https ? 8 : 7);
  rest = rest.substr(0, rest.find('/'));
  config::Endpoint ep;
  if (auto hp = parseHostPort(rest)) {
    ep.host = hp->host;
    ep.port = hp->port;
  } else {
    ep.host = std::string(rest);
    ep.port = https ? 443 : 80;
  }
  if (ep.host.empty()) {
    lr.diagnostics.push_back({config::Severity::kError, source, 0, "", "", "has no host"});
    return;
  }
  for (const auto& ai : lr.config.ai_service_backends) {
    if (ai.schema != config::Schema::kAWSAnthropic && ai.schema != config::Schema::kAWSBedrock)
      continue;
    for (auto& b : lr.config.backends) {
      if (b.origin.name != ai.backend_ref || lo.backend_endpoint_overrides.count(b.origin.name))
        continue;
      b.endpoints = {ep};
      b.tls.enabled = https;
      b.tls.hostname = https ? ep.host : "";
      spdlog::info("{}: Backend {} now at {}://{}", source, b.origin.name, https ? "https" : "http",
                   formatHostPort(ep.host, ep.port));
    }
  }
}

config::LoadResult loadAllFiles(const RunOptions& opts, const config::LoadOptions& lo);

config::LoadResult loadAll(const RunOptions& opts, const config::LoadOptions& lo) {
  config::LoadResult lr = loadAllFiles(opts, lo);
  applyAwsEndpointOverride(lr, lo);
  return lr;
}

config::LoadResult loadAllFiles(const RunOptions& opts, const config::LoadOptions& lo) {
  if (!opts.embedded_configs.empty()) {
    std::string text;
    for (const auto& [name, body] : opts.embedded_configs) {
      text += "# ---- ";
      text += name;
      text += "\n---\n";
      text += body;
      text += "\n---\n";
    }
    return config::loadString(text, "embedded:examples/demo", lo);
  }
  return config::loadFiles(opts.config_paths, lo);
}

// A configuration compiled for serving, with every diagnostic of loading and compiling it.
struct Compiled {
  std::shared_ptr<const gateway::Snapshot> snapshot;  // null when anything is an error
  std::vector<config::Diagnostic> diagnostics;
};

Compiled compile(config::LoadResult lr, ratelimit::Mode mode) {
  Compiled out;
  out.diagnostics = std::move(lr.diagnostics);
  const bool load_failed = std::any_of(
      out.diagnostics.begin(), out.diagnostics.end(),
      [](const config::Diagnostic& d) { return d.severity == config::Severity::kError; });
  if (load_failed) return out;
  auto cfg = std::make_shared<const config::Config>(std::move(lr.config));
  auto snap = std::make_shared<const gateway::Snapshot>(cfg, mode);
  // Rate-limit cost expressions and credentialsFile Secrets are checked by compiling them.
  for (const auto& e : snap->policies.errors()) out.diagnostics.push_back(e);
  for (const auto& e : snap->errors) out.diagnostics.push_back(e);
  if (snap->policies.errors().empty() && snap->errors.empty()) out.snapshot = std::move(snap);
  return out;
}

// Reload bookkeeping, read by the metrics scrape.
struct ReloadState {
  std::atomic<uint64_t> ok{0}, failed{0};
  std::atomic<int64_t> loaded_unix{0};
  std::mutex mu;  // guards hash: the reloading thread writes it, the scrape reads it
  std::string hash;
};

using PublishFn =
    std::function<void(std::shared_ptr<const gateway::Snapshot>, std::string_view, std::string)>;

// --kube: the controller's thread builds each configuration through compile() and publishes it
// through the same function as a file reload. nullptr (logged) when the cluster is unreachable
// by configuration (no credentials, bad kubeconfig).
std::unique_ptr<kube::Controller> startController(const RunOptions& opts,
                                                  const config::LoadOptions& lo,
                                                  ratelimit::Mode mode, const PublishFn& publish,
                                                  ReloadState& reload_state) {
  auto access = opts.kubeconfig.empty()
                    ? kube::inCluster(kube::processEnv())
                    : kube::fromKubeconfig(opts.kubeconfig, opts.kube_context, opts.kube_insecure);
  if (!access) {
    spdlog::error("kube: {}", access.error().detail);
    return nullptr;
  }
  const kube::GetEnv env = kube::processEnv();
  kube::ControllerOptions co;
  co.access = std::move(access.value());
  co.watch_namespace = opts.kube_namespace;
  co.gateway = kube::parseGatewaySelector(opts.kube_gateway);
  co.gateway.controller_name = opts.kube_controller_name;
  co.identity = kube::defaultIdentity(env);
  co.lease_name = opts.kube_lease_name;
  co.lease_duration = std::chrono::seconds(opts.kube_lease_duration_s);
  // The Lease lives in the pod's namespace.
  co.lease_namespace = env("POD_NAMESPACE").value_or("");
  if (co.lease_namespace.empty()) co.lease_namespace = co.access.ns;
  if (co.lease_namespace.empty()) co.lease_namespace = opts.kube_namespace;
  if (co.lease_namespace.empty()) co.lease_namespace = "default";
  spdlog::info("kube: reading {} from {}{}, Gateways of controller {}; Lease {}/{} as {}",
               opts.kube_namespace.empty() ? "all namespaces" : "namespace " + opts.kube_namespace,
               co.access.description, co.gateway.all() ? "" : " for Gateway " + opts.kube_gateway,
               co.gateway.controller_name.empty() ? "(any)" : "'" + co.gateway.controller_name + "'",
               co.lease_namespace, co.lease_name, co.identity);

  // The candidate of the build in progress; only the controller's thread touches it.
  auto candidate = std::make_shared<std::shared_ptr<const gateway::Snapshot>>();
  config::LoadOptions cluster_lo = lo;
  cluster_lo.missing_phrase = "which is not in the cluster or was not accepted";
  kube::ConfigSink sink;
  sink.build = [candidate, cluster_lo,
                mode](const std::vector<std::pair<std::string, std::string>>& docs) {
    config::LoadResult lr = config::loadObjects(docs, "cluster", cluster_lo);
    applyAwsEndpointOverride(lr, cluster_lo);
    Compiled compiled = compile(std::move(lr), mode);
    *candidate = compiled.snapshot;
    return std::move(compiled.diagnostics);
  };
  sink.publish = [candidate, publish](const kube::ReconcileResult& r, const std::string& why) {
    size_t left_out = 0;
    for (const auto& [label, o] : r.objects) left_out += o.served ? 0 : 1;
    spdlog::info(
        "kube: configuration built from {} object(s) ({}; {} left out; {} build(s), {:.1f} ms)",
        r.objects.size() - left_out, why, left_out, r.builds, r.elapsed_ms);
    publish(*candidate, why, r.fingerprint);
  };
  sink.reject = [&reload_state](const kube::ReconcileResult& r, const std::string& why) {
    reload_state.failed.fetch_add(1);
    for (const auto& d : r.unattributed) spdlog::error("config: {}", d.toString());
    spdlog::error(
        "kube: the cluster's configuration ({}) has errors no object can be blamed for (above); "
        "still serving the last good configuration",
        why);
  };
  auto controller = std::make_unique<kube::Controller>(std::move(co), std::move(sink));
  if (std::string error = controller->start(); !error.empty()) {
    spdlog::error("kube: {}", error);
    return nullptr;
  }
  return controller;
}

// Waits until the controller published the first configuration. False when a signal came first,
// or the cluster's configuration cannot be built at all (reload_state.failed counts it).
bool waitForFirstSnapshot(const gateway::SnapshotHolder& snapshots,
                          const ReloadState& reload_state) {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool ready = false;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("signal {} received before the first configuration; stopping", sig);
    io.stop();
  });
  asio::steady_timer poll(io);
  const auto started = std::chrono::steady_clock::now();
  auto next_note = started + std::chrono::seconds(10);
  std::function<void()> check = [&] {
    if (snapshots.current()) {
      ready = true;
      io.stop();
      return;
    }
    if (reload_state.failed.load() > 0) {
      spdlog::error("configuration from the cluster has errors; not starting");
      io.stop();
      return;
    }
    if (std::chrono::steady_clock::now() >= next_note) {
      next_note += std::chrono::seconds(10);
      spdlog::warn("kube: still waiting for the first complete listing of the cluster");
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) check();
    });
  };
  check();
  io.run();
  return ready;
}

// Waits for SIGINT/SIGTERM on the calling thread.
void waitForSignal() {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int got = 0;
  signals.async_wait([&](const boost::system::error_code&, int sig) { got = sig; });
  io.run();
  spdlog::info("signal {} received, shutting down", got);
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

void printDemoBanner(const std::string& url) {
  std::fprintf(stderr,
               "\n  tollgate demo is running at %s (models: Qwen/Qwen3-1.7B, openai/gpt-oss-20b,\n"
               "  anthropic.claude-3-haiku-20240307-v1:0 on a fake Bedrock)\n\n"
               "  curl %s/v1/chat/completions -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"Qwen/Qwen3-1.7B\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"Hello!\"}]}'\n\n"
               "  curl -N %s/v1/chat/completions -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"openai/gpt-oss-20b\",\"stream\":true,\"messages\":"
               "[{\"role\":\"user\",\"content\":\"Stream please\"}]}'\n\n"
               "  curl %s/anthropic/v1/messages -H 'content-type: application/json' \\\n"
               "    -d '{\"model\":\"anthropic.claude-3-haiku-20240307-v1:0\",\"max_tokens\":50,"
               "\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'\n\n"
               "  curl %s/v1/models\n\n"
               "  OpenAI SDK (Node): new OpenAI({ baseURL: '%s/v1', apiKey: 'unused' })\n"
               "  OpenAI SDK (Python): OpenAI(base_url='%s/v1', api_key='unused')\n"
               "  tollgate client --url %s\n\n"
               "  Ctrl-C stops it.\n\n",
               url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(),
               url.c_str(), url.c_str());
}

// A fingerprint of the configuration files (names and contents): what the reload poller
// compares and what the tollgate_config_info metric shows.
std::string configFingerprint(const RunOptions& opts) {
  namespace fs = std::filesystem;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, body] : opts.embedded_configs) {
    mix(name);
    mix(body);
  }
  for (const auto& p : opts.config_paths) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::directory_iterator(p, ec)) {
        auto ext = e.path().extension();
        if (ext == ".yaml" || ext == ".yml") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.emplace_back(p);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      mix(f.string());
      mix(text);
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

int validateConfig(const std::vector<std::string>& paths,
                   const std::vector<std::string>& overrides, const std::string& log_level) {
  log::init(log_level);
  config::LoadOptions lo;
  if (!parseOverrides(overrides, lo)) return 2;
  auto lr = config::loadFiles(paths, lo);
  // What is checked when a snapshot is built (cost expressions compiled by the rate limiter,
  // credentialsFile contents, CA bundles) is reported here too, as `run` would refuse it.
  const Compiled compiled = compile(std::move(lr), ratelimit::Mode::kEnvoy);
  return report(compiled.diagnostics, true) ? 0 : 1;
}

// Every client and upstream connection is a file descriptor: take the whole hard limit the
// environment allows (the soft default is often 1024), as nginx and Envoy deployments do.
static void raiseOpenFilesLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  spdlog::info("open files limit: {}", static_cast<uint64_t>(lim.rlim_cur));
}

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
    redis = ratelimit::parseRedisUrl(opts.redis_url);
    if (!redis) {
      std::cerr << "tollgate: error: --redis expects redis://[[user]:password@]HOST:PORT[/db]\n";
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

  // Values read at scrape time.
  using Samples = std::vector<std::pair<metrics::LabelValues, double>>;
  using metrics::Type;
  auto one = [](double v) { return Samples{{{}, v}}; };
  registry.callback(
      {Type::kGauge, "tollgate_build_info", "Build information (value 1)", {"version"}, [] {
         return Samples{{{TOLLGATE_VERSION}, 1}};
       }});
  registry.callback(
      {Type::kGauge, "tollgate_active_connections", "Open client connections", {}, [&, one] {
         return one(double(server.stats().active_connections.load()));
       }});
  registry.callback(
      {Type::kGauge, "tollgate_active_streams", "Streams being relayed", {}, [&, one] {
         return one(double(gateway_metrics.active_streams.load()));
       }});
  auto pool_sum = [&pools, one](auto field) {
    double v = 0;
    for (const auto& p : pools) v += double((p->stats().*field).load());
    return one(v);
  };
  registry.callback({Type::kCounter,
                     "tollgate_upstream_connects_total",
                     "New upstream connections",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::connects); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_connect_errors_total",
                     "Upstream connect failures (refused, timeout, DNS)",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::connect_errors); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_connection_reuses_total",
                     "Requests sent on a pooled keep-alive connection",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::reuses); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_stale_connections_discarded_total",
                     "Idle pooled connections the upstream had closed or reset, dropped unused",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::stale_discarded); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_idle_connections_expired_total",
                     "Idle pooled connections closed by the pool's idle timeout",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::idle_expired); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_fresh_connection_retries_total",
                     "Requests resent on a new connection after a reused one closed unanswered",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::fresh_retries); }});
  registry.callback({Type::kCounter,
                     "tollgate_upstream_tls_handshakes_total",
                     "Upstream TLS handshakes, by whether a cached session was resumed",
                     {"resumed"},
                     [&pools] {
                       double all = 0, resumed = 0;
                       for (const auto& p : pools) {
                         all += double(p->stats().tls_handshakes.load());
                         resumed += double(p->stats().tls_resumed.load());
                       }
                       return Samples{{{"true"}, resumed}, {{"false"}, all - resumed}};
                     }});
  registry.callback({Type::kGauge,
                     "tollgate_upstream_pool_idle_connections",
                     "Idle pooled upstream connections",
                     {},
                     [pool_sum] { return pool_sum(&upstream::PoolStats::idle); }});
  registry.callback({Type::kCounter,
                     "tollgate_ratelimit_decisions_total",
                     "Rate-limit checks by decision",
                     {"decision"},
                     [&limiter] {
                       auto& st = limiter.stats();
                       return Samples{{{"allowed"}, double(st.allowed.load())},
                                      {{"limited"}, double(st.limited.load())},
                                      {{"fail_open"}, double(st.fail_open.load())},
                                      {{"fail_closed"}, double(st.fail_closed.load())}};
                     }});
  registry.callback({Type::kCounter,
                     "tollgate_ratelimit_store_errors_total",
                     "Rate-limit store failures (unreachable, timeout, error reply)",
                     {},
                     [&limiter, one] { return one(double(limiter.stats().store_errors.load())); }});
  if (redis) {
    auto& rs = ratelimit::redisStats();
    registry.callback({Type::kCounter,
                       "tollgate_redis_round_trips_total",
                       "Redis commands answered",
                       {},
                       [&rs, one] { return one(double(rs.round_trips.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_redis_round_trip_seconds_total",
                       "Sum of Redis round-trip times (divide by round trips for the mean)",
                       {},
                       [&rs, one] { return one(double(rs.rtt_micros_total.load()) / 1e6); }});
    registry.callback({Type::kCounter,
                       "tollgate_redis_timeouts_total",
                       "Redis commands that timed out",
                       {},
                       [&rs, one] { return one(double(rs.timeouts.load())); }});
    registry.callback(
        {Type::kGauge, "tollgate_redis_connected", "Redis connections up", {}, [&rs, one] {
           return one(double(rs.connected.load()));
         }});
  }
  if (exporter) {
    auto* ex = exporter.get();
    registry.callback({Type::kCounter,
                       "tollgate_trace_spans_total",
                       "Spans by outcome (exported, or dropped: queue full, collector down)",
                       {"outcome"},
                       [ex] {
                         return Samples{{{"exported"}, double(ex->stats().exported.load())},
                                        {{"dropped"}, double(ex->stats().dropped.load())}};
                       }});
  }
  registry.callback({Type::kCounter,
                     "tollgate_config_reloads_total",
                     "Configuration reloads",
                     {"result"},
                     [&reload_state] {
                       return Samples{{{"success"}, double(reload_state.ok.load())},
                                      {{"failure"}, double(reload_state.failed.load())}};
                     }});
  registry.callback({Type::kGauge,
                     "tollgate_config_info",
                     "The configuration in use, by content hash (value 1)",
                     {"hash"},
                     [&reload_state] {
                       std::lock_guard lock(reload_state.mu);
                       return Samples{{{reload_state.hash}, 1}};
                     }});
  registry.callback(
      {Type::kGauge,
       "tollgate_config_last_reload_timestamp_seconds",
       "When the configuration in use was loaded (Unix time)",
       {},
       [&reload_state, one] { return one(double(reload_state.loaded_unix.load())); }});

  if (controller) {
    const kube::ControllerStats* ks = &controller->stats();
    registry.callback({Type::kGauge,
                       "tollgate_kube_leader",
                       "1 while this replica holds the Lease and writes status",
                       {},
                       [ks, one] { return one(double(ks->leader.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_kube_lists_total",
                       "Complete listings of a kind (the first, and relists after 410 Gone)",
                       {},
                       [ks, one] { return one(double(ks->lists.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_kube_watch_restarts_total",
                       "Watches that failed (dropped connection, error) and were reconnected",
                       {},
                       [ks, one] { return one(double(ks->watch_restarts.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_kube_watch_events_total",
                       "Watch events applied to the cache",
                       {},
                       [ks, one] { return one(double(ks->events.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_kube_status_writes_total",
                       "Status PATCHes by result",
                       {"result"},
                       [ks] {
                         return Samples{{{"success"}, double(ks->status_writes.load())},
                                        {{"failure"}, double(ks->status_failures.load())}};
                       }});
    registry.callback({Type::kGauge,
                       "tollgate_kube_objects_rejected",
                       "Objects not accepted (Accepted=False) in the last build",
                       {},
                       [ks, one] { return one(double(ks->objects_rejected.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_kube_events_total",
                       "Kubernetes Events written for rejected objects, by result",
                       {"result"},
                       [ks] {
                         return Samples{{{"success"}, double(ks->events_written.load())},
                                        {{"failure"}, double(ks->event_failures.load())}};
                       }});
  }

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
  asio::io_context main_io(1);
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

  asio::signal_set signals(main_io, SIGINT, SIGTERM, SIGHUP);
  signals.add(SIGUSR1);
  asio::steady_timer drain_timer(main_io);
  std::function<void(const boost::system::error_code&, int)> on_signal;
  std::function<void()> check_drained;
  std::chrono::steady_clock::time_point drain_deadline;
  check_drained = [&] {
    const auto active = server.stats().active_connections.load();
    if (active == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (active > 0) spdlog::warn("drain timeout: closing {} connection(s)", active);
      main_io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([&](const boost::system::error_code& e) {
      if (!e) check_drained();
    });
  };
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload("SIGHUP");
      signals.async_wait(on_signal);
      return;
    }
    if (sig == SIGUSR1) {
      if (access_log.reopen()) {
        spdlog::info("access log reopened ({})", opts.access_log);
      } else {
        spdlog::error("access log {} could not be reopened; still writing to the old file",
                      opts.access_log);
      }
      signals.async_wait(on_signal);
      return;
    }
    if (draining.exchange(true)) {
      spdlog::warn("second signal {}: exiting now", sig);
      std::fflush(nullptr);
      std::_Exit(1);
    }
    spdlog::info("signal {} received: draining for up to {} s (/readyz answers 503)", sig,
                 opts.drain_timeout_s);
    server.drain();
    signals.async_wait(on_signal);
    drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opts.drain_timeout_s);
    check_drained();
  };
  signals.async_wait(on_signal);

  // Watch the configuration files: a changed fingerprint reloads, like SIGHUP.
  asio::steady_timer watch_timer(main_io);
  std::function<void()> watch = [&] {
    if (opts.watch_interval_ms == 0 || !opts.embedded_configs.empty() || controller) return;
    watch_timer.expires_after(std::chrono::milliseconds(opts.watch_interval_ms));
    watch_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec || draining.load()) return;
      const std::string now_hash = configFingerprint(opts);
      bool changed;
      {
        std::lock_guard lock(reload_state.mu);
        changed = now_hash != reload_state.hash;
      }
      if (changed) {
        reload("file change");
        // A rejected change is not retried until the files change again.
        std::lock_guard lock(reload_state.mu);
        reload_state.hash = now_hash;
      }
      watch();
    });
  };
  watch();
  main_io.run();

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

int runMockLlm(const MockOptions& opts) {
  log::init(opts.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  auto hp = parseHostPort(opts.listen);
  if (!hp) {
    std::cerr << "tollgate: error: --listen expects HOST:PORT\n";
    return 2;
  }
  mock::MockServerOptions mo;
  mo.engine.served_models_csv = opts.models;
  mo.latency = std::chrono::milliseconds(opts.latency_ms);
  mo.ttft = std::chrono::milliseconds(opts.ttft_ms);
  mo.itl = std::chrono::milliseconds(opts.itl_ms);
  mo.fail_rate = opts.fail_rate;
  mo.stream_error_rate = opts.stream_error_rate;
  if (!opts.aws_credentials.empty()) {
    auto colon = opts.aws_credentials.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == opts.aws_credentials.size()) {
      std::cerr << "tollgate: error: --aws-credentials expects ACCESS_KEY:SECRET\n";
      return 2;
    }
    mo.aws_access_key_id = opts.aws_credentials.substr(0, colon);
    mo.aws_secret_access_key = opts.aws_credentials.substr(colon + 1);
  }
  mock::MockHandler handler(mo);
  http::EventLoops loops(opts.threads == 0 ? 1 : opts.threads);
  http::Server server(loops, handler, http::ServerOptions{});
  http::tcp::endpoint bound;
  if (auto err = server.listen(hp->host, hp->port, &bound); !err.empty()) {
    spdlog::error("mock-llm: {}", err);
    return 1;
  }
  loops.start();
  spdlog::info("mock-llm ready listen={}",
               formatHostPort(bound.address().to_string(), bound.port()));
  waitForSignal();
  server.stopAccepting();
  loops.stop();
  loops.join();
  // As in runGateway: suspended sessions must not be unwound after their server is gone.
  exitWithoutUnwinding();
}

int runDemo(const DemoOptions& opts) {
  log::init(opts.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  // Three mock model servers on free loopback ports stand in for the two vLLM deployments and
  // AWS Bedrock. The Bedrock one checks SigV4 with demo credentials, which the gateway's default
  // credential chain picks up from the environment set here.
  static constexpr const char* kDemoAccessKey = "AKIDTOLLGATEDEMO";
  static constexpr const char* kDemoSecretKey = "tollgate-demo-secret-not-a-real-key";
  ::setenv("AWS_ACCESS_KEY_ID", kDemoAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kDemoSecretKey, 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  mock::MockServerOptions mo;
  mo.itl = std::chrono::milliseconds(20);  // streams visibly token by token
  mock::MockServerOptions bo = mo;
  bo.aws_access_key_id = kDemoAccessKey;
  bo.aws_secret_access_key = kDemoSecretKey;
  mock::MockHandler qwen(mo), gptoss(mo), bedrock(bo);
  http::EventLoops mock_loops(1);
  http::Server qwen_server(mock_loops, qwen, http::ServerOptions{});
  http::Server gptoss_server(mock_loops, gptoss, http::ServerOptions{});
  http::Server bedrock_server(mock_loops, bedrock, http::ServerOptions{});
  http::tcp::endpoint qwen_ep, gptoss_ep, bedrock_ep;
  for (auto [server, ep] :
       {std::pair{&qwen_server, &qwen_ep}, std::pair{&gptoss_server, &gptoss_ep},
        std::pair{&bedrock_server, &bedrock_ep}}) {
    if (auto err = server->listen("127.0.0.1", 0, ep); !err.empty()) {
      spdlog::error("demo: {}", err);
      return 1;
    }
  }
  mock_loops.start();
  spdlog::info(
      "demo: mock model servers qwen3-backend=127.0.0.1:{} gpt-oss-backend=127.0.0.1:{} "
      "bedrock-backend=127.0.0.1:{}",
      qwen_ep.port(), gptoss_ep.port(), bedrock_ep.port());

  RunOptions run;
  run.listen = opts.listen;
  run.admin = opts.admin;
  run.threads = opts.threads;
  run.log_level = opts.log_level;
  run.embedded_configs = embeddedDemoConfigs();
  run.backend_endpoints = {"qwen3-backend=127.0.0.1:" + std::to_string(qwen_ep.port()),
                           "gpt-oss-backend=127.0.0.1:" + std::to_string(gptoss_ep.port()),
                           "bedrock-backend=127.0.0.1:" + std::to_string(bedrock_ep.port())};
  run.demo_banner = true;
  spdlog::drop("tollgate");  // runGateway sets the logger up again
  int rc = runGateway(run);
  mock_loops.stop();
  mock_loops.join();
  return rc;
}

}  // namespace tollgate::cli
