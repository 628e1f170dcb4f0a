// What a request to an upstream is made of, apart from the connection it goes over: where it
// goes (UpstreamTarget, also the pool key) and what is sent (OutgoingRequest). Plain structs, so
// that code which only builds or signs requests (auth/, the credential providers) needs neither
// Beast nor the pool (upstream/client.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tollgate::upstream {

struct UpstreamTarget {
  std::string host;  // fqdn or IP literal
  uint16_t port = 0;
  bool tls = false;
  std::string tls_name;  // certificate name to verify and SNI; empty = host
  // A backend's own trust (caCertificateRefs): its context, and an id of its CA bundle that
  // keeps its connections (and TLS sessions) apart from those verified against other CAs.
  // Null: the pool's context (system CAs). The owner (a config snapshot) outlives the request;
  // pooled connections do not need it afterwards (OpenSSL counts its own references).
  boost::asio::ssl::context* tls_context = nullptr;
  std::string ca_id;
  // How long a connection to this target may sit idle in the pool (BackendTrafficPolicy
  // timeout.http.connectionIdleTimeout); zero: the pool's default.
  std::chrono::milliseconds idle_timeout{0};
  std::string key() const;         // "host:port" or "tls:name@host:port[#ca_id]" (pool key)
  std::string hostHeader() const;  // the Host header: name[:port], default port omitted
};

struct OutgoingRequest {
  std::string method = "POST";
  std::string target;                                        // path and query
  std::vector<std::pair<std::string, std::string>> headers;  // end-to-end; Host is added
  std::string_view body;
};

}  // namespace tollgate::upstream
