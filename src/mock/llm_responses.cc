#include "mock/llm_responses.h"

#include <string>
#include <utility>
#include <vector>

#include "mock/llm_response.h"
#include "mock/llm_text.h"

namespace tollgate::mock::engine {

namespace {

// What a turn's input says, read in one pass.
struct Input {
  uint64_t prompt_tokens = 0;
  uint64_t seed = kFnvOffset;  // hash of the last user message's text (parts joined by '\n')
  bool tooltest = false;       // the last user message asks for the scripted tool call
  bool last_is_tool_output = false;
  std::string tool_output;  // the text of that last function_call_output / custom_tool_call_output
};

// The text of a message's content: a string, or its text parts (input_text, output_text, text).
// Other parts (images, files) carry no text.
template <class F>
std::optional<ApiError> forEachContentText(const json::value* content, const std::string& where,
                                           F&& f) {
  if (content == nullptr) return std::nullopt;
  if (const json::string* s = content->if_string()) {
    f(std::string_view(*s));
    return std::nullopt;
  }
  const json::array* parts = content->if_array();
  if (parts == nullptr) {
    return badRequest("Invalid type for '" + where + "': expected one of a string or array.",
                      where);
  }
  for (size_t k = 0; k < parts->size(); ++k) {
    const json::object* part = (*parts)[k].if_object();
    const json::value* type = part == nullptr ? nullptr : field(*part, "type");
    if (type == nullptr || !type->is_string()) {
      const std::string w = where + "[" + std::to_string(k) + "].type";
      return badRequest("Missing required parameter: '" + w + "'.", w);
    }
    const json::string& t = type->get_string();
    if (t != "input_text" && t != "output_text" && t != "text") continue;
    const json::value* text = field(*part, "text");
    if (text == nullptr || !text->is_string()) {
      const std::string w = where + "[" + std::to_string(k) + "].text";
      return badRequest("Invalid type for '" + w + "': expected a string.", w);
    }
    f(std::string_view(text->get_string()));
  }
  return std::nullopt;
}

void noteUserText(Input& in, std::string_view text, bool first) {
  if (!first) in.seed = fnv1a("\n", in.seed);
  in.seed = fnv1a(text, in.seed);
  if (text.find("TOOLTEST") != std::string_view::npos) in.tooltest = true;
}

// A tool output is a string or (newer clients) an array of input_text parts.
std::string outputText(const json::value* output) {
  std::string out;
  if (output == nullptr) return out;
  if (const json::string* s = output->if_string()) return std::string(*s);
  forEachContentText(output, "output", [&](std::string_view t) { out += t; });
  return out;
}

std::optional<ApiError> readInput(const json::object& req, Input& in) {
  if (const json::value* instr = field(req, "instructions")) {
    if (!instr->is_string()) {
      return badRequest("Invalid type for 'instructions': expected a string.", "instructions");
    }
    in.prompt_tokens += countTokens(instr->get_string());
  }
  const json::value* input = field(req, "input");
  if (input == nullptr) return badRequest("Missing required parameter: 'input'.", "input");
  if (const json::string* s = input->if_string()) {
    in.prompt_tokens += countTokens(*s);
    noteUserText(in, *s, true);
    return std::nullopt;
  }
  const json::array* items = input->if_array();
  if (items == nullptr) {
    return badRequest("Invalid type for 'input': expected one of a string or array.", "input");
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string where = "input[" + std::to_string(i) + "]";
    const json::object* item = (*items)[i].if_object();
    if (item == nullptr) {
      return badRequest("Invalid type for '" + where + "': expected an object.", where);
    }
    const json::value* type = field(*item, "type");
    const json::value* role = field(*item, "role");
    // Items with only a role (the Vercel AI SDK sends them so) are messages.
    const bool message = (type == nullptr && role != nullptr) ||
                         (type != nullptr && type->is_string() && type->get_string() == "message");
    in.last_is_tool_output = false;
    if (message) {
      if (role == nullptr || !role->is_string()) {
        return badRequest("Missing required parameter: '" + where + ".role'.", where + ".role");
      }
      const bool user = role->get_string() == "user";
      if (user) {
        in.seed = kFnvOffset;
        in.tooltest = false;
      }
      bool first = true;
      auto e =
          forEachContentText(field(*item, "content"), where + ".content", [&](std::string_view t) {
            in.prompt_tokens += countTokens(t);
            if (user) noteUserText(in, t, first);
            first = false;
          });
      if (e) return e;
      continue;
    }
    if (type == nullptr || !type->is_string()) {
      return badRequest("Missing required parameter: '" + where + ".type'.", where + ".type");
    }
    const json::string& t = type->get_string();
    if (t == "function_call_output" || t == "custom_tool_call_output") {
      in.tool_output = outputText(field(*item, "output"));
      in.prompt_tokens += countTokens(in.tool_output);
      in.last_is_tool_output = true;
    } else if (t == "function_call" || t == "custom_tool_call") {
      const json::value* args = field(*item, t == "function_call" ? "arguments" : "input");
      if (args != nullptr && args->is_string()) in.prompt_tokens += countTokens(args->get_string());
    }
    // reasoning, compaction and other items count nothing and change nothing.
  }
  return std::nullopt;
}

// The scripted tool: a shell-like function first (Codex's exec_command or shell, Claude-style
// Bash), else the first function tool, else the first freeform custom tool.
const json::object* pickTool(const json::object& req) {
  const json::value* tools = field(req, "tools");
  const json::array* list = tools == nullptr ? nullptr : tools->if_array();
  if (list == nullptr) return nullptr;
  const json::object* first_function = nullptr;
  const json::object* first_custom = nullptr;
  for (const json::value& v : *list) {
    const json::object* tool = v.if_object();
    const json::value* type = tool == nullptr ? nullptr : field(*tool, "type");
    const json::value* name = tool == nullptr ? nullptr : field(*tool, "name");
    if (type == nullptr || !type->is_string() || name == nullptr || !name->is_string()) continue;
    if (type->get_string() == "function") {
      const json::string& n = name->get_string();
      if (n == "shell" || n == "exec_command" || n == "Bash") return tool;
      if (first_function == nullptr) first_function = tool;
    } else if (type->get_string() == "custom" && first_custom == nullptr) {
      first_custom = tool;
    }
  }
  return first_function != nullptr ? first_function : first_custom;
}

constexpr std::string_view kToolCommand = "echo tollgate-tool-ok";

// Arguments satisfying the tool's required properties: strings get the command (every string is
// a plausible command, path or query for a scripted call), string arrays the command as argv
// (Codex's older shell tool: {"command": ["bash", "-lc", "..."]}); other types are left out.
std::string toolArguments(const json::object& tool) {
  json::object args;
  const json::value* params = field(tool, "parameters");
  const json::object* schema = params == nullptr ? nullptr : params->if_object();
  const json::value* props_v = schema == nullptr ? nullptr : field(*schema, "properties");
  const json::value* req_v = schema == nullptr ? nullptr : field(*schema, "required");
  const json::object* props = props_v == nullptr ? nullptr : props_v->if_object();
  const json::array* required = req_v == nullptr ? nullptr : req_v->if_array();
  if (props == nullptr || required == nullptr) return json::serialize(args);
  for (const json::value& r : *required) {
    const json::string* name = r.if_string();
    const json::value* prop = name == nullptr ? nullptr : props->if_contains(*name);
    const json::object* p = prop == nullptr ? nullptr : prop->if_object();
    const json::value* type = p == nullptr ? nullptr : field(*p, "type");
    if (type == nullptr || !type->is_string()) continue;
    if (type->get_string() == "string") {
      args[*name] = kToolCommand;
    } else if (type->get_string() == "array") {
      args[*name] = json::array{"bash", "-lc", kToolCommand};
    }
  }
  return json::serialize(args);
}

// One output item of the answer.
struct Item {
  enum Kind { kMessage, kFunctionCall, kCustomToolCall } kind = kMessage;
  std::string id;
  std::string name;     // tool calls
  std::string call_id;  // tool calls
  std::string text;     // the message text, the arguments, or the custom tool's input
};

// The item as it is once complete (output_item.done, the response's output).
json::object itemJson(const Item& it, std::string_view status) {
  json::object o;
  o["id"] = it.id;
  switch (it.kind) {
    case Item::kMessage: {
      o["type"] = "message";
      o["status"] = status;
      o["role"] = "assistant";
      json::array& content = o["content"].emplace_array();
      if (status == "completed") {
        content.push_back(json::object{{"type", "output_text"},
                                       {"text", it.text},
                                       {"annotations", json::array()},
                                       {"logprobs", json::array()}});
      }
      break;
    }
    case Item::kFunctionCall:
    case Item::kCustomToolCall: {
      // The same item but for the field the call's text goes in.
      const bool function = it.kind == Item::kFunctionCall;
      o["type"] = function ? "function_call" : "custom_tool_call";
      o["status"] = status;
      o["name"] = it.name;
      o["call_id"] = it.call_id;
      o[function ? "arguments" : "input"] = status == "completed" ? it.text : "";
      break;
    }
  }
  return o;
}

// The response object, echoing the request's settings as OpenAI and vLLM do.
struct ResponseHead {
  std::string id = "resp_" + randomHex();
  uint64_t created_at = nowSeconds();
  std::string model;
  json::object echo;  // the request fields every response object repeats
};

json::object responseJson(const ResponseHead& h, std::string_view status,
                          const std::vector<Item>* items, const json::object* usage,
                          bool length_cut) {
  json::object o;
  o["id"] = h.id;
  o["object"] = "response";
  o["created_at"] = h.created_at;
  o["model"] = h.model;
  o["status"] = status;
  o["error"] = nullptr;
  if (length_cut) {
    o["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
  } else {
    o["incomplete_details"] = nullptr;
  }
  for (const auto& kv : h.echo) o[kv.key()] = kv.value();
  json::array& output = o["output"].emplace_array();
  if (items != nullptr)
    for (const Item& it : *items) output.push_back(itemJson(it, "completed"));
  if (usage != nullptr) {
    o["usage"] = *usage;
  } else {
    o["usage"] = nullptr;
  }
  return o;
}

json::object echoFields(const json::object& req) {
  json::object e;
  auto copy = [&](std::string_view key, json::value fallback) {
    const json::value* v = field(req, key);
    if (v != nullptr) {
      e[key] = *v;
    } else {
      e[key] = std::move(fallback);
    }
  };
  copy("instructions", nullptr);
  copy("max_output_tokens", nullptr);
  copy("metadata", json::object());
  copy("parallel_tool_calls", true);
  copy("previous_response_id", nullptr);
  copy("reasoning", nullptr);
  copy("store", true);
  copy("temperature", 1.0);
  copy("text", json::object{{"format", json::object{{"type", "text"}}}});
  copy("tool_choice", "auto");
  copy("tools", json::array());
  copy("top_p", 1.0);
  copy("truncation", "disabled");
  return e;
}

// Splits text into stream deltas at word boundaries: each piece is a word with the whitespace
// after it, so the pieces joined give the text back exactly.
std::vector<std::string_view> deltas(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0, i = 0;
  const size_t n = text.size();
  while (i < n && isSpace(static_cast<unsigned char>(text[i]))) ++i;
  while (i < n) {
    while (i < n && !isSpace(static_cast<unsigned char>(text[i]))) ++i;
    while (i < n && isSpace(static_cast<unsigned char>(text[i]))) ++i;
    out.push_back(text.substr(start, i - start));
    start = i;
  }
  if (out.empty()) out.push_back(text);
  return out;
}

// The stream: every event named (event: lines) and numbered (sequence_number), the full grammar.
class EventWriter {
 public:
  explicit EventWriter(EngineResult& r) : r_(r) { r_.stream = true; }

  // `type` is a string literal: event_types keeps the view.
  void add(std::string_view type, const json::object& fields) {
    json::object ev;
    ev["type"] = type;
    ev["sequence_number"] = seq_++;
    for (const auto& kv : fields) ev[kv.key()] = kv.value();
    r_.events.push_back(json::serialize(ev));
    r_.event_types.push_back(type);
  }

  void item(const Item& it, size_t index) {
    add("response.output_item.added",
        json::object{{"output_index", index}, {"item", itemJson(it, "in_progress")}});
    const json::object at{{"item_id", it.id}, {"output_index", index}};
    auto with = [&](std::initializer_list<std::pair<json::string_view, json::value_ref>> more) {
      json::object o = at;
      for (const auto& kv : json::object(more)) o[kv.key()] = kv.value();
      return o;
    };
    switch (it.kind) {
      case Item::kMessage: {
        const json::object part{{"type", "output_text"},
                                {"text", ""},
                                {"annotations", json::array()},
                                {"logprobs", json::array()}};
        add("response.content_part.added", with({{"content_index", 0}, {"part", part}}));
        for (std::string_view d : deltas(it.text)) {
          add("response.output_text.delta",
              with({{"content_index", 0}, {"delta", d}, {"logprobs", json::array()}}));
        }
        add("response.output_text.done",
            with({{"content_index", 0}, {"text", it.text}, {"logprobs", json::array()}}));
        json::object done_part = part;
        done_part["text"] = it.text;
        add("response.content_part.done", with({{"content_index", 0}, {"part", done_part}}));
        break;
      }
      case Item::kFunctionCall:
        add("response.function_call_arguments.delta", with({{"delta", it.text}}));
        add("response.function_call_arguments.done", with({{"arguments", it.text}}));
        break;
      case Item::kCustomToolCall:
        add("response.custom_tool_call_input.delta", with({{"delta", it.text}}));
        add("response.custom_tool_call_input.done", with({{"input", it.text}}));
        break;
    }
    add("response.output_item.done",
        json::object{{"output_index", index}, {"item", itemJson(it, "completed")}});
  }

 private:
  EngineResult& r_;
  int64_t seq_ = 0;
};

}  // namespace

EngineResult responses(const Context& ctx, const json::object& req) {
  std::string_view model;
  if (auto e = requireModel(req, model)) return errorResult(e);
  Input in;
  if (auto e = readInput(req, in)) return errorResult(e);
  bool stream = false;
  if (const json::value* s = field(req, "stream")) {
    if (!s->is_bool()) return errorResult(badRequest("Invalid type for 'stream'.", "stream"));
    stream = s->get_bool();
  }
  std::optional<uint64_t> requested_max;
  if (const json::value* m = field(req, "max_output_tokens")) {
    std::optional<int64_t> v = asInteger(*m);
    if (!v || *v < 1) {
      return errorResult(badRequest(
          "Invalid 'max_output_tokens': expected an integer of at least 1.", "max_output_tokens"));
    }
    requested_max = static_cast<uint64_t>(*v);
  }
  if (const json::value* prev = field(req, "previous_response_id")) {
    // The mock stores nothing (as with store:false), so no earlier response can be found.
    const std::string id = prev->is_string() ? std::string(prev->get_string()) : "";
    return errorResult(
        badRequest("Previous response with id '" + id + "' not found.", "previous_response_id"));
  }
  if (const json::value* tools = field(req, "tools"); tools != nullptr && !tools->is_array()) {
    return errorResult(badRequest("Invalid type for 'tools': expected an array.", "tools"));
  }
  if (auto e = checkServed(ctx, model)) return errorResult(e);
  if (auto e = checkContext(ctx, in.prompt_tokens, requested_max)) return errorResult(e);

  // The answer: a tool result is quoted; TOOLTEST with tools offered is a tool call; otherwise
  // chat's reply to the same last user message.
  std::vector<Item> items;
  bool length_cut = false;
  const json::object* tool = in.last_is_tool_output || !in.tooltest ? nullptr : pickTool(req);
  if (in.last_is_tool_output) {
    items.push_back(
        {Item::kMessage, "msg_" + randomHex(), {}, {}, "Tool output: " + in.tool_output});
  } else if (tool != nullptr) {
    const bool custom = field(*tool, "type")->get_string() == "custom";
    Item it{custom ? Item::kCustomToolCall : Item::kFunctionCall,
            (custom ? "ctc_" : "fc_") + randomHex(),
            std::string(field(*tool, "name")->get_string()), "call_" + randomHex(),
            custom ? std::string(kToolCommand) : toolArguments(*tool)};
    items.push_back(std::move(it));
  } else {
    GenParams p;
    p.max_tokens = requested_max.value_or(ctx.opts.default_max_tokens);
    const Reply reply = generateChoices(in.seed, p).front();
    // Only a cap the client set makes the response incomplete: vLLM's own default is the rest of
    // the context, which a mock reply never reaches.
    length_cut = reply.truncated && requested_max.has_value();
    items.push_back({Item::kMessage, "msg_" + randomHex(), {}, {}, replyText(reply)});
  }
  uint64_t output_tokens = 0;
  for (const Item& it : items) output_tokens += countTokens(it.text);
  const json::object usage{{"input_tokens", in.prompt_tokens},
                           {"input_tokens_details", json::object{{"cached_tokens", 0}}},
                           {"output_tokens", output_tokens},
                           {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
                           {"total_tokens", in.prompt_tokens + output_tokens}};

  ResponseHead head;
  head.model = std::string(model);
  head.echo = echoFields(req);
  const std::string_view final_status = length_cut ? "incomplete" : "completed";
  EngineResult r;
  if (!stream) {
    r.body = json::serialize(responseJson(head, final_status, &items, &usage, length_cut));
    return r;
  }
  EventWriter w(r);
  w.add("response.created",
        json::object{{"response", responseJson(head, "in_progress", nullptr, nullptr, false)}});
  w.add("response.in_progress",
        json::object{{"response", responseJson(head, "in_progress", nullptr, nullptr, false)}});
  for (size_t i = 0; i < items.size(); ++i) w.item(items[i], i);
  w.add(length_cut ? "response.incomplete" : "response.completed",
        json::object{{"response", responseJson(head, final_status, &items, &usage, length_cut)}});
  return r;
}

}  // namespace tollgate::mock::engine
