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
};

class Translator {
 public:
  virtual ~Translator() = default;

  // Builds the upstream request. `client_body` is the client's body as received, `req` what was
  // parsed from it, `model_override` the route's modelNameOverride (empty when none).
  virtual Result<UpstreamRequest> translateRequest(const api::ApiRequest& req,
                                                   std::string_view client_body,
                                                   const std::string& model_override) = 0;

  // The upstream's end-to-end response headers, before onResponseHead.
  virtual void onResponseHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
    (void)headers;
  }
  // Whether a response with this content type is relayed piece by piece (a stream).
  virtual bool streamsResponse(std::string_view content_type) const {
    return content_type.find("text/event-stream") != std::string_view::npos;
  }
  // Called once the upstream status and headers are known.
  virtual void onResponseHead(int status, std::string_view content_type) {
    (void)status;
    (void)content_type;
  }

  // Stream: called for each piece of the response body as it arrives; appends what the client
  // must receive to `out`. The last call has end_of_stream true (and may have an empty piece).
  virtual void onResponseBody(std::string_view piece, bool end_of_stream, std::string& out) = 0;

  // Non-stream: the whole body at once, rewritten in place into what the client receives (a
  // pass-through translator only reads it: no copy).
  virtual void onFullBody(std::string& body) {
    std::string out;
    onResponseBody(body, true, out);
    body = std::move(out);
  }

  // The upstream stream broke (reset, cut, timeout): appends what tells the client so, in its
  // stream format, after any buffered complete events. Default: an OpenAI error event.
  virtual void onStreamFailure(const Error& err, std::string& out);

  // Whether the stream the client got ended with an error event (an upstream error event, a cut
  // or unreadable stream): the access log and metrics then record it even though the status was
  // 200. Translators that cannot tell keep the default.
  virtual bool streamFailed() const { return false; }

  // The usage known so far (complete once the body ended).
  virtual const api::TokenUsage& usage() const = 0;
  // The model the upstream reported, when it did.
  virtual const std::string& responseModel() const = 0;
  // The status the client gets for a non-stream response, after onFullBody: the upstream's,
  // unless the translator replaced a body it could not use (a 200 that is not JSON, say) with an
  // error (replaceUnusableBody), which then carries its own status (502) so that status and body
  // agree.
  int clientStatus(int upstream_status) const { return replaced_body_ ? 502 : upstream_status; }
  // The content type the client gets (translators that change the format override it).
  virtual std::string clientContentType(std::string_view upstream_content_type) const {
    return std::string(upstream_content_type);
  }

 protected:
  // A 2xx body the client could not use becomes `error_body` (in the client's API shape), sent
  // with a 502: see clientStatus.
  void replaceUnusableBody(std::string& body, std::string error_body) {
    replaced_body_ = true;
    body = std::move(error_body);
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
