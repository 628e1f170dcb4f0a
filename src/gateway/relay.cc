#include "common/log.h"
#include "common/strings.h"
#include "gateway/gateway.h"

namespace tollgate::gateway {

namespace asio = boost::asio;

asio::awaitable<void> Gateway::relay(http::ResponseWriter& w, RequestContext& ctx,
                                     upstream::Exchange& ex, providers::Translator& translator,
                                     std::chrono::milliseconds idle_timeout,
                                     Clock::time_point deadline) {
  const int status = ex.status();
  std::string content_type(ex.header("content-type"));
  auto upstream_headers = ex.endToEndHeaders();
  // The translator's results come back with each event; the last one is what the request used.
  const providers::ResponseStart start =
      translator.onResponseStart(status, content_type, upstream_headers);
  providers::ResponseOutput last = start.output;

  http::ResponseHead head;
  head.status = status;
  head.headers = std::move(upstream_headers);
  if (!start.content_type.empty()) {
    for (auto& [n, v] : head.headers) {
      if (iequals(n, "content-type")) v = start.content_type;
    }
  }
  head.headers.emplace_back("x-request-id", ctx.request_id);
  for (const auto& h : ctx.extra_headers) head.headers.push_back(h);
  ctx.status = status;

  if (!start.stream) {
    std::string body;
    for (;;) {
      auto t0 = Clock::now();
      auto piece = co_await ex.readSome(deadline);
      ctx.upstream_time += Clock::now() - t0;
      if (!piece) {
        Error err = piece.error();
        err.detail = "backend " + ctx.backend + ": " + err.detail;
        co_await sendError(w, ctx, err);
        co_return;
      }
      if (piece->empty()) break;
      body.append(*piece);
      if (body.size() > opts_.max_response_bytes) {
        const Error err =
            Error::upstream(ErrorCode::kUpstreamBadResponse, "upstream response too large",
                            "backend " + ctx.backend + " response over " +
                                std::to_string(opts_.max_response_bytes) + " bytes",
                            false);
        co_await sendError(w, ctx, err);
        co_return;
      }
    }
    ex.finish();
    last = translator.onBody(body);
    head.status = last.status;
    ctx.status = head.status;
    ctx.usage = last.usage;
    ctx.response_model = last.model;
    co_await w.send(head, body);
    ctx.first_byte = Clock::now();
    co_return;
  }

  // Stream: relay each piece as it comes; never buffer the whole stream.
  struct ActiveStream {
    GatewayMetrics* m;
    explicit ActiveStream(GatewayMetrics* metrics) : m(metrics) {
      if (m) m->active_streams.fetch_add(1, std::memory_order_relaxed);
    }
    ~ActiveStream() {
      if (m) m->active_streams.fetch_sub(1, std::memory_order_relaxed);
    }
  } active_stream(metrics_);
  bool client_ok = co_await w.begin(head);
  ctx.first_byte = Clock::now();
  std::string out;
  Clock::time_point drain_until{};
  for (;;) {
    auto now = Clock::now();
    if (!client_ok && drain_until == Clock::time_point{})
      drain_until = now + opts_.drain_after_client_gone;
    auto read_deadline = client_ok ? now + idle_timeout : drain_until;
    auto t0 = now;
    auto piece = co_await ex.readSome(read_deadline);
    ctx.upstream_time += Clock::now() - t0;
    if (!piece) {
      spdlog::debug("request {} stream from {} ended early: {}", ctx.request_id, ctx.backend,
                    piece.error().detail);
      ctx.error_type = std::string(piece.error().name());
      if (client_ok) {
        // Tell the client in the stream's own format, then end the stream cleanly.
        out.clear();
        last = translator.onFailure(piece.error(), out);
        client_ok = co_await w.writeChunk(out);
      }
      break;
    }
    const bool end = piece->empty();
    out.clear();
    last = translator.onChunk(*piece, end, out);
    if (client_ok && !out.empty()) {
      if (ctx.first_chunk == Clock::time_point{}) ctx.first_chunk = Clock::now();
      client_ok = co_await w.writeChunk(out);
    }
    if (end) {
      ex.finish();
      break;
    }
    // A client that left still owes its tokens: read on until the usage arrives.
    if (!client_ok && last.usage.known) break;
  }
  ctx.usage = last.usage;
  ctx.response_model = last.model;
  if (ctx.error_type.empty() && last.failed) ctx.error_type = "upstream_stream_error";
  if (client_ok) {
    co_await w.finish();
  } else {
    ctx.client_gone = true;
  }
}

}  // namespace tollgate::gateway
