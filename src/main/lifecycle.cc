// The process around the gateway: its file limit, the main thread's signal loop (reload, log
// reopen, drain), and leaving without unwinding once drained.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "gateway/access_log.h"
#include "http/server.h"
#include "main/run_internal.h"

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

namespace asio = boost::asio;

// Leaves after a completed drain without running destructors (runGateway says why). std::_Exit
// also skips LeakSanitizer's exit-time check, so sanitizer builds run that check here: what the
// suspended sessions still hold is reachable from the io_contexts on this stack and is not
// reported; memory nothing points to any more is, and the exit status becomes LSan's.
void exitWithoutUnwinding() {
  spdlog::shutdown();
  std::fflush(nullptr);
#ifdef TOLLGATE_HAS_LSAN
  __lsan_do_leak_check();
#endif
  std::_Exit(0);
}

void raiseOpenFilesLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  spdlog::info("open files limit: {}", static_cast<uint64_t>(lim.rlim_cur));
}

void waitForSignal() {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int got = 0;
  signals.async_wait([&](const boost::system::error_code&, int sig) { got = sig; });
  io.run();
  spdlog::info("signal {} received, shutting down", got);
}

void serveUntilStopped(const RunOptions& opts, http::Server& server, gateway::AccessLog& access_log,
                       std::atomic<bool>& draining, ReloadState& reload_state,
                       const std::function<void(std::string_view)>& reload, bool watch_files) {
  asio::io_context main_io(1);
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
    if (opts.watch_interval_ms == 0 || !watch_files) return;
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
}

}  // namespace tollgate::cli
