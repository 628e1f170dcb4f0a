#include "tracing/otlp_exporter.h"

#include <pthread.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <exception>

#include "common/log.h"
#include "common/strings.h"
#include "common/url.h"
#include "tracing/trace_context.h"
#include "upstream/client.h"
#include "upstream/fetch.h"

namespace tollgate::tracing {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kDefaultPath = "/v1/traces";
constexpr auto kWarningInterval = std::chrono::seconds(10);
// shutdown() waits this much past its flush deadline for the thread to notice, then forces it.
constexpr auto kShutdownGrace = std::chrono::milliseconds(200);
// Enough of a collector's answer to show in a warning and find a partial-success count.
constexpr size_t kMaxAnswerBytes = 4096;

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

void appendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

// Proto3 JSON: a finite double is a JSON number (shortest round-trip form); the non-finite ones
// have string names.
void appendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, p);
  }
}

void appendAnyValue(std::string& out, const Attribute& a) {
  out += "{\"key\":";
  appendJsonStringUtf8(out, a.key);
  out += ",\"value\":{";
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out += "\"stringValue\":";
          appendJsonStringUtf8(out, v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          // int64 is a string in proto3 JSON (JavaScript numbers lose precision past 2^53).
          out += "\"intValue\":\"";
          appendInt(out, v);
          out += '"';
        } else if constexpr (std::is_same_v<T, double>) {
          out += "\"doubleValue\":";
          appendDouble(out, v);
        } else {
          out += "\"boolValue\":";
          out += v ? "true" : "false";
        }
      },
      a.value);
  out += "}}";
}

void appendSpan(std::string& out, const SpanData& s) {
  out += "{\"traceId\":";
  appendJsonStringUtf8(out, s.trace_id);
  out += ",\"spanId\":";
  appendJsonStringUtf8(out, s.span_id);
  if (!s.parent_span_id.empty()) {
    out += ",\"parentSpanId\":";
    appendJsonStringUtf8(out, s.parent_span_id);
  }
  out += ",\"name\":";
  appendJsonStringUtf8(out, s.name);
  out += ",\"kind\":";
  appendInt(out, s.kind);
  out += ",\"startTimeUnixNano\":\"";
  appendUint(out, s.start_unix_nanos);
  out += "\",\"endTimeUnixNano\":\"";
  appendUint(out, s.end_unix_nanos);
  out += "\",\"attributes\":[";
  for (size_t i = 0; i < s.attributes.size(); ++i) {
    if (i) out += ',';
    appendAnyValue(out, s.attributes[i]);
  }
  out += "],\"status\":{";
  if (s.error) {
    out += "\"code\":2";
    if (!s.status_message.empty()) {
      out += ",\"message\":";
      appendJsonStringUtf8(out, s.status_message);
    }
  } else {
    // UNSET, not OK: the OpenTelemetry conventions leave a successful server span unset.
    out += "\"code\":0";
  }
  out += "}}";
}

// OTLP partial success: a 2xx answer may still say {"partialSuccess":{"rejectedSpans":"N"}}
// (int64, so usually a string). A scan is enough; the answer is tiny and only read here.
uint64_t rejectedSpans(std::string_view answer) {
  auto pos = answer.find("\"rejectedSpans\"");
  if (pos == std::string_view::npos) return 0;
  pos = answer.find(':', pos);
  if (pos == std::string_view::npos) return 0;
  ++pos;
  while (pos < answer.size() && (answer[pos] == ' ' || answer[pos] == '"')) ++pos;
  uint64_t n = 0;
  std::from_chars(answer.data() + pos, answer.data() + answer.size(), n);
  return n;
}

bool validSpanIds(const SpanData& s) {
  return isValidHexId(s.trace_id, 32) && isValidHexId(s.span_id, 16) &&
         (s.parent_span_id.empty() || isValidHexId(s.parent_span_id, 16));
}

}  // namespace

std::optional<OtlpEndpoint> parseOtlpEndpoint(std::string_view url, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<OtlpEndpoint> {
    if (error) *error = "invalid OTLP endpoint '" + std::string(url) + "': " + why;
    return std::nullopt;
  };
  // The scheme first, by prefix: "collector:4318" is a URL of scheme "collector" to a parser.
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  if (url.size() >= kHttps.size() && iequals(url.substr(0, kHttps.size()), kHttps))
    return fail("https is not supported yet (the upstream client has no TLS); use http://");
  if (url.size() < kHttp.size() || !iequals(url.substr(0, kHttp.size()), kHttp))
    return fail("expected http://HOST:PORT[/path]");
  std::string why;
  auto u = parseUrl(url, &why);
  if (!u) return fail(why);
  if (u->has_userinfo) return fail("user info is not supported");
  if (u->path.empty() && u->has_query) return fail("expected a path after the host");
  if (u->has_fragment) return fail("fragments are not allowed");
  OtlpEndpoint ep;
  ep.host = std::move(u->host);
  ep.port = u->port;
  ep.path = u->target() == "/" ? std::string(kDefaultPath) : u->target();
  return ep;
}

std::string encodeOtlpJson(const std::vector<SpanData>& spans, const std::string& service_name) {
  std::string out;
  out.reserve(160 + spans.size() * 512);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",";
  out += "\"value\":{\"stringValue\":";
  appendJsonStringUtf8(out, service_name);
  out += "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"tollgate\"},\"spans\":[";
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i) out += ',';
    appendSpan(out, spans[i]);
  }
  out += "]}]}]}";
  return out;
}

// ---------------------------------------------------------------------------------------------

OtlpExporter::OtlpExporter(OtlpOptions opts) : opts_(std::move(opts)) {
  if (opts_.max_queue == 0) opts_.max_queue = 1;
  if (opts_.max_batch == 0) opts_.max_batch = 1;
  if (opts_.flush_interval <= std::chrono::milliseconds::zero())
    opts_.flush_interval = std::chrono::milliseconds(1);
  std::string err;
  endpoint_ = parseOtlpEndpoint(opts_.endpoint, &err);
  if (!endpoint_) spdlog::error("OTLP exporter disabled, every span is dropped: {}", err);

  io_ = std::make_unique<asio::io_context>(1);
  upstream::PoolOptions pool_opts;
  pool_opts.connect_timeout = opts_.timeout;
  pool_opts.max_idle_per_endpoint = 2;  // one exchange at a time; a spare costs nothing
  pool_ = std::make_unique<upstream::Pool>(*io_, pool_opts);
  timer_ = std::make_unique<asio::steady_timer>(*io_);

  if (endpoint_) {
    asio::co_spawn(*io_, run(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("OTLP exporter stopped: {}", ex.what());
      }
    });
  }
  std::promise<void> done;
  finished_ = done.get_future();
  thread_ = std::thread([this, done = std::move(done)]() mutable {
    pthread_setname_np(pthread_self(), "otlp-export");
    try {
      io_->run();
    } catch (const std::exception& ex) {
      spdlog::error("OTLP exporter thread stopped: {}", ex.what());
    }
    done.set_value();
  });
}

OtlpExporter::~OtlpExporter() { shutdown(opts_.timeout); }

void OtlpExporter::submit(SpanData span) {
  if (!validSpanIds(span)) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && endpoint_ && queue_.size() < opts_.max_queue) {
      queue_.push_back(std::move(span));
      n = queue_.size();
    }
  }
  if (n == 0) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // A full batch should not wait for the flush timer, or a busy gateway overflows the queue
  // between flushes. One wake-up per sleep: the flag is re-armed by the loop before it sleeps.
  if (n >= std::min(opts_.max_batch, opts_.max_queue) &&
      !wake_pending_.load(std::memory_order_relaxed) &&
      !wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    wake();
  }
}

void OtlpExporter::wake() {
  asio::post(*io_, [this] { timer_->cancel(); });
}

size_t OtlpExporter::queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

std::vector<SpanData> OtlpExporter::takeBatch() {
  std::vector<SpanData> batch;
  batch.reserve(opts_.max_batch);
  std::lock_guard<std::mutex> lock(mu_);
  size_t k = std::min(opts_.max_batch, queue_.size());
  for (size_t i = 0; i < k; ++i) batch.push_back(std::move(queue_[i]));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(k));
  return batch;
}

asio::awaitable<void> OtlpExporter::run() {
  auto next_flush = Clock::now() + opts_.flush_interval;
  for (;;) {
    // Re-arm before looking at the queue: a submit that fills a batch after this look posts a
    // wake-up that cancels the wait below.
    wake_pending_.store(false, std::memory_order_release);
    if (stopping_) break;
    size_t n = queued();
    auto now = Clock::now();
    bool due = now >= next_flush;
    if (n >= opts_.max_batch || (n > 0 && due)) {
      if (n < opts_.max_batch) next_flush = now + opts_.flush_interval;
      std::vector<SpanData> batch = takeBatch();
      auto deadline = now + opts_.timeout;
      co_await sendBatch(batch, deadline);
      continue;
    }
    if (due) next_flush = now + opts_.flush_interval;  // idle: the next span waits a full period
    timer_->expires_at(next_flush);
    auto [ec] = co_await timer_->async_wait(kUseTuple);
    (void)ec;  // expired or woken (cancelled): either way look again
  }

  // Shutdown: send what is queued while the flush deadline allows, drop the rest.
  for (;;) {
    auto now = Clock::now();
    if (now >= flush_deadline_) break;
    std::vector<SpanData> batch = takeBatch();
    if (batch.empty()) break;
    auto deadline = std::min(now + opts_.timeout, flush_deadline_);
    co_await sendBatch(batch, deadline);
  }
  size_t left = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left = queue_.size();
    queue_.clear();
  }
  if (left > 0) {
    stats_.dropped.fetch_add(left, std::memory_order_relaxed);
    spdlog::warn("OTLP exporter: {} spans dropped at shutdown (flush timeout)", left);
  }
}

// `batch` is a named local of the caller, by reference: no temporary may sit in a co_await
// expression (GCC 12 destroys such temporaries twice).
asio::awaitable<void> OtlpExporter::sendBatch(std::vector<SpanData>& batch,
                                              Clock::time_point deadline) {
  const size_t n = batch.size();
  in_flight_ = n;
  const std::string body = encodeOtlpJson(batch, opts_.service_name);
  batch.clear();

  upstream::UpstreamTarget target;
  target.host = endpoint_->host;
  target.port = endpoint_->port;
  upstream::OutgoingRequest req;
  req.method = "POST";
  req.target = endpoint_->path;
  req.headers.emplace_back("content-type", "application/json");
  req.body = body;

  // The whole answer is read so the connection goes back to the pool; a failed read after the
  // head keeps the status: after a 2xx the collector took the batch even if its answer was cut.
  upstream::FetchLimits limits;
  limits.max_body = kMaxAnswerBytes;
  limits.keep_partial = true;
  auto fetched = co_await upstream::fetch(*pool_, target, req, deadline, limits);
  in_flight_ = 0;
  if (!fetched) {
    stats_.failed_batches.fetch_add(1, std::memory_order_relaxed);
    stats_.dropped.fetch_add(n, std::memory_order_relaxed);
    warnExportFailure(fetched.error().detail, n);
    co_return;
  }
  const int status = fetched.value().status;
  const std::string& answer = fetched.value().body;

  if (status >= 200 && status < 300) {
    uint64_t rejected = std::min<uint64_t>(rejectedSpans(answer), n);
    stats_.sent_batches.fetch_add(1, std::memory_order_relaxed);
    stats_.exported.fetch_add(n - rejected, std::memory_order_relaxed);
    if (rejected > 0) {
      stats_.dropped.fetch_add(rejected, std::memory_order_relaxed);
      std::string why = "collector rejected " + std::to_string(rejected) + " of " +
                        std::to_string(n) + " spans: " + answer;
      warnExportFailure(why, rejected);
    }
    co_return;
  }
  std::string why = "collector answered HTTP " + std::to_string(status);
  if (!answer.empty()) why += ": " + answer.substr(0, 200);
  stats_.failed_batches.fetch_add(1, std::memory_order_relaxed);
  stats_.dropped.fetch_add(n, std::memory_order_relaxed);
  warnExportFailure(why, n);
}

void OtlpExporter::warnExportFailure(const std::string& why, size_t spans) {
  // A dead collector fails every batch: one line per interval, with how many were not logged.
  auto now = Clock::now();
  if (last_warning_ != Clock::time_point{} && now - last_warning_ < kWarningInterval) {
    ++suppressed_warnings_;
    return;
  }
  if (suppressed_warnings_ > 0) {
    spdlog::warn(
        "OTLP export to {} failed: {} ({} spans dropped; {} more failures since the "
        "last warning)",
        opts_.endpoint, why, spans, suppressed_warnings_);
  } else {
    spdlog::warn("OTLP export to {} failed: {} ({} spans dropped)", opts_.endpoint, why, spans);
  }
  last_warning_ = now;
  suppressed_warnings_ = 0;
}

void OtlpExporter::shutdown(std::chrono::milliseconds flush_timeout) {
  std::lock_guard<std::mutex> guard(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  auto deadline = Clock::now() + flush_timeout;
  asio::post(*io_, [this, deadline] {
    stopping_ = true;
    flush_deadline_ = deadline;
    timer_->cancel();
  });
  // The loop bounds each request by the flush deadline, but a connect in progress is bounded by
  // opts.timeout only: past the deadline, stop the loop where it is.
  if (finished_.wait_until(deadline + kShutdownGrace) != std::future_status::ready) io_->stop();
  thread_.join();
  // Whatever the loop did not get to (only after a forced stop) counts as dropped.
  size_t left = in_flight_;
  in_flight_ = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left += queue_.size();
    queue_.clear();
  }
  if (left > 0) stats_.dropped.fetch_add(left, std::memory_order_relaxed);
}

}  // namespace tollgate::tracing
