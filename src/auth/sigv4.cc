#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

#include "common/strings.h"

namespace tollgate::auth {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool isBlank(char c) { return c == ' ' || c == '\t'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trimBlank(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Trimmed, with every inner run of blanks turned into one space (the SigV4 header value rule).
std::string canonicalHeaderValue(std::string_view v) {
  v = trimBlank(v);
  std::string out;
  out.reserve(v.size());
  bool in_blank = false;
  for (char c : v) {
    if (isBlank(c)) {
      in_blank = true;
      continue;
    }
    if (in_blank) out += ' ';
    in_blank = false;
    out += c;
  }
  return out;
}

// Headers left out of the signature: the signature itself, and hop-by-hop or tracing headers that
// a proxy or the HTTP client may add, drop or rewrite on the way (the SDKs skip the same ones), so
// that they cannot break a signature that was right when it was made.
bool isUnsignedHeader(std::string_view lower_name) {
  static constexpr std::string_view kSkip[] = {
      "authorization",       "connection",       "expect",     "keep-alive",
      "proxy-authorization", "proxy-connection", "te",         "trailer",
      "transfer-encoding",   "upgrade",          "user-agent", "x-amzn-trace-id"};
  for (auto s : kSkip)
    if (s == lower_name) return true;
  return false;
}

// Encodes a path that is already in wire form only once: escapes stay, other bytes outside the
// unreserved set are escaped (the S3 rule, where the wire form is the canonical form).
std::string encodePathOnce(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c == '/' || isUnreserved(c)) {
      out += static_cast<char>(c);
    } else if (c == '%' && i + 2 < path.size() && hexValue(path[i + 1]) >= 0 &&
               hexValue(path[i + 2]) >= 0) {
      out += '%';
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(path[i + 1])));
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(path[i + 2])));
      i += 2;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  return out;
}

// RFC 3986 section 5.2.4 dot-segment removal, plus collapsing empty segments ("//"), which is
// what the non-S3 services compute on their side.
std::string normalizePath(std::string_view path) {
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    bool last = slash == path.size();
    if (seg.empty() || seg == ".") {
      // A path ending in "/", "/." or "/.." names a directory: keep the trailing slash.
      if (last) trailing_slash = true;
    } else if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      if (last) trailing_slash = true;
    } else {
      segments.push_back(seg);
      if (last) trailing_slash = false;
    }
    pos = slash + 1;
  }
  std::string out;
  out.reserve(path.size() + 1);
  for (auto seg : segments) {
    out += '/';
    out += seg;
  }
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

}  // namespace

std::string hexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHexLower[c >> 4];
    out += kHexLower[c & 0xf];
  }
  return out;
}

namespace {

// OpenSSL 3 looks a digest or MAC up by name (locks, string compares) on every one-shot call
// given EVP_sha256() or through HMAC(); fetched once here, signing a request costs about half.
const EVP_MD* sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// One HMAC-SHA256 context per thread, its digest set once; each use only sets the key.
struct HmacContext {
  EVP_MAC_CTX* ctx = nullptr;
  HmacContext() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  ~HmacContext() { EVP_MAC_CTX_free(ctx); }
};

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (sha256Md() == nullptr ||
      EVP_Digest(data.data(), data.size(), md, &len, sha256Md(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return hexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  thread_local HmacContext hmac;
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (hmac.ctx == nullptr ||
      EVP_MAC_init(hmac.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   nullptr) != 1 ||
      EVP_MAC_update(hmac.ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(hmac.ctx, md, &len, sizeof md) != 1) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string uriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (unsigned char c : s) {
    if (isUnreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  return out;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hexValue(s[i + 1])) >= 0 &&
        (lo = hexValue(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];  // '+' stays '+': SigV4 wants spaces as %20, never '+'
    }
  }
  return out;
}

std::string formatAmzDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

std::optional<std::chrono::system_clock::time_point> parseIso8601(std::string_view s) {
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int year, mon, day, hour, min, sec;
  if (!num(0, 4, year) || s.size() < 19 || s[4] != '-' || !num(5, 2, mon) || s[7] != '-' ||
      !num(8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, hour) ||
      s[13] != ':' || !num(14, 2, min) || s[16] != ':' || !num(17, 2, sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  std::chrono::nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000000;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::nanoseconds((s[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !num(pos + 4, 2, om))
      return std::nullopt;
    offset_seconds = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  // system_clock counts nanoseconds in an int64 (years 1678 to 2261): converting a time outside
  // that range overflowed (undefined behaviour). Such times saturate instead: a credential
  // server's "9999-12-31T23:59:59Z" means "does not expire", a year 1013 means "expired".
  using Clock = std::chrono::system_clock;
  constexpr int64_t kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::max()).count() - 1;
  const int64_t seconds = static_cast<int64_t>(tt) - offset_seconds;
  if (seconds >= kMaxSeconds) return Clock::time_point::max();
  if (seconds <= -kMaxSeconds) return Clock::time_point::min();
  auto tp = Clock::from_time_t(static_cast<std::time_t>(seconds));
  return tp + std::chrono::duration_cast<Clock::duration>(frac);
}

std::string canonicalUri(std::string_view path, const SignOptions& opts) {
  std::string p = path.empty() ? std::string("/") : std::string(path);
  if (opts.normalize_path) p = normalizePath(p);
  return opts.double_encode_path ? uriEncode(p, true) : encodePathOnce(p);
}

std::string canonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view piece = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string_view k = piece.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    // Decode first so a name sent encoded and one sent raw sign the same, then encode strictly.
    params.emplace_back(uriEncode(percentDecode(k), false), uriEncode(percentDecode(v), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string canonicalRequest(const SignRequest& req, const SignOptions& opts,
                             std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(req.headers.size());
  std::string_view payload_hash_header;
  for (const auto& [name, value] : req.headers) {
    std::string lower = toLower(trimBlank(name));
    if (isUnsignedHeader(lower)) continue;
    if (lower == "x-amz-content-sha256") payload_hash_header = trimBlank(value);
    headers.emplace_back(std::move(lower), canonicalHeaderValue(value));
  }
  // Stable: repeated headers keep their order when their values are joined.
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string out;
  out.reserve(256 + req.path.size() + req.query.size());
  out += req.method;
  out += '\n';
  out += canonicalUri(req.path, opts);
  out += '\n';
  out += canonicalQuery(req.query);
  out += '\n';
  std::string names;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      out.back() = ',';  // the '\n' after the previous value
      out += headers[i].second;
      out += '\n';
      continue;
    }
    out += headers[i].first;
    out += ':';
    out += headers[i].second;
    out += '\n';
    if (!names.empty()) names += ';';
    names += headers[i].first;
  }
  out += '\n';
  out += names;
  out += '\n';
  // A signed x-amz-content-sha256 is the payload hash the service checks (it may also be a
  // marker such as UNSIGNED-PAYLOAD); otherwise hash the body.
  out += payload_hash_header.empty() ? sha256Hex(req.body) : std::string(payload_hash_header);
  if (signed_headers) *signed_headers = std::move(names);
  return out;
}

std::string credentialScope(std::string_view date, std::string_view region,
                            std::string_view service) {
  std::string out;
  out.reserve(date.size() + region.size() + service.size() + 16);
  out += date;
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += "/aws4_request";
  return out;
}

std::string stringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 70);
  out += kAlgorithm;
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += sha256Hex(canonical_request);
  return out;
}

namespace {

// The signing key depends only on the secret, the date, the region and the service, so each
// thread derives it once per day and credential instead of with four HMACs per request (the AWS
// SDKs cache it the same way). Both the secret and the key are wiped when replaced.
struct SigningKeyCache {
  std::string secret, date, region, service;
  std::string key;
  ~SigningKeyCache() { wipe(); }
  void wipe() {
    OPENSSL_cleanse(secret.data(), secret.size());
    OPENSSL_cleanse(key.data(), key.size());
  }
  const std::string& get(std::string_view secret_access_key, std::string_view d, std::string_view r,
                         std::string_view s) {
    if (!key.empty() && secret == secret_access_key && date == d && region == r && service == s) {
      return key;
    }
    wipe();
    secret.assign(secret_access_key);
    date.assign(d);
    region.assign(r);
    service.assign(s);
    std::string k = "AWS4";
    k += secret_access_key;
    key = hmacSha256(k, d);
    OPENSSL_cleanse(k.data(), k.size());
    key = hmacSha256(key, r);
    key = hmacSha256(key, s);
    key = hmacSha256(key, "aws4_request");
    return key;
  }
};

}  // namespace

std::string signature(std::string_view secret_access_key, std::string_view date,
                      std::string_view region, std::string_view service,
                      std::string_view string_to_sign) {
  thread_local SigningKeyCache cache;
  return hexEncode(hmacSha256(cache.get(secret_access_key, date, region, service), string_to_sign));
}

void signRequest(SignRequest& req, const AwsCredentials& creds, const SignOptions& opts,
                 SigningDetails* details) {
  std::erase_if(req.headers, [&](const auto& h) {
    return iequals(h.first, "authorization") || iequals(h.first, "x-amz-date") ||
           iequals(h.first, "x-amz-security-token") ||
           (opts.sign_body_header && iequals(h.first, "x-amz-content-sha256"));
  });
  const std::string amz_date = formatAmzDate(opts.now);
  const std::string_view date = std::string_view(amz_date).substr(0, 8);
  req.headers.emplace_back("x-amz-date", amz_date);
  const bool has_token = !creds.session_token.empty();
  if (has_token && !opts.omit_session_token_from_signature) {
    req.headers.emplace_back("x-amz-security-token", creds.session_token);
  }
  if (opts.sign_body_header) {
    req.headers.emplace_back("x-amz-content-sha256", sha256Hex(req.body));
  }

  std::string signed_headers;
  std::string creq = canonicalRequest(req, opts, &signed_headers);
  const std::string scope = credentialScope(date, opts.region, opts.service);
  std::string sts = stringToSign(amz_date, scope, creq);
  std::string sig = signature(creds.secret_access_key, date, opts.region, opts.service, sts);

  std::string auth;
  auth.reserve(200 + signed_headers.size());
  auth += kAlgorithm;
  auth += " Credential=";
  auth += creds.access_key_id;
  auth += '/';
  auth += scope;
  auth += ", SignedHeaders=";
  auth += signed_headers;
  auth += ", Signature=";
  auth += sig;
  req.headers.emplace_back("authorization", auth);
  if (has_token && opts.omit_session_token_from_signature) {
    req.headers.emplace_back("x-amz-security-token", creds.session_token);
  }

  if (details) {
    details->canonical_request = std::move(creq);
    details->signed_headers = std::move(signed_headers);
    details->string_to_sign = std::move(sts);
    details->signature = std::move(sig);
    details->authorization = std::move(auth);
  }
}

}  // namespace tollgate::auth
