// Internal to src/main: the parts `tollgate run` wires together (run_cmd.cc), each in the file
// of its job. Everything here runs on the main thread unless it says otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "main/commands.h"

// Declared only: every file of `run` includes this header, and most of them need none of the
// gateway, the pools, the controller or the exporter (Asio and Beast templates). Each file
// includes the headers of what it uses.
namespace tollgate {
namespace gateway {
class AccessLog;
class GatewayMetrics;
struct Snapshot;
class SnapshotHolder;
}  // namespace gateway
namespace http {
class Server;
struct ServerStats;
}  // namespace http
namespace kube {
class Controller;
}  // namespace kube
namespace metrics {
class Registry;
}  // namespace metrics
namespace ratelimit {
class Limiter;
enum class Mode;  // ratelimit/limiter.h
}  // namespace ratelimit
namespace tracing {
class OtlpExporter;
}  // namespace tracing
namespace upstream {
class Pool;
}  // namespace upstream
}  // namespace tollgate

namespace tollgate::cli {

// ---- config_source.cc: configuration from files (or the demo's embedded text) ----

// --backend-endpoint BACKEND=HOST:PORT into opts; prints the error and returns false on a bad one.
bool parseOverrides(const std::vector<std::string>& specs, config::LoadOptions& opts);
// Prints diagnostics; returns false when there are errors.
bool report(const std::vector<config::Diagnostic>& diagnostics, bool to_stdout);
void applyAwsEndpointOverride(config::LoadResult& lr, const config::LoadOptions& lo);
// The files (or embedded text) of opts, with the AWS endpoint override applied.
config::LoadResult loadAll(const RunOptions& opts, const config::LoadOptions& lo);

// A configuration compiled for serving, with every diagnostic of loading and compiling it.
struct Compiled {
  std::shared_ptr<const gateway::Snapshot> snapshot;  // null when anything is an error
  std::vector<config::Diagnostic> diagnostics;
};

// Null snapshot when loading or compiling found an error.
Compiled compile(config::LoadResult lr, ratelimit::Mode mode);

// A fingerprint of the configuration files (names and contents): what the reload poller
// compares and what the tollgate_config_info metric shows.
std::string configFingerprint(const RunOptions& opts);

// Reload bookkeeping, read by the metrics scrape.
struct ReloadState {
  std::atomic<uint64_t> ok{0}, failed{0};
  std::atomic<int64_t> loaded_unix{0};
  std::mutex mu;  // guards hash: the reloading thread writes it, the scrape reads it
  std::string hash;
};

// Makes a snapshot live: (snapshot, why, content hash).
using PublishFn =
    std::function<void(std::shared_ptr<const gateway::Snapshot>, std::string_view, std::string)>;

// ---- kube_source.cc: configuration from the cluster (--kube) ----

// The controller's thread builds each configuration through compile() and publishes it through
// the same function as a file reload. nullptr (logged) when the cluster is unreachable by
// configuration (no credentials, bad kubeconfig). `reload_state` must outlive the controller.
std::unique_ptr<kube::Controller> startController(const RunOptions& opts,
                                                  const config::LoadOptions& lo,
                                                  ratelimit::Mode mode, const PublishFn& publish,
                                                  ReloadState& reload_state);
// Waits until the controller published the first configuration. False when a signal came first,
// or the cluster's configuration cannot be built at all (reload_state.failed counts it).
bool waitForFirstSnapshot(const gateway::SnapshotHolder& snapshots,
                          const ReloadState& reload_state);

// ---- run_metrics.cc: what /metrics reads at scrape time ----

// Everything must outlive the registry's last scrape; the callbacks keep these pointers.
struct RunMetricSources {
  http::ServerStats* server = nullptr;
  const gateway::GatewayMetrics* gateway = nullptr;
  const std::vector<std::unique_ptr<upstream::Pool>>* pools = nullptr;
  ratelimit::Limiter* limiter = nullptr;
  bool redis = false;                               // the Redis client counters
  const tracing::OtlpExporter* exporter = nullptr;  // null: no tracing
  ReloadState* reload = nullptr;
  const kube::Controller* controller = nullptr;  // null: configuration from files
};
void registerRunMetrics(metrics::Registry& registry, const RunMetricSources& sources);

// ---- lifecycle.cc: process limits, signals, drain, exit ----

// Every client and upstream connection is a file descriptor: take the whole hard limit the
// environment allows (the soft default is often 1024), as nginx and Envoy deployments do.
void raiseOpenFilesLimit();
// Waits for SIGINT/SIGTERM on the calling thread.
void waitForSignal();
// Runs the main thread's loop until the gateway has drained: SIGHUP (and, when `watch_files`, a
// changed configuration fingerprint every opts.watch_interval_ms) calls `reload`; SIGUSR1
// reopens the access log; SIGINT/SIGTERM set `draining` and drain `server` for up to
// opts.drain_timeout_s, a second one exits at once.
void serveUntilStopped(const RunOptions& opts, http::Server& server, gateway::AccessLog& access_log,
                       std::atomic<bool>& draining, ReloadState& reload_state,
                       const std::function<void(std::string_view)>& reload, bool watch_files);
// Leaves after a completed drain without running destructors (runGateway says why). std::_Exit
// also skips LeakSanitizer's exit-time check, so sanitizer builds run that check here: what the
// suspended sessions still hold is reachable from the io_contexts on this stack and is not
// reported; memory nothing points to any more is, and the exit status becomes LSan's.
[[noreturn]] void exitWithoutUnwinding();

// ---- demo_cmd.cc ----
void printDemoBanner(const std::string& url);

}  // namespace tollgate::cli
