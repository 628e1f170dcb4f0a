#include "mock/llm_response.h"

#include <string>
#include <utility>

namespace tollgate::mock::engine {

namespace {

void appendUsage(std::string& out, uint64_t prompt, uint64_t completion) {
  out += "{\"prompt_tokens\":";
  appendUint(out, prompt);
  out += ",\"completion_tokens\":";
  appendUint(out, completion);
  out += ",\"total_tokens\":";
  appendUint(out, prompt + completion);
  out += ",\"prompt_tokens_details\":null}";
}

class StreamWriter {
 public:
  StreamWriter(std::string_view object, std::string_view model, const GenParams& p,
               uint64_t prompt_tokens)
      : params_(p), prompt_tokens_(prompt_tokens) {
    head_ = "{\"id\":\"";
    head_ += object == "chat.completion.chunk" ? "chatcmpl-" : "cmpl-";
    head_ += randomHex();
    head_ += "\",\"object\":\"";
    head_ += object;
    head_ += "\",\"created\":";
    appendUint(head_, nowSeconds());
    head_ += ",\"model\":";
    head_ += quoted(model);
    head_ += ",\"choices\":[";
  }

  // choice: the text inside "choices":[ ... ] for one chunk.
  void chunk(std::string_view choice, uint64_t completion_so_far) {
    std::string ev;
    ev.reserve(head_.size() + choice.size() + 96);
    ev += head_;
    ev += choice;
    ev += ']';
    if (params_.continuous_usage) {
      ev += ",\"usage\":";
      appendUsage(ev, prompt_tokens_, completion_so_far);
    } else if (params_.include_usage) {
      // OpenAI marks every chunk but the last with an explicit null once usage is requested.
      ev += ",\"usage\":null";
    }
    ev += '}';
    events_.push_back(std::move(ev));
  }

  EngineResult finish(uint64_t completion_tokens) {
    if (params_.include_usage) {
      std::string ev = head_;
      ev += "],\"usage\":";
      appendUsage(ev, prompt_tokens_, completion_tokens);
      ev += '}';
      events_.push_back(std::move(ev));
    }
    events_.emplace_back("[DONE]");
    EngineResult r;
    r.stream = true;
    r.events = std::move(events_);
    return r;
  }

  void reserve(size_t n) { events_.reserve(n); }

 private:
  const GenParams& params_;
  uint64_t prompt_tokens_;
  std::string head_;
  std::vector<std::string> events_;
};

uint32_t longest(const std::vector<Reply>& replies) {
  uint32_t m = 0;
  for (const Reply& r : replies) m = r.count > m ? r.count : m;
  return m;
}

}  // namespace

std::vector<Reply> generateChoices(uint64_t seed, const GenParams& p) {
  std::vector<Reply> replies;
  replies.reserve(p.n);
  for (uint32_t j = 0; j < p.n; ++j) {
    replies.push_back(generateReply(choiceSeed(seed, j), p.max_tokens));
  }
  return replies;
}

uint64_t completionTokens(const std::vector<Reply>& replies) {
  uint64_t total = 0;
  for (const Reply& r : replies) total += r.count;
  return total;
}

void putUsage(json::object& usage, uint64_t prompt, uint64_t completion) {
  usage["prompt_tokens"] = prompt;
  usage["completion_tokens"] = completion;
  usage["total_tokens"] = prompt + completion;
  usage["prompt_tokens_details"] = nullptr;
}

json::array generatedTokenIds(const Reply& reply) {
  json::array ids;
  ids.reserve(reply.count);
  for (uint32_t i = 0; i < reply.count; ++i) ids.emplace_back(tokenId(reply.word(i)));
  return ids;
}

namespace {

// Choice 0's scripted deltas (replies.size() == 1): reasoning word by word, then the tool call
// (name first, the arguments in two pieces, as servers split them) or the text.
EngineResult scriptedChatStream(StreamWriter& w, const Reply& reply, const ChatScript& script) {
  uint64_t produced = 0;
  std::string choice;
  auto delta = [&](std::string_view fields, uint64_t tokens) {
    produced += tokens;
    choice = "{\"index\":0,\"delta\":{";
    choice += fields;
    choice += "},\"logprobs\":null,\"finish_reason\":null}";
    w.chunk(choice, produced);
  };
  bool first = true;
  forEachToken(script.reasoning, [&](std::string_view word) {
    delta("\"reasoning_content\":" + quoted(first ? std::string(word) : " " + std::string(word)),
          1);
    first = false;
  });
  std::string_view finish = reply.finishReason();
  if (script.toolCall()) {
    finish = "tool_calls";
    delta("\"tool_calls\":[{\"index\":0,\"id\":" + quoted(script.tool_call_id) +
              ",\"type\":\"function\",\"function\":{\"name\":" + quoted(script.tool_name) +
              ",\"arguments\":\"\"}}]",
          0);
    const std::string_view args = script.tool_arguments;
    const size_t half = args.size() / 2;
    for (std::string_view piece : {args.substr(0, half), args.substr(half)}) {
      delta("\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":" + quoted(piece) + "}}]",
            countTokens(piece));
    }
    produced = script.completionTokens(reply);  // a token split in two halves counts once
  } else if (script.text) {
    finish = "stop";
    delta("\"content\":" + quoted(*script.text), countTokens(*script.text));
  } else {
    for (uint32_t s = 0; s < reply.count; ++s) {
      std::string word = s > 0 ? " " : "";
      word += reply.word(s);
      delta("\"content\":" + quoted(word), 1);
    }
  }
  choice = "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
  choice += finish;
  choice += "\",\"stop_reason\":null}";
  w.chunk(choice, produced);
  return w.finish(produced);
}

}  // namespace

EngineResult chatStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                        const std::vector<Reply>& replies, const ChatScript& script) {
  StreamWriter w("chat.completion.chunk", model, p, prompt_tokens);
  w.reserve(completionTokens(replies) + 2 * replies.size() + 2);
  std::string choice;
  for (size_t j = 0; j < replies.size(); ++j) {
    choice = "{\"index\":";
    appendUint(choice, j);
    choice +=
        ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
        "\"finish_reason\":null}";
    w.chunk(choice, 0);
  }
  if (replies.size() == 1 && (script.toolCall() || script.text || !script.reasoning.empty()))
    return scriptedChatStream(w, replies[0], script);
  uint64_t produced = 0;
  const uint32_t rounds = longest(replies);
  for (uint32_t s = 0; s < rounds; ++s) {
    for (size_t j = 0; j < replies.size(); ++j) {
      if (s >= replies[j].count) continue;
      ++produced;
      choice = "{\"index\":";
      appendUint(choice, j);
      choice += ",\"delta\":{\"content\":\"";
      if (s > 0) choice += ' ';
      choice += replies[j].word(s);
      choice += "\"},\"logprobs\":null,\"finish_reason\":null}";
      w.chunk(choice, produced);
    }
  }
  for (size_t j = 0; j < replies.size(); ++j) {
    choice = "{\"index\":";
    appendUint(choice, j);
    choice += ",\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
    choice += replies[j].finishReason();
    choice += "\",\"stop_reason\":null}";
    w.chunk(choice, produced);
  }
  return w.finish(produced);
}

EngineResult completionStream(std::string_view model, const GenParams& p, uint64_t prompt_tokens,
                              const std::vector<Reply>& replies) {
  StreamWriter w("text_completion", model, p, prompt_tokens);
  w.reserve(completionTokens(replies) + 2);
  std::string choice;
  uint64_t produced = 0;
  const uint32_t rounds = longest(replies);
  for (uint32_t s = 0; s < rounds; ++s) {
    for (size_t j = 0; j < replies.size(); ++j) {
      const Reply& r = replies[j];
      if (s >= r.count) continue;
      ++produced;
      choice = "{\"index\":";
      appendUint(choice, j);
      choice += ",\"text\":\"";
      if (s > 0) choice += ' ';
      choice += r.word(s);
      choice += "\",\"logprobs\":null,\"finish_reason\":";
      if (s + 1 == r.count) {
        choice += '"';
        choice += r.finishReason();
        choice += '"';
      } else {
        choice += "null";
      }
      choice += ",\"stop_reason\":null}";
      w.chunk(choice, produced);
    }
  }
  return w.finish(produced);
}

}  // namespace tollgate::mock::engine
