// A small Kubernetes API client on one event loop: JSON requests (list, get, patch, create,
// update) and watch streams read line by line. Connections come from an upstream::Pool of its own
// (TLS verified against the cluster CA); every request carries the bearer token as the token file
// holds it at that moment, so rotated service-account tokens are picked up without a restart.
// Not thread-safe: one io_context thread uses it.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "kube/access.h"
#include "upstream/client.h"

namespace tollgate::kube {

struct ApiRequest {
  std::string method = "GET";
  std::string path;  // with the query string
  std::string body;
  std::string content_type;  // of the body
  std::chrono::seconds timeout{30};
};

struct ApiResponse {
  int status = 0;
  std::string body;
};

// Returns false to stop reading the stream.
using LineHandler = std::function<bool(std::string_view line)>;

class ApiClient {
 public:
  ApiClient(boost::asio::io_context& io, ClusterAccess access,
            std::shared_ptr<boost::asio::ssl::context> tls);

  // One request; the whole response body (up to 64 MiB). Errors are transport failures; any HTTP
  // status is a response.
  boost::asio::awaitable<Result<ApiResponse>> call(const ApiRequest& req);
  // A watch: for a 200 answer, every complete line goes to on_line until the server ends the
  // stream, on_line returns false or `deadline` passes (an error); the response then has status
  // 200 and no body. Other statuses come back with their body.
  boost::asio::awaitable<Result<ApiResponse>> stream(const ApiRequest& req,
                                                     std::chrono::steady_clock::time_point deadline,
                                                     const LineHandler& on_line);

  const ClusterAccess& access() const { return access_; }

 private:
  upstream::OutgoingRequest outgoing(const ApiRequest& req);

  ClusterAccess access_;
  upstream::Pool pool_;
  upstream::UpstreamTarget target_;
  std::string token_;  // the last token read; kept when the file cannot be read
  std::chrono::steady_clock::time_point token_warned_{};
};

// Percent-encodes a query parameter value (continue tokens are base64 with '+', '/' and '=').
std::string queryEscape(std::string_view s);

}  // namespace tollgate::kube
