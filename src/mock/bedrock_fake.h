// The fake AWS Bedrock runtime inside `tollgate mock-llm`: InvokeModel and
// InvokeModelWithResponseStream for Anthropic models (the body is Anthropic's Messages API with
// `anthropic_version`), Converse and ConverseStream (any model), answered by the same
// deterministic LlmEngine rule as the OpenAI routes, plus SigV4 verification against one known
// key pair. Free of networking so it can be unit-tested;
// mock_server.cc moves the bytes and applies latency.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/server.h"
#include "mock/llm_engine.h"

namespace tollgate::mock::bedrock {

struct Result {
  int status = 200;
  std::vector<http::Header> headers;  // content-type included
  std::string body;                   // non-stream answer (or error)
  // Stream: each element is one complete event-stream frame (`chunk` events), in order.
  std::vector<std::string> frames;
  bool stream = false;
};

// True for the paths the fake answers ("/model/...").
bool isBedrockPath(std::string_view path);

// Also POST /model/{id}/count-tokens (CountTokens, both input kinds: docs/mock-llm.md).
// Answers POST /model/{id}/invoke, /invoke-with-response-stream, /converse and
// /converse-stream. `engine` should accept any model name (the Bedrock model id is in the path,
// not the body).
Result handle(const LlmEngine& engine, std::string_view method, std::string_view path,
              std::string_view body);

// A streamed result cut halfway by a `modelStreamErrorException` exception frame, as Bedrock
// ends a stream when the model fails after the response started.
Result cutByException(Result streamed);

// An AWS-shaped error: x-amzn-errortype `type`, body {"message": message}.
Result error(int status, std::string_view type, std::string_view message);
Result throttled();         // 429 ThrottlingException
Result invalidSignature();  // 403 InvalidSignatureException

// Verifies the request's AWS4-HMAC-SHA256 Authorization (service "bedrock", any region) with
// the given key pair, over the headers it lists as signed. Returns an empty string when valid,
// else why not (for the log; never contains the secret).
std::string verifySigV4(const http::Request& req, std::string_view access_key_id,
                        std::string_view secret_access_key);

}  // namespace tollgate::mock::bedrock
