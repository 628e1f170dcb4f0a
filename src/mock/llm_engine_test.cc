#include "mock/llm_engine.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.h"
#include "common/expect_each_test_util.h"

namespace tollgate::mock {
namespace {

namespace json = boost::json;

constexpr std::string_view kChat = "/v1/chat/completions";
constexpr std::string_view kCompletions = "/v1/completions";
constexpr std::string_view kEmbeddings = "/v1/embeddings";

json::object parseObject(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return std::move(v.get_object());
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

int64_t num(const json::value& v) { return v.to_number<int64_t>(); }

struct Engine {
  explicit Engine(EngineOptions opts = {}) : engine(std::move(opts)) {}

  EngineResult post(std::string_view path, std::string_view body) const {
    return engine.handle("POST", path, body);
  }
  // A 200 non-stream response, parsed.
  json::object ok(std::string_view path, std::string_view body) const {
    EngineResult r = post(path, body);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.stream);
    EXPECT_TRUE(r.events.empty());
    return parseObject(r.body);
  }
  // A 200 stream, each event but the final "[DONE]" parsed.
  std::vector<json::object> stream(std::string_view path, std::string_view body) const {
    EngineResult r = post(path, body);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.body.empty());
    std::vector<json::object> chunks;
    if (r.events.empty()) {
      ADD_FAILURE() << "no events";
      return chunks;
    }
    EXPECT_EQ(r.events.back(), "[DONE]");
    for (size_t i = 0; i + 1 < r.events.size(); ++i) chunks.push_back(parseObject(r.events[i]));
    return chunks;
  }

  LlmEngine engine;
};

// Asserts the OpenAI error shape and returns the error object.
json::object expectError(const EngineResult& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_FALSE(r.stream);
  json::object root = parseObject(r.body);
  EXPECT_EQ(root.size(), 1u) << r.body;
  const json::value* error = root.if_contains("error");
  if (error == nullptr || !error->is_object()) {
    ADD_FAILURE() << "no error object: " << r.body;
    return {};
  }
  const json::object& e = error->get_object();
  EXPECT_TRUE(e.at("message").is_string());
  EXPECT_FALSE(e.at("message").get_string().empty());
  EXPECT_TRUE(e.at("type").is_string());
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  return e;
}

// A 400 invalid_request_error with the given param ("" for null) and a null code.
void expectBadRequest(const EngineResult& r, std::string_view param) {
  json::object e = expectError(r, 400);
  if (e.empty()) return;
  EXPECT_EQ(e.at("type"), "invalid_request_error");
  EXPECT_TRUE(e.at("code").is_null());
  if (param.empty()) {
    EXPECT_TRUE(e.at("param").is_null()) << r.body;
  } else {
    EXPECT_EQ(e.at("param"), json::string_view(param.data(), param.size())) << r.body;
  }
}

std::string chatBody(std::string_view user, std::string_view extra = "") {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":)";
  body += json::serialize(json::string_view(user.data(), user.size()));
  body += "}]";
  if (!extra.empty()) {
    body += ',';
    body += extra;
  }
  body += '}';
  return body;
}

std::string content(const json::object& chat, size_t choice = 0) {
  return str(chat.at("choices").as_array().at(choice).at("message").at("content"));
}

// The bytes of a base64 embedding, as unsigned values for the bit arithmetic below.
std::vector<unsigned char> decodeBase64(std::string_view s) {
  std::string out;
  EXPECT_TRUE(base64Decode(s, out)) << s;
  return {out.begin(), out.end()};
}

std::vector<float> floatsOf(const json::value& embedding) {
  std::vector<float> out;
  for (const json::value& v : embedding.as_array()) {
    out.push_back(static_cast<float>(v.to_number<double>()));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

TEST(CountTokensTest, CountsRunsOfNonWhitespace) {
  expectEach<uint32_t>(countTokens, {
                                        {"", 0u},
                                        {"   \t\n ", 0u},
                                        {"hello", 1u},
                                        {"  hello  world ", 2u},
                                        {"a\tb\nc\r\nd\v e\ff", 6u},
                                        {"fib(n-1) + fib(n-2)", 3u},
                                        {"héllo wörld 🌍", 3u},
                                    });
}

TEST(ChatTest, ResponseHasVllmShape) {
  Engine e;
  json::object r = e.ok(kChat, chatBody("Hello there, how are you?"));
  EXPECT_TRUE(str(r.at("id")).starts_with("chatcmpl-"));
  EXPECT_GT(str(r.at("id")).size(), 9u);
  EXPECT_EQ(r.at("object"), "chat.completion");
  EXPECT_GT(num(r.at("created")), 0);
  EXPECT_EQ(r.at("model"), "m");
  const json::array& choices = r.at("choices").as_array();
  ASSERT_EQ(choices.size(), 1u);
  const json::object& c = choices[0].as_object();
  EXPECT_EQ(num(c.at("index")), 0);
  const json::object& msg = c.at("message").as_object();
  EXPECT_EQ(msg.at("role"), "assistant");
  EXPECT_FALSE(msg.at("content").as_string().empty());
  EXPECT_TRUE(msg.at("reasoning_content").is_null());
  EXPECT_TRUE(msg.at("tool_calls").as_array().empty());
  EXPECT_TRUE(c.at("logprobs").is_null());
  EXPECT_TRUE(c.at("stop_reason").is_null());
  EXPECT_TRUE(c.at("finish_reason").is_string());
  EXPECT_FALSE(r.contains("prompt_token_ids"));
  EXPECT_FALSE(c.contains("token_ids"));

  const json::object& u = r.at("usage").as_object();
  EXPECT_EQ(num(u.at("prompt_tokens")), 5);
  EXPECT_EQ(num(u.at("completion_tokens")), countTokens(str(msg.at("content"))));
  EXPECT_EQ(num(u.at("total_tokens")), num(u.at("prompt_tokens")) + num(u.at("completion_tokens")));
  EXPECT_TRUE(u.at("prompt_tokens_details").is_null());
}

TEST(ChatTest, ReplyIsDeterministicAndDependsOnTheLastUserMessage) {
  Engine e;
  const std::string a1 = content(e.ok(kChat, chatBody("What is a gateway?")));
  const std::string a2 = content(e.ok(kChat, chatBody("What is a gateway?")));
  EXPECT_EQ(a1, a2);
  // A second engine (another process, say) answers alike.
  Engine other;
  EXPECT_EQ(content(other.ok(kChat, chatBody("What is a gateway?"))), a1);

  int differing = 0;
  for (const char* prompt : {"Tell me a story", "What time is it?", "Explain TCP", "Hi"}) {
    if (content(e.ok(kChat, chatBody(prompt))) != a1) ++differing;
  }
  EXPECT_EQ(differing, 4);

  // Earlier messages count as prompt tokens but do not change the reply; a later assistant
  // message does not either.
  json::object multi = e.ok(kChat, R"({"model":"m","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","content":"What is a gateway?"},
      {"role":"assistant","content":null,"tool_calls":[]}]})");
  EXPECT_EQ(content(multi), a1);
  EXPECT_EQ(num(multi.at("usage").at("prompt_tokens")), 3 + 4);
}

TEST(ChatTest, ContentPartsEqualTheirTextJoinedByNewlines) {
  Engine e;
  json::object parts = e.ok(kChat, R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"first part"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
      {"type":"text","text":"second part here"}]}]})");
  json::object joined = e.ok(kChat, chatBody("first part\nsecond part here"));
  EXPECT_EQ(content(parts), content(joined));
  EXPECT_EQ(num(parts.at("usage").at("prompt_tokens")), 5);
  EXPECT_EQ(num(joined.at("usage").at("prompt_tokens")), 5);
}

TEST(ChatTest, MaxTokensCutsTheReplyWithFinishReasonLength) {
  Engine e(EngineOptions{"", 1000});
  json::object full = e.ok(kChat, chatBody("count me"));
  const std::string text = content(full);
  const int64_t words = static_cast<int64_t>(countTokens(text));
  EXPECT_GE(words, 8);
  EXPECT_LE(words, 40);
  EXPECT_EQ(full.at("choices").at(0).at("finish_reason"), "stop");

  json::object cut = e.ok(kChat, chatBody("count me", R"("max_tokens":3)"));
  EXPECT_EQ(countTokens(content(cut)), 3u);
  EXPECT_EQ(cut.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(num(cut.at("usage").at("completion_tokens")), 3);
  EXPECT_TRUE(text.starts_with(content(cut) + " "));

  // Exactly the natural length is not a cut.
  json::object exact = e.ok(kChat, chatBody("count me", "\"max_tokens\":" + std::to_string(words)));
  EXPECT_EQ(content(exact), text);
  EXPECT_EQ(exact.at("choices").at(0).at("finish_reason"), "stop");

  // max_completion_tokens wins over max_tokens, as in vLLM.
  json::object both =
      e.ok(kChat, chatBody("count me", R"("max_tokens":2,"max_completion_tokens":5)"));
  EXPECT_EQ(countTokens(content(both)), 5u);

  // null means absent.
  json::object nulls = e.ok(kChat, chatBody("count me", R"("max_tokens":null)"));
  EXPECT_EQ(content(nulls), text);
}

TEST(ChatTest, DefaultMaxTokensComesFromOptions) {
  Engine two(EngineOptions{"", 2});
  json::object r = two.ok(kChat, chatBody("anything at all"));
  EXPECT_EQ(countTokens(content(r)), 2u);
  EXPECT_EQ(r.at("choices").at(0).at("finish_reason"), "length");

  Engine def;  // 16 by default
  EXPECT_LE(countTokens(content(def.ok(kChat, chatBody("anything at all")))), 16u);
}

TEST(ChatTest, SeveralChoicesWithN) {
  Engine e(EngineOptions{"", 1000});
  json::object one = e.ok(kChat, chatBody("pick three"));
  json::object three = e.ok(kChat, chatBody("pick three", R"("n":3)"));
  const json::array& choices = three.at("choices").as_array();
  ASSERT_EQ(choices.size(), 3u);
  int64_t total = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(num(choices[i].at("index")), static_cast<int64_t>(i));
    total += countTokens(content(three, i));
  }
  EXPECT_EQ(content(three, 0), content(one));
  EXPECT_NE(content(three, 1), content(three, 0));
  EXPECT_EQ(num(three.at("usage").at("completion_tokens")), total);
  EXPECT_EQ(num(three.at("usage").at("prompt_tokens")), 2);
}

TEST(ChatTest, TokenIdsOnlyWhenAsked) {
  Engine e;
  const std::string body = chatBody("one two three", R"("return_token_ids":true)");
  json::object r = e.ok(kChat, body);
  const json::array& ids = r.at("prompt_token_ids").as_array();
  EXPECT_EQ(static_cast<int64_t>(ids.size()), num(r.at("usage").at("prompt_tokens")));
  for (const json::value& id : ids) EXPECT_TRUE(id.is_number());
  EXPECT_EQ(r.at("prompt_token_ids"), e.ok(kChat, body).at("prompt_token_ids"));
  EXPECT_EQ(static_cast<int64_t>(r.at("choices").at(0).at("token_ids").as_array().size()),
            num(r.at("usage").at("completion_tokens")));
  // The same word is the same id.
  json::object twice = e.ok(kChat, chatBody("same same", R"("return_token_ids":true)"));
  EXPECT_EQ(twice.at("prompt_token_ids").at(0), twice.at("prompt_token_ids").at(1));

  json::object logprobs = e.ok(kChat, chatBody("one two three", R"("prompt_logprobs":1)"));
  EXPECT_EQ(logprobs.at("prompt_token_ids"), r.at("prompt_token_ids"));

  json::object off = e.ok(kChat, chatBody("one two three", R"("return_token_ids":false)"));
  EXPECT_FALSE(off.contains("prompt_token_ids"));
}

TEST(ChatTest, InvalidRequestsAre400s) {
  Engine e;
  expectBadRequest(e.post(kChat, R"({"messages":[{"role":"user","content":"x"}]})"), "model");
  expectBadRequest(e.post(kChat, R"({"model":7,"messages":[{"role":"user","content":"x"}]})"),
                   "model");
  expectBadRequest(e.post(kChat, R"({"model":"m"})"), "messages");
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":[]})"), "messages");
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":"hi"})"), "messages");
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":["hi"]})"), "messages[0]");
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":[{"content":"x"}]})"),
                   "messages[0].role");
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":[{"role":"user","content":5}]})"),
                   "messages[0].content");
  expectBadRequest(
      e.post(kChat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})"),
      "messages[0].content[0].text");
  expectBadRequest(e.post(kChat, chatBody("x", R"("max_tokens":0)")), "max_tokens");
  expectBadRequest(e.post(kChat, chatBody("x", R"("max_tokens":-1)")), "max_tokens");
  expectBadRequest(e.post(kChat, chatBody("x", R"("max_tokens":"10")")), "max_tokens");
  expectBadRequest(e.post(kChat, chatBody("x", R"("max_tokens":2.5)")), "max_tokens");
  expectBadRequest(e.post(kChat, chatBody("x", R"("max_completion_tokens":0)")),
                   "max_completion_tokens");
  expectBadRequest(e.post(kChat, chatBody("x", R"("n":0)")), "n");
  expectBadRequest(e.post(kChat, chatBody("x", R"("stream":"yes")")), "stream");
  expectBadRequest(e.post(kChat, chatBody("x", R"("stream_options":{"include_usage":true})")),
                   "stream_options");
  expectBadRequest(e.post(kChat, chatBody("x", R"("stream":true,"stream_options":5)")),
                   "stream_options");
  expectBadRequest(
      e.post(kChat, chatBody("x", R"("stream":true,"stream_options":{"include_usage":1})")),
      "stream_options.include_usage");
}

TEST(ChatTest, ContextLengthIsEnforcedLikeVllm) {
  EngineOptions opts;
  opts.max_model_len = 10;
  Engine e(opts);
  e.ok(kChat, chatBody("one two three", R"("max_tokens":7)"));
  expectBadRequest(e.post(kChat, chatBody("one two three", R"("max_tokens":8)")), "");
  expectBadRequest(e.post(kChat, chatBody("a b c d e f g h i j k")), "");
}

// ---------------------------------------------------------------------------------------------

std::string joinedDeltas(const std::vector<json::object>& chunks, int64_t index = 0) {
  std::string text;
  for (const json::object& c : chunks) {
    for (const json::value& choice : c.at("choices").as_array()) {
      if (num(choice.at("index")) != index) continue;
      const json::object& delta = choice.at("delta").as_object();
      if (const json::value* t = delta.if_contains("content")) text += str(*t);
    }
  }
  return text;
}

TEST(ChatStreamTest, ChunksFollowOpenAiWithoutUsage) {
  Engine e;
  const std::string body = chatBody("stream this please", R"("max_tokens":5,"stream":true)");
  std::vector<json::object> chunks = e.stream(kChat, body);
  // role chunk, 5 words, closing chunk.
  ASSERT_EQ(chunks.size(), 7u);
  const json::value id = chunks[0].at("id");
  EXPECT_TRUE(str(id).starts_with("chatcmpl-"));
  for (const json::object& c : chunks) {
    EXPECT_EQ(c.at("id"), id);
    EXPECT_EQ(c.at("object"), "chat.completion.chunk");
    EXPECT_EQ(c.at("model"), "m");
    EXPECT_TRUE(c.at("created").is_number());
    EXPECT_FALSE(c.contains("usage"));
    ASSERT_EQ(c.at("choices").as_array().size(), 1u);
  }
  const json::object& first = chunks[0].at("choices").at(0).as_object();
  EXPECT_EQ(first.at("delta").at("role"), "assistant");
  EXPECT_EQ(first.at("delta").at("content"), "");
  EXPECT_TRUE(first.at("finish_reason").is_null());
  for (size_t i = 1; i <= 5; ++i) {
    const json::object& choice = chunks[i].at("choices").at(0).as_object();
    const std::string word = str(choice.at("delta").at("content"));
    EXPECT_EQ(word.starts_with(" "), i > 1) << word;
    EXPECT_EQ(countTokens(word), 1u);
    EXPECT_FALSE(choice.at("delta").as_object().contains("role"));
    EXPECT_TRUE(choice.at("finish_reason").is_null());
  }
  const json::object& last = chunks[6].at("choices").at(0).as_object();
  EXPECT_TRUE(last.at("delta").as_object().empty());
  EXPECT_EQ(last.at("finish_reason"), "length");

  // The deltas add up to the non-stream answer.
  json::object whole = e.ok(kChat, chatBody("stream this please", R"("max_tokens":5)"));
  EXPECT_EQ(joinedDeltas(chunks), content(whole));
}

TEST(ChatStreamTest, IncludeUsageAddsOnlyTheUsageChunkAndNulls) {
  Engine e(EngineOptions{"", 1000});
  std::vector<json::object> off = e.stream(kChat, chatBody("usage please", R"("stream":true)"));
  std::vector<json::object> explicit_off = e.stream(
      kChat, chatBody("usage please", R"("stream":true,"stream_options":{"include_usage":false})"));
  std::vector<json::object> on = e.stream(
      kChat, chatBody("usage please", R"("stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_EQ(on.size(), off.size() + 1);
  ASSERT_EQ(explicit_off.size(), off.size());

  for (size_t i = 0; i < off.size(); ++i) {
    EXPECT_FALSE(off[i].contains("usage"));
    EXPECT_FALSE(explicit_off[i].contains("usage"));
    ASSERT_TRUE(on[i].contains("usage"));
    EXPECT_TRUE(on[i].at("usage").is_null());
    // Everything else is the same, apart from the per-request id and clock.
    json::object a = on[i];
    json::object b = off[i];
    for (json::object* o : {&a, &b}) {
      o->erase("id");
      o->erase("created");
    }
    a.erase("usage");
    EXPECT_EQ(a, b) << i;
  }
  const json::object& final_chunk = on.back();
  EXPECT_EQ(final_chunk.at("id"), on.front().at("id"));
  EXPECT_EQ(final_chunk.at("object"), "chat.completion.chunk");
  EXPECT_TRUE(final_chunk.at("choices").as_array().empty());

  json::object whole = e.ok(kChat, chatBody("usage please"));
  EXPECT_EQ(final_chunk.at("usage"), whole.at("usage"));
  EXPECT_EQ(num(final_chunk.at("usage").at("completion_tokens")),
            static_cast<int64_t>(off.size()) - 2);
}

TEST(ChatStreamTest, ContinuousUsageStatsCountAsTheyGo) {
  Engine e;
  std::vector<json::object> chunks =
      e.stream(kChat, chatBody("a b c", R"("stream":true,"max_tokens":4,
          "stream_options":{"include_usage":true,"continuous_usage_stats":true})"));
  ASSERT_EQ(chunks.size(), 1u + 4u + 1u + 1u);
  std::vector<int64_t> seen;
  for (const json::object& c : chunks) {
    const json::object& u = c.at("usage").as_object();
    EXPECT_EQ(num(u.at("prompt_tokens")), 3);
    EXPECT_EQ(num(u.at("total_tokens")), 3 + num(u.at("completion_tokens")));
    seen.push_back(num(u.at("completion_tokens")));
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 4, 4}));

  // Without include_usage the vLLM flag has nothing to add to.
  std::vector<json::object> plain = e.stream(
      kChat,
      chatBody("a b c", R"("stream":true,"stream_options":{"continuous_usage_stats":true})"));
  for (const json::object& c : plain) EXPECT_FALSE(c.contains("usage"));
}

TEST(ChatStreamTest, SeveralChoicesInterleave) {
  Engine e(EngineOptions{"", 1000});
  json::object whole = e.ok(kChat, chatBody("two ways", R"("n":2)"));
  std::vector<json::object> chunks = e.stream(
      kChat,
      chatBody("two ways", R"("n":2,"stream":true,"stream_options":{"include_usage":true})"));
  EXPECT_EQ(joinedDeltas(chunks, 0), content(whole, 0));
  EXPECT_EQ(joinedDeltas(chunks, 1), content(whole, 1));
  int finishes = 0;
  for (const json::object& c : chunks) {
    for (const json::value& choice : c.at("choices").as_array()) {
      if (!choice.at("finish_reason").is_null()) {
        ++finishes;
        EXPECT_EQ(choice.at("finish_reason"),
                  whole.at("choices").at(num(choice.at("index"))).at("finish_reason"));
      }
    }
  }
  EXPECT_EQ(finishes, 2);
  EXPECT_EQ(chunks.back().at("usage"), whole.at("usage"));
}

// ---------------------------------------------------------------------------------------------

TEST(CompletionsTest, TextPrompt) {
  Engine e;
  json::object r =
      e.ok(kCompletions, R"({"model":"m","prompt":"def fib(n):\n  return n","max_tokens":5})");
  EXPECT_TRUE(str(r.at("id")).starts_with("cmpl-"));
  EXPECT_EQ(r.at("object"), "text_completion");
  EXPECT_EQ(r.at("model"), "m");
  const json::array& choices = r.at("choices").as_array();
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_EQ(num(choices[0].at("index")), 0);
  EXPECT_EQ(countTokens(str(choices[0].at("text"))), 5u);
  EXPECT_EQ(choices[0].at("finish_reason"), "length");
  EXPECT_TRUE(choices[0].at("logprobs").is_null());
  EXPECT_TRUE(choices[0].at("stop_reason").is_null());
  const json::object& u = r.at("usage").as_object();
  EXPECT_EQ(num(u.at("prompt_tokens")), 4);
  EXPECT_EQ(num(u.at("completion_tokens")), 5);
  EXPECT_EQ(num(u.at("total_tokens")), 9);
  EXPECT_FALSE(choices[0].as_object().contains("prompt_token_ids"));
}

TEST(CompletionsTest, SameTextAsChatForTheSamePrompt) {
  Engine e;
  json::object completion = e.ok(kCompletions, R"({"model":"m","prompt":"Say something"})");
  EXPECT_EQ(str(completion.at("choices").at(0).at("text")),
            content(e.ok(kChat, chatBody("Say something"))));
}

TEST(CompletionsTest, ArrayOfPromptsGivesOneChoiceEach) {
  Engine e(EngineOptions{"", 1000});
  json::object batch =
      e.ok(kCompletions, R"({"model":"m","prompt":["alpha beta","gamma","delta x y"]})");
  const json::array& choices = batch.at("choices").as_array();
  ASSERT_EQ(choices.size(), 3u);
  int64_t completion = 0;
  const char* prompts[] = {"alpha beta", "gamma", "delta x y"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(num(choices[i].at("index")), static_cast<int64_t>(i));
    json::object single =
        e.ok(kCompletions, std::string(R"({"model":"m","prompt":")") + prompts[i] + "\"}");
    EXPECT_EQ(choices[i].at("text"), single.at("choices").at(0).at("text"));
    completion += countTokens(str(choices[i].at("text")));
  }
  EXPECT_EQ(num(batch.at("usage").at("prompt_tokens")), 2 + 1 + 3);
  EXPECT_EQ(num(batch.at("usage").at("completion_tokens")), completion);

  // n samples per prompt: index = prompt * n + sample.
  json::object n2 = e.ok(kCompletions, R"({"model":"m","prompt":["alpha beta","gamma"],"n":2})");
  ASSERT_EQ(n2.at("choices").as_array().size(), 4u);
  EXPECT_EQ(n2.at("choices").at(0).at("text"), choices[0].at("text"));
  EXPECT_EQ(n2.at("choices").at(2).at("text"), choices[1].at("text"));
  EXPECT_EQ(num(n2.at("usage").at("prompt_tokens")), 3);
}

TEST(CompletionsTest, TokenIdPrompts) {
  Engine e;
  json::object one =
      e.ok(kCompletions, R"({"model":"m","prompt":[755,16178,1471,997],"return_token_ids":true})");
  ASSERT_EQ(one.at("choices").as_array().size(), 1u);
  EXPECT_EQ(num(one.at("usage").at("prompt_tokens")), 4);
  EXPECT_EQ(one.at("choices").at(0).at("prompt_token_ids"), json::parse("[755,16178,1471,997]"));
  EXPECT_EQ(one.at("choices").at(0).at("text"),
            e.ok(kCompletions, R"({"model":"m","prompt":[755,16178,1471,997]})")
                .at("choices")
                .at(0)
                .at("text"));

  json::object two = e.ok(kCompletions, R"({"model":"m","prompt":[[1,2,3],[4,5]]})");
  ASSERT_EQ(two.at("choices").as_array().size(), 2u);
  EXPECT_EQ(num(two.at("usage").at("prompt_tokens")), 5);

  json::object text =
      e.ok(kCompletions, R"({"model":"m","prompt":"a b a","return_token_ids":true})");
  const json::array& ids = text.at("choices").at(0).at("prompt_token_ids").as_array();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(static_cast<int64_t>(text.at("choices").at(0).at("token_ids").as_array().size()),
            num(text.at("usage").at("completion_tokens")));
}

TEST(CompletionsTest, InvalidPromptsAre400s) {
  Engine e;
  expectBadRequest(e.post(kCompletions, R"({"model":"m"})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":[]})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":{"a":1}})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":["a",1]})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":[1,-2]})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":[[1],[]]})"), "prompt");
  expectBadRequest(e.post(kCompletions, R"({"prompt":"x"})"), "model");
  expectBadRequest(e.post(kCompletions, R"({"model":"m","prompt":"x","max_tokens":0})"),
                   "max_tokens");
  // Chat's field name is not the legacy API's.
  EXPECT_EQ(e.post(kCompletions, R"({"model":"m","prompt":"x","max_completion_tokens":0})").status,
            200);
}

TEST(CompletionsStreamTest, LastTextChunkCarriesFinishReasonThenUsage) {
  Engine e;
  const std::string base = R"({"model":"m","prompt":"stream me","max_tokens":4,"stream":true)";
  std::vector<json::object> off = e.stream(kCompletions, base + "}");
  std::vector<json::object> on =
      e.stream(kCompletions, base + R"(,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(off.size(), 4u);
  ASSERT_EQ(on.size(), 5u);
  std::string text;
  for (size_t i = 0; i < off.size(); ++i) {
    EXPECT_EQ(off[i].at("object"), "text_completion");
    EXPECT_EQ(off[i].at("id"), off[0].at("id"));
    EXPECT_TRUE(str(off[i].at("id")).starts_with("cmpl-"));
    EXPECT_FALSE(off[i].contains("usage"));
    EXPECT_TRUE(on[i].at("usage").is_null());
    const json::object& c = off[i].at("choices").at(0).as_object();
    EXPECT_EQ(c.at("text"), on[i].at("choices").at(0).at("text"));
    text += str(c.at("text"));
    if (i + 1 < off.size()) {
      EXPECT_TRUE(c.at("finish_reason").is_null());
    } else {
      EXPECT_EQ(c.at("finish_reason"), "length");
    }
  }
  json::object whole = e.ok(kCompletions, R"({"model":"m","prompt":"stream me","max_tokens":4})");
  EXPECT_EQ(text, str(whole.at("choices").at(0).at("text")));
  EXPECT_TRUE(on.back().at("choices").as_array().empty());
  EXPECT_EQ(on.back().at("usage"), whole.at("usage"));
}

// ---------------------------------------------------------------------------------------------

TEST(EmbeddingsTest, UnitVectorsDeterministicPerInput) {
  Engine e;
  json::object r = e.ok(kEmbeddings, R"({"model":"m","input":"How do I reset my password?"})");
  EXPECT_EQ(r.at("object"), "list");
  EXPECT_EQ(r.at("model"), "m");
  const json::array& data = r.at("data").as_array();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].at("object"), "embedding");
  EXPECT_EQ(num(data[0].at("index")), 0);
  std::vector<float> v = floatsOf(data[0].at("embedding"));
  ASSERT_EQ(v.size(), 8u);
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(num(r.at("usage").at("prompt_tokens")), 6);
  EXPECT_EQ(num(r.at("usage").at("total_tokens")), 6);

  json::object again = e.ok(kEmbeddings, R"({"model":"m","input":"How do I reset my password?"})");
  EXPECT_EQ(floatsOf(again.at("data").at(0).at("embedding")), v);
  json::object other = e.ok(kEmbeddings, R"({"model":"m","input":"Something else"})");
  EXPECT_NE(floatsOf(other.at("data").at(0).at("embedding")), v);
}

TEST(EmbeddingsTest, BatchesOfStringsAndTokens) {
  Engine e;
  json::object batch = e.ok(kEmbeddings, R"({"model":"m","input":["one two","three","  \n "]})");
  const json::array& data = batch.at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(num(data[i].at("index")), static_cast<int64_t>(i));
  EXPECT_EQ(
      floatsOf(data[1].at("embedding")),
      floatsOf(
          e.ok(kEmbeddings, R"({"model":"m","input":"three"})").at("data").at(0).at("embedding")));
  EXPECT_EQ(num(batch.at("usage").at("prompt_tokens")), 3);

  json::object ids = e.ok(kEmbeddings, R"({"model":"m","input":[4438,656,358]})");
  EXPECT_EQ(ids.at("data").as_array().size(), 1u);
  EXPECT_EQ(num(ids.at("usage").at("prompt_tokens")), 3);
  json::object nested = e.ok(kEmbeddings, R"({"model":"m","input":[[4438,656,358],[1]]})");
  EXPECT_EQ(nested.at("data").as_array().size(), 2u);
  EXPECT_EQ(num(nested.at("usage").at("prompt_tokens")), 4);
  EXPECT_EQ(nested.at("data").at(0).at("embedding"), ids.at("data").at(0).at("embedding"));
}

TEST(EmbeddingsTest, DimensionsAndBase64MatchFloats) {
  Engine e;
  const std::string base = R"({"model":"m","input":["hello world","bye"],"dimensions":64)";
  json::object floats = e.ok(kEmbeddings, base + "}");
  json::object b64 = e.ok(kEmbeddings, base + R"(,"encoding_format":"base64"})");
  json::object explicit_float = e.ok(kEmbeddings, base + R"(,"encoding_format":"float"})");
  EXPECT_EQ(explicit_float.at("data"), floats.at("data"));
  for (size_t i = 0; i < 2; ++i) {
    std::vector<float> expected = floatsOf(floats.at("data").at(i).at("embedding"));
    ASSERT_EQ(expected.size(), 64u);
    std::vector<unsigned char> bytes = decodeBase64(str(b64.at("data").at(i).at("embedding")));
    ASSERT_EQ(bytes.size(), 64u * 4);
    for (size_t k = 0; k < 64; ++k) {
      // Little-endian float32, whatever the host.
      uint32_t bits = uint32_t{bytes[4 * k]} | uint32_t{bytes[4 * k + 1]} << 8 |
                      uint32_t{bytes[4 * k + 2]} << 16 | uint32_t{bytes[4 * k + 3]} << 24;
      EXPECT_EQ(std::bit_cast<float>(bits), expected[k]) << i << "/" << k;
    }
  }
  EXPECT_EQ(b64.at("usage"), floats.at("usage"));

  // Base64 of a length that is not a multiple of 3 bytes still decodes (padding).
  json::object one =
      e.ok(kEmbeddings, R"({"model":"m","input":"x","dimensions":1,"encoding_format":"base64"})");
  std::vector<unsigned char> bytes = decodeBase64(str(one.at("data").at(0).at("embedding")));
  ASSERT_EQ(bytes.size(), 4u);
  EXPECT_FLOAT_EQ(
      std::fabs(std::bit_cast<float>(uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 |
                                     uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24)),
      1.0f);

  json::object big = e.ok(kEmbeddings, R"({"model":"m","input":"x","dimensions":4096})");
  EXPECT_EQ(big.at("data").at(0).at("embedding").as_array().size(), 4096u);
}

TEST(EmbeddingsTest, InvalidRequestsAre400s) {
  Engine e;
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m"})"), "input");
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m","input":[]})"), "input");
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m","input":[true]})"), "input");
  expectBadRequest(e.post(kEmbeddings, R"({"input":"x"})"), "model");
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m","input":"x","dimensions":0})"),
                   "dimensions");
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m","input":"x","dimensions":4097})"),
                   "dimensions");
  expectBadRequest(e.post(kEmbeddings, R"({"model":"m","input":"x","dimensions":"8"})"),
                   "dimensions");
  expectBadRequest(
      e.post(kEmbeddings, R"({"model":"m","input":"x","encoding_format":"invalid_format"})"),
      "encoding_format");
}

// ---------------------------------------------------------------------------------------------

TEST(ModelsTest, ListsServedModels) {
  Engine e(EngineOptions{" Qwen/Qwen3-1.7B ,openai/gpt-oss-20b,", 16});
  EngineResult r = e.engine.handle("GET", "/v1/models", "");
  ASSERT_EQ(r.status, 200);
  json::object root = parseObject(r.body);
  EXPECT_EQ(root.at("object"), "list");
  const json::array& data = root.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("id"), "Qwen/Qwen3-1.7B");
  EXPECT_EQ(data[1].at("id"), "openai/gpt-oss-20b");
  for (const json::value& m : data) {
    EXPECT_EQ(m.at("object"), "model");
    EXPECT_TRUE(m.at("created").is_number());
    EXPECT_EQ(m.at("owned_by"), "tollgate-mock");
    EXPECT_EQ(m.at("root"), m.at("id"));
    EXPECT_EQ(num(m.at("max_model_len")), 32768);
  }
}

TEST(ModelsTest, DefaultModelWhenNoneConfigured) {
  Engine e;
  json::object root = parseObject(e.engine.handle("GET", "/v1/models?x=1", "").body);
  ASSERT_EQ(root.at("data").as_array().size(), 1u);
  EXPECT_EQ(root.at("data").at(0).at("id"), "mock-model");
}

TEST(ModelsTest, UnknownModelIsVllmStyle404OnEveryEndpoint) {
  Engine e(EngineOptions{"Qwen/Qwen3-1.7B,openai/gpt-oss-20b", 16});
  e.ok(kChat, R"({"model":"openai/gpt-oss-20b","messages":[{"role":"user","content":"x"}]})");
  e.ok(kCompletions, R"({"model":"Qwen/Qwen3-1.7B","prompt":"x"})");
  e.ok(kEmbeddings, R"({"model":"Qwen/Qwen3-1.7B","input":"x"})");
  for (auto [path, body] : {
           std::pair{kChat, R"({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})"},
           std::pair{kCompletions, R"({"model":"gpt-4","prompt":"x","stream":true})"},
           std::pair{kEmbeddings, R"({"model":"gpt-4","input":"x"})"},
       }) {
    EngineResult r = e.post(path, body);
    json::object err = expectError(r, 404);
    EXPECT_EQ(err.at("message"), "The model `gpt-4` does not exist.");
    EXPECT_EQ(err.at("type"), "NotFoundError");
    EXPECT_TRUE(err.at("param").is_null());
    EXPECT_EQ(num(err.at("code")), 404);
  }
  // Escaping survives in the message.
  json::object err = expectError(
      e.post(kChat, R"({"model":"a\"b","messages":[{"role":"user","content":"x"}]})"), 404);
  EXPECT_EQ(err.at("message"), "The model `a\"b` does not exist.");
}

// ---------------------------------------------------------------------------------------------

TEST(RoutingTest, MalformedJsonWrongMethodUnknownPath) {
  Engine e;
  expectBadRequest(e.post(kChat, R"({"model":"m","messages":[)"), "");
  expectBadRequest(e.post(kChat, ""), "");
  expectBadRequest(e.post(kEmbeddings, "not json"), "");
  expectBadRequest(e.post(kCompletions, R"(["model","m"])"), "");

  expectError(e.engine.handle("GET", kChat, ""), 405);
  expectError(e.engine.handle("PUT", kEmbeddings, "{}"), 405);
  expectError(e.engine.handle("POST", "/v1/models", "{}"), 405);

  json::object notfound = expectError(e.engine.handle("POST", "/v1/nope", "{}"), 404);
  EXPECT_EQ(notfound.at("type"), "invalid_request_error");
  expectError(e.engine.handle("GET", "/", ""), 404);

  // A query string does not change the route.
  EXPECT_EQ(e.post("/v1/chat/completions?api-version=1", chatBody("x")).status, 200);

  EngineResult health = e.engine.handle("GET", "/health", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_TRUE(health.body.empty());
}

TEST(RoutingTest, NeverThrowsAndAlwaysAnswersJson) {
  Engine e(EngineOptions{"m", 16});
  const std::string deep(100000, '[');
  const std::vector<std::string> bodies = {
      "",
      "null",
      "{}",
      "[]",
      "\"str\"",
      deep,
      R"({"model":null,"messages":null,"prompt":null,"input":null})",
      R"({"model":"m","messages":[{"role":"user","content":[1,2]}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":5}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e30})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],
          "max_tokens":18446744073709551615})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":4294967297})",
      R"({"model":"m","prompt":[18446744073709551615]})",
      R"({"model":"m","prompt":[[1.5]]})",
      R"({"model":"m","input":[[]]})",
      R"({"model":"m","input":"x","dimensions":-9223372036854775808})",
      "{\"model\":\"m\",\"prompt\":\"\xff\xfe\"}",
  };
  for (std::string_view path : {kChat, kCompletions, kEmbeddings}) {
    for (const std::string& body : bodies) {
      EngineResult r;
      EXPECT_NO_THROW(r = e.post(path, body)) << path << " " << body.substr(0, 80);
      if (r.stream) continue;
      json::error_code ec;
      json::parse(r.body, ec);
      EXPECT_FALSE(ec) << path << " " << body.substr(0, 80) << " -> " << r.body;
      EXPECT_TRUE(r.status == 200 || r.status == 400) << r.status << " " << r.body;
    }
  }
}

}  // namespace
}  // namespace tollgate::mock
