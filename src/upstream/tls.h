// TLS client contexts (Asio's ssl::context, no sockets): what upstream/client.h's pools and the
// Kubernetes client (kube/access.h) both start from. Light on purpose: no Beast, no coroutines.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

namespace tollgate::upstream {

// TLS 1.2 or newer (SSLv2/3, TLS 1.0 and 1.1 refused) with OpenSSL's usual bug workarounds.
// Trust, verification and client certificates are the caller's to add.
std::shared_ptr<boost::asio::ssl::context> makeTlsClientContext();

// The TLS client context shared by every pool: system CAs, plus an extra bundle when given.
// Configured once at start; SSL_CTX is safe to use from all threads afterwards. Client-side
// session caching is on: the pools resume TLS sessions (see Pool).
std::shared_ptr<boost::asio::ssl::context> makeTlsContext(const std::string& extra_ca_file,
                                                          std::string* error);
// A context trusting only the PEM certificates given (a backend's caCertificateRefs).
std::shared_ptr<boost::asio::ssl::context> makeTlsContextFromPem(std::string_view pem,
                                                                 std::string* error);

}  // namespace tollgate::upstream
