#include "upstream/fetch.h"

#include "upstream/client.h"

namespace tollgate::upstream {

namespace asio = boost::asio;

asio::awaitable<Result<FetchResponse>> fetch(Pool& pool, const UpstreamTarget& target,
                                             const OutgoingRequest& req,
                                             std::chrono::steady_clock::time_point deadline,
                                             const FetchLimits& limits) {
  Exchange exchange(pool);
  auto started = co_await exchange.start(target, req, deadline);
  if (!started) {
    exchange.finish();
    co_return started.error();
  }
  FetchResponse resp;
  resp.status = started.value();
  resp.headers = exchange.endToEndHeaders();
  for (;;) {
    auto piece = co_await exchange.readSome(deadline);
    if (!piece) {
      exchange.finish();
      if (!limits.keep_partial) co_return piece.error();
      resp.cut = true;
      resp.read_error = piece.error();
      co_return resp;
    }
    const std::string_view data = piece.value();
    if (data.empty()) break;
    if (resp.body.size() + data.size() > limits.max_body) {
      if (!limits.too_large.empty()) {
        exchange.finish();  // unfinished: closed, never reused
        co_return Error::internal(limits.too_large);
      }
      resp.body.append(data.substr(0, limits.max_body - resp.body.size()));
      resp.cut = true;
      continue;
    }
    resp.body.append(data);
  }
  exchange.finish();
  co_return resp;
}

}  // namespace tollgate::upstream
