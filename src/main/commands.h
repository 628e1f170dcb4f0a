// The subcommands of the tollgate binary (main.cc parses flags and calls one of these).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kube/objects.h"
#include "ratelimit/redis_options.h"

namespace tollgate::cli {

struct RunOptions {
  std::vector<std::string> config_paths;
  std::string listen;  // HOST:PORT; empty = from the Gateway listener, else 127.0.0.1:1975
  std::string admin = "127.0.0.1:1064";
  std::vector<std::string> backend_endpoints;  // BACKEND=HOST:PORT
  unsigned threads = 0;                        // 0 = one per core
  std::string access_log = "-";
  std::string redis_url;          // empty: in-process limits
  ratelimit::RedisTls redis_tls;  // the files for rediss:// (--redis-ca-file ...)
  uint32_t redis_timeout_ms = 50;
  std::string rate_limit_mode = "envoy";    // envoy | reserve
  std::string rate_limit_failure = "open";  // open | closed
  uint32_t drain_timeout_s = 30;            // SIGTERM: let requests and streams finish
  uint32_t watch_interval_ms = 2000;        // poll config files for changes; 0 = SIGHUP only
  bool metrics_user_labels = false;         // per-user token counters (capped cardinality)
  bool metrics = true;                      // record request metrics (--metrics off: benchmarks)
  std::string otlp_endpoint;                // http://HOST:PORT[/v1/traces]: export spans
  std::string otlp_service_name = "tollgate";
  std::string upstream_ca_file;  // extra CAs trusted for TLS backends
  std::string log_level = "info";
  // --kube: the configuration comes from the cluster's objects instead of files
  // (docs/controller.md).
  bool kube = false;
  std::string kubeconfig;  // empty: in-cluster (service account)
  std::string kube_context;
  bool kube_insecure = false;  // accept a kubeconfig's insecure-skip-tls-verify
  std::string kube_namespace;  // watch this namespace only; empty: all namespaces
  std::string kube_gateway;    // serve the routes of this Gateway (NAME or NS/NAME); empty: all
  // Serve only Gateways of GatewayClasses with this controllerName; empty: any class.
  std::string kube_controller_name{kube::kDefaultControllerName};
  std::string kube_lease_name = "tollgate-leader";
  uint32_t kube_lease_duration_s = 15;
  // Set by `tollgate demo`: configuration text embedded in the binary instead of files.
  std::vector<std::pair<std::string, std::string>> embedded_configs;
  bool demo_banner = false;
};

int runGateway(const RunOptions& opts);
int validateConfig(const std::vector<std::string>& paths, const std::vector<std::string>& overrides,
                   const std::string& log_level);

struct DemoOptions {
  std::string listen = "127.0.0.1:1975";
  std::string admin = "127.0.0.1:1064";
  unsigned threads = 0;
  std::string log_level = "info";
};
int runDemo(const DemoOptions& opts);

struct MockOptions {
  std::string listen = "127.0.0.1:8000";
  uint32_t latency_ms = 0;
  uint32_t ttft_ms = 0;
  uint32_t itl_ms = 0;
  double fail_rate = 0;
  double stream_error_rate = 0.0;
  std::string models;
  std::string aws_credentials;  // "ACCESS_KEY:SECRET"; empty = Bedrock routes check no signature
  unsigned threads = 1;
  std::string log_level = "info";
};
int runMockLlm(const MockOptions& opts);

struct ClientOptions {
  std::string url = "http://127.0.0.1:1975";
  std::string scenario = "multi-model";
  std::vector<std::string> models;  // empty = the blueprint's three
  std::string user = "tollgate-client";
  std::string prompt = "Say hello in one short sentence.";
  uint32_t max_tokens = 50;
  bool stream = false;
};
int runClient(const ClientOptions& opts);

struct LimitsOptions {
  std::vector<std::string> config_paths;
  std::string redis_url;
  ratelimit::RedisTls redis_tls;
  std::string user;
  std::string model;
};
int showLimits(const LimitsOptions& opts);

// The project's example manifests, embedded at build time (examples/demo/*.yaml): name, text.
const std::vector<std::pair<std::string, std::string>>& embeddedDemoConfigs();

}  // namespace tollgate::cli
