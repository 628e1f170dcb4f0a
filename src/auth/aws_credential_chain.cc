#include "auth/aws_credentials_internal.h"
#include "common/log.h"

namespace tollgate::auth {

namespace asio = boost::asio;
using detail::fail;
using detail::formatTime;
using detail::now;

namespace {

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

}  // namespace

detail::SysClock::time_point detail::now(const ChainOptions& opts) {
  return opts.clock ? opts.clock() : SysClock::now();
}

std::string detail::formatTime(SysClock::time_point t) {
  std::string d = formatAmzDate(t);  // 20150830T123600Z
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" + d.substr(9, 2) + ":" +
         d.substr(11, 2) + ":" + d.substr(13, 2) + "Z";
}

std::unique_ptr<CredentialProvider> makeStaticProvider(AwsCredentials creds) {
  return std::make_unique<StaticProvider>(std::move(creds));
}

std::unique_ptr<CredentialProvider> makeChainProvider(
    std::vector<std::unique_ptr<CredentialProvider>> providers, ChainOptions opts) {
  return std::make_unique<ChainProvider>(std::move(providers), std::move(opts));
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
