#include "auth/azure_entra_auth.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <utility>

#include "auth/aws_credentials_internal.h"
#include "common/log.h"
#include "common/percent_encoding.h"
#include "upstream/client.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;
namespace json = boost::json;
using SysClock = std::chrono::system_clock;

namespace {

// How often a request that found a fetch under way looks again.
constexpr std::chrono::milliseconds kWaitStep{20};

struct Token {
  std::string value;
  SysClock::time_point expires;
  // When a refresh starts: refresh_before ahead of expiry, but never in the first half of the
  // token's life (a short-lived token would otherwise be refreshed on every request).
  SysClock::time_point refresh_at;
};

// The policy's application and token, shared by every event loop that sends to its backends and
// by a background refresh, which may outlive the snapshot whose auth started it.
struct TokenState {
  std::string tenant;
  std::string client_id;
  std::string secret;
  AzureTokenOptions opts;

  SysClock::time_point now() const { return opts.clock ? opts.clock() : SysClock::now(); }

  std::mutex mu;
  std::optional<Token> token;
  bool fetching = false;
  std::optional<Error> last_error;
  SysClock::time_point failed_at;
};

asio::awaitable<Result<std::string>> currentToken(std::shared_ptr<TokenState> state);
asio::awaitable<void> refresh(std::shared_ptr<TokenState> state);
asio::awaitable<Result<Token>> fetchToken(const TokenState& state);

class AzureEntraAuth final : public BackendAuth {
 public:
  AzureEntraAuth(std::string tenant, std::string client_id, std::string secret,
                 AzureTokenOptions opts)
      : state_(std::make_shared<TokenState>()) {
    state_->tenant = std::move(tenant);
    state_->client_id = std::move(client_id);
    state_->secret = std::move(secret);
    state_->opts = std::move(opts);
  }

  asio::awaitable<std::optional<Error>> apply(upstream::OutgoingRequest& out,
                                              const upstream::UpstreamTarget& /*target*/,
                                              const LoopCredentials& /*loop*/) const override {
    auto token = co_await currentToken(state_);
    if (!token) {
      co_return Error::upstream(ErrorCode::kNoBackend,
                                "the gateway has no Azure credentials for this backend",
                                "Azure Entra ID: " + token.error().detail, true);
    }
    out.headers.emplace_back("authorization", "Bearer " + token.value());
    co_return std::nullopt;
  }

 private:
  std::shared_ptr<TokenState> state_;
};

// A valid token, fetching one when there is none; a token within refresh_before of its expiry is
// still used while one request refreshes it in the background.
asio::awaitable<Result<std::string>> currentToken(std::shared_ptr<TokenState> state) {
  const AzureTokenOptions& opts = state->opts;
  const auto give_up = std::chrono::steady_clock::now() + opts.http_timeout + kWaitStep;
  for (;;) {
    bool fetch_now = false, refresh_behind = false;
    std::string usable;
    {
      std::lock_guard lock(state->mu);
      const SysClock::time_point t = state->now();
      if (state->token && t < state->token->expires) usable = state->token->value;
      if (!usable.empty() && t < state->token->refresh_at) co_return usable;
      const bool failed_lately = state->last_error && t < state->failed_at + opts.failure_hold;
      if (!state->fetching) {
        if (failed_lately) {
          if (usable.empty()) co_return *state->last_error;
          co_return usable;  // retried after the hold, while the token lasts
        }
        state->fetching = true;
        (usable.empty() ? fetch_now : refresh_behind) = true;
      } else if (!usable.empty()) {
        co_return usable;  // someone refreshes; this one is good until it expires
      }
    }
    if (refresh_behind) {
      asio::co_spawn(co_await asio::this_coro::executor, refresh(state), asio::detached);
      co_return usable;
    }
    if (fetch_now) {
      co_await refresh(state);
      continue;  // read what the fetch left: a token or its error
    }
    // Another request is fetching the first token: wait for it, not for a fetch of our own.
    if (std::chrono::steady_clock::now() > give_up)
      co_return detail::fail("a token request to Entra ID is still under way");
    asio::steady_timer timer(co_await asio::this_coro::executor, kWaitStep);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

// Fetches a token and stores it, or the error; clears `fetching` either way.
asio::awaitable<void> refresh(std::shared_ptr<TokenState> state) {
  Result<Token> fetched = co_await fetchToken(*state);
  std::lock_guard lock(state->mu);
  state->fetching = false;
  if (fetched) {
    state->token = std::move(fetched.value());
    state->last_error.reset();
    spdlog::debug("Azure Entra ID token for client {} refreshed", state->client_id);
    co_return;
  }
  state->last_error = fetched.error();
  state->failed_at = state->now();
  // The token in hand (if any) stays in use until it expires.
  spdlog::warn("Azure Entra ID token request for client {} failed: {}", state->client_id,
               fetched.error().detail);
}

asio::awaitable<Result<Token>> fetchToken(const TokenState& state) {
  const std::string url_text =
      state.opts.authority + "/" + percentEncodeSegment(state.tenant) + "/oauth2/v2.0/token";
  const std::optional<Url> url = detail::parseHttpUrl(url_text);
  if (!url) co_return detail::fail("the token URL " + url_text + " is not an http(s) URL");
  upstream::Pool* pool = upstream::Pool::forThisThread();
  if (pool == nullptr) co_return detail::fail("no upstream pool on this thread");
  const std::string body =
      "grant_type=client_credentials&client_id=" + percentEncodeSegment(state.client_id) +
      "&client_secret=" + percentEncodeSegment(state.secret) +
      "&scope=" + percentEncodeSegment(state.opts.scope);
  upstream::OutgoingRequest req;
  req.method = "POST";
  req.target = url->path.empty() ? "/" : url->path;
  if (url->has_query) req.target += "?" + url->query;
  req.headers = {{"content-type", "application/x-www-form-urlencoded"},
                 {"accept", "application/json"}};
  req.body = body;
  auto resp = co_await detail::http(*pool, *url, req, state.opts.http_timeout);
  if (!resp) {
    co_return detail::fail("token request to " + url_text +
                           " failed: " + detail::redact(resp.error().detail, {state.secret}));
  }
  boost::system::error_code ec;
  const json::value v = json::parse(resp.value().body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (resp.value().status != 200) {
    // Entra ID's errors: {"error": "invalid_client", "error_description": "AADSTS7000215: ..."}.
    std::string why = "HTTP " + std::to_string(resp.value().status);
    if (o != nullptr) {
      for (const char* key : {"error", "error_description"}) {
        if (const json::value* f = o->if_contains(key); f && f->is_string())
          why += std::string(" ") + f->get_string().c_str();
      }
    }
    co_return detail::fail("Entra ID refused the token request (" +
                           detail::redact(why.substr(0, 400), {state.secret}) + ")");
  }
  const json::value* token = o ? o->if_contains("access_token") : nullptr;
  const json::value* expires_in = o ? o->if_contains("expires_in") : nullptr;
  if (token == nullptr || !token->is_string() || token->get_string().empty())
    co_return detail::fail("Entra ID's answer has no access_token");
  // expires_in is a number of seconds, sent as a number or (by older endpoints) a string.
  int64_t seconds = 0;
  if (expires_in != nullptr && expires_in->is_int64()) seconds = expires_in->get_int64();
  if (expires_in != nullptr && expires_in->is_string())
    seconds = std::atoll(expires_in->get_string().c_str());
  if (seconds <= 0) co_return detail::fail("Entra ID's answer has no positive expires_in");
  const SysClock::time_point t = state.now();
  const std::chrono::seconds lifetime(seconds);
  co_return Token{std::string(token->get_string()), t + lifetime,
                  t + std::max(lifetime - state.opts.refresh_before, lifetime / 2)};
}

}  // namespace

std::unique_ptr<const BackendAuth> makeAzureEntraAuth(std::string tenant_id, std::string client_id,
                                                      std::string client_secret,
                                                      AzureTokenOptions opts) {
  return std::make_unique<AzureEntraAuth>(std::move(tenant_id), std::move(client_id),
                                          std::move(client_secret), std::move(opts));
}

AzureTokenOptions azureTokenOptionsFromEnvironment() {
  AzureTokenOptions opts;
  if (const char* host = std::getenv("AZURE_AUTHORITY_HOST"); host != nullptr && *host != '\0') {
    std::string authority = host;
    while (!authority.empty() && authority.back() == '/') authority.pop_back();
    opts.authority = std::move(authority);
  }
  return opts;
}

}  // namespace tollgate::auth
