#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "auth/aws_credentials_internal.h"
#include "common/strings.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;

// Inside detail: the helpers of aws_credentials_internal.h are used unqualified.
namespace detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Container credentials endpoint (ECS task roles, EKS Pod Identity)

// "{...}" → the string field `key`, empty when absent or not a string.
std::string jsonString(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

class ContainerProvider final : public RemoteProvider {
 public:
  using RemoteProvider::RemoteProvider;
  std::string_view name() const override { return "container credentials endpoint"; }

  asio::awaitable<Result<AwsCredentials>> get() override {
    std::string uri;
    bool full = false;
    if (auto rel = env_.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      // The relative form always goes to the ECS agent, so it needs no allowlist.
      uri = opts_.container_relative_base + (rel->starts_with("/") ? "" : "/") + *rel;
    } else if (auto f = env_.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      if (auto why = containerUriRejection(*f)) {
        co_return fail("AWS_CONTAINER_CREDENTIALS_FULL_URI " + *why);
      }
      uri = *f;
      full = true;
    } else {
      co_return fail(
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set");
    }
    auto url = parseHttpUrl(uri);
    if (!url) co_return fail("container credentials URI " + uri + " is not a valid http:// URL");
    if (isHttps(*url) && !opts_.tls_context)
      co_return fail("cannot fetch " + url->text() + ": " + std::string(kTlsUnsupported));

    upstream::OutgoingRequest req;
    req.method = "GET";
    req.target = url->target();
    req.headers.emplace_back("accept", "application/json");
    std::string token;
    if (full) {
      // The file wins over the variable; EKS rotates the file, so it is read on every fetch.
      if (auto file = env_.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
        auto t = readFile(*file);
        if (!t) co_return fail("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: " + t.error().detail);
        token = std::string(trim(t.value()));
        if (token.empty())
          co_return fail("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file + " is empty");
      } else if (auto t = env_.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = std::string(trim(*t));
      }
      if (hasHeaderBreakingChars(token)) {
        co_return fail("the container authorization token contains a line break or NUL");
      }
      if (!token.empty()) req.headers.emplace_back("authorization", token);
    }

    auto resp = co_await http(*pool_, *url, req, opts_.http_timeout);
    if (!resp) co_return fail("GET " + url->text() + ": " + redact(resp.error().detail, {token}));
    co_return parse(resp.value(), *url, token);
  }

 private:
  static Result<AwsCredentials> parse(const HttpResponse& resp, const Url& url,
                                      const std::string& token) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(resp.body, ec);
    const boost::json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    if (resp.status != 200) {
      // Error answers carry {"code":..., "message":...}; never copy a body that could hold
      // credentials, only those two fields.
      std::string why = "GET " + url.text() + ": HTTP " + std::to_string(resp.status);
      if (o) {
        std::string code = jsonString(*o, "code"), message = jsonString(*o, "message");
        if (!code.empty()) why += " " + printable(code, 100);
        if (!message.empty()) why += ": " + printable(message);
      }
      return fail(redact(why, {token}));
    }
    if (!o) return fail("GET " + url.text() + ": the answer is not a JSON object");
    AwsCredentials c;
    c.access_key_id = jsonString(*o, "AccessKeyId");
    c.secret_access_key = jsonString(*o, "SecretAccessKey");
    c.session_token = jsonString(*o, "Token");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return fail("GET " + url.text() + ": the answer lacks AccessKeyId or SecretAccessKey");
    }
    std::string exp = jsonString(*o, "Expiration");
    if (!exp.empty()) {
      c.expiration = parseIso8601(exp);
      if (!c.expiration) {
        return fail("GET " + url.text() + ": Expiration '" + printable(exp, 40) +
                    "' is not an ISO 8601 time");
      }
    }
    return c;
  }
};

}  // namespace
}  // namespace detail

std::optional<std::string> containerUriRejection(std::string_view uri) {
  auto url = detail::parseHttpUrl(uri);
  if (!url) return "is not a valid http:// URL";
  if (detail::isHttps(*url)) return std::nullopt;  // any host: TLS authenticates it
  const std::string rejected = "host '" + url->host +
                               "' is not allowed: plain http:// only to a loopback address or "
                               "to 169.254.170.2, 169.254.170.23, [fd00:ec2::23]";
  if (url->host == "localhost") return std::nullopt;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(url->host, ec);
  if (ec) return rejected;
  if (addr.is_v4()) {
    auto v4 = addr.to_v4();
    if (v4.is_loopback() || v4 == asio::ip::make_address_v4("169.254.170.2") ||
        v4 == asio::ip::make_address_v4("169.254.170.23")) {
      return std::nullopt;
    }
    return rejected;
  }
  auto v6 = addr.to_v6();
  if (v6.is_loopback() || v6 == asio::ip::make_address_v6("fd00:ec2::23")) return std::nullopt;
  if (v6.is_v4_mapped() && asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback()) {
    return std::nullopt;
  }
  return rejected;
}

std::unique_ptr<CredentialProvider> makeContainerProvider(asio::io_context& io, Environment env,
                                                          ChainOptions opts) {
  return std::make_unique<detail::ContainerProvider>(io, std::move(env), std::move(opts));
}

}  // namespace tollgate::auth
