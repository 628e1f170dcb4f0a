#include "auth/aws_credentials_internal.h"
#include "common/strings.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;

// Inside detail: the helpers of aws_credentials_internal.h are used unqualified.
namespace detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Web identity (IRSA): STS AssumeRoleWithWebIdentity with a projected service account token

// The text of the first <tag>...</tag> inside `xml`, entities decoded. STS answers are small and
// flat enough that a full XML parser buys nothing.
std::optional<std::string> xmlElement(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t start = xml.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view raw = trim(xml.substr(start, end - start));
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (auto [ent, ch] : kEntities) {
      if (raw.substr(i, ent.size()) == ent) {
        out += ch;
        i += ent.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += '&';
  }
  return out;
}

std::string stsHost(std::string_view region) {
  if (region.empty()) return "sts.amazonaws.com";
  std::string host = "sts." + std::string(region) + ".amazonaws.com";
  if (region.starts_with("cn-")) host += ".cn";
  return host;
}

class WebIdentityProvider final : public RemoteProvider {
 public:
  using RemoteProvider::RemoteProvider;
  std::string_view name() const override { return "web identity (IRSA)"; }

  asio::awaitable<Result<AwsCredentials>> get() override {
    auto token_file = env_.get("AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role_arn = env_.get("AWS_ROLE_ARN");
    if (!token_file && !role_arn)
      co_return fail("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set");
    if (!token_file) co_return fail("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    if (!role_arn) co_return fail("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    std::string session = env_.get("AWS_ROLE_SESSION_NAME").value_or("");
    if (session.empty()) {
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(now(opts_).time_since_epoch());
      session = "tollgate-" + std::to_string(secs.count());
    }

    std::string endpoint;
    if (!iequals(env_.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or(""), "true")) {
      endpoint =
          env_.get("AWS_ENDPOINT_URL_STS").value_or(env_.get("AWS_ENDPOINT_URL").value_or(""));
    }
    if (endpoint.empty()) {
      std::string region = opts_.region;
      if (region.empty()) region = env_.get("AWS_REGION").value_or("");
      if (region.empty()) region = env_.get("AWS_DEFAULT_REGION").value_or("");
      endpoint = "https://" + stsHost(region);
    }
    auto url = parseHttpUrl(endpoint);
    if (!url) co_return fail("STS endpoint " + endpoint + " is not a valid http(s):// URL");
    if (isHttps(*url) && !opts_.tls_context) {
      co_return fail("cannot call STS at " + url->text() + ": " + std::string(kTlsUnsupported));
    }

    // Read on every call: the kubelet rotates the projected token.
    auto token_text = readFile(*token_file);
    if (!token_text) co_return fail("AWS_WEB_IDENTITY_TOKEN_FILE: " + token_text.error().detail);
    const std::string token(trim(token_text.value()));
    if (token.empty()) co_return fail("AWS_WEB_IDENTITY_TOKEN_FILE " + *token_file + " is empty");

    // POST, so the token travels in the body and never in a URL a proxy might log.
    std::string body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
                       uriEncode(*role_arn, false) +
                       "&RoleSessionName=" + uriEncode(session, false) +
                       "&WebIdentityToken=" + uriEncode(token, false);
    upstream::OutgoingRequest req;
    req.method = "POST";
    req.target = url->target();
    req.headers.emplace_back("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    req.headers.emplace_back("accept", "text/xml");
    req.body = body;

    const std::string what =
        "STS AssumeRoleWithWebIdentity for " + *role_arn + " at " + url->text();
    auto resp = co_await http(*pool_, *url, req, opts_.http_timeout);
    if (!resp) co_return fail(what + ": " + redact(resp.error().detail, {token}));
    co_return parse(resp.value(), what, token);
  }

 private:
  static Result<AwsCredentials> parse(const HttpResponse& resp, const std::string& what,
                                      const std::string& token) {
    if (resp.status != 200) {
      std::string why = what + ": HTTP " + std::to_string(resp.status);
      if (auto code = xmlElement(resp.body, "Code")) why += " " + printable(*code, 100);
      if (auto message = xmlElement(resp.body, "Message")) why += ": " + printable(*message);
      return fail(redact(why, {token}));
    }
    auto creds_xml = xmlElement(resp.body, "Credentials");
    if (!creds_xml) return fail(what + ": the answer has no <Credentials>");
    AwsCredentials c;
    c.access_key_id = xmlElement(*creds_xml, "AccessKeyId").value_or("");
    c.secret_access_key = xmlElement(*creds_xml, "SecretAccessKey").value_or("");
    c.session_token = xmlElement(*creds_xml, "SessionToken").value_or("");
    std::string exp = xmlElement(*creds_xml, "Expiration").value_or("");
    if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() ||
        exp.empty()) {
      return fail(what +
                  ": the answer lacks AccessKeyId, SecretAccessKey, SessionToken or Expiration");
    }
    c.expiration = parseIso8601(exp);
    if (!c.expiration) {
      return fail(what + ": Expiration '" + printable(exp, 40) + "' is not an ISO 8601 time");
    }
    return c;
  }
};

}  // namespace
}  // namespace detail

std::unique_ptr<CredentialProvider> makeWebIdentityProvider(asio::io_context& io, Environment env,
                                                            ChainOptions opts) {
  return std::make_unique<detail::WebIdentityProvider>(io, std::move(env), std::move(opts));
}

}  // namespace tollgate::auth
