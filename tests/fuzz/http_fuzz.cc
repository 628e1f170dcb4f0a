// HTTP/1.1 message parsing as tollgate runs it on outside bytes: Beast's request_parser with
// string_body and the limits http::Server sets (request heads, Content-Length and chunked bodies,
// pipelined requests on one connection), and the response_parser with buffer_body and the limits
// upstream::Exchange sets (backend responses, chunked streams, read through a fixed buffer).
// Bytes arrive in pseudo-random pieces as from a socket, and the parser is driven the way
// beast::http::async_read / async_read_some do it.
// Input: byte 0 bit 7 picks the response parser, the other bits seed the cuts; the rest is the
// connection's bytes.
#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/server.h"

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

template <bool isRequest>
using Body = std::conditional_t<isRequest, http::string_body, http::buffer_body>;

template <bool isRequest>
void configure(http::parser<isRequest, Body<isRequest>>& p) {
  if constexpr (isRequest) {
    const tollgate::http::ServerOptions opts;  // the server's defaults
    p.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    p.body_limit(opts.max_body_bytes);
  } else {
    p.header_limit(64 * 1024);  // as upstream::Exchange sets them
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
  }
}

template <bool isRequest>
void run(std::string_view input, uint32_t seed) {
  beast::flat_buffer buffer;
  // The upstream client reads bodies through a fixed buffer; a small one here makes the parser
  // stop for a new buffer often.
  auto body_buf = std::make_unique<std::array<char, 61>>();
  std::optional<http::parser<isRequest, Body<isRequest>>> parser;
  parser.emplace();
  configure(*parser);
  size_t pos = 0;
  int messages = 0;
  while (messages < 64) {
    if constexpr (!isRequest) {
      if (parser->is_header_done()) {
        auto& body = parser->get().body();
        body.data = body_buf->data();
        body.size = body_buf->size();
      }
    }
    // Parse what is buffered; ask for more only when the parser needs it.
    beast::error_code ec;
    const size_t used = parser->put(buffer.data(), ec);
    buffer.consume(used);
    if constexpr (!isRequest) {
      if (ec == http::error::need_buffer) ec = {};  // the body buffer is full: hand it on
    }
    if (ec == http::error::need_more || (!ec && used == 0 && !parser->is_done())) {
      if (pos >= input.size()) {
        // The peer closed: ends a read-until-close body, or is an error. (Beast asserts that a
        // parser got bytes before put_eof; a connection closed between requests has none.)
        if (parser->got_some()) parser->put_eof(ec);
        return;
      }
      size_t n = input.size() - pos;
      if (seed != 0) {
        seed = seed * 1103515245u + 12345u;
        n = std::min<size_t>(n, 1 + (seed >> 16) % 32);
      }
      const auto dst = buffer.prepare(n);
      std::memcpy(dst.data(), input.data() + pos, n);
      buffer.commit(n);
      pos += n;
      continue;
    }
    if (ec) return;  // malformed: the server answers 400/413 and closes
    if (parser->is_header_done() && !parser->is_done()) {
      // Server::session refuses a declared length over the limit before reading the body.
      if constexpr (isRequest) {
        const auto cl = parser->content_length();
        if (cl && *cl > tollgate::http::ServerOptions{}.max_body_bytes) return;
      }
      parser->eager(true);
      continue;
    }
    if (parser->is_done()) {
      auto msg = parser->release();
      if constexpr (isRequest) {
        (void)msg.target();
        (void)msg.method();
      } else {
        (void)msg.result_int();
      }
      for (const auto& f : msg) (void)f.value();
      ++messages;
      if (!msg.keep_alive()) return;
      parser.emplace();
      configure(*parser);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const uint32_t seed = data[0] & 0x7f;
  if (data[0] & 0x80) {
    run<false>(input, seed);
  } else {
    run<true>(input, seed);
  }
  return 0;
}
