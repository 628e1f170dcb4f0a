// One whole request/response for side services (AWS credentials and STS, the OTLP collector, the
// Kubernetes API): the answer is small and wanted in full, unlike a model response, which the
// gateway relays piece by piece with Exchange::readSome. Runs on the event loop of the pool it is
// given; not thread-safe, like Exchange.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "upstream/target.h"

namespace tollgate::upstream {

class Pool;  // upstream/client.h

struct FetchLimits {
  size_t max_body = 64 * 1024;
  // A body longer than max_body: when set, the fetch fails with Error::internal(too_large) and the
  // connection is closed; when empty, the body is cut at max_body and the rest read and dropped,
  // so that the connection can go back to the pool.
  std::string too_large;
  // A failed body read after the head: the fetch fails (false), or returns what arrived with
  // `cut` set (for a caller to whom the status is the answer).
  bool keep_partial = false;
};

struct FetchResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // end-to-end ones
  std::string body;
  bool cut = false;  // the body read failed (FetchLimits::keep_partial) or was cut at max_body
  Error read_error;  // why the body read failed, when it did (keep_partial)
};

// Sends `req` to `target` and reads the whole answer before `deadline`. Errors are those of
// Exchange::start and readSome (no response, timeout, cut body) or the too_large one; any HTTP
// status is a response. No retry: Exchange already resends once when a reused connection turns
// out closed. The arguments must outlive the call (pass named objects, not temporaries: GCC 12
// destroys temporaries in a co_await expression twice).
boost::asio::awaitable<Result<FetchResponse>> fetch(Pool& pool, const UpstreamTarget& target,
                                                    const OutgoingRequest& req,
                                                    std::chrono::steady_clock::time_point deadline,
                                                    const FetchLimits& limits);

}  // namespace tollgate::upstream
