#include "mock/llm_tokenize.h"

#include "mock/llm_endpoints.h"
#include "mock/llm_text.h"

namespace tollgate::mock::engine {

namespace {

EngineResult answer(const Context& ctx, json::array tokens) {
  json::object root;
  root["count"] = tokens.size();
  root["max_model_len"] = ctx.opts.max_model_len;
  root["tokens"] = std::move(tokens);
  return jsonResult(root);
}

// The chat endpoint renders and validates the messages: asked for one token and its prompt's
// token ids, it gives exactly what a chat completion of them would count (vLLM applies the same
// chat template for /tokenize as for chat completions).
EngineResult tokenizeMessages(const Context& ctx, const json::object& req, std::string_view model) {
  json::object chat;
  chat["model"] = model;
  chat["messages"] = req.at("messages");
  chat["max_tokens"] = 1;
  chat["return_token_ids"] = true;
  EngineResult done = chatCompletions(ctx, chat);
  if (done.status != 200) return done;
  json::value parsed = json::parse(done.body);
  json::value* ids = parsed.as_object().if_contains("prompt_token_ids");
  return answer(ctx, ids && ids->is_array() ? std::move(ids->get_array()) : json::array());
}

}  // namespace

EngineResult tokenize(const Context& ctx, const json::object& req) {
  // vLLM makes `model` optional here: the server tokenizes with the model it serves.
  std::string_view model = ctx.served_models.empty() ? std::string_view("mock-model")
                                                     : std::string_view(ctx.served_models[0]);
  if (field(req, "model") != nullptr) {
    if (auto e = requireModel(req, model)) return errorResult(e);
    if (auto e = checkServed(ctx, model)) return errorResult(e);
  }
  if (const json::value* prompt = field(req, "prompt")) {
    const json::string* text = prompt->if_string();
    if (text == nullptr)
      return errorResult(badRequest("Invalid type for 'prompt': expected a string.", "prompt"));
    json::array tokens;
    forEachToken(std::string_view(*text),
                 [&](std::string_view tok) { tokens.emplace_back(tokenId(tok)); });
    return answer(ctx, std::move(tokens));
  }
  if (field(req, "messages") != nullptr) return tokenizeMessages(ctx, req, model);
  return errorResult(
      badRequest("Either 'prompt' or 'messages' is required to tokenize.", "prompt"));
}

}  // namespace tollgate::mock::engine
