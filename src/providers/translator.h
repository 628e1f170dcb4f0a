// A Translator turns one client request into one upstream request for a given backend schema, and
// the upstream response back into what the client's API expects, extracting token usage on the
// way so that metrics and limits never parse a body again.
//
// One object per request attempt, owned by that request's coroutine; stateful and not
// thread-safe. A new provider is one translator file per client API it serves (formats/ and
// transports/ hold what translators share) and one line per pair in registry.cc.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request.h"
#include "api/usage.h"
#include "common/error.h"
#include "config/model.h"

namespace tollgate::providers {

struct UpstreamRequest {
  std::string method = "POST";
  std::string path;                                          // path and query sent upstream
  std::vector<std::pair<std::string, std::string>> headers;  // added by the translator
  // The body to send. Translators that leave the body as it is keep `body_unchanged` true and the
  // pipeline sends the client's bytes without a copy.
  bool body_unchanged = true;
  std::string body;
  // Pass-through translators whose upstream speaks the client's own API (Anthropic Messages to
  // api.anthropic.com or to a server's /v1/messages) set this: the client's query string
  // (Claude Code's ?beta=true) is appended to `path`, as a proxy would forward it. Translators
  // that build another API's request leave it false: the client's query means nothing there.
  bool forward_client_query = false;
};

// Everything the gateway needs from one response event, returned by that event's call so that
// nothing is read back from the translator afterwards: the gateway keeps the last one.
struct ResponseOutput {
  // The usage known so far (the total, not a delta; complete once the body ended).
  api::TokenUsage usage;
  // The model the upstream reported (or, for a backend that reports none, the one it was asked
  // for); empty when not known yet. Points into the translator: valid until its next call.
  std::string_view model;
  // The status the client gets for a non-stream response: the upstream's, unless the translator
  // replaced a body it could not use (a 200 that is not JSON, say) with an error
  // (replaceUnusableBody), which then carries its own status (502) so that status and body agree.
  // For a stream, the upstream's (the head is already sent).
  int status = 0;
  // The stream the client got ended with an error event (an upstream error event, a cut or
  // unreadable stream): the access log and metrics then record it even though the status was 200.
  bool failed = false;
};

// What the head of the upstream response decides (Translator::onResponseStart).
struct ResponseStart {
  // Relayed piece by piece through onChunk (a stream), or read whole and given to onBody.
  bool stream = false;
  // The content type the client gets in place of the upstream's; empty: the upstream's
  // content-type header passes unchanged (translators that keep the format).
  std::string content_type;
  // What is known before any body (the model, for a backend that reports none): the gateway
  // keeps it for a stream that ends before its first piece.
  ResponseOutput output;
};

// Call order: translateRequest, then for the response onResponseStart once, then either onBody
// once (not a stream) or onChunk per piece, the last with end_of_stream, unless onFailure ends it.
class Translator {
 public:
  virtual ~Translator() = default;

  // Builds the upstream request. `client_body` is the client's body as received, `req` what was
  // parsed from it, `model_override` the route's modelNameOverride (empty when none).
  virtual Result<UpstreamRequest> translateRequest(const api::ApiRequest& req,
                                                   std::string_view client_body,
                                                   const std::string& model_override) = 0;

  // The upstream status, content type and end-to-end headers are known.
  virtual ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers) = 0;

  // Not a stream: the whole body at once, rewritten in place into what the client receives (a
  // pass-through translator only reads it: no copy).
  virtual ResponseOutput onBody(std::string& body) = 0;

  // Stream: called for each piece of the response body as it arrives; appends what the client
  // must receive to `out`. The last call has end_of_stream true (and may have an empty piece).
  virtual ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) = 0;

  // The upstream stream broke (reset, cut, timeout): appends what tells the client so, in its
  // stream format, after any buffered complete events.
  virtual ResponseOutput onFailure(const Error& err, std::string& out) = 0;

 protected:
  // A 2xx body the client could not use becomes `error_body` (in the client's API shape), sent
  // with a 502: see ResponseOutput::status.
  void replaceUnusableBody(std::string& body, std::string error_body) {
    replaced_body_ = true;
    body = std::move(error_body);
  }
  // The output every event returns, with the status the client gets for `upstream_status`.
  ResponseOutput makeOutput(int upstream_status, const api::TokenUsage& usage,
                            std::string_view model, bool failed) const {
    return {usage, model, replaced_body_ ? 502 : upstream_status, failed};
  }

 private:
  bool replaced_body_ = false;
};

// Creates the translator for a client API and backend schema; nullptr when the pair is not
// supported (the pipeline answers 501 naming both).
// `anthropic_beta`: the client's anthropic-beta header (Bedrock takes it in the body).
std::unique_ptr<Translator> createTranslator(api::ApiKind client_api, config::Schema schema,
                                             const config::AIServiceBackend& backend,
                                             std::string_view anthropic_beta = {});

std::string_view schemaName(config::Schema s);
// The OpenTelemetry gen_ai.provider.name for a backend schema ("openai", "aws.bedrock", ...).
std::string_view providerName(config::Schema s);

}  // namespace tollgate::providers
