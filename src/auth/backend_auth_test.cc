#include "auth/backend_auth.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "auth/aws_credentials.h"
#include "auth/aws_sigv4_auth.h"
#include "auth/sigv4.h"
#include "config/model.h"
#include "upstream/client.h"

namespace tollgate::auth {
namespace {

namespace asio = boost::asio;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSessionToken = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";

std::optional<Error> runApply(const BackendAuth& auth, upstream::OutgoingRequest& out,
                              const upstream::UpstreamTarget& target,
                              const LoopCredentials& loop = {}) {
  asio::io_context io;
  std::optional<std::optional<Error>> result;
  auto task = [&]() -> asio::awaitable<void> {
    result.emplace(co_await auth.apply(out, target, loop));
  };
  asio::co_spawn(io, task, [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  EXPECT_TRUE(result.has_value());
  return result.value_or(Error::internal("apply did not complete"));
}

upstream::OutgoingRequest bedrockRequest() {
  upstream::OutgoingRequest out;
  out.method = "POST";
  out.target = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse?x=1";
  out.headers = {{"content-type", "application/json"}, {"x-request-id", "req-1"}};
  out.body = R"({"messages":[]})";
  return out;
}

upstream::UpstreamTarget bedrockTarget() {
  upstream::UpstreamTarget target;
  target.host = "bedrock-runtime.us-east-1.amazonaws.com";
  target.port = 443;
  target.tls = true;
  return target;
}

AwsCredentials staticCredentials() {
  AwsCredentials c;
  c.access_key_id = std::string(kAccessKey);
  c.secret_access_key = std::string(kSecretKey);
  c.session_token = std::string(kSessionToken);
  return c;
}

std::string header(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

// What signRequest gives for `out` at the time the auth wrote into x-amz-date, with the headers
// the auth saw (those before its own).
Headers signedDirectly(const upstream::OutgoingRequest& before,
                       const upstream::OutgoingRequest& after,
                       const upstream::UpstreamTarget& target, const AwsCredentials& creds) {
  const std::string amz_date = header(after.headers, "x-amz-date");  // 20150830T123600Z
  EXPECT_EQ(amz_date.size(), 16u);
  auto when = parseIso8601(amz_date.substr(0, 4) + "-" + amz_date.substr(4, 2) + "-" +
                           amz_date.substr(6, 2) + "T" + amz_date.substr(9, 2) + ":" +
                           amz_date.substr(11, 2) + ":" + amz_date.substr(13, 2) + "Z");
  EXPECT_TRUE(when.has_value());
  SignRequest sr;
  sr.method = before.method;
  const auto q = before.target.find('?');
  sr.path = before.target.substr(0, q);
  sr.query = before.target.substr(q + 1);
  sr.headers = before.headers;
  sr.headers.emplace_back("host", target.hostHeader());
  sr.body = before.body;
  SignOptions so;
  so.region = "us-east-1";
  so.service = "bedrock";
  so.now = when.value_or(std::chrono::system_clock::time_point{});
  signRequest(sr, creds, so);
  Headers out;
  for (auto& h : sr.headers)
    if (h.first != "host") out.push_back(std::move(h));
  return out;
}

config::BackendSecurityPolicy policy(config::SecurityType type, std::string api_key = {}) {
  config::BackendSecurityPolicy p;
  p.origin.file = "policies.yaml";
  p.origin.kind = "BackendSecurityPolicy";
  p.origin.ns = "default";
  p.origin.name = "creds";
  p.origin.line = 7;
  p.type = type;
  p.api_key = std::move(api_key);
  return p;
}

TEST(HeaderKeyAuth, EachKindAppendsItsHeaderAfterTheOthers) {
  struct Case {
    std::unique_ptr<const BackendAuth> auth;
    std::string name;
    std::string value;
  };
  Case cases[] = {{makeApiKeyAuth("sk-1"), "authorization", "Bearer sk-1"},
                  {makeAnthropicKeyAuth("sk-ant-1"), "x-api-key", "sk-ant-1"},
                  {makeAzureKeyAuth("az-1"), "api-key", "az-1"}};
  for (const Case& c : cases) {
    upstream::OutgoingRequest out;
    out.headers = {{"content-type", "application/json"}, {"x-request-id", "r"}};
    EXPECT_TRUE(c.auth->replacesClientCredentials()) << c.name;
    EXPECT_FALSE(runApply(*c.auth, out, {}).has_value()) << c.name;
    const Headers want = {
        {"content-type", "application/json"}, {"x-request-id", "r"}, {c.name, c.value}};
    EXPECT_EQ(out.headers, want) << c.name;
  }
}

TEST(MakeBackendAuth, OneAuthPerKindAndNoneWithoutCredentials) {
  std::vector<config::Diagnostic> errors;
  const std::pair<config::SecurityType, std::string> kinds[] = {
      {config::SecurityType::kAPIKey, "authorization"},
      {config::SecurityType::kAnthropicAPIKey, "x-api-key"},
      {config::SecurityType::kAzureAPIKey, "api-key"}};
  for (const auto& [type, name] : kinds) {
    auto auth = makeBackendAuth(policy(type, "key"), errors);
    ASSERT_NE(auth, nullptr) << name;
    upstream::OutgoingRequest out;
    EXPECT_FALSE(runApply(*auth, out, {}).has_value());
    ASSERT_EQ(out.headers.size(), 1u);
    EXPECT_EQ(out.headers[0].first, name);
    // A key policy whose Secret gave nothing: the client's credentials pass through.
    EXPECT_EQ(makeBackendAuth(policy(type), errors), nullptr) << name;
  }
  EXPECT_EQ(makeBackendAuth(policy(config::SecurityType::kUnknown, "key"), errors), nullptr);
  auto aws = makeBackendAuth(policy(config::SecurityType::kAWSCredentials), errors);
  ASSERT_NE(aws, nullptr);
  EXPECT_TRUE(aws->replacesClientCredentials());
  EXPECT_TRUE(errors.empty());
}

TEST(AwsSigV4Auth, StaticCredentialsSignAsSignRequestDoes) {
  const AwsCredentials creds = staticCredentials();
  auto auth = makeAwsSigV4Auth("us-east-1", creds);
  const upstream::OutgoingRequest before = bedrockRequest();
  upstream::OutgoingRequest out = bedrockRequest();
  // The default chain is not asked when the policy has its own credentials.
  LoopCredentials loop;
  loop.aws_default_chain = []() -> CredentialProvider* {
    ADD_FAILURE() << "default chain used";
    return nullptr;
  };
  EXPECT_FALSE(runApply(*auth, out, bedrockTarget(), loop).has_value());
  EXPECT_EQ(out.headers, signedDirectly(before, out, bedrockTarget(), creds));
  EXPECT_EQ(out.target, before.target);
  EXPECT_EQ(header(out.headers, "host"), "");  // the upstream client writes Host itself
  EXPECT_EQ(header(out.headers, "x-amz-security-token"), kSessionToken);
  EXPECT_TRUE(
      header(out.headers, "authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
  EXPECT_NE(header(out.headers, "authorization").find("/us-east-1/bedrock/aws4_request"),
            std::string::npos);
}

TEST(AwsSigV4Auth, ASignatureTheRequestCarriedIsReplaced) {
  auto auth = makeAwsSigV4Auth("us-east-1", staticCredentials());
  upstream::OutgoingRequest out = bedrockRequest();
  out.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 client's own");
  out.headers.emplace_back("x-amz-date", "20000101T000000Z");
  EXPECT_FALSE(runApply(*auth, out, bedrockTarget()).has_value());
  int authorization = 0;
  for (const auto& [n, v] : out.headers) {
    authorization += n == "authorization";
    EXPECT_NE(v, "AWS4-HMAC-SHA256 client's own");
    EXPECT_NE(v, "20000101T000000Z");
  }
  EXPECT_EQ(authorization, 1);
}

TEST(AwsSigV4Auth, DefaultChainOfTheCallingLoop) {
  AwsCredentials chain_creds = staticCredentials();
  chain_creds.access_key_id = "AKIDFROMCHAIN";
  auto provider = makeStaticProvider(chain_creds);
  LoopCredentials loop;
  loop.aws_default_chain = [&] { return provider.get(); };
  auto auth = makeAwsSigV4Auth("us-east-1", std::nullopt);
  const upstream::OutgoingRequest before = bedrockRequest();
  upstream::OutgoingRequest out = bedrockRequest();
  EXPECT_FALSE(runApply(*auth, out, bedrockTarget(), loop).has_value());
  EXPECT_EQ(out.headers, signedDirectly(before, out, bedrockTarget(), chain_creds));
}

class FailingProvider final : public CredentialProvider {
 public:
  asio::awaitable<Result<AwsCredentials>> get() override {
    co_return Error::internal("no AWS credentials found, tried in order: environment: unset");
  }
  std::string_view name() const override { return "failing"; }
};

TEST(AwsSigV4Auth, NoCredentialsFailsTheAttemptAndTheNextCandidateIsTried) {
  FailingProvider provider;
  LoopCredentials loop;
  loop.aws_default_chain = [&] { return &provider; };
  auto auth = makeAwsSigV4Auth("us-east-1", std::nullopt);
  upstream::OutgoingRequest out = bedrockRequest();
  auto err = runApply(*auth, out, bedrockTarget(), loop);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, ErrorCode::kNoBackend);
  EXPECT_TRUE(err->retryable);
  EXPECT_EQ(err->public_message, "the gateway has no AWS credentials for this backend");
  EXPECT_EQ(err->detail,
            "AWS credentials: no AWS credentials found, tried in order: environment: unset");
}

TEST(AwsSigV4Auth, NoChainOnThisThreadFailsTheRequest) {
  auto auth = makeAwsSigV4Auth("us-east-1", std::nullopt);
  upstream::OutgoingRequest out = bedrockRequest();
  for (const LoopCredentials& loop : {LoopCredentials{}, LoopCredentials{[] {
                                        return static_cast<CredentialProvider*>(nullptr);
                                      }}}) {
    auto err = runApply(*auth, out, bedrockTarget(), loop);
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code, ErrorCode::kInternal);
    EXPECT_FALSE(err->retryable);
    EXPECT_EQ(err->detail, "no AWS credential provider on this thread");
  }
}

TEST(AwsSigV4Auth, CredentialsFileProfileIsParsedOnceAtBuildTime) {
  auto p = policy(config::SecurityType::kAWSCredentials);
  p.aws.region = "us-east-1";
  p.aws.credentials_profile = "bedrock";
  p.aws.credentials_file_content =
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = x\n"
      "[bedrock]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " +
      std::string(kSecretKey) + "\naws_session_token = " + std::string(kSessionToken) + "\n";
  std::vector<config::Diagnostic> errors;
  auto auth = makeBackendAuth(p, errors);
  ASSERT_NE(auth, nullptr);
  EXPECT_TRUE(errors.empty());
  const upstream::OutgoingRequest before = bedrockRequest();
  upstream::OutgoingRequest out = bedrockRequest();
  EXPECT_FALSE(runApply(*auth, out, bedrockTarget()).has_value());  // no chain needed
  EXPECT_EQ(out.headers, signedDirectly(before, out, bedrockTarget(), staticCredentials()));
}

TEST(AwsSigV4Auth, UnusableCredentialsFileIsReportedAndTheChainIsUsed) {
  struct Case {
    std::string content;
    std::string profile;
    std::string message;
  };
  const Case cases[] = {
      {"[default]\naws_access_key_id = AKID\nnot a key line\n", "",
       "internal error BackendSecurityPolicy default/creds credentialsFile line 3: expected "
       "'key = value'"},
      {"[default]\naws_access_key_id = AKID\n", "",
       "profile 'default' has no aws_access_key_id / aws_secret_access_key"},
      {"[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n", "other",
       "profile 'other' has no aws_access_key_id / aws_secret_access_key"},
  };
  for (const Case& c : cases) {
    auto p = policy(config::SecurityType::kAWSCredentials);
    p.aws.credentials_file_content = c.content;
    p.aws.credentials_profile = c.profile;
    std::vector<config::Diagnostic> errors;
    auto auth = makeBackendAuth(p, errors);
    ASSERT_NE(auth, nullptr);
    ASSERT_EQ(errors.size(), 1u) << c.message;
    EXPECT_EQ(errors[0].message, c.message);
    EXPECT_EQ(errors[0].file, "policies.yaml");
    EXPECT_EQ(errors[0].line, 7);
    EXPECT_EQ(errors[0].object, "BackendSecurityPolicy default/creds");
    EXPECT_EQ(errors[0].field, "spec.awsCredentials.credentialsFile");
    upstream::OutgoingRequest out = bedrockRequest();
    auto err = runApply(*auth, out, bedrockTarget());
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->detail, "no AWS credential provider on this thread");
  }
}

}  // namespace
}  // namespace tollgate::auth
