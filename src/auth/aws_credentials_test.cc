#include "auth/aws_credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "http/server.h"

namespace tollgate::auth {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SysClock = std::chrono::system_clock;

// Values that must never show up in an error text.
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSessionToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";
constexpr std::string_view kWebToken = "eyJhbGciOiJSUzI1NiJ9.WEB-IDENTITY-TOKEN.sig";
constexpr std::string_view kContainerToken = "CONTAINER-AUTH-TOKEN-abc123";

Result<AwsCredentials> runGet(asio::io_context& io, CredentialProvider& p) {
  std::optional<Result<AwsCredentials>> out;
  auto task = [&]() -> asio::awaitable<void> { out.emplace(co_await p.get()); };
  asio::co_spawn(io, task, [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.restart();
  io.run();
  return std::move(*out);
}

void expectNoSecrets(const Error& e) {
  for (auto s : {kSecret, kSessionToken, kWebToken, kContainerToken}) {
    EXPECT_EQ(e.detail.find(s), std::string::npos) << "secret in detail: " << e.detail;
    EXPECT_EQ(e.public_message.find(s), std::string::npos) << e.public_message;
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tollgate-auth-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& rel, std::string_view content) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

std::string iso(SysClock::time_point t) {
  std::string d = formatAmzDate(t);
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" + d.substr(9, 2) + ":" +
         d.substr(11, 2) + ":" + d.substr(13, 2) + "Z";
}

// A fixed start for the injected clocks.
const SysClock::time_point kT0 = *parseIso8601("2026-01-15T10:00:00Z");

// ---------------------------------------------------------------------------------------------
// A fake HTTP endpoint (container agent or STS): the project's own server on 127.0.0.1:0.

class FakeServer : public http::Handler {
 public:
  struct Seen {
    std::string method, target, authorization, content_type, body;
  };
  struct Answer {
    int status = 200;
    std::string body;
  };
  using Responder = std::function<Answer(const Seen&)>;

  FakeServer() : loops_(1), server_(loops_, *this, http::ServerOptions{}) {
    http::tcp::endpoint ep;
    std::string err = server_.listen("127.0.0.1", 0, &ep);
    EXPECT_TRUE(err.empty()) << err;
    port_ = ep.port();
    loops_.start();
  }
  ~FakeServer() override {
    closing_ = true;
    server_.stopAccepting();
    // Sessions still running would touch the destroyed server: let them end first.
    auto end = std::chrono::steady_clock::now() + 5s;
    while (server_.stats().active_connections.load() > 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(5ms);
    loops_.stop();
    loops_.join();
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  void respond(Responder r) {
    std::lock_guard<std::mutex> lock(mu_);
    responder_ = std::move(r);
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::atomic<int> delay_ms{0};

  asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w) override {
    Seen s;
    s.method = std::string(req.method_string());
    s.target = std::string(req.target());
    s.authorization = std::string(req[boost::beast::http::field::authorization]);
    s.content_type = std::string(req[boost::beast::http::field::content_type]);
    s.body = req.body();
    Responder r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(s);
      r = responder_;
    }
    if (int d = delay_ms.load(); d > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(d));
      co_await timer.async_wait(asio::use_awaitable);
    }
    Answer a = r ? r(s) : Answer{404, "{}"};
    http::ResponseHead head;
    head.status = a.status;
    head.headers.emplace_back("content-type", "application/json");
    co_await w.send(head, a.body);
  }
  std::string renderError(std::string_view, const Error& err, http::ResponseHead& head) override {
    head.status = err.httpStatus();
    return "{}";
  }

 private:
  std::atomic<bool> closing_{false};
  http::EventLoops loops_;
  http::Server server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  Responder responder_;
  std::vector<Seen> seen_;
};

uint16_t closedPort() {
  asio::io_context io;
  http::tcp::acceptor acc(io, http::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acc.local_endpoint().port();
}

std::string containerJson(std::string_view key_id, SysClock::time_point exp) {
  return R"({"AccessKeyId":")" + std::string(key_id) + R"(","SecretAccessKey":")" +
         std::string(kSecret) + R"(","Token":")" + std::string(kSessionToken) +
         R"(","Expiration":")" + iso(exp) + R"("})";
}

std::string stsXml(std::string_view key_id, SysClock::time_point exp) {
  return R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ai:tollgate</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>)" +
         std::string(kSessionToken) + R"(</SessionToken>
      <SecretAccessKey>)" +
         std::string(kSecret) + R"(</SecretAccessKey>
      <Expiration>)" +
         iso(exp) + R"(</Expiration>
      <AccessKeyId>)" +
         std::string(key_id) + R"(</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>)";
}

// application/x-www-form-urlencoded → map (the fake STS checks what it was sent).
std::map<std::string, std::string> formFields(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view kv = body.substr(pos, amp - pos);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos)
      out[percentDecode(kv.substr(0, eq))] = percentDecode(kv.substr(eq + 1));
    pos = amp + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Environment

TEST(EnvironmentSource, ReadsKeysAndToken) {
  asio::io_context io;
  auto p = makeEnvironmentProvider(Environment{{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                               {"AWS_SECRET_ACCESS_KEY", std::string(kSecret)},
                                               {"AWS_SESSION_TOKEN", std::string(kSessionToken)}});
  auto r = runGet(io, *p);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "AKIDENV");
  EXPECT_EQ(r->secret_access_key, kSecret);
  EXPECT_EQ(r->session_token, kSessionToken);
  EXPECT_FALSE(r->expiration);
}

TEST(EnvironmentSource, PartialOrEmptyIsAnErrorWithoutTheSecret) {
  asio::io_context io;
  auto p = makeEnvironmentProvider(
      Environment{{"AWS_SECRET_ACCESS_KEY", std::string(kSecret)}, {"AWS_ACCESS_KEY_ID", ""}});
  auto r = runGet(io, *p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  EXPECT_EQ(r.error().public_message, "internal error");
  expectNoSecrets(r.error());
}

// ---------------------------------------------------------------------------------------------
// Shared files

TEST(Ini, ParsesSectionsCommentsAndNestedValues) {
  auto r = parseIni(
      "\xEF\xBB\xBF# leading comment\r\n"
      "[default]\r\n"
      "aws_access_key_id = AKID1 ; inline comment\r\n"
      "AWS_Secret_Access_Key=abc/def+ghi#not-a-comment\r\n"
      "\r\n"
      "; another comment\n"
      "[profile dev]   # trailing\n"
      "region = us-west-2\n"
      "s3 =\n"
      "  max_concurrent_requests = 10\n",
      "cfg");
  ASSERT_TRUE(r) << r.error().detail;
  const auto& ini = r.value();
  ASSERT_EQ(ini.size(), 2u);
  EXPECT_EQ(ini.at("default").at("aws_access_key_id"), "AKID1");
  EXPECT_EQ(ini.at("default").at("aws_secret_access_key"), "abc/def+ghi#not-a-comment");
  EXPECT_EQ(ini.at("profile dev").at("region"), "us-west-2");
  EXPECT_EQ(ini.at("profile dev").at("s3"), "");
  EXPECT_FALSE(ini.at("profile dev").contains("max_concurrent_requests"));
}

TEST(Ini, MalformedLinesNameTheLineButNotItsText) {
  struct Case {
    std::string text, error;
  };
  const std::string secret(kSecret);
  for (const Case& c : std::vector<Case>{
           {"[default\naws_secret_access_key=" + secret,
            "f line 1: section header without a closing ']'"},
           {"[default]\n" + secret, "f line 2: expected 'key = value'"},
           {"aws_secret_access_key=" + secret, "f line 1: key outside any [section]"},
           {"[default]\n = " + secret, "f line 2: indented line outside a key"},
           {"[default]\n=" + secret, "f line 2: expected 'key = value'"},
           {"[ ]\n", "f line 1: empty section name"},
       }) {
    auto r = parseIni(c.text, "f");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().detail, c.error);
    expectNoSecrets(r.error());
  }
}

TEST(ProfileSource, DefaultProfileFromCredentialsFileUnderHome) {
  TempDir dir;
  dir.write(
      ".aws/credentials",
      "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " + std::string(kSecret) +
          "\naws_session_token = " + std::string(kSessionToken) + "\n");
  asio::io_context io;
  auto p = makeProfileProvider(Environment{{"HOME", dir.path()}});
  auto r = runGet(io, *p);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "AKIDFILE");
  EXPECT_EQ(r->secret_access_key, kSecret);
  EXPECT_EQ(r->session_token, kSessionToken);
}

TEST(ProfileSource, NamedProfileFromEitherFileCredentialsFileWins) {
  TempDir dir;
  std::string creds = dir.write("c",
                                "[default]\naws_access_key_id=A\naws_secret_access_key=B\n"
                                "[dev]\naws_access_key_id=DEVCREDS\naws_secret_access_key=S1\n");
  std::string config = dir.write("k",
                                 "[default]\naws_access_key_id=CFGDEFAULT\n"
                                 "aws_secret_access_key=S\n"
                                 "[profile dev]\naws_access_key_id=DEVCONFIG\n"
                                 "aws_secret_access_key=S2\n"
                                 "[profile  stage ]\naws_access_key_id=STAGE\n"
                                 "aws_secret_access_key=S3\n"
                                 "[prod]\naws_access_key_id=NOTAPROFILE\n"
                                 "aws_secret_access_key=S4\n");
  asio::io_context io;
  Environment env{
      {"AWS_SHARED_CREDENTIALS_FILE", creds}, {"AWS_CONFIG_FILE", config}, {"AWS_PROFILE", "dev"}};
  auto r = runGet(io, *makeProfileProvider(env));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "DEVCREDS");

  env.set("AWS_PROFILE", "stage");
  r = runGet(io, *makeProfileProvider(env));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "STAGE");

  // The config file names non-default profiles "[profile NAME]"; "[prod]" there is not one.
  env.set("AWS_PROFILE", "prod");
  r = runGet(io, *makeProfileProvider(env));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "profile 'prod' not found (" + creds + " has no profile 'prod'; " +
                                  config + " has no profile 'prod')");

  // The default profile from the config file when the credentials file lacks it.
  dir.write("c", "[dev]\naws_access_key_id=DEVCREDS\naws_secret_access_key=S1\n");
  env.unset("AWS_PROFILE");
  r = runGet(io, *makeProfileProvider(env));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "CFGDEFAULT");
}

TEST(ProfileSource, TildeInFileVariablesIsHome) {
  TempDir dir;
  dir.write("x/creds", "[default]\naws_access_key_id=TILDE\naws_secret_access_key=S\n");
  asio::io_context io;
  auto r = runGet(io, *makeProfileProvider(Environment{
                          {"HOME", dir.path()}, {"AWS_SHARED_CREDENTIALS_FILE", "~/x/creds"}}));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "TILDE");
}

TEST(ProfileSource, IncompleteUnsupportedAndMalformedProfiles) {
  TempDir dir;
  asio::io_context io;
  Environment env{{"HOME", dir.path()}};
  const std::string path = dir.path() + "/.aws/credentials";
  struct Case {
    std::string file, error;
  };
  for (const Case& c : std::vector<Case>{
           {"[default]\naws_access_key_id=AKID\n",
            "profile 'default' in " + path + " has aws_access_key_id but no aws_secret_access_key"},
           {"[default]\naws_secret_access_key=" + std::string(kSecret) + "\n",
            "profile 'default' in " + path + " has no aws_access_key_id"},
           {"[default]\nrole_arn=arn:aws:iam::1:role/x\nsource_profile=base\n",
            "profile 'default' in " + path +
                " uses role_arn, which tollgate does not support (give it aws_access_key_id and "
                "aws_secret_access_key, or use another source)"},
           {"[default]\naws_access_key_id=AKID\n" + std::string(kSecret) + "\n",
            path + " line 3: expected 'key = value'"},
       }) {
    dir.write(".aws/credentials", c.file);
    auto r = runGet(io, *makeProfileProvider(env));
    ASSERT_FALSE(r) << c.file;
    EXPECT_EQ(r.error().detail, c.error);
    expectNoSecrets(r.error());
  }
}

TEST(ProfileSource, NoFilesAndNoHome) {
  asio::io_context io;
  auto r = runGet(io, *makeProfileProvider(Environment{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "profile 'default' not found (~/.aws/credentials (HOME not set); ~/.aws/config (HOME "
            "not set))");
  r = runGet(io, *makeProfileProvider(Environment{{"AWS_CONFIG_FILE", "/nonexistent/cfg"},
                                                  {"HOME", "/nonexistent-home"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "profile 'default' not found (/nonexistent-home/.aws/credentials does not exist; "
            "/nonexistent/cfg does not exist)");
}

// ---------------------------------------------------------------------------------------------
// Container endpoint

TEST(ContainerUri, AllowlistAsTheSdksEnforceIt) {
  for (const char* ok :
       {"http://127.0.0.1/creds", "http://127.0.0.1:8080/creds", "http://127.9.8.7/",
        "http://localhost:1234/x", "http://LOCALHOST/x", "http://[::1]:80/x",
        "http://169.254.170.2/v2/credentials/abc", "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials", "http://[::ffff:127.0.0.1]/x",
        "https://creds.example.com/x"}) {
    EXPECT_EQ(containerUriRejection(ok), std::nullopt) << ok;
  }
  for (const char* bad :
       {"http://169.254.169.254/latest/meta-data/", "http://example.com/creds",
        "http://10.0.0.1/creds", "http://[fd00:ec2::24]/", "http://169.254.170.3/",
        "http://127.0.0.1.nip.io/", "http://127.0.0.1@evil.example/", "ftp://127.0.0.1/",
        "127.0.0.1/creds", "http://[::1/", "http://127.0.0.1:99999/", "http:///x"}) {
    EXPECT_NE(containerUriRejection(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(containerUriRejection("http://169.254.169.254/"),
            "host '169.254.169.254' is not allowed: plain http:// only to a loopback address or "
            "to 169.254.170.2, 169.254.170.23, [fd00:ec2::23]");
}

TEST(ContainerSource, FullUriWithTokenFromFileWinningOverVariable) {
  FakeServer server;
  server.respond([](const FakeServer::Seen& s) {
    return FakeServer::Answer{200,
                              containerJson("ASIA" + std::to_string(s.target.size()), kT0 + 6h)};
  });
  TempDir dir;
  std::string token_file = dir.write("token", std::string(kContainerToken) + "\n");
  asio::io_context io;
  Environment env{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/v1/credentials")},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable"}};
  auto p = makeContainerProvider(io, env, ChainOptions{});
  auto r = runGet(io, *p);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "ASIA15");
  EXPECT_EQ(r->secret_access_key, kSecret);
  EXPECT_EQ(r->session_token, kSessionToken);
  ASSERT_TRUE(r->expiration);
  EXPECT_EQ(*r->expiration, kT0 + 6h);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/v1/credentials");
  EXPECT_EQ(seen[0].authorization, kContainerToken);

  // The file is read again on every fetch (EKS rotates it).
  dir.write("token", "rotated-token");
  ASSERT_TRUE(runGet(io, *p));
  EXPECT_EQ(server.seen().back().authorization, "rotated-token");

  // Without the file, the variable.
  env.unset("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  ASSERT_TRUE(runGet(io, *makeContainerProvider(io, env, ChainOptions{})));
  EXPECT_EQ(server.seen().back().authorization, "from-variable");
}

TEST(ContainerSource, RelativeUriGoesToTheAgentBaseWithoutToken) {
  FakeServer server;
  server.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, containerJson("ASIAREL", kT0 + 1h)};
  });
  asio::io_context io;
  ChainOptions opts;
  opts.container_relative_base = server.url("");
  Environment env{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/1234-abcd"},
                  {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.169.254/ignored"},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string(kContainerToken)}};
  auto r = runGet(io, *makeContainerProvider(io, env, opts));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "ASIAREL");
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].target, "/v2/credentials/1234-abcd");
  EXPECT_EQ(server.seen()[0].authorization, "");
}

TEST(ContainerSource, ErrorsAreClearAndCarryNoSecret) {
  FakeServer server;
  asio::io_context io;
  Environment env{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string(kContainerToken)}};
  auto p = makeContainerProvider(io, env, ChainOptions{});

  // An error answer: its code and message, with anything it echoes of the token removed.
  server.respond([](const FakeServer::Seen& s) {
    return FakeServer::Answer{
        403, R"({"code":"AccessDenied","message":"bad token )" + s.authorization + R"("})"};
  });
  auto r = runGet(io, *p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "GET " + server.url("/creds") + ": HTTP 403 AccessDenied: bad token [redacted]");
  expectNoSecrets(r.error());

  // A 200 answer that is not JSON (it could hold credentials: never copied).
  server.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, "AccessKeyId=x SecretAccessKey=" + std::string(kSecret)};
  });
  r = runGet(io, *p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "GET " + server.url("/creds") + ": the answer is not a JSON object");
  expectNoSecrets(r.error());

  server.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, R"({"AccessKeyId":"A","Token":"T"})"};
  });
  r = runGet(io, *p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "GET " + server.url("/creds") + ": the answer lacks AccessKeyId or SecretAccessKey");

  server.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{
        200, R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"tomorrow"})"};
  });
  r = runGet(io, *p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "GET " + server.url("/creds") + ": Expiration 'tomorrow' is not an ISO 8601 time");
}

TEST(ContainerSource, RefusedDisallowedHttpsAndBadTokens) {
  asio::io_context io;
  const std::string refused = "http://127.0.0.1:" + std::to_string(closedPort()) + "/creds";
  auto r = runGet(io, *makeContainerProvider(
                          io, Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", refused}}, {}));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().detail.starts_with("GET " + refused + ": connect to 127.0.0.1:"))
      << r.error().detail;

  r = runGet(io,
             *makeContainerProvider(
                 io, Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/x"}}, {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI host '10.1.2.3' is not allowed: plain http:// "
            "only to a loopback address or to 169.254.170.2, 169.254.170.23, [fd00:ec2::23]");

  r = runGet(
      io,
      *makeContainerProvider(
          io, Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.example/x"}}, {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "cannot fetch https://creds.example/x: no TLS context configured for https");

  r = runGet(io, *makeContainerProvider(
                     io,
                     Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x"},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1"}},
                     {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "the container authorization token contains a line break or NUL");

  r = runGet(io, *makeContainerProvider(
                     io,
                     Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x"},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/tok"}},
                     {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: cannot read /nonexistent/tok: No such file "
            "or directory");
}

// ---------------------------------------------------------------------------------------------
// Web identity (IRSA)

TEST(WebIdentitySource, AssumesTheRoleAtTheOverriddenStsEndpoint) {
  FakeServer sts;
  sts.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, stsXml("ASIASTS", kT0 + 1h)};
  });
  TempDir dir;
  std::string token_file = dir.write("token", std::string(kWebToken) + "\n");
  asio::io_context io;
  Environment env{{"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
                  {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/tollgate"},
                  {"AWS_ROLE_SESSION_NAME", "gw session"},
                  {"AWS_REGION", "us-west-2"},
                  {"AWS_ENDPOINT_URL_STS", sts.url("")}};
  auto r = runGet(io, *makeWebIdentityProvider(io, env, ChainOptions{}));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->access_key_id, "ASIASTS");
  EXPECT_EQ(r->secret_access_key, kSecret);
  EXPECT_EQ(r->session_token, kSessionToken);
  EXPECT_EQ(r->expiration, kT0 + 1h);

  auto seen = sts.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/");
  EXPECT_EQ(seen[0].content_type, "application/x-www-form-urlencoded; charset=utf-8");
  auto form = formFields(seen[0].body);
  EXPECT_EQ(form["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/tollgate");
  EXPECT_EQ(form["RoleSessionName"], "gw session");
  EXPECT_EQ(form["WebIdentityToken"], kWebToken);
  EXPECT_EQ(seen[0].body.find("arn:aws"), std::string::npos);  // encoded: ':' → %3A

  // Default session name; AWS_ENDPOINT_URL serves when there is no STS-specific override.
  env.unset("AWS_ROLE_SESSION_NAME");
  env.unset("AWS_ENDPOINT_URL_STS");
  env.set("AWS_ENDPOINT_URL", sts.url("/sts"));
  ChainOptions opts;
  opts.clock = [] { return kT0; };
  r = runGet(io, *makeWebIdentityProvider(io, env, opts));
  ASSERT_TRUE(r) << r.error().detail;
  seen = sts.seen();
  EXPECT_EQ(seen.back().target, "/sts");
  EXPECT_EQ(formFields(seen.back().body)["RoleSessionName"],
            "tollgate-" + std::to_string(SysClock::to_time_t(kT0)));
}

TEST(WebIdentitySource, StsErrorsNameCodeAndMessageNeverTheToken) {
  FakeServer sts;
  sts.respond([](const FakeServer::Seen& s) {
    // A misbehaving endpoint that echoes the token it got.
    return FakeServer::Answer{
        400,
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
        "<Message>Incorrect token audience &amp; " +
            formFields(s.body)["WebIdentityToken"] + "</Message></Error></ErrorResponse>"};
  });
  TempDir dir;
  asio::io_context io;
  Environment env{{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.write("t", kWebToken)},
                  {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"},
                  {"AWS_ENDPOINT_URL_STS", sts.url("/")}};
  auto r = runGet(io, *makeWebIdentityProvider(io, env, ChainOptions{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r at " + sts.url("/") +
                ": HTTP 400 InvalidIdentityToken: Incorrect token audience & [redacted]");
  expectNoSecrets(r.error());

  sts.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, "<Credentials><AccessKeyId>A</AccessKeyId></Credentials>"};
  });
  r = runGet(io, *makeWebIdentityProvider(io, env, ChainOptions{}));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().detail.ends_with(
      ": the answer lacks AccessKeyId, SecretAccessKey, SessionToken or Expiration"))
      << r.error().detail;
}

TEST(WebIdentitySource, ConfigurationErrors) {
  asio::io_context io;
  TempDir dir;
  std::string token = dir.write("t", kWebToken);
  struct Case {
    Environment env;
    ChainOptions opts;
    std::string error;
  };
  ChainOptions eu;
  eu.region = "eu-central-1";
  for (Case& c : std::vector<Case>{
           {Environment{}, {}, "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set"},
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", token}},
            {},
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"},
           {Environment{{"AWS_ROLE_ARN", "arn:x"}},
            {},
            "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"},
           // Real STS is https: without a TLS context (tests pass none) that is a clear error.
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", token},
                        {"AWS_ROLE_ARN", "arn:x"},
                        {"AWS_REGION", "us-west-2"}},
            {},
            "cannot call STS at https://sts.us-west-2.amazonaws.com/: no TLS context configured "
            "for https"},
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", token},
                        {"AWS_ROLE_ARN", "arn:x"},
                        {"AWS_REGION", "us-west-2"}},
            eu,
            "cannot call STS at https://sts.eu-central-1.amazonaws.com/: no TLS context "
            "configured for https"},
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", token},
                        {"AWS_ROLE_ARN", "arn:x"},
                        {"AWS_DEFAULT_REGION", "cn-north-1"}},
            {},
            "cannot call STS at https://sts.cn-north-1.amazonaws.com.cn/: no TLS context "
            "configured for https"},
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", token},
                        {"AWS_ROLE_ARN", "arn:x"},
                        {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/"},
                        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}},
            {},
            "cannot call STS at https://sts.amazonaws.com/: no TLS context configured for "
            "https"},
           {Environment{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"},
                        {"AWS_ROLE_ARN", "arn:x"},
                        {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/"}},
            {},
            "AWS_WEB_IDENTITY_TOKEN_FILE: cannot read /nonexistent/token: No such file or "
            "directory"},
       }) {
    auto r = runGet(io, *makeWebIdentityProvider(io, c.env, c.opts));
    ASSERT_FALSE(r) << c.error;
    EXPECT_EQ(r.error().detail, c.error);
    expectNoSecrets(r.error());
  }
}

// ---------------------------------------------------------------------------------------------
// The chain

TEST(DefaultChain, NothingFoundIsOneErrorNamingEverySource) {
  TempDir home;
  asio::io_context io;
  auto chain = makeDefaultChain(io, Environment{{"HOME", home.path()}});
  auto r = runGet(io, *chain);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().public_message, "internal error");
  EXPECT_EQ(r.error().detail,
            "no AWS credentials found, tried in order: "
            "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set; "
            "shared config files: profile 'default' not found (" +
                home.path() + "/.aws/credentials does not exist; " + home.path() +
                "/.aws/config does not exist); "
                "container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                "AWS_CONTAINER_CREDENTIALS_FULL_URI not set; "
                "web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set");
}

TEST(DefaultChain, FailuresOfConfiguredSourcesAreAllReportedWithoutSecrets) {
  TempDir home;
  home.write(".aws/credentials", "[default]\naws_secret_access_key=" + std::string(kSecret) + "\n");
  asio::io_context io;
  auto chain = makeDefaultChain(
      io, Environment{{"HOME", home.path()},
                      {"AWS_SECRET_ACCESS_KEY", std::string(kSecret)},
                      {"AWS_SESSION_TOKEN", std::string(kSessionToken)},
                      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.168.1.1/creds"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string(kContainerToken)},
                      {"AWS_WEB_IDENTITY_TOKEN_FILE", home.write("t", kWebToken)},
                      {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"},
                      {"AWS_REGION", "us-east-1"}});
  auto r = runGet(io, *chain);
  ASSERT_FALSE(r);
  const std::string& d = r.error().detail;
  EXPECT_NE(d.find("environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("shared config files: profile 'default' in " + home.path() +
                   "/.aws/credentials has no aws_access_key_id"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("container credentials endpoint: AWS_CONTAINER_CREDENTIALS_FULL_URI host "
                   "'192.168.1.1' is not allowed"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("web identity (IRSA): cannot call STS at https://sts.us-east-1.amazonaws.com"),
            std::string::npos)
      << d;
  expectNoSecrets(r.error());
}

TEST(DefaultChain, PrecedenceEnvThenFilesThenContainerThenWebIdentity) {
  FakeServer container;
  container.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, containerJson("FROMCONTAINER", kT0 + 6h)};
  });
  FakeServer sts;
  sts.respond([](const FakeServer::Seen&) {
    return FakeServer::Answer{200, stsXml("FROMSTS", kT0 + 1h)};
  });
  TempDir home;
  home.write(".aws/credentials",
             "[default]\naws_access_key_id=FROMFILE\naws_secret_access_key=S\n");
  ChainOptions opts;
  opts.clock = [] { return kT0; };
  Environment env{{"HOME", home.path()},
                  {"AWS_ACCESS_KEY_ID", "FROMENV"},
                  {"AWS_SECRET_ACCESS_KEY", "S"},
                  {"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url("/c")},
                  {"AWS_WEB_IDENTITY_TOKEN_FILE", home.write("t", kWebToken)},
                  {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"},
                  {"AWS_ENDPOINT_URL_STS", sts.url("/")}};
  asio::io_context io;
  auto first = [&] {
    auto r = runGet(io, *makeDefaultChain(io, env, opts));
    return r ? r->access_key_id : "error: " + r.error().detail;
  };
  EXPECT_EQ(first(), "FROMENV");
  env.unset("AWS_ACCESS_KEY_ID");
  env.unset("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(first(), "FROMFILE");
  env.set("HOME", "/nonexistent-home");
  EXPECT_EQ(first(), "FROMCONTAINER");
  // A configured source that fails does not stop the chain.
  env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI",
          "http://127.0.0.1:" + std::to_string(closedPort()) + "/c");
  EXPECT_EQ(first(), "FROMSTS");
  EXPECT_EQ(container.seen().size(), 1u);
  EXPECT_EQ(sts.seen().size(), 1u);
}

TEST(DefaultChain, CachesAndRefreshesFiveMinutesBeforeExpiry) {
  FakeServer container;
  std::atomic<int> served{0};
  std::atomic<bool> failing{false};
  container.respond([&](const FakeServer::Seen&) {
    if (failing) return FakeServer::Answer{500, R"({"code":"Down","message":"agent down"})"};
    int n = ++served;
    return FakeServer::Answer{200, containerJson("KEY" + std::to_string(n), kT0 + n * 1h)};
  });
  SysClock::time_point now = kT0;
  ChainOptions opts;
  opts.clock = [&] { return now; };
  asio::io_context io;
  auto chain = makeDefaultChain(
      io, Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url("/c")}}, opts);

  auto key = [&] {
    auto r = runGet(io, *chain);
    return r ? r->access_key_id : "error: " + r.error().detail;
  };
  EXPECT_EQ(key(), "KEY1");  // valid until T0+1h
  now = kT0 + 30min;
  EXPECT_EQ(key(), "KEY1");
  now = kT0 + 54min + 59s;
  EXPECT_EQ(key(), "KEY1");
  EXPECT_EQ(served.load(), 1);
  // 5 minutes before expiry: this request still signs with KEY1 (it does not wait) while a
  // background refresh fetches KEY2 (runGet runs the loop until that refresh is done too).
  now = kT0 + 55min;
  EXPECT_EQ(key(), "KEY1");
  EXPECT_EQ(served.load(), 2);
  EXPECT_EQ(key(), "KEY2");  // valid until T0+2h
  EXPECT_EQ(served.load(), 2);

  // A failed refresh keeps serving the cached credentials while they still work...
  failing = true;
  now = kT0 + 1h + 57min;
  EXPECT_EQ(key(), "KEY2");
  EXPECT_EQ(container.seen().size(), 3u);
  // ...without asking the failing source again on every request (at most every 30 s)...
  now += 10s;
  EXPECT_EQ(key(), "KEY2");
  EXPECT_EQ(container.seen().size(), 3u);
  now += 30s;
  EXPECT_EQ(key(), "KEY2");
  EXPECT_EQ(container.seen().size(), 4u);
  // ...and reports the failure once they have expired.
  now = kT0 + 2h;
  std::string err = key();
  EXPECT_TRUE(err.starts_with("error: no AWS credentials found, tried in order: "));
  EXPECT_NE(err.find("HTTP 500 Down: agent down"), std::string::npos) << err;
  // Recovers when the source does.
  failing = false;
  EXPECT_EQ(key(), "KEY3");
}

TEST(DefaultChain, ConcurrentCallersShareOneRefresh) {
  FakeServer container;
  std::atomic<int> served{0};
  container.delay_ms = 100;
  container.respond([&](const FakeServer::Seen&) {
    ++served;
    return FakeServer::Answer{200, containerJson("SHARED", kT0 + 1h)};
  });
  ChainOptions opts;
  opts.clock = [] { return kT0; };
  asio::io_context io;
  auto chain = makeDefaultChain(
      io, Environment{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url("/c")}}, opts);
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto task = [&]() -> asio::awaitable<void> {
      auto r = co_await chain->get();
      got.push_back(r ? r->access_key_id : r.error().detail);
    };
    asio::co_spawn(io, task, [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"SHARED", "SHARED", "SHARED"}));
  EXPECT_EQ(served.load(), 1);
}

// Counts fetches; what it yields is set by the test.
class ScriptedProvider : public CredentialProvider {
 public:
  std::string_view name() const override { return "scripted"; }
  asio::awaitable<Result<AwsCredentials>> get() override {
    ++calls;
    co_return next;
  }
  int calls = 0;
  Result<AwsCredentials> next = AwsCredentials{};
};

TEST(Cache, LongTermCredentialsAreKeptAndShortLivedOnesUsedForHalfTheirLife) {
  SysClock::time_point now = kT0;
  ChainOptions opts;
  opts.clock = [&] { return now; };
  asio::io_context io;

  auto scripted = std::make_unique<ScriptedProvider>();
  ScriptedProvider* s = scripted.get();
  s->next = AwsCredentials{"LONG", "S", "", std::nullopt};
  auto cache = makeCachingProvider(io, std::move(scripted), opts);
  ASSERT_TRUE(runGet(io, *cache));
  now = kT0 + 24h * 365;
  ASSERT_TRUE(runGet(io, *cache));
  EXPECT_EQ(s->calls, 1);

  // Credentials valid for 4 minutes (less than the 5-minute margin): not refetched on every call.
  scripted = std::make_unique<ScriptedProvider>();
  s = scripted.get();
  now = kT0;
  s->next = AwsCredentials{"SHORT", "S", "T", kT0 + 4min};
  cache = makeCachingProvider(io, std::move(scripted), opts);
  ASSERT_TRUE(runGet(io, *cache));
  now = kT0 + 1min;
  ASSERT_TRUE(runGet(io, *cache));
  EXPECT_EQ(s->calls, 1);
  now = kT0 + 2min;
  ASSERT_TRUE(runGet(io, *cache));
  EXPECT_EQ(s->calls, 2);
}

// A source whose answers wait until the test opens the gate: shows who waits for a refresh.
class GatedProvider : public CredentialProvider {
 public:
  explicit GatedProvider(asio::io_context& io) : gate_(io) {}
  std::string_view name() const override { return "gated"; }
  asio::awaitable<Result<AwsCredentials>> get() override {
    ++calls;
    if (closed) {
      gate_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return next;
  }
  void open() {
    closed = false;
    gate_.cancel();
  }
  bool closed = false;
  int calls = 0;
  AwsCredentials next;

 private:
  asio::steady_timer gate_;
};

TEST(Cache, RequestsNeverWaitForARefreshWhileTheCachedCredentialsAreValid) {
  SysClock::time_point now = kT0;
  ChainOptions opts;
  opts.clock = [&] { return now; };
  asio::io_context io;
  auto gated = std::make_unique<GatedProvider>(io);
  GatedProvider* g = gated.get();
  g->next = AwsCredentials{"FIRST", "S", "T", kT0 + 1h};
  auto cache = makeCachingProvider(io, std::move(gated), opts);
  ASSERT_EQ(runGet(io, *cache)->access_key_id, "FIRST");

  // Past the refresh point with the source hanging: every request is answered at once from the
  // cache, and only one refresh is in flight.
  now = kT0 + 56min;
  g->closed = true;
  g->next = AwsCredentials{"SECOND", "S", "T", kT0 + 2h};
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto task = [&]() -> asio::awaitable<void> {
      auto r = co_await cache->get();
      got.push_back(r ? r->access_key_id : r.error().detail);
    };
    asio::co_spawn(io, task, asio::detached);
  }
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"FIRST", "FIRST", "FIRST"}));
  EXPECT_EQ(g->calls, 2);

  g->open();
  io.poll();
  EXPECT_EQ(runGet(io, *cache)->access_key_id, "SECOND");
  EXPECT_EQ(g->calls, 2);

  // Once expired, a request has no choice but to wait for the source.
  now = kT0 + 2h;
  g->next = AwsCredentials{"THIRD", "S", "T", kT0 + 3h};
  EXPECT_EQ(runGet(io, *cache)->access_key_id, "THIRD");
  EXPECT_EQ(g->calls, 3);
}

TEST(Chain, SkipsCredentialsThatAlreadyExpired) {
  ChainOptions opts;
  opts.clock = [] { return kT0; };
  std::vector<std::unique_ptr<CredentialProvider>> sources;
  sources.push_back(makeStaticProvider(AwsCredentials{"OLD", "S", "T", kT0 - 1s}));
  sources.push_back(makeStaticProvider(AwsCredentials{"NEW", "S", "T", kT0 + 1h}));
  asio::io_context io;
  auto chain = makeChainProvider(std::move(sources), opts);
  auto r = runGet(io, *chain);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->access_key_id, "NEW");
}

TEST(EnvironmentMap, SnapshotOfTheProcessAndEmptyMeansUnset) {
  Environment env = Environment::process();
  const char* path = std::getenv("PATH");
  EXPECT_EQ(env.get("PATH"), path && *path ? std::optional<std::string>(path) : std::nullopt);
  env.set("EMPTY", "");
  EXPECT_EQ(env.get("EMPTY"), std::nullopt);
  env.set("SET", "v");
  EXPECT_EQ(env.get("SET"), "v");
  env.unset("SET");
  EXPECT_EQ(env.get("SET"), std::nullopt);
}

}  // namespace
}  // namespace tollgate::auth
