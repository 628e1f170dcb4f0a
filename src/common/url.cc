#include "common/url.h"

// Boost.URL is used header-only: Debian ships no compiled libboost_url, so its sources are
// compiled here, in this one translation unit (never include src.hpp anywhere else).
#include <boost/url/src.hpp>
#include <charconv>
#include <system_error>

#include "common/strings.h"

namespace tollgate {

namespace urls = boost::urls;

std::string Url::target() const {
  std::string out = path.empty() ? "/" : path;
  if (has_query) {
    out += '?';
    out += query;
  }
  return out;
}

std::string Url::text() const {
  std::string out = scheme + "://";
  if (ipv6) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  if (port != defaultPort(scheme)) {
    out += ':';
    out += std::to_string(port);
  }
  out += target();
  return out;
}

uint16_t defaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "redis" || scheme == "rediss") return 6379;
  return 0;
}

std::optional<Url> parseUrl(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Url> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto parsed = urls::parse_uri(urls::string_view(text.data(), text.size()));
  if (!parsed) return fail("not a URL (" + parsed.error().message() + ")");
  // Boost 1.81 takes the IPv4-looking start of a name ("127.0.0.1.nip.io") for the whole host and
  // leaves the rest as a path. Such a name is parsed again with a letter in front, which makes it
  // a name to the grammar, and the letter is dropped from the host afterwards.
  std::string patched;
  bool strip_first = false;
  if (parsed->host_type() == urls::host_type::ipv4 && !parsed->encoded_path().empty() &&
      parsed->encoded_path().front() != '/') {
    const size_t host_at = static_cast<size_t>(parsed->encoded_host().data() - text.data());
    patched = std::string(text.substr(0, host_at)) + "x" + std::string(text.substr(host_at));
    auto again = urls::parse_uri(patched);
    if (again && again->host_type() == urls::host_type::name) {
      parsed = again;
      strip_first = true;
    }
  }
  const urls::url_view& v = *parsed;
  if (!v.has_authority()) return fail("expected scheme://host");

  Url u;
  u.scheme = toLower(std::string_view(v.scheme().data(), v.scheme().size()));
  u.has_userinfo = v.has_userinfo();
  if (u.has_userinfo) {
    u.user = v.user();
    u.has_password = v.has_password();
    u.password = v.password();
  }
  switch (v.host_type()) {
    case urls::host_type::ipvfuture:
      return fail("unsupported IP literal");
    case urls::host_type::ipv6:
      u.ipv6 = true;
      break;
    default:
      break;
  }
  u.host = toLower(v.host_address());
  if (strip_first) u.host.erase(0, 1);
  if (u.host.empty()) return fail("no host");
  for (char c : u.host) {
    // A %-decoded name must still be one name: no separators, spaces or control bytes.
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f || c == '/' || c == '\\' || c == '@' || c == '?' || c == '#' ||
        (c == ':' && !u.ipv6)) {
      return fail("bad host");
    }
  }
  // Boost 1.81 ends the authority early on some bad input ("h:x", "127.0.0.1.nip.io" read as
  // 127.0.0.1) and leaves the rest as a path without its '/', which RFC 3986 forbids after an
  // authority: that is how such input is caught.
  if (!v.encoded_path().empty() && v.encoded_path().front() != '/') return fail("bad authority");
  u.port = defaultPort(u.scheme);
  if (v.has_port() && !v.port().empty()) {
    // port_number() wraps numbers past 16 bits, so the digits are read here.
    const std::string_view digits(v.port().data(), v.port().size());
    unsigned port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535)
      return fail("bad port " + std::string(digits));
    u.port = static_cast<uint16_t>(port);
    u.explicit_port = true;
  }
  u.path = std::string(v.encoded_path());
  u.has_query = v.has_query();
  if (u.has_query) u.query = std::string(v.encoded_query());
  u.has_fragment = v.has_fragment();
  return u;
}

}  // namespace tollgate
