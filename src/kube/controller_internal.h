// What the controller's files share (controller.cc: list, watch, build; controller_lease.cc:
// leader election). Internal to kube/.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <random>
#include <string>

#include "kube/api_client.h"
#include "kube/objects.h"

namespace tollgate::kube::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

inline uint64_t randomSeed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

// One line about an HTTP answer the controller did not expect, with the server's own reason.
inline std::string httpProblem(const ApiResponse& r) {
  const ApiStatus st = parseStatusBody(r.body);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!st.reason.empty()) out += " " + st.reason;
  if (!st.message.empty()) out += ": " + st.message;
  if (r.status == 401) out += " (is the token valid? it is re-read from its file on each request)";
  if (r.status == 403) out += " (the service account needs RBAC for this; see docs/controller.md)";
  return out;
}

// Runs a coroutine on the io_context; an exception escaping it is logged, never fatal.
template <typename Awaitable>
void spawn(asio::io_context& io, Awaitable a, std::string what) {
  asio::co_spawn(io, std::move(a), [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("kube: {} stopped: {}", what, ex.what());
    }
  });
}

}  // namespace tollgate::kube::detail
