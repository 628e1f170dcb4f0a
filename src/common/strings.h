// Small string helpers used across modules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

bool iequals(std::string_view a, std::string_view b);
std::string toLower(std::string_view s);
// s without leading and trailing ASCII whitespace (space, tab, CR, LF); a view into s.
std::string_view trim(std::string_view s);
// Parses "HOST:PORT", "[::1]:PORT" (brackets removed from host). nullopt when malformed.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> parseHostPort(std::string_view s);
std::string formatHostPort(std::string_view host, uint16_t port);
// Appends s to out as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void appendJsonString(std::string& out, std::string_view s);
// The same, but an invalid UTF-8 sequence becomes U+FFFD (one per bad lead byte) instead of being
// copied: for text that carries client bytes (a model name, a user id) to a reader that rejects a
// whole request over one invalid sequence (an OTLP collector).
void appendJsonStringUtf8(std::string& out, std::string_view s);
// True when s has a byte that must never reach a header value (CR, LF, NUL).
bool hasHeaderBreakingChars(std::string_view s);
// A random 128-bit id as 32 lower-case hex characters (request ids).
std::string randomHexId();

}  // namespace tollgate
