// `tollgate run`'s configuration from files (or the demo's embedded text): loading, the
// environment's overrides, compiling into a snapshot, fingerprints for reloads; and `validate`.
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/log.h"
#include "common/strings.h"
#include "gateway/snapshot.h"
#include "main/run_internal.h"

namespace tollgate::cli {

namespace asio = boost::asio;

namespace {

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

}  // namespace

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

config::LoadResult loadAll(const RunOptions& opts, const config::LoadOptions& lo) {
  config::LoadResult lr = loadAllFiles(opts, lo);
  applyAwsEndpointOverride(lr, lo);
  return lr;
}

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

int validateConfig(const std::vector<std::string>& paths, const std::vector<std::string>& overrides,
                   const std::string& log_level) {
  log::init(log_level);
  config::LoadOptions lo;
  if (!parseOverrides(overrides, lo)) return 2;
  auto lr = config::loadFiles(paths, lo);
  // What is checked when a snapshot is built (cost expressions compiled by the rate limiter,
  // credentialsFile contents, CA bundles) is reported here too, as `run` would refuse it.
  const Compiled compiled = compile(std::move(lr), ratelimit::Mode::kEnvoy);
  return report(compiled.diagnostics, true) ? 0 : 1;
}

}  // namespace tollgate::cli
