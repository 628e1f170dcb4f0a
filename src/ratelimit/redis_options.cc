#include "ratelimit/redis_options.h"

#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <utility>

#include "common/numbers.h"

namespace tollgate::ratelimit {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hexValue(s[i + 1]);
    int lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<RedisOptions> parseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  RedisOptions o;
  // The last '@' ends the user info, so a password may hold an unescaped '@' or '/'.
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = info.find(':');
    // A lone "name@" is ambiguous (a username to some clients, a password to others): refuse it
    // rather than guess and then connect without credentials.
    if (colon == std::string_view::npos) return std::nullopt;
    auto user = percentDecode(info.substr(0, colon));
    auto pass = percentDecode(info.substr(colon + 1));
    if (!user || !pass || pass->empty()) return std::nullopt;
    o.username = std::move(*user);
    o.password = std::move(*pass);
  }
  std::string_view hostport = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    o.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(o.host, ec);
    if (ec) return std::nullopt;
  } else {
    size_t colon = hostport.find(':');
    o.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (o.host.empty() || o.host.find_first_of(" \t@[]") != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    uint32_t p = 0;
    if (!parseDecimal(port, p) || p == 0 || p > 65535) return std::nullopt;
    o.port = static_cast<uint16_t>(p);
  }
  if (!path.empty()) {
    int db = 0;
    if (!parseDecimal(path, db) || db < 0) return std::nullopt;
    o.db = db;
  }
  return o;
}

std::string formatEndpoint(const RedisOptions& o) {
  bool v6 = o.host.find(':') != std::string::npos;
  std::string s = v6 ? "[" + o.host + "]" : o.host;
  s += ":" + std::to_string(o.port);
  if (o.db != 0) s += "/" + std::to_string(o.db);
  return s;
}

}  // namespace tollgate::ratelimit
