// Absolute URLs as tollgate's side services are configured (AWS endpoints, the OTLP collector,
// kubeconfig servers, Redis): scheme://[userinfo@]host[:port][/path][?query][#fragment], parsed
// by Boost.URL (RFC 3986). Each caller then applies its own policy (which schemes, whether
// userinfo or a path may appear) and error wording. Pure functions: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

struct Url {
  std::string scheme;         // lower case
  bool has_userinfo = false;  // an '@' in the authority, even with nothing before it
  std::string user;           // %-decoded
  bool has_password = false;  // a ':' in the userinfo
  std::string password;       // %-decoded
  std::string host;           // lower case, %-decoded; an IPv6 literal without its brackets
  bool ipv6 = false;
  uint16_t port = 0;  // as written, else the scheme's default (0 when it has none)
  bool explicit_port = false;
  std::string path;  // as written (still %-encoded); empty or starting with '/'
  bool has_query = false;
  std::string query;  // as written, without the '?'
  bool has_fragment = false;

  // Path and query, as an HTTP request target: at least "/".
  std::string target() const;
  // scheme://host[:port]target for messages and logs: no userinfo (it may hold a secret), no
  // fragment, the default port left out, an IPv6 host in brackets.
  std::string text() const;
};

// 80 for http/ws, 443 for https/wss, 6379 for redis/rediss; 0 for other schemes.
uint16_t defaultPort(std::string_view scheme);

// Parses an absolute URL with an authority and a non-empty host; a port must be 1..65535 (an empty
// one, "host:", means the default, as RFC 3986 §6.2.3 says). On failure returns nullopt and, when
// `error` is given, says why in a few words.
std::optional<Url> parseUrl(std::string_view text, std::string* error = nullptr);

}  // namespace tollgate
