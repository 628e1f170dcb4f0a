#include "auth/aws_sigv4_auth.h"

#include "auth/aws_credentials.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/model.h"
#include "upstream/target.h"

namespace tollgate::auth {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kService = "bedrock";  // the credential scope of bedrock-runtime

class AwsSigV4Auth final : public BackendAuth {
 public:
  AwsSigV4Auth(std::string region, std::optional<AwsCredentials> creds)
      : region_(std::move(region)), creds_(std::move(creds)) {}

  asio::awaitable<std::optional<Error>> apply(upstream::OutgoingRequest& out,
                                              const upstream::UpstreamTarget& target,
                                              const LoopCredentials& loop) const override {
    if (creds_) {
      sign(out, target, *creds_);
      co_return std::nullopt;
    }
    CredentialProvider* provider = loop.aws_default_chain ? loop.aws_default_chain() : nullptr;
    if (!provider) co_return Error::internal("no AWS credential provider on this thread");
    auto fetched = co_await provider->get();
    if (!fetched) {
      co_return Error::upstream(ErrorCode::kNoBackend,
                                "the gateway has no AWS credentials for this backend",
                                "AWS credentials: " + fetched.error().detail, true);
    }
    sign(out, target, fetched.value());
    co_return std::nullopt;
  }

 private:
  // The signer sees the headers as sent plus Host as the upstream client writes it, and adds
  // x-amz-date, x-amz-security-token and authorization.
  void sign(upstream::OutgoingRequest& out, const upstream::UpstreamTarget& target,
            const AwsCredentials& creds) const {
    SignRequest sr;
    sr.method = out.method;
    auto q = out.target.find('?');
    sr.path = out.target.substr(0, q);
    if (q != std::string::npos) sr.query = out.target.substr(q + 1);
    sr.headers = out.headers;
    sr.headers.emplace_back("host", target.hostHeader());
    sr.body = out.body;
    SignOptions so;
    so.region = region_;
    so.service = std::string(kService);
    so.now = std::chrono::system_clock::now();
    SigningDetails details;
    signRequest(sr, creds, so, &details);
    // The canonical request holds no secret; it is what to compare when AWS answers
    // SignatureDoesNotMatch.
    spdlog::trace("sigv4 canonical request:\n{}", details.canonical_request);
    out.headers.clear();
    for (auto& h : sr.headers)
      if (!iequals(h.first, "host")) out.headers.push_back(std::move(h));
  }

  std::string region_;
  std::optional<AwsCredentials> creds_;
};

// The credentials of the policy's credentialsFile, or the problem (file and line, never content).
std::optional<AwsCredentials> fileCredentials(const config::BackendSecurityPolicy& p,
                                              std::vector<config::Diagnostic>& errors) {
  const std::string where =
      "BackendSecurityPolicy " + p.origin.ns + "/" + p.origin.name + " credentialsFile";
  config::Diagnostic problem;
  problem.file = p.origin.file;
  problem.line = p.origin.line;
  problem.object = "BackendSecurityPolicy " + p.origin.ns + "/" + p.origin.name;
  problem.field = "spec.awsCredentials.credentialsFile";
  auto ini = parseIni(p.aws.credentials_file_content, where);
  if (!ini) {
    problem.message = ini.error().public_message + " " + ini.error().detail;
    errors.push_back(std::move(problem));
    return std::nullopt;
  }
  const std::string profile =
      p.aws.credentials_profile.empty() ? "default" : p.aws.credentials_profile;
  auto section = ini->find(profile);
  if (section == ini->end() || !section->second.count("aws_access_key_id") ||
      !section->second.count("aws_secret_access_key")) {
    problem.message = "profile '" + profile + "' has no aws_access_key_id / aws_secret_access_key";
    errors.push_back(std::move(problem));
    return std::nullopt;
  }
  AwsCredentials c;
  c.access_key_id = section->second.at("aws_access_key_id");
  c.secret_access_key = section->second.at("aws_secret_access_key");
  if (auto t = section->second.find("aws_session_token"); t != section->second.end())
    c.session_token = t->second;
  return c;
}

}  // namespace

std::unique_ptr<const BackendAuth> makeAwsSigV4Auth(const config::BackendSecurityPolicy& policy,
                                                    std::vector<config::Diagnostic>& errors) {
  std::optional<AwsCredentials> creds;
  if (!policy.aws.credentials_file_content.empty()) creds = fileCredentials(policy, errors);
  return makeAwsSigV4Auth(policy.aws.region, std::move(creds));
}

std::unique_ptr<const BackendAuth> makeAwsSigV4Auth(std::string region,
                                                    std::optional<AwsCredentials> creds) {
  return std::make_unique<AwsSigV4Auth>(std::move(region), std::move(creds));
}

}  // namespace tollgate::auth
