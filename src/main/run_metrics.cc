// The metrics `tollgate run` reads at scrape time from its parts (the request metrics are
// gateway/'s): connections, pools, rate limiting, Redis, tracing, configuration, the controller.
#include "gateway/gateway_metrics.h"
#include "http/server.h"
#include "kube/controller.h"
#include "main/run_internal.h"
#include "metrics/metrics.h"
#include "ratelimit/limiter.h"
#include "ratelimit/redis_client.h"
#include "tracing/otlp_exporter.h"
#include "upstream/client.h"

namespace tollgate::cli {

void registerRunMetrics(metrics::Registry& registry, const RunMetricSources& sources) {
  http::ServerStats* server = sources.server;
  const gateway::GatewayMetrics* gateway_metrics = sources.gateway;
  const std::vector<std::unique_ptr<upstream::Pool>>* pools = sources.pools;
  ratelimit::Limiter* limiter = sources.limiter;
  ReloadState* reload_state = sources.reload;
  using Samples = std::vector<std::pair<metrics::LabelValues, double>>;
  using metrics::Type;
  auto one = [](double v) { return Samples{{{}, v}}; };
  registry.callback(
      {Type::kGauge, "tollgate_build_info", "Build information (value 1)", {"version"}, [] {
         return Samples{{{TOLLGATE_VERSION}, 1}};
       }});
  registry.callback(
      {Type::kGauge, "tollgate_active_connections", "Open client connections", {}, [server, one] {
         return one(double(server->active_connections.load()));
       }});
  registry.callback(
      {Type::kGauge,
       "tollgate_active_streams",
       "Streams being relayed",
       {},
       [gateway_metrics, one] { return one(double(gateway_metrics->active_streams.load())); }});
  auto pool_sum = [pools, one](auto field) {
    double v = 0;
    for (const auto& p : *pools) v += double((p->stats().*field).load());
    return one(v);
  };
  // The pools' counters, summed over the event loops; registered in this order.
  struct PoolCounter {
    const char* name;
    const char* help;
    std::atomic<uint64_t> upstream::PoolStats::*field;
  };
  static constexpr PoolCounter kPoolCounters[] = {
      {"tollgate_upstream_connects_total", "New upstream connections",
       &upstream::PoolStats::connects},
      {"tollgate_upstream_connect_errors_total",
       "Upstream connect failures (refused, timeout, DNS)", &upstream::PoolStats::connect_errors},
      {"tollgate_upstream_connection_reuses_total",
       "Requests sent on a pooled keep-alive connection", &upstream::PoolStats::reuses},
      {"tollgate_upstream_stale_connections_discarded_total",
       "Idle pooled connections the upstream had closed or reset, dropped unused",
       &upstream::PoolStats::stale_discarded},
      {"tollgate_upstream_idle_connections_expired_total",
       "Idle pooled connections closed by the pool's idle timeout",
       &upstream::PoolStats::idle_expired},
      {"tollgate_upstream_fresh_connection_retries_total",
       "Requests resent on a new connection after a reused one closed unanswered",
       &upstream::PoolStats::fresh_retries},
  };
  for (const PoolCounter& c : kPoolCounters) {
    registry.callback({Type::kCounter, c.name, c.help, {}, [pool_sum, field = c.field] {
                         return pool_sum(field);
                       }});
  }
  registry.callback({Type::kCounter,
                     "tollgate_upstream_tls_handshakes_total",
                     "Upstream TLS handshakes, by whether a cached session was resumed",
                     {"resumed"},
                     [pools] {
                       double all = 0, resumed = 0;
                       for (const auto& p : *pools) {
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
                     [limiter] {
                       auto& st = limiter->stats();
                       return Samples{{{"allowed"}, double(st.allowed.load())},
                                      {{"limited"}, double(st.limited.load())},
                                      {{"fail_open"}, double(st.fail_open.load())},
                                      {{"fail_closed"}, double(st.fail_closed.load())}};
                     }});
  registry.callback({Type::kCounter,
                     "tollgate_ratelimit_store_errors_total",
                     "Rate-limit store failures (unreachable, timeout, error reply)",
                     {},
                     [limiter, one] { return one(double(limiter->stats().store_errors.load())); }});
  if (sources.redis) {
    const ratelimit::RedisStats* rs = &ratelimit::redisStats();
    registry.callback({Type::kCounter,
                       "tollgate_redis_round_trips_total",
                       "Redis commands answered",
                       {},
                       [rs, one] { return one(double(rs->round_trips.load())); }});
    registry.callback({Type::kCounter,
                       "tollgate_redis_round_trip_seconds_total",
                       "Sum of Redis round-trip times (divide by round trips for the mean)",
                       {},
                       [rs, one] { return one(double(rs->rtt_micros_total.load()) / 1e6); }});
    // Plain counters of the Redis clients, one metric each.
    struct Plain {
      const char* name;
      const char* help;
      const std::atomic<uint64_t> ratelimit::RedisStats::*field;
    };
    static constexpr Plain kPlain[] = {
        {"tollgate_redis_timeouts_total", "Redis commands that timed out",
         &ratelimit::RedisStats::timeouts},
        {"tollgate_redis_late_replies_total",
         "Redis replies that arrived after their command had timed out (the work was done; "
         "not errors)",
         &ratelimit::RedisStats::late_replies},
        {"tollgate_redis_errors_total",
         "Redis error replies, connections lost under a command, unexpected replies",
         &ratelimit::RedisStats::errors},
        {"tollgate_redis_reconnects_total", "Redis connection attempts after a failure",
         &ratelimit::RedisStats::reconnects},
        {"tollgate_redis_slot_map_refreshes_total", "Redis Cluster slot maps read",
         &ratelimit::RedisStats::slot_map_refreshes},
    };
    for (const Plain& p : kPlain) {
      registry.callback({Type::kCounter, p.name, p.help, {}, [rs, one, field = p.field] {
                           return one(double((rs->*field).load()));
                         }});
    }
    registry.callback({Type::kCounter,
                       "tollgate_redis_redirects_total",
                       "Redis Cluster redirects followed, by kind",
                       {"kind"},
                       [rs] {
                         return Samples{{{"moved"}, double(rs->moved.load())},
                                        {{"ask"}, double(rs->asked.load())}};
                       }});
    registry.callback(
        {Type::kGauge, "tollgate_redis_connected", "Redis connections up", {}, [rs, one] {
           return one(double(rs->connected.load()));
         }});
  }
  if (sources.exporter != nullptr) {
    const tracing::OtlpExporter* ex = sources.exporter;
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
                     [reload_state] {
                       return Samples{{{"success"}, double(reload_state->ok.load())},
                                      {{"failure"}, double(reload_state->failed.load())}};
                     }});
  registry.callback({Type::kGauge,
                     "tollgate_config_info",
                     "The configuration in use, by content hash (value 1)",
                     {"hash"},
                     [reload_state] {
                       std::lock_guard lock(reload_state->mu);
                       return Samples{{{reload_state->hash}, 1}};
                     }});
  registry.callback(
      {Type::kGauge,
       "tollgate_config_last_reload_timestamp_seconds",
       "When the configuration in use was loaded (Unix time)",
       {},
       [reload_state, one] { return one(double(reload_state->loaded_unix.load())); }});

  if (sources.controller != nullptr) {
    const kube::ControllerStats* ks = &sources.controller->stats();
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
}

}  // namespace tollgate::cli
