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

// One host[:port] (IPv6 in brackets) of the URL's host list.
std::optional<RedisNode> parseNode(std::string_view hostport) {
  RedisNode n;
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    n.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(n.host, ec);
    if (ec) return std::nullopt;
  } else {
    size_t colon = hostport.find(':');
    n.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (n.host.empty() || n.host.find_first_of(" \t@[]") != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    uint32_t p = 0;
    if (!parseDecimal(port, p) || p == 0 || p > 65535) return std::nullopt;
    n.port = static_cast<uint16_t>(p);
  }
  return n;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::vector<RedisNode> RedisOptions::nodes() const {
  std::vector<RedisNode> out{{host, port}};
  out.insert(out.end(), more_nodes.begin(), more_nodes.end());
  return out;
}

std::optional<RedisOptions> parseRedisUrl(std::string_view url) {
  RedisOptions o;
  std::string_view rest;
  if (startsWithNoCase(url, "redis://")) {
    rest = url.substr(8);
  } else if (startsWithNoCase(url, "rediss://")) {
    rest = url.substr(9);
    o.tls.enabled = true;
  } else {
    return std::nullopt;
  }
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;
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
  std::string_view hosts = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hosts = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  bool first = true;
  while (true) {
    size_t comma = hosts.find(',');
    auto node = parseNode(hosts.substr(0, comma));
    if (!node) return std::nullopt;
    if (first) {
      o.host = std::move(node->host);
      o.port = node->port;
      first = false;
    } else {
      o.more_nodes.push_back(std::move(*node));
    }
    if (comma == std::string_view::npos) break;
    hosts = hosts.substr(comma + 1);
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
