// Shared driver for the response-translator fuzz targets: builds a translator through the
// registry for a fixed, valid client request, then feeds the fuzz bytes as the upstream response
// exactly the way Gateway::relay does (the head, then either the whole body or a stream cut into
// pieces), and checks the invariants every translator promises.
//
// Input layout (so that seeds are a two-byte prefix plus a real recorded body):
//   byte 0: bit 0 the client asked for a stream, bit 1 stream_options.include_usage,
//           bits 2-3 upstream status (200, 400, 429, 503), bits 4-5 content type,
//           bit 6 the upstream stream breaks at the end (onFailure instead of the end call),
//           bit 7 add Bedrock's token-count / error-type headers
//   byte 1: seed for where the body is cut into pieces (0: one piece)
//   rest:   the upstream response body
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request.h"
#include "config/model.h"
#include "providers/translator.h"

namespace tollgate::fuzz {

inline std::string clientBody(api::ApiKind kind, bool stream, bool include_usage) {
  const std::string s = stream ? "true" : "false";
  const std::string opts = stream ? std::string(",\"stream_options\":{\"include_usage\":") +
                                        (include_usage ? "true" : "false") + "}"
                                  : "";
  switch (kind) {
    case api::ApiKind::kAnthropicMessages:
      return "{\"model\":\"m\",\"max_tokens\":16,\"stream\":" + s +
             ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    case api::ApiKind::kCompletions:
      return "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":16,\"stream\":" + s + opts + "}";
    case api::ApiKind::kEmbeddings:
      return "{\"model\":\"m\",\"input\":\"hi\"}";
    case api::ApiKind::kResponses:
      return "{\"model\":\"m\",\"max_output_tokens\":16,\"store\":false,\"stream\":" + s +
             ",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}"
             "]}]}";
    default:
      return "{\"model\":\"m\",\"max_tokens\":16,\"stream\":" + s + opts +
             ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  }
}

// Runs one fuzz input through the translator for (kind, schema). Aborts when the fixed client
// request is refused: that is a bug in this driver, and must not hide as "no coverage".
inline void runTranslator(api::ApiKind kind, config::Schema schema, const uint8_t* data,
                          size_t size, const config::AIServiceBackend& backend = {}) {
  if (size < 2) return;
  const uint8_t flags = data[0];
  uint32_t cut_seed = data[1];
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  const bool stream = (flags & 1) != 0 && kind != api::ApiKind::kEmbeddings;
  const bool include_usage = (flags & 2) != 0;
  static constexpr int kStatuses[] = {200, 400, 429, 503};
  const int status = kStatuses[(flags >> 2) & 3];
  static constexpr std::string_view kContentTypes[] = {"application/json",
                                                       "text/event-stream; charset=utf-8",
                                                       "application/vnd.amazon.eventstream", ""};
  const std::string_view content_type = kContentTypes[(flags >> 4) & 3];
  const bool breaks = (flags & 0x40) != 0;

  auto translator = providers::createTranslator(kind, schema, backend);
  if (!translator) std::abort();
  const std::string client = clientBody(kind, stream, include_usage);
  auto req = api::parseRequest(kind, client);
  if (!req) std::abort();
  auto up = translator->translateRequest(*req, client, "");
  if (!up) std::abort();

  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("content-type", std::string(content_type));
  if (flags & 0x80) {
    headers.emplace_back("x-amzn-bedrock-input-token-count", std::to_string(cut_seed * 7));
    headers.emplace_back("x-amzn-bedrock-output-token-count", std::to_string(cut_seed));
    headers.emplace_back("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/");
  }
  const providers::ResponseStart start = translator->onResponseStart(status, content_type, headers);
  providers::ResponseOutput last = start.output;

  if (!start.stream) {
    std::string full(body);
    last = translator->onBody(full);
  } else {
    // Cut the body at pseudo-random points: every translator must give the same result however
    // the bytes arrive, and must never read past a piece.
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t n = body.size() - pos;
      if (cut_seed != 0) {
        cut_seed = cut_seed * 1103515245u + 12345u;
        n = std::min<size_t>(n, 1 + (cut_seed >> 16) % 64);
      }
      // A heap copy of exactly the piece, so that reading past it is an ASan report.
      std::string piece(body.substr(pos, n));
      last = translator->onChunk(piece, false, out);
      pos += n;
    }
    if (breaks) {
      last = translator->onFailure(
          Error::upstream(ErrorCode::kUpstreamBadResponse, "cut", "fuzz", true), out);
    } else {
      last = translator->onChunk({}, true, out);
    }
  }
  // What the gateway copies at the end: the model points into the translator, so copying it
  // reads every byte (ASan reports a view left dangling).
  const std::string model(last.model);
  (void)model;
  (void)last.usage;
}

}  // namespace tollgate::fuzz
