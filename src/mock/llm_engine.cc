#include "mock/llm_engine.h"

#include <boost/json.hpp>
#include <exception>
#include <string>
#include <utility>

#include "mock/llm_endpoints.h"
#include "mock/llm_request.h"
#include "mock/llm_responses.h"
#include "mock/llm_text.h"
#include "mock/llm_tokenize.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;
using engine::ApiError;
using engine::apiError;
using engine::badRequest;
using engine::Context;
using engine::errorResult;

enum class Route {
  kChat,
  kCompletions,
  kEmbeddings,
  kResponses,
  kModels,
  kHealth,
  kTokenize,
  kUnknown
};

Route routeOf(std::string_view path) {
  if (path == "/v1/chat/completions") return Route::kChat;
  if (path == "/v1/completions") return Route::kCompletions;
  if (path == "/v1/embeddings") return Route::kEmbeddings;
  if (path == "/v1/responses") return Route::kResponses;
  if (path == "/v1/models") return Route::kModels;
  if (path == "/health") return Route::kHealth;
  if (path == "/tokenize") return Route::kTokenize;
  return Route::kUnknown;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && engine::isSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && engine::isSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

EngineResult handleUnchecked(const Context& ctx, std::string_view method, std::string_view path,
                             std::string_view body) {
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const Route route = routeOf(path);
  if (route == Route::kUnknown) {
    return errorResult(
        apiError(404, "Invalid URL (" + std::string(method) + " " + std::string(path) + ")"));
  }
  const bool get = route == Route::kModels || route == Route::kHealth;
  if (method != (get ? "GET" : "POST")) {
    return errorResult(apiError(405, "Method " + std::string(method) + " not allowed for " +
                                         std::string(path) + "; use " + (get ? "GET" : "POST") +
                                         "."));
  }
  if (route == Route::kHealth) return EngineResult{};
  if (route == Route::kModels) return engine::listModels(ctx);

  // The request DOM lives in one arena freed at once; small bodies never touch the heap for it.
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec, &mr);
  if (ec) {
    return errorResult(
        badRequest("We could not parse the JSON body of your request: " + ec.message() + "."));
  }
  const json::object* req = doc.if_object();
  if (req == nullptr) return errorResult(badRequest("The request body must be a JSON object."));
  switch (route) {
    case Route::kChat:
      return engine::chatCompletions(ctx, *req);
    case Route::kCompletions:
      return engine::completions(ctx, *req);
    case Route::kEmbeddings:
      return engine::embeddings(ctx, *req);
    case Route::kTokenize:
      return engine::tokenize(ctx, *req);
    case Route::kResponses:
      return engine::responses(ctx, *req);
    default:
      return errorResult(ApiError{500, "Internal server error", {}, "InternalServerError", true});
  }
}

}  // namespace

LlmEngine::LlmEngine(EngineOptions opts) : opts_(std::move(opts)) {
  std::string_view csv = opts_.served_models_csv;
  while (!csv.empty()) {
    size_t comma = csv.find(',');
    std::string_view item = trim(csv.substr(0, comma));
    if (!item.empty()) served_models_.emplace_back(item);
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
}

EngineResult LlmEngine::handle(std::string_view method, std::string_view path,
                               std::string_view body) const {
  const Context ctx{opts_, served_models_};
  try {
    return handleUnchecked(ctx, method, path, body);
  } catch (const std::exception&) {
    // Boost.JSON accessors and allocation are the only throwers; the caller gets a 500, not a
    // crash.
  } catch (...) {
  }
  try {
    return errorResult(ApiError{500, "Internal server error", {}, "InternalServerError", true});
  } catch (...) {
    EngineResult r;
    r.status = 500;
    return r;
  }
}

}  // namespace tollgate::mock
