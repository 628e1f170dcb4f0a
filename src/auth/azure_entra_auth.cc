#include "auth/azure_entra_auth.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <optional>
#include <utility>

#include "auth/aws_credentials_internal.h"
#include "auth/bearer_token_cache.h"
#include "common/log.h"
#include "common/percent_encoding.h"
#include "upstream/client.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// What a token request for the policy's application needs.
struct Application {
  std::string tenant;
  std::string client_id;
  std::string secret;
  AzureTokenOptions opts;
};

asio::awaitable<Result<FetchedToken>> fetchToken(const Application& app) {
  const std::string url_text =
      app.opts.authority + "/" + percentEncodeSegment(app.tenant) + "/oauth2/v2.0/token";
  const std::optional<Url> url = detail::parseHttpUrl(url_text);
  if (!url) co_return detail::fail("the token URL " + url_text + " is not an http(s) URL");
  upstream::Pool* pool = upstream::Pool::forThisThread();
  if (pool == nullptr) co_return detail::fail("no upstream pool on this thread");
  const std::string body =
      "grant_type=client_credentials&client_id=" + percentEncodeSegment(app.client_id) +
      "&client_secret=" + percentEncodeSegment(app.secret) +
      "&scope=" + percentEncodeSegment(app.opts.scope);
  upstream::OutgoingRequest req;
  req.method = "POST";
  req.target = url->path.empty() ? "/" : url->path;
  if (url->has_query) req.target += "?" + url->query;
  req.headers = {{"content-type", "application/x-www-form-urlencoded"},
                 {"accept", "application/json"}};
  req.body = body;
  auto resp = co_await detail::http(*pool, *url, req, app.opts.http_timeout);
  if (!resp) {
    co_return detail::fail("token request to " + url_text +
                           " failed: " + detail::redact(resp.error().detail, {app.secret}));
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
                           detail::redact(why.substr(0, 400), {app.secret}) + ")");
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
  co_return FetchedToken{std::string(token->get_string()), std::chrono::seconds(seconds)};
}

class AzureEntraAuth final : public BackendAuth {
 public:
  explicit AzureEntraAuth(std::shared_ptr<const Application> app)
      : tokens_(std::make_shared<BearerTokenCache>(
            "Azure Entra ID client " + app->client_id, [app]() { return fetchToken(*app); },
            cacheOptions(app->opts))) {}

  asio::awaitable<std::optional<Error>> apply(upstream::OutgoingRequest& out,
                                              const upstream::UpstreamTarget& /*target*/,
                                              const LoopCredentials& /*loop*/) const override {
    auto token = co_await tokens_->get();
    if (!token) {
      co_return Error::upstream(ErrorCode::kNoBackend,
                                "the gateway has no Azure credentials for this backend",
                                "Azure Entra ID: " + token.error().detail, true);
    }
    out.headers.emplace_back("authorization", "Bearer " + token.value());
    co_return std::nullopt;
  }

 private:
  static BearerTokenOptions cacheOptions(const AzureTokenOptions& o) {
    BearerTokenOptions c;
    c.refresh_before = o.refresh_before;
    c.fetch_timeout = o.http_timeout;
    c.failure_hold = o.failure_hold;
    c.clock = o.clock;
    return c;
  }

  std::shared_ptr<BearerTokenCache> tokens_;
};

}  // namespace

std::unique_ptr<const BackendAuth> makeAzureEntraAuth(std::string tenant_id, std::string client_id,
                                                      std::string client_secret,
                                                      AzureTokenOptions opts) {
  auto app = std::make_shared<Application>();
  app->tenant = std::move(tenant_id);
  app->client_id = std::move(client_id);
  app->secret = std::move(client_secret);
  app->opts = std::move(opts);
  return std::make_unique<AzureEntraAuth>(std::move(app));
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
