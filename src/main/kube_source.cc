// `tollgate run --kube`: the configuration comes from the cluster's objects (docs/controller.md).
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

#include "common/log.h"
#include "gateway/snapshot.h"
#include "kube/controller.h"
#include "main/run_internal.h"

namespace tollgate::cli {

namespace asio = boost::asio;

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
  spdlog::info(
      "kube: reading {} from {}{}, Gateways of controller {}; Lease {}/{} as {}",
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

}  // namespace tollgate::cli
