// `tollgate run --kube`: keeps the gateway's configuration in step with the cluster.
//
// On a thread of its own, the controller lists and then watches every kind the loader reads
// (objects.h), keeps them in a cache, and after a quiet moment (debounce) hands the selected
// objects to the Reconciler, which builds the configuration through the caller's BuildFn, the
// same load-compile-publish path as a file reload. The replica holding the Lease writes each
// served AIGatewayRoute's and AIServiceBackend's Accepted condition.
//
// Failure behaviour: a dropped watch reconnects with backoff from the last resourceVersion seen;
// 410 Gone (history compacted) relists; a kind the server does not serve (CRD not installed) is
// treated as empty and listed again every minute. Nothing is built until every kind was listed
// once, so the gateway never serves half a cluster.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kube/access.h"
#include "kube/api_client.h"
#include "kube/objects.h"
#include "kube/reconcile.h"
#include "kube/status.h"

namespace tollgate::kube {

inline constexpr std::chrono::seconds kLeaseReleaseWait{2};

struct ControllerOptions {
  ClusterAccess access;
  std::string watch_namespace;  // empty = every namespace
  GatewaySelector gateway;      // empty = every route
  std::string identity;         // Lease holder identity (the pod name)
  std::string lease_namespace;
  std::string lease_name = "tollgate-leader";
  std::chrono::seconds lease_duration{15};
  std::chrono::milliseconds debounce{300};
  std::chrono::milliseconds debounce_max{3000};  // a constant trickle still builds this often
  std::chrono::seconds watch_timeout{300};       // asked of the server; jittered up to twice
  std::chrono::seconds status_resync{30};        // the leader re-checks every status this often
};

// Read by the metrics scrape from other threads.
struct ControllerStats {
  std::atomic<uint64_t> lists{0};             // complete listings of a kind (initial and relists)
  std::atomic<uint64_t> watch_restarts{0};    // watches that failed and were reconnected
  std::atomic<uint64_t> events{0};            // watch events applied
  std::atomic<uint64_t> status_writes{0};     // status PATCHes the server accepted
  std::atomic<uint64_t> status_failures{0};   // ... and refused or could not get
  std::atomic<int> leader{0};                 // 1 while this replica holds the Lease
  std::atomic<int> synced{0};                 // 1 once every kind was listed
  std::atomic<uint64_t> objects_rejected{0};  // objects with Accepted=False in the last build
  std::atomic<uint64_t> events_written{0};    // Events (events.k8s.io/v1) the server accepted
  std::atomic<uint64_t> event_failures{0};    // ... and refused or could not get
};

// What the controller asks of the gateway, on the controller's thread.
struct ConfigSink {
  BuildFn build;
  // The last build is the new configuration (`why` says what changed).
  std::function<void(const ReconcileResult&, const std::string& why)> publish;
  // The change could not be built; the last good configuration stays.
  std::function<void(const ReconcileResult&, const std::string& why)> reject;
};

class Controller {
 public:
  Controller(ControllerOptions opts, ConfigSink sink);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the thread. Returns an error message when the TLS context cannot be made.
  std::string start();
  // Builds again from the cache (SIGHUP). Any thread.
  void rebuild();
  // Releases the Lease when this replica holds it (waiting at most kLeaseReleaseWait for the API
  // server), then stops the thread (watches are dropped). Any thread but the controller's;
  // idempotent.
  void stop();
  const ControllerStats& stats() const { return stats_; }

 private:
  enum class WatchEnd { kEnded, kGone, kFailed };

  boost::asio::awaitable<void> runKind(const Kind* kind);
  // Lists a kind completely (all pages); nullopt on failure, "" + not_served when 404.
  boost::asio::awaitable<std::optional<std::string>> listKind(const Kind& kind, bool* not_served);
  boost::asio::awaitable<WatchEnd> watchKind(const Kind& kind, std::string* resource_version);
  boost::asio::awaitable<void> leaseLoop();
  boost::asio::awaitable<bool> acquireOrRenew();
  boost::asio::awaitable<void> releaseLease();
  boost::asio::awaitable<void> writeStatuses();
  boost::asio::awaitable<void> writeEvents(
      std::vector<std::pair<std::string, std::string>> rejections);
  boost::asio::awaitable<void> statusResyncLoop();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);

  void replaceKind(const Kind& kind, std::map<std::string, CachedObject> fresh);
  void upsert(const Kind& kind, boost::json::object raw);
  void erase(const Kind& kind, const boost::json::object& raw);
  void markSynced(const Kind& kind);
  void markDirty();
  void build(const std::string& why);
  void setLeader(bool leader, const std::string& why);
  void kickStatusWriter();
  CachedObject* find(const std::string& label);

  ControllerOptions opts_;
  ConfigSink sink_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<ApiClient> client_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  ControllerStats stats_;

  // Everything below: the controller thread only.
  std::map<std::string, std::map<std::string, CachedObject>> cache_;  // kind -> label -> object
  std::set<std::string> synced_;                                      // kinds listed once
  bool initial_build_done_ = false;
  boost::asio::steady_timer debounce_timer_{io_};
  bool dirty_ = false;
  std::chrono::steady_clock::time_point first_dirty_{};
  Reconciler reconciler_;
  std::string published_fingerprint_;
  std::map<std::string, ObjectOutcome> outcomes_;  // last build's verdicts, by label
  std::map<std::string, Verdict> subjects_;        // whose status we write, what it should say
  bool leader_ = false;
  std::string last_holder_;  // who held the Lease at the last look (for log lines)
  std::vector<std::string> skipped_gateways_;  // left out for their class, as last logged
  bool writer_running_ = false;
  bool writer_again_ = false;
  std::chrono::steady_clock::time_point last_lease_problem_log_{};
  std::chrono::steady_clock::time_point last_event_problem_log_{};
};

// The Lease holder identity: POD_NAME, else the host name.
std::string defaultIdentity(const GetEnv& env);

}  // namespace tollgate::kube
