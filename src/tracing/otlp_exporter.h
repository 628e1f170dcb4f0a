// Exports finished spans to an OpenTelemetry collector over OTLP/HTTP with the JSON encoding
// (POST <endpoint>, content-type application/json, body ExportTraceServiceRequest).
//
// Threads: submit() is called by the event loops; the exporter has its own thread and its own
// io_context (with its own upstream::Pool), so a slow or dead collector never touches a request
// loop. The only shared state is a bounded queue under a mutex held just long enough to push or
// pop; when it is full the span is dropped and counted. A batch that fails (connect refused,
// timeout, non-2xx) is dropped and counted, never retried: tracing must not grow memory or
// latency when the collector is in trouble.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace tollgate::upstream {
class Pool;
}

namespace tollgate::tracing {

// OTLP SpanKind values (the JSON encoding uses the enum numbers).
inline constexpr int kSpanKindInternal = 1;
inline constexpr int kSpanKindServer = 2;
inline constexpr int kSpanKindClient = 3;

struct Attribute {
  std::string key;
  std::variant<std::string, int64_t, double, bool> value;
};

struct SpanData {
  std::string trace_id;        // 32 lower-case hex
  std::string span_id;         // 16 lower-case hex
  std::string parent_span_id;  // 16 lower-case hex or empty (root span)
  std::string name;
  int kind = kSpanKindServer;
  uint64_t start_unix_nanos = 0;
  uint64_t end_unix_nanos = 0;
  bool error = false;          // status ERROR (2); otherwise status is left UNSET (0)
  std::string status_message;  // sent only with error
  std::vector<Attribute> attributes;
};

struct OtlpOptions {
  std::string endpoint;  // http://HOST:PORT[/path]; no path or "/" means /v1/traces
  std::string service_name = "tollgate";
  size_t max_queue = 4096;                         // spans waiting to be sent; more are dropped
  size_t max_batch = 256;                          // spans per POST
  std::chrono::milliseconds flush_interval{1000};  // a partial batch waits at most this long
  std::chrono::milliseconds timeout{2000};         // connect, and then the whole request
};

// A parsed OTLP/HTTP endpoint. Only plain http: the upstream client has no TLS yet.
struct OtlpEndpoint {
  std::string host;
  uint16_t port = 0;
  std::string path;  // always starts with '/'
};
// Parses "http://HOST[:PORT][/path]" (IPv6 as [addr]). On failure returns nullopt and, when
// `error` is given, says why (for the CLI to report at start-up).
std::optional<OtlpEndpoint> parseOtlpEndpoint(std::string_view url, std::string* error = nullptr);

// The OTLP/JSON ExportTraceServiceRequest for `spans`, all under one resource (service.name) and
// one instrumentation scope ("tollgate"). Follows the OTLP JSON mapping: ids as hex strings,
// 64-bit integers (times, intValue) as decimal strings, enums as numbers.
std::string encodeOtlpJson(const std::vector<SpanData>& spans, const std::string& service_name);

class OtlpExporter {
 public:
  // Starts the export thread. An endpoint that does not parse is logged once and makes every
  // span count as dropped (validate with parseOtlpEndpoint first to fail at start instead).
  explicit OtlpExporter(OtlpOptions opts);
  // Calls shutdown(opts.timeout) unless shutdown already ran.
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Any thread; never waits on the network. Spans with malformed ids are dropped (one bad span
  // would make the collector reject its whole batch), and so is everything once the queue is
  // full or shutdown has begun.
  void submit(SpanData span);

  // Sends what is queued, giving up after `flush_timeout` (what is left is dropped and counted),
  // then stops the thread. Returns within about flush_timeout. Idempotent; not from the
  // exporter's own thread.
  void shutdown(std::chrono::milliseconds flush_timeout);

  struct Stats {
    std::atomic<uint64_t> exported{0};        // spans the collector accepted (2xx)
    std::atomic<uint64_t> dropped{0};         // queue full, bad ids, failed batches, shutdown
    std::atomic<uint64_t> failed_batches{0};  // POSTs that failed (connect, timeout, non-2xx)
    std::atomic<uint64_t> sent_batches{0};    // POSTs answered 2xx
  };
  const Stats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> sendBatch(std::vector<SpanData>& batch,
                                         std::chrono::steady_clock::time_point deadline);
  std::vector<SpanData> takeBatch();
  size_t queued();
  // Logs at most one warning per 10 s (counting is the caller's business).
  void warnExportFailure(const std::string& why, size_t spans);
  void wake();

  OtlpOptions opts_;
  std::optional<OtlpEndpoint> endpoint_;
  Stats stats_;

  std::mutex mu_;
  std::deque<SpanData> queue_;  // guarded by mu_
  bool closed_ = false;         // guarded by mu_: shutdown began, submit drops
  std::atomic<bool> wake_pending_{false};

  // Exporter-thread state. Declaration order matters: the io_context must be destroyed last
  // because the pool's sockets and the timer belong to it.
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<upstream::Pool> pool_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopping_ = false;  // exporter thread only
  std::chrono::steady_clock::time_point flush_deadline_;
  size_t in_flight_ = 0;  // spans of the batch being sent (for accounting on a forced stop)
  std::chrono::steady_clock::time_point last_warning_{};
  uint64_t suppressed_warnings_ = 0;

  std::mutex shutdown_mu_;  // serialises shutdown callers
  bool shut_down_ = false;  // guarded by shutdown_mu_
  std::future<void> finished_;
  std::thread thread_;
};

}  // namespace tollgate::tracing
