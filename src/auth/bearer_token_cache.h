// A bearer token the gateway fetches for a backend (Entra ID for AzureCredentials, Google OAuth
// for GCPCredentials): one per BackendSecurityPolicy, shared by every event loop, refreshed in the
// background before it expires. Only the first requests (or those after the token expired) wait
// for a fetch, and they wait for one fetch together; a failed fetch is remembered for
// `failure_hold`, so a broken credential costs one token request per hold, not one per client
// request. Neither the token nor what the fetch sends appears in a log line or an Error.
//
// Threading: get() may be awaited from any event loop; the state is behind a mutex, never held
// across a suspension. A background refresh keeps the cache alive (shared_from_this), so a
// snapshot replaced meanwhile does not leave it dangling.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.h"

namespace tollgate::auth {

struct FetchedToken {
  std::string value;
  std::chrono::seconds lifetime{0};
};

struct BearerTokenOptions {
  std::chrono::seconds refresh_before{std::chrono::minutes(5)};
  std::chrono::milliseconds fetch_timeout{5000};  // how long a waiting request waits at most
  std::chrono::milliseconds failure_hold{1000};
  std::function<std::chrono::system_clock::time_point()> clock;  // default: system_clock::now
};

class BearerTokenCache : public std::enable_shared_from_this<BearerTokenCache> {
 public:
  // `fetch` gets a new token; `label` names the credential in log lines (never a secret).
  using Fetch = std::function<boost::asio::awaitable<Result<FetchedToken>>()>;
  BearerTokenCache(std::string label, Fetch fetch, BearerTokenOptions opts);

  // A token valid now, or the error of the last fetch.
  boost::asio::awaitable<Result<std::string>> get();

 private:
  struct Token {
    std::string value;
    std::chrono::system_clock::time_point expires;
    // refresh_before ahead of expiry, but never in the first half of the token's life (a
    // short-lived token would otherwise be refreshed on every request).
    std::chrono::system_clock::time_point refresh_at;
  };

  // What get() does next, decided under the lock.
  struct Step {
    enum Action { kUse, kUseAndRefresh, kFetch, kWait, kFail } action = kUse;
    std::string token;           // kUse, kUseAndRefresh
    std::optional<Error> error;  // kFail
  };

  std::chrono::system_clock::time_point now() const;
  Step nextStep();
  void store(Result<FetchedToken> fetched);
  static boost::asio::awaitable<void> refresh(std::shared_ptr<BearerTokenCache> self);

  const std::string label_;
  const Fetch fetch_;
  const BearerTokenOptions opts_;

  std::mutex mu_;
  std::optional<Token> token_;
  bool fetching_ = false;
  std::optional<Error> last_error_;
  std::chrono::system_clock::time_point failed_at_;
};

}  // namespace tollgate::auth
