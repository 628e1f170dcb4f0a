#include "upstream/tls.h"

namespace tollgate::upstream {

std::shared_ptr<boost::asio::ssl::context> makeTlsClientContext() {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  return ctx;
}

}  // namespace tollgate::upstream
