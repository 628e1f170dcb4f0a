#include "providers/openai_to_openai.h"

#include <algorithm>

#include "api/errors.h"
#include "api/usage.h"
#include "common/strings.h"

namespace tollgate::providers {

namespace {

std::string_view pathSuffix(api::ApiKind api) {
  switch (api) {
    case api::ApiKind::kChatCompletions:
      return "/chat/completions";
    case api::ApiKind::kCompletions:
      return "/completions";
    case api::ApiKind::kEmbeddings:
      return "/embeddings";
    default:
      return "";
  }
}

// Removes the `"usage":null` member OpenAI adds to every chunk when include_usage is on.
void eraseNullUsage(std::string& s) {
  static constexpr std::string_view kWithComma = ",\"usage\":null";
  static constexpr std::string_view kLeading = "\"usage\":null,";
  auto p = s.find(kWithComma);
  if (p != std::string::npos) {
    s.erase(p, kWithComma.size());
    return;
  }
  p = s.find(kLeading);
  if (p != std::string::npos) s.erase(p, kLeading.size());
}

}  // namespace

std::string unparsableSuccessError() {
  return api::renderOpenAIError(Error::upstream(ErrorCode::kUpstreamBadResponse,
                                                "the upstream response is not valid JSON",
                                                "2xx body that is not JSON", false));
}

OpenAIToOpenAITranslator::OpenAIToOpenAITranslator(api::ApiKind api, std::string version)
    : api_(api), version_(version.empty() ? "v1" : std::move(version)) {}

Result<UpstreamRequest> OpenAIToOpenAITranslator::translateRequest(
    const api::ApiRequest& req, std::string_view client_body, const std::string& model_override) {
  UpstreamRequest out;
  out.path.reserve(32);
  out.path += '/';
  out.path += version_;
  out.path += pathSuffix(api_);
  stream_ = req.stream;
  usage_injected_ = req.stream && !req.include_usage && api_ != api::ApiKind::kEmbeddings;
  if (model_override.empty() && !usage_injected_) return out;  // bytes go as they are
  api::ApiRequest located = req;
  api::locateSpliceOffsets(located, client_body);

  // Splices, applied back to front so earlier offsets stay valid.
  std::string body;
  body.reserve(client_body.size() + model_override.size() + 48);
  struct Edit {
    size_t begin, end;
    std::string text;
  };
  std::vector<Edit> edits;
  if (!model_override.empty()) {
    std::string quoted;
    appendJsonString(quoted, model_override);
    edits.push_back({located.model_span.begin, located.model_span.end, std::move(quoted)});
  }
  if (usage_injected_) {
    if (located.stream_options && client_body[located.stream_options->begin] != '{') {
      // "stream_options": null (allowed by OpenAI) or another non-object: replace the value.
      edits.push_back(
          {located.stream_options->begin, located.stream_options->end, "{\"include_usage\":true}"});
    } else if (located.stream_options) {
      // stream_options exists without include_usage:true; set it inside the object.
      std::string_view so =
          client_body.substr(located.stream_options->begin,
                             located.stream_options->end - located.stream_options->begin);
      if (auto iu = api::findMemberValue(so, "include_usage")) {
        edits.push_back({located.stream_options->begin + iu->begin,
                         located.stream_options->begin + iu->end, "true"});
      } else {
        bool empty_obj = so.find_first_not_of(" \t\r\n", 1) == so.size() - 1;
        edits.push_back({located.stream_options->begin + 1, located.stream_options->begin + 1,
                         empty_obj ? "\"include_usage\":true" : "\"include_usage\":true,"});
      }
    } else {
      edits.push_back(
          {located.object_end, located.object_end, ",\"stream_options\":{\"include_usage\":true}"});
    }
  }
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  size_t pos = 0;
  for (const auto& e : edits) {
    body.append(client_body.substr(pos, e.begin - pos));
    body += e.text;
    pos = e.end;
  }
  body.append(client_body.substr(pos));
  out.body_unchanged = false;
  out.body = std::move(body);
  return out;
}

ResponseStart OpenAIToOpenAITranslator::onResponseStart(
    int status, std::string_view content_type,
    const std::vector<std::pair<std::string, std::string>>& /*headers*/) {
  status_ = status;
  event_stream_ = content_type.find("text/event-stream") != std::string_view::npos;
  return {event_stream_, {}, output()};
}

ResponseOutput OpenAIToOpenAITranslator::onChunk(std::string_view piece, bool end_of_stream,
                                                 std::string& out) {
  if (!event_stream_) {
    // Non-stream: the whole body arrives at once; usage is read from it and it passes unchanged.
    out.append(piece);
    if (end_of_stream && status_ >= 200 && status_ < 300)
      api::extractOpenAIUsage(out, usage_, &response_model_);
    return output();
  }
  sse_.feed(piece, [&](const api::SseEvent& ev) { onStreamEvent(ev, out); });
  if (!end_of_stream || stream_failed_) return output();
  if (!sse_.pending().empty()) {
    // The upstream ended in the middle of an event: that event is lost, and the client must not
    // take the stream for complete.
    sse_.clear();
    failStream("the upstream stream ended in the middle of an event", out);
    return output();
  }
  if (status_ >= 200 && status_ < 300 && !saw_done_ && !saw_finish_) {
    failStream("the upstream stream ended before the response was complete", out);
  }
  return output();
}

ResponseOutput OpenAIToOpenAITranslator::onFailure(const Error& err, std::string& out) {
  if (stream_failed_) return output();
  sse_.clear();  // an event cut by the failure is lost
  stream_failed_ = true;
  out += "data: ";
  out += api::renderOpenAIError(err);
  out += "\n\n";
  return output();
}

void OpenAIToOpenAITranslator::failStream(std::string_view why, std::string& out) {
  stream_failed_ = true;
  out += "data: ";
  out += api::renderOpenAIError(
      Error::upstream(ErrorCode::kUpstreamBadResponse, std::string(why), std::string(why), false));
  out += "\n\n";
}

ResponseOutput OpenAIToOpenAITranslator::onBody(std::string& body) {
  if (status_ < 200 || status_ >= 300) return output();  // upstream errors pass as they are
  if (api::extractOpenAIUsage(body, usage_, &response_model_) || api::isJsonDocument(body))
    return output();
  // A success the client cannot parse is no success: say so in its shape, with a 502.
  replaceUnusableBody(body, unparsableSuccessError());
  return output();
}

void OpenAIToOpenAITranslator::onStreamEvent(const api::SseEvent& ev, std::string& out) {
  if (stream_failed_) return;
  std::string_view data = ev.data;
  if (data == "[DONE]") {
    saw_done_ = true;
    out.append(ev.raw);
    return;
  }
  if (!data.empty() && !api::isJsonDocument(data)) {
    failStream("the upstream sent a stream event that is not valid JSON", out);
    return;
  }
  if (data.starts_with("{\"error\"")) {
    // The upstream's own error event (vLLM's shape): relayed as it is, and the stream counts as
    // failed; nothing of ours is added after it.
    out.append(ev.raw);
    stream_failed_ = true;
    return;
  }
  if (!saw_finish_ && (data.find("\"finish_reason\":\"") != std::string_view::npos ||
                       data.find("\"finish_reason\": \"") != std::string_view::npos)) {
    saw_finish_ = true;
  }
  bool has_usage = data.find("\"usage\":{") != std::string_view::npos ||
                   data.find("\"usage\": {") != std::string_view::npos;
  if (has_usage) {
    api::extractOpenAIUsage(data, usage_, &response_model_);
    // The usage-only chunk (choices: []) exists because we asked for it: drop it.
    if (usage_injected_ && (data.find("\"choices\":[]") != std::string_view::npos ||
                            data.find("\"choices\": []") != std::string_view::npos)) {
      return;
    }
  } else if (response_model_.empty() && data.starts_with("{")) {
    // Cheap: the model is near the start of the first chunk.
    auto m = data.find("\"model\":\"");
    if (m != std::string_view::npos) {
      auto start = m + 9;
      auto end = data.find('"', start);
      if (end != std::string_view::npos)
        response_model_ = std::string(data.substr(start, end - start));
    }
  }
  if (usage_injected_ && data.find("\"usage\":null") != std::string_view::npos) {
    scratch_.assign(ev.raw);
    eraseNullUsage(scratch_);
    out += scratch_;
    return;
  }
  out.append(ev.raw);
}

}  // namespace tollgate::providers
