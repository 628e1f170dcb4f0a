// Helpers shared by the AWS credential provider files (aws_*.cc in this folder); not for other
// modules, which use aws_credentials.h. Same rules as there: nothing here logs or returns a
// secret, and the HTTP helpers run on the io_context of the pool they are given.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "auth/aws_credentials.h"
#include "common/error.h"
#include "common/url.h"

namespace tollgate::upstream {
class Pool;
struct OutgoingRequest;
}  // namespace tollgate::upstream

namespace tollgate::auth::detail {

using SysClock = std::chrono::system_clock;

inline constexpr std::string_view kTlsUnsupported = "no TLS context configured for https";

// Every provider failure is an internal error whose detail says why (never a secret).
inline Error fail(std::string detail) { return Error::internal(std::move(detail)); }

// ---- Text (aws_ini.cc) ----------------------------------------------------------------------

inline bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
std::string_view trim(std::string_view s);

// ---- Files (aws_env_and_files.cc) -----------------------------------------------------------

Result<std::string> readFile(const std::string& path);  // at most 1 MiB
bool fileExists(const std::string& path);
// "~/x" → "$HOME/x", as the SDKs expand the file variables; nullopt when HOME is needed but unset.
std::optional<std::string> expandHome(std::string path, const Environment& env);

// ---- Time (aws_credential_chain.cc) ---------------------------------------------------------

SysClock::time_point now(const ChainOptions& opts);  // opts.clock, else the system clock
std::string formatTime(SysClock::time_point t);      // "2015-08-30T12:36:00Z"

// ---- Remote endpoints (aws_credential_http.cc) ----------------------------------------------

// An http:// or https:// URL without userinfo (which would make "http://127.0.0.1@evil.example/"
// look local to a careless check); nullopt for anything else.
std::optional<Url> parseHttpUrl(std::string_view url);
inline bool isHttps(const Url& url) { return url.scheme == "https"; }

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One GET/POST through the project's upstream client, body at most 64 KiB; retried once when the
// error says nothing was received (connect refused/reset).
boost::asio::awaitable<Result<HttpResponse>> http(upstream::Pool& pool, const Url& url,
                                                  const upstream::OutgoingRequest& req,
                                                  std::chrono::milliseconds timeout);
// A pool for a provider that calls its endpoint about once an hour: no idle connections kept.
// A shared_ptr, whose deleter is made here, so that the providers' files need not see Pool.
std::shared_ptr<upstream::Pool> makePool(boost::asio::io_context& io, const ChainOptions& opts);

// A provider that fetches from an HTTP endpoint (container, web identity): its environment and
// options, and a pool of its own.
class RemoteProvider : public CredentialProvider {
 public:
  RemoteProvider(boost::asio::io_context& io, Environment env, ChainOptions opts)
      : env_(std::move(env)), opts_(std::move(opts)), pool_(makePool(io, opts_)) {}

 protected:
  Environment env_;
  ChainOptions opts_;
  std::shared_ptr<upstream::Pool> pool_;  // a shared_ptr: destroyed where Pool is complete
};

// Replaces every occurrence of each secret in `text`: remote error messages are copied into
// details, and a misbehaving endpoint could echo what it was sent.
std::string redact(std::string text, std::initializer_list<std::string_view> secrets);
// A remote message, shortened and made printable, for a detail line.
std::string printable(std::string_view s, size_t max = 300);

}  // namespace tollgate::auth::detail
