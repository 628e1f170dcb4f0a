#include "auth/aws_credentials.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "common/strings.h"
#include "upstream/client.h"

extern char** environ;  // NOLINT: POSIX

namespace tollgate::auth {

namespace asio = boost::asio;
using SysClock = std::chrono::system_clock;

namespace {

constexpr size_t kMaxFileBytes = 1024 * 1024;    // config files and tokens are tiny
constexpr size_t kMaxResponseBytes = 64 * 1024;  // a credentials answer is well under 4 KiB
constexpr std::string_view kTlsUnsupported = "no TLS context configured for https";
constexpr int kHttpAttempts = 2;
constexpr auto kUseTuple = asio::as_tuple(
    asio::use_awaitable);  // one retry when nothing was received (connect refused/reset)

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (isBlank(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

Error fail(std::string detail) { return Error::internal(std::move(detail)); }

// Replaces every occurrence of each secret in `text`: remote error messages are copied into
// details, and a misbehaving endpoint could echo what it was sent.
std::string redact(std::string text, std::initializer_list<std::string_view> secrets) {
  for (auto secret : secrets) {
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[redacted]");
      pos += 10;
    }
  }
  return text;
}

// A remote message, shortened and made printable, for a detail line.
std::string printable(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string formatTime(SysClock::time_point t) {
  std::string d = formatAmzDate(t);  // 20150830T123600Z
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" + d.substr(9, 2) + ":" +
         d.substr(11, 2) + ":" + d.substr(13, 2) + "Z";
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxFileBytes) return fail(path + " is larger than 1 MiB");
  }
  if (in.bad()) return fail("cannot read " + path + ": " + std::strerror(errno));
  return data;
}

bool fileExists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

// "~/x" → "$HOME/x", as the SDKs expand the file variables.
std::optional<std::string> expandHome(std::string path, const Environment& env) {
  if (path == "~" || path.starts_with("~/")) {
    auto home = env.get("HOME");
    if (!home) return std::nullopt;
    path = *home + path.substr(1);
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// URLs

struct HttpUrl {
  bool https = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  std::string text() const {
    std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (https ? 443 : 80)) authority = formatHostPort(host, port);
    return std::string(https ? "https://" : "http://") + authority + target;
  }
};

std::optional<HttpUrl> parseHttpUrl(std::string_view url) {
  HttpUrl u;
  std::string lower = toLower(url.substr(0, 8));
  if (lower.starts_with("https://")) {
    u.https = true;
    url.remove_prefix(8);
  } else if (lower.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  // Userinfo would make "http://127.0.0.1@evil.example/" look local to a careless check.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port_text;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.host = toLower(u.host);
  u.port = u.https ? 443 : 80;
  if (!port_text.empty()) {
    unsigned p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      p = p * 10 + static_cast<unsigned>(c - '0');
      if (p > 65535) return std::nullopt;
    }
    if (p == 0) return std::nullopt;
    u.port = static_cast<uint16_t>(p);
  }
  rest = rest.substr(0, rest.find('#'));
  u.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return u;
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange through the project's upstream client.

struct HttpResponse {
  int status = 0;
  std::string body;
};

asio::awaitable<Result<HttpResponse>> httpOnce(upstream::Pool& pool, const HttpUrl& url,
                                               const upstream::OutgoingRequest& req,
                                               std::chrono::milliseconds timeout) {
  upstream::UpstreamTarget target;
  target.host = url.host;
  target.port = url.port;
  target.tls = url.https;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  upstream::Exchange exchange(pool);
  auto started = co_await exchange.start(target, req, deadline);
  if (!started) {
    exchange.finish();
    co_return started.error();
  }
  HttpResponse resp;
  resp.status = started.value();
  for (;;) {
    auto piece = co_await exchange.readSome(deadline);
    if (!piece) {
      exchange.finish();
      co_return piece.error();
    }
    if (piece.value().empty()) break;
    if (resp.body.size() + piece.value().size() > kMaxResponseBytes) {
      exchange.finish();
      co_return fail("response from " + url.text() + " is larger than 64 KiB");
    }
    resp.body.append(piece.value());
  }
  exchange.finish();
  co_return resp;
}

// Retries once when the error says another attempt may help (nothing was received).
asio::awaitable<Result<HttpResponse>> http(upstream::Pool& pool, const HttpUrl& url,
                                           const upstream::OutgoingRequest& req,
                                           std::chrono::milliseconds timeout) {
  for (int attempt = 1;; ++attempt) {
    auto r = co_await httpOnce(pool, url, req, timeout);
    if (r || !r.error().retryable || attempt >= kHttpAttempts) co_return r;
  }
}

std::unique_ptr<upstream::Pool> makePool(asio::io_context& io, const ChainOptions& opts) {
  upstream::PoolOptions po;
  po.connect_timeout = opts.http_timeout;
  po.max_idle_per_endpoint = 0;  // a refresh an hour: keeping a connection open buys nothing
  po.tls_context = opts.tls_context;
  return std::make_unique<upstream::Pool>(io, po);
}

SysClock::time_point now(const ChainOptions& opts) {
  return opts.clock ? opts.clock() : SysClock::now();
}

// ---------------------------------------------------------------------------------------------
// Environment variables

class EnvironmentProvider final : public CredentialProvider {
 public:
  explicit EnvironmentProvider(Environment env) : env_(std::move(env)) {}
  std::string_view name() const override { return "environment"; }

  asio::awaitable<Result<AwsCredentials>> get() override {
    auto id = env_.get("AWS_ACCESS_KEY_ID");
    auto secret = env_.get("AWS_SECRET_ACCESS_KEY");
    if (!id && !secret) co_return fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
    if (!id) co_return fail("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    if (!secret) co_return fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    AwsCredentials c;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = env_.get("AWS_SESSION_TOKEN").value_or("");
    co_return c;
  }

 private:
  Environment env_;
};

// ---------------------------------------------------------------------------------------------
// Shared credentials and config files

// The section of the config file that holds `profile`: "[profile NAME]", or "[default]" for the
// default profile (also "[profile default]").
const std::map<std::string, std::string>* configSection(const IniSections& ini,
                                                        std::string_view profile) {
  if (profile == "default") {
    if (auto it = ini.find("default"); it != ini.end()) return &it->second;
  }
  for (const auto& [section, keys] : ini) {
    std::string_view s = section;
    if (!s.starts_with("profile") || s.size() < 8 || !isBlank(s[7])) continue;
    if (trim(s.substr(7)) == profile) return &keys;
  }
  return nullptr;
}

class ProfileProvider final : public CredentialProvider {
 public:
  explicit ProfileProvider(Environment env) : env_(std::move(env)) {}
  std::string_view name() const override { return "shared config files"; }

  asio::awaitable<Result<AwsCredentials>> get() override { co_return resolve(); }

 private:
  struct File {
    std::string label;  // path as shown in messages
    std::optional<std::string> path;
  };

  File locate(const char* var, const char* default_rel) const {
    File f;
    if (auto set = env_.get(var)) {
      f.path = expandHome(*set, env_);
      f.label = f.path ? *f.path : *set;
      if (!f.path) f.label += " (HOME not set)";
    } else if (auto home = env_.get("HOME")) {
      f.path = *home + default_rel;
      f.label = *f.path;
    } else {
      f.label = std::string("~") + default_rel + " (HOME not set)";
    }
    return f;
  }

  // The keys of `profile`, from one file. nullopt with a note when the file or profile is absent.
  Result<std::optional<std::map<std::string, std::string>>> load(const File& f, bool config_style,
                                                                 const std::string& profile,
                                                                 std::vector<std::string>& notes) {
    using Out = std::optional<std::map<std::string, std::string>>;
    if (!f.path) {
      notes.push_back(f.label);
      return Out{};
    }
    if (!fileExists(*f.path)) {
      notes.push_back(f.label + " does not exist");
      return Out{};
    }
    auto text = readFile(*f.path);
    if (!text) return text.error();
    auto ini = parseIni(text.value(), *f.path);
    if (!ini) return ini.error();
    const std::map<std::string, std::string>* keys = nullptr;
    if (config_style) {
      keys = configSection(ini.value(), profile);
    } else if (auto it = ini.value().find(profile); it != ini.value().end()) {
      keys = &it->second;
    }
    if (!keys) {
      notes.push_back(f.label + " has no profile '" + profile + "'");
      return Out{};
    }
    return Out{*keys};
  }

  static Result<AwsCredentials> fromKeys(const std::map<std::string, std::string>& keys,
                                         const std::string& profile, const std::string& file) {
    auto id = keys.find("aws_access_key_id");
    auto secret = keys.find("aws_secret_access_key");
    if (id == keys.end() || id->second.empty()) {
      for (const char* k : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                            "web_identity_token_file", "credential_source"}) {
        if (keys.count(k)) {
          return fail("profile '" + profile + "' in " + file + " uses " + k +
                      ", which tollgate does not support (give it aws_access_key_id and "
                      "aws_secret_access_key, or use another source)");
        }
      }
      return fail("profile '" + profile + "' in " + file + " has no aws_access_key_id");
    }
    if (secret == keys.end() || secret->second.empty()) {
      return fail("profile '" + profile + "' in " + file +
                  " has aws_access_key_id but no aws_secret_access_key");
    }
    AwsCredentials c;
    c.access_key_id = id->second;
    c.secret_access_key = secret->second;
    if (auto t = keys.find("aws_session_token"); t != keys.end()) c.session_token = t->second;
    return c;
  }

  Result<AwsCredentials> resolve() {
    const std::string profile = env_.get("AWS_PROFILE").value_or("default");
    const File creds_file = locate("AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials");
    const File config_file = locate("AWS_CONFIG_FILE", "/.aws/config");
    std::vector<std::string> notes;

    // The credentials file wins over the config file, as in the SDKs and the CLI.
    auto from_creds = load(creds_file, false, profile, notes);
    if (!from_creds) return from_creds.error();
    if (from_creds.value()) return fromKeys(*from_creds.value(), profile, creds_file.label);

    auto from_config = load(config_file, true, profile, notes);
    if (!from_config) return from_config.error();
    if (from_config.value()) return fromKeys(*from_config.value(), profile, config_file.label);

    std::string why = "profile '" + profile + "' not found (";
    for (size_t i = 0; i < notes.size(); ++i) why += (i ? "; " : "") + notes[i];
    return fail(why + ")");
  }

  Environment env_;
};

// ---------------------------------------------------------------------------------------------
// Container credentials endpoint (ECS task roles, EKS Pod Identity)

// "{...}" → the string field `key`, empty when absent or not a string.
std::string jsonString(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

class ContainerProvider final : public CredentialProvider {
 public:
  ContainerProvider(asio::io_context& io, Environment env, ChainOptions opts)
      : env_(std::move(env)), opts_(std::move(opts)), pool_(makePool(io, opts_)) {}
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
    if (url->https && !opts_.tls_context)
      co_return fail("cannot fetch " + url->text() + ": " + std::string(kTlsUnsupported));

    upstream::OutgoingRequest req;
    req.method = "GET";
    req.target = url->target;
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
  static Result<AwsCredentials> parse(const HttpResponse& resp, const HttpUrl& url,
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

  Environment env_;
  ChainOptions opts_;
  std::unique_ptr<upstream::Pool> pool_;
};

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

class WebIdentityProvider final : public CredentialProvider {
 public:
  WebIdentityProvider(asio::io_context& io, Environment env, ChainOptions opts)
      : env_(std::move(env)), opts_(std::move(opts)), pool_(makePool(io, opts_)) {}
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
    if (url->https && !opts_.tls_context) {
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
    req.target = url->target;
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

  Environment env_;
  ChainOptions opts_;
  std::unique_ptr<upstream::Pool> pool_;
};

// ---------------------------------------------------------------------------------------------
// Static, chain, cache

class StaticProvider final : public CredentialProvider {
 public:
  explicit StaticProvider(AwsCredentials c) : creds_(std::move(c)) {}
  std::string_view name() const override { return "static"; }
  asio::awaitable<Result<AwsCredentials>> get() override { co_return creds_; }

 private:
  AwsCredentials creds_;
};

class ChainProvider final : public CredentialProvider {
 public:
  ChainProvider(std::vector<std::unique_ptr<CredentialProvider>> providers, ChainOptions opts)
      : providers_(std::move(providers)), opts_(std::move(opts)) {}
  std::string_view name() const override { return "credential chain"; }

  asio::awaitable<Result<AwsCredentials>> get() override {
    std::string why;
    for (auto& p : providers_) {
      auto r = co_await p->get();
      if (r && r.value().expiration && *r.value().expiration <= now(opts_)) {
        r = fail("its credentials expired at " + formatTime(*r.value().expiration));
      }
      if (r) {
        // The key id is not a secret, but only its tail is needed to tell keys apart.
        const std::string& id = r.value().access_key_id;
        const std::string tail = id.size() > 4 ? "..." + id.substr(id.size() - 4) : "...";
        if (r.value().expiration) {
          spdlog::info("AWS credentials from {} (access key {}, valid until {})", p->name(), tail,
                       formatTime(*r.value().expiration));
        } else {
          spdlog::info("AWS credentials from {} (access key {})", p->name(), tail);
        }
        co_return r;
      }
      if (!why.empty()) why += "; ";
      why += p->name();
      why += ": ";
      why += r.error().detail;
    }
    co_return fail("no AWS credentials found, tried in order: " + why);
  }

 private:
  std::vector<std::unique_ptr<CredentialProvider>> providers_;
  ChainOptions opts_;
};

// The cache's state lives in a shared Core so that a background refresh, which may outlive the
// request that started it, never touches a destroyed provider.
class CachingProvider final : public CredentialProvider {
 public:
  CachingProvider(asio::io_context& io, std::unique_ptr<CredentialProvider> inner,
                  ChainOptions opts)
      : core_(std::make_shared<Core>(io, std::move(inner), std::move(opts))) {}
  std::string_view name() const override { return core_->inner->name(); }

  asio::awaitable<Result<AwsCredentials>> get() override {
    std::shared_ptr<Core> core = core_;
    if (core->usable()) {
      // Due for refresh but still valid: the request signs with what is cached while a
      // background refresh fetches the next ones. Requests never wait for a refresh then.
      if (!core->fresh() && !core->refreshing && now(core->opts) >= core->retry_after) {
        asio::co_spawn(core->io, Core::refresh(core), asio::detached);
      }
      co_return *core->cached;
    }
    // Nothing usable: this request has to wait, sharing one refresh with every other waiter.
    while (core->refreshing) {
      const uint64_t gen = core->generation;
      co_await core->done.async_wait(kUseTuple);
      if (core->generation != gen) {
        if (core->usable()) co_return *core->cached;
        if (core->last_error) co_return *core->last_error;
      }
    }
    if (core->usable()) co_return *core->cached;
    // A named awaitable: GCC 12 mishandles temporaries inside a co_await expression.
    asio::awaitable<void> refreshing = Core::refresh(core);
    co_await std::move(refreshing);
    if (core->usable()) co_return *core->cached;
    if (core->last_error) co_return *core->last_error;
    co_return fail("credential refresh did not complete");
  }

 private:
  struct Core {
    Core(asio::io_context& io_, std::unique_ptr<CredentialProvider> inner_, ChainOptions opts_)
        : io(io_), inner(std::move(inner_)), opts(std::move(opts_)), done(io_) {}

    // Valid now (not necessarily fresh): signing with it works.
    bool usable() const {
      return cached && (!cached->expiration || now(opts) < *cached->expiration);
    }
    bool fresh() const { return cached && (!cached->expiration || now(opts) < refresh_at); }

    static asio::awaitable<void> refresh(std::shared_ptr<Core> self) {
      self->refreshing = true;
      self->done.expires_at(std::chrono::steady_clock::time_point::max());
      Result<AwsCredentials> r = fail("credential refresh did not complete");
      try {
        r = co_await self->inner->get();
      } catch (const std::exception& e) {
        // Waiters must be woken whatever happens, or they would wait forever.
        r = fail(std::string("credential refresh failed: ") + e.what());
      }
      self->refreshing = false;
      ++self->generation;
      self->done.cancel();
      if (!r) {
        self->last_error = r.error();
        // Not again on every request: a source that is down is asked at most every 30 s.
        self->retry_after = now(self->opts) + kRetryInterval;
        if (self->usable() && self->cached->expiration) {
          spdlog::warn("AWS credential refresh failed, using the cached ones until {}: {}",
                       formatTime(*self->cached->expiration), r.error().detail);
        }
        co_return;
      }
      self->cached = r.value();
      self->last_error.reset();
      self->refresh_at = self->refreshTime(r.value());
    }

    SysClock::time_point refreshTime(const AwsCredentials& c) const {
      if (!c.expiration) return SysClock::time_point::max();
      const auto t = now(opts);
      auto at = *c.expiration - opts.refresh_before;
      // Credentials shorter-lived than the margin: use them for half of what is left, rather
      // than refreshing on every call.
      if (at <= t) at = t + (*c.expiration - t) / 2;
      return at;
    }

    static constexpr std::chrono::seconds kRetryInterval{30};
    asio::io_context& io;
    std::unique_ptr<CredentialProvider> inner;
    ChainOptions opts;
    asio::steady_timer done;  // cancelled when a refresh ends, waking the waiters
    bool refreshing = false;
    uint64_t generation = 0;
    std::optional<AwsCredentials> cached;
    SysClock::time_point refresh_at{};
    SysClock::time_point retry_after{};
    std::optional<Error> last_error;
  };
  std::shared_ptr<Core> core_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

Environment Environment::process() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.vars_.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  auto it = vars_.find(name);
  if (it == vars_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

void Environment::unset(std::string_view name) {
  if (auto it = vars_.find(name); it != vars_.end()) vars_.erase(it);
}

Result<IniSections> parseIni(std::string_view text, std::string_view file_name) {
  IniSections out;
  std::map<std::string, std::string>* section = nullptr;
  bool have_key = false;
  size_t line_no = 0;
  auto error = [&](std::string_view what) {
    return fail(std::string(file_name) + " line " + std::to_string(line_no) + ": " +
                std::string(what));
  };
  // Cuts an inline comment: '#' or ';' after whitespace (a value itself never holds one there).
  auto stripComment = [](std::string_view s) {
    for (size_t i = 1; i < s.size(); ++i) {
      if ((s[i] == '#' || s[i] == ';') && isBlank(s[i - 1])) return s.substr(0, i);
    }
    return s;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == 1 && raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);  // UTF-8 BOM
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (isBlank(raw.front())) {
      // A nested value ("s3 =\n  max_concurrent_requests = 10"): part of the key above.
      if (!have_key) return error("indented line outside a key");
      continue;
    }
    if (line.front() == '[') {
      line = trim(stripComment(line));
      if (line.back() != ']') return error("section header without a closing ']'");
      std::string_view name = trim(line.substr(1, line.size() - 2));
      if (name.empty()) return error("empty section name");
      section = &out[std::string(name)];
      have_key = false;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return error("expected 'key = value'");
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) return error("expected 'key = value'");
    if (!section) return error("key outside any [section]");
    (*section)[toLower(key)] = std::string(trim(stripComment(trim(line.substr(eq + 1)))));
    have_key = true;
  }
  return out;
}

std::optional<std::string> containerUriRejection(std::string_view uri) {
  auto url = parseHttpUrl(uri);
  if (!url) return "is not a valid http:// URL";
  if (url->https) return std::nullopt;  // any host: TLS authenticates it
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

std::unique_ptr<CredentialProvider> makeEnvironmentProvider(Environment env) {
  return std::make_unique<EnvironmentProvider>(std::move(env));
}

std::unique_ptr<CredentialProvider> makeProfileProvider(Environment env) {
  return std::make_unique<ProfileProvider>(std::move(env));
}

std::unique_ptr<CredentialProvider> makeContainerProvider(asio::io_context& io, Environment env,
                                                          ChainOptions opts) {
  return std::make_unique<ContainerProvider>(io, std::move(env), std::move(opts));
}

std::unique_ptr<CredentialProvider> makeWebIdentityProvider(asio::io_context& io, Environment env,
                                                            ChainOptions opts) {
  return std::make_unique<WebIdentityProvider>(io, std::move(env), std::move(opts));
}

std::unique_ptr<CredentialProvider> makeStaticProvider(AwsCredentials creds) {
  return std::make_unique<StaticProvider>(std::move(creds));
}

std::unique_ptr<CredentialProvider> makeChainProvider(
    std::vector<std::unique_ptr<CredentialProvider>> providers, ChainOptions opts) {
  return std::make_unique<ChainProvider>(std::move(providers), std::move(opts));
}

std::unique_ptr<CredentialProvider> makeCachingProvider(asio::io_context& io,
                                                        std::unique_ptr<CredentialProvider> inner,
                                                        ChainOptions opts) {
  return std::make_unique<CachingProvider>(io, std::move(inner), std::move(opts));
}

std::unique_ptr<CredentialProvider> makeDefaultChain(asio::io_context& io, const Environment& env,
                                                     ChainOptions opts) {
  std::vector<std::unique_ptr<CredentialProvider>> sources;
  sources.push_back(makeEnvironmentProvider(env));
  sources.push_back(makeProfileProvider(env));
  sources.push_back(makeContainerProvider(io, env, opts));
  sources.push_back(makeWebIdentityProvider(io, env, opts));
  auto chain = makeChainProvider(std::move(sources), opts);
  return makeCachingProvider(io, std::move(chain), std::move(opts));
}

}  // namespace tollgate::auth
