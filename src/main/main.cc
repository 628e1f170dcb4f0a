// tollgate: an AI gateway. Command-line entry point; see `tollgate --help`.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "main/commands.h"

namespace {
// spdlog reads an unknown level name as "off": a typo would silence the log without a word.
const CLI::IsMember kLogLevels({"trace", "debug", "info", "warn", "error", "critical", "off"});

// The TLS files of rediss://, for `run` and `limits` alike (docs/redis.md).
void addRedisTlsOptions(CLI::App* cmd, tollgate::ratelimit::RedisTls& tls) {
  cmd->add_option("--redis-ca-file", tls.ca_file,
                  "rediss://: PEM CA bundle the Redis server is verified against (default: the "
                  "system CAs)")
      ->envname("TOLLGATE_REDIS_CA_FILE");
  cmd->add_option("--redis-cert-file", tls.cert_file,
                  "rediss://: client certificate chain (PEM) for servers that ask for one")
      ->envname("TOLLGATE_REDIS_CERT_FILE");
  cmd->add_option("--redis-key-file", tls.key_file, "rediss://: the client certificate's key")
      ->envname("TOLLGATE_REDIS_KEY_FILE");
  cmd->add_option("--redis-tls-server-name", tls.server_name,
                  "rediss://: name to verify in the server certificate and send as SNI "
                  "(default: the host of the URL)")
      ->envname("TOLLGATE_REDIS_TLS_SERVER_NAME");
}
}  // namespace

int main(int argc, char** argv) {
  using namespace tollgate::cli;
  CLI::App app{
      "tollgate: one fast gateway in front of OpenAI-compatible and Bedrock models, "
      "configured with Envoy AI Gateway YAML"};
  app.name("tollgate");
  app.require_subcommand(1);

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run the gateway on Envoy AI Gateway YAML");
  run_cmd->add_option("-c,--config", run.config_paths,
                      "YAML file or directory (all *.yaml in it); repeatable (required unless "
                      "--kube)");
  run_cmd->add_flag("--kube", run.kube,
                    "read the configuration from the Kubernetes API (watching it) instead of "
                    "files, and write each AIGatewayRoute's and AIServiceBackend's Accepted "
                    "status; in-cluster credentials unless --kubeconfig");
  run_cmd->add_option("--kubeconfig", run.kubeconfig,
                      "with --kube: a kubeconfig file (token, tokenFile or client certificate "
                      "users) to run outside the cluster");
  run_cmd->add_option("--kube-context", run.kube_context,
                      "with --kubeconfig: the context to use (default: current-context)");
  run_cmd->add_flag("--kube-insecure-skip-tls-verify", run.kube_insecure,
                    "with --kubeconfig: accept a cluster entry with insecure-skip-tls-verify "
                    "(refused otherwise)");
  run_cmd->add_option("--namespace", run.kube_namespace,
                      "with --kube: watch this namespace only (default: all namespaces)");
  run_cmd->add_option("--gateway", run.kube_gateway,
                      "with --kube: serve only the routes whose parentRefs name this Gateway "
                      "(NAME or NAMESPACE/NAME; default: every route)");
  run_cmd
      ->add_option("--controller-name", run.kube_controller_name,
                   "with --kube: serve only Gateways whose GatewayClass has this "
                   "spec.controllerName ('' = any class)")
      ->capture_default_str();
  run_cmd
      ->add_option("--lease-name", run.kube_lease_name,
                   "with --kube: the coordination.k8s.io Lease (in the pod's namespace) whose "
                   "holder writes status")
      ->capture_default_str();
  run_cmd
      ->add_option("--lease-duration", run.kube_lease_duration_s,
                   "with --kube: seconds a Lease holder may go without renewing before another "
                   "replica takes over")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  run_cmd->add_option("--listen", run.listen,
                      "HOST:PORT for clients (default: the Gateway listener port, else "
                      "127.0.0.1:1975)");
  run_cmd->add_option("--admin", run.admin, "HOST:PORT for health and admin endpoints")
      ->capture_default_str();
  run_cmd->add_option("--backend-endpoint", run.backend_endpoints,
                      "BACKEND=HOST:PORT: replace the endpoints of a Backend; repeatable");
  run_cmd->add_option("--threads", run.threads, "event loops (default: one per core)");
  run_cmd->add_option("--access-log", run.access_log, "access log: - (stdout), a file path, or off")
      ->capture_default_str();
  run_cmd->add_option("--log-level", run.log_level, "trace, debug, info, warn, error")
      ->check(kLogLevels)
      ->capture_default_str();
  run_cmd
      ->add_option("--redis", run.redis_url,
                   "redis[s]://[[user]:password@]HOST:PORT[,HOST:PORT...][/db]: share rate-limit "
                   "budgets across replicas (default: in-process); a Redis Cluster is detected")
      ->envname("TOLLGATE_REDIS_URL");
  addRedisTlsOptions(run_cmd, run.redis_tls);
  run_cmd->add_option("--redis-timeout-ms", run.redis_timeout_ms, "Redis round-trip timeout")
      ->capture_default_str();
  run_cmd
      ->add_option("--drain-timeout", run.drain_timeout_s,
                   "seconds SIGTERM waits for requests and streams to finish")
      ->capture_default_str();
  run_cmd
      ->add_option("--watch-interval-ms", run.watch_interval_ms,
                   "how often config files are checked for changes (0: only SIGHUP reloads)")
      ->capture_default_str();
  run_cmd
      ->add_option("--metrics", run.metrics,
                   "record request metrics (on/off; /metrics keeps process gauges either way)")
      ->transform(
          CLI::CheckedTransformer(std::map<std::string, bool>{{"on", true}, {"off", false}}))
      ->capture_default_str();
  run_cmd
      ->add_option("--otlp-endpoint", run.otlp_endpoint,
                   "export one span per request to an OTLP/HTTP collector "
                   "(http://HOST:PORT[/v1/traces], JSON encoding)")
      ->envname("TOLLGATE_OTLP_ENDPOINT");
  run_cmd->add_option("--upstream-ca-file", run.upstream_ca_file,
                      "PEM bundle of extra CAs trusted for TLS backends (added to the system CAs)");
  run_cmd->add_option("--otlp-service-name", run.otlp_service_name, "service.name of the spans")
      ->capture_default_str();
  run_cmd->add_flag("--metrics-user-labels", run.metrics_user_labels,
                    "per-user token counters in /metrics (at most 1000 distinct users)");
  run_cmd
      ->add_option("--rate-limit-mode", run.rate_limit_mode,
                   "envoy: the request crossing a limit completes; reserve: reserve the "
                   "estimated cost up front, never over-admit")
      ->check(CLI::IsMember({"envoy", "reserve"}))
      ->capture_default_str();
  run_cmd
      ->add_option("--rate-limit-failure-mode", run.rate_limit_failure,
                   "when the rate-limit store is unreachable: open (allow) or closed (refuse)")
      ->check(CLI::IsMember({"open", "closed"}))
      ->capture_default_str();

  std::vector<std::string> validate_paths, validate_overrides;
  auto* validate_cmd = app.add_subcommand("validate", "Load configuration and report problems");
  validate_cmd->add_option("-c,--config", validate_paths, "YAML file or directory; repeatable")
      ->required();
  validate_cmd->add_option("--backend-endpoint", validate_overrides, "BACKEND=HOST:PORT");
  std::string validate_log_level = "info";
  validate_cmd
      ->add_option("--log-level", validate_log_level,
                   "trace, debug, info, warn, error (debug shows what each check read)")
      ->check(kLogLevels)
      ->capture_default_str();

  DemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Start mock model servers and a gateway on the built-in example configuration");
  demo_cmd->add_option("--listen", demo.listen, "HOST:PORT for clients")->capture_default_str();
  demo_cmd->add_option("--admin", demo.admin, "HOST:PORT for admin")->capture_default_str();
  demo_cmd->add_option("--threads", demo.threads, "event loops (default: one per core)");
  demo_cmd->add_option("--log-level", demo.log_level, "log level")
      ->check(kLogLevels)
      ->capture_default_str();

  MockOptions mock;
  auto* mock_cmd = app.add_subcommand(
      "mock-llm", "A mock OpenAI-compatible model server (and a fake AWS Bedrock runtime)");
  mock_cmd->add_option("--listen", mock.listen, "HOST:PORT")->capture_default_str();
  mock_cmd->add_option("--latency-ms", mock.latency_ms, "delay before a non-stream response");
  mock_cmd->add_option("--ttft-ms", mock.ttft_ms, "delay before the first stream event");
  mock_cmd->add_option("--itl-ms", mock.itl_ms, "delay between stream events");
  mock_cmd
      ->add_option("--fail-rate", mock.fail_rate,
                   "fraction of requests answered with 503 (Bedrock routes: 429)")
      ->check(CLI::Range(0.0, 1.0));
  mock_cmd
      ->add_option("--stream-error-rate", mock.stream_error_rate,
                   "fraction of streams that fail halfway (Bedrock: an exception frame; OpenAI: "
                   "an error event, no [DONE])")
      ->check(CLI::Range(0.0, 1.0));
  mock_cmd->add_option("--models", mock.models,
                       "comma-separated served model names (default: any)");
  mock_cmd->add_option(
      "--aws-credentials", mock.aws_credentials,
      "ACCESS_KEY:SECRET: Bedrock routes verify SigV4 with it (default: no check)");
  mock_cmd->add_option("--threads", mock.threads, "event loops")->capture_default_str();
  mock_cmd->add_option("--log-level", mock.log_level, "log level")
      ->check(kLogLevels)
      ->capture_default_str();

  ClientOptions client;
  auto* client_cmd = app.add_subcommand("client", "The blueprint's test clients as one command");
  client_cmd->add_option("--url", client.url, "gateway base URL")->capture_default_str();
  client_cmd->add_option("--scenario", client.scenario, "multi-model, rate-limit or bedrock")
      ->capture_default_str();
  client_cmd->add_option("--model", client.models,
                         "model to call (repeatable; default: the "
                         "blueprint's three)");
  client_cmd->add_option("--user", client.user, "x-user-id header")->capture_default_str();
  client_cmd->add_option("--prompt", client.prompt, "prompt text")->capture_default_str();
  client_cmd->add_option("--max-tokens", client.max_tokens, "max_tokens")->capture_default_str();
  client_cmd->add_flag("--stream", client.stream, "use streaming responses");

  LimitsOptions limits;
  auto* limits_cmd = app.add_subcommand(
      "limits", "Show one user's rate-limit buckets (spent, limit, reset) from Redis");
  limits_cmd->add_option("-c,--config", limits.config_paths, "YAML file or directory; repeatable")
      ->required();
  limits_cmd->add_option("--redis", limits.redis_url, "redis[s]://HOST:PORT[/db]")
      ->required()
      ->envname("TOLLGATE_REDIS_URL");
  addRedisTlsOptions(limits_cmd, limits.redis_tls);
  limits_cmd->add_option("--user", limits.user, "the x-user-id value")->required();
  limits_cmd->add_option("--model", limits.model, "also match model-specific rules for MODEL");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = "invalid command line";
    std::cerr << "tollgate: error: " << msg << " (see 'tollgate --help')\n";
    return 2;
  }

  if (*run_cmd) {
    const auto usage_error = [](const std::string& message) {
      std::cerr << "tollgate: error: " << message << " (see 'tollgate run --help')\n";
      return 2;
    };
    if (run.kube) {
      // One source of truth: merging files into the cluster's objects would make a route's
      // status depend on files kubectl cannot see.
      if (!run.config_paths.empty())
        return usage_error("--kube and -c/--config exclude each other");
      if (!run.backend_endpoints.empty()) {
        return usage_error(
            "--backend-endpoint is for files; with --kube, point the Backend object at the "
            "endpoint");
      }
    } else {
      if (run.config_paths.empty()) return usage_error("run needs -c/--config FILE or --kube");
      for (const char* flag :
           {"--kubeconfig", "--kube-context", "--namespace", "--gateway", "--controller-name",
            "--kube-insecure-skip-tls-verify", "--lease-name", "--lease-duration"}) {
        if (run_cmd->count(flag) > 0) return usage_error(std::string(flag) + " needs --kube");
      }
    }
    return runGateway(run);
  }
  if (*validate_cmd) return validateConfig(validate_paths, validate_overrides, validate_log_level);
  if (*demo_cmd) return runDemo(demo);
  if (*mock_cmd) return runMockLlm(mock);
  if (*client_cmd) return runClient(client);
  if (*limits_cmd) return showLimits(limits);
  return 2;
}
