#include "providers/openai_to_openai_responses.h"

#include "api/errors.h"
#include "api/sse.h"
#include "api/usage.h"
#include "common/strings.h"
#include "providers/openai_to_openai.h"

namespace tollgate::providers {

namespace {

class ResponsesPassThrough final : public Translator {
 public:
  explicit ResponsesPassThrough(std::string version)
      : path_("/" + (version.empty() ? std::string("v1") : std::move(version)) + "/responses") {}

  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    UpstreamRequest out;
    out.path = path_;
    // Backends that report no model (or before the first event) are accounted under the model
    // they were asked for.
    response_model_ = model_override.empty() ? req.model : model_override;
    if (model_override.empty()) return out;  // the client's bytes go as they are
    out.body = api::withModel(req, client_body, model_override);
    out.body_unchanged = false;
    return out;
  }

  ResponseStart onResponseStart(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& /*headers*/) override {
    status_ = status;
    event_stream_ = content_type.find("text/event-stream") != std::string_view::npos;
    return {event_stream_, {}, output()};
  }

  ResponseOutput onBody(std::string& body) override {
    if (status_ < 200 || status_ >= 300) return output();  // upstream errors pass as they are
    if (api::extractResponsesUsage(body, usage_, &response_model_) || api::isJsonDocument(body))
      return output();
    replaceUnusableBody(body, unparsableSuccessError());
    return output();
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    if (!event_stream_) {  // the whole body in one piece: read as onBody reads it
      out.append(piece);
      return end_of_stream ? onBody(out) : output();
    }
    sse_.feed(piece, [&](const api::SseEvent& ev) { onStreamEvent(ev, out); });
    if (!end_of_stream || failed_ || ended_) return output();
    if (!sse_.pending().empty()) {
      sse_.clear();
      failStream("the upstream stream ended in the middle of an event", out);
    } else if (status_ >= 200 && status_ < 300) {
      // Codex takes a stream without response.completed for a lost connection: say so plainly.
      failStream("the upstream stream ended before response.completed", out);
    }
    return output();
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    if (failed_ || ended_) return output();
    sse_.clear();  // an event cut by the failure is lost
    failStream(err.public_message, out);
    return output();
  }

 private:
  ResponseOutput output() const { return makeOutput(status_, usage_, response_model_, failed_); }

  void onStreamEvent(const api::SseEvent& ev, std::string& out) {
    if (failed_) return;
    if (ev.data.empty() || ev.data == "[DONE]") {  // comments, keep-alives, a [DONE] sentinel
      out.append(ev.raw);
      return;
    }
    api::ResponsesEvent info;
    if (!api::readResponsesEvent(ev.data, info, usage_, response_model_, response_id_)) {
      failStream("the upstream sent a stream event that is not a JSON object", out);
      return;
    }
    if (info.sequence_number > last_sequence_) last_sequence_ = info.sequence_number;
    out.append(ev.raw);
    switch (info.type) {
      case api::ResponsesEventType::kCompleted:
      case api::ResponsesEventType::kIncomplete:
        ended_ = true;
        break;
      case api::ResponsesEventType::kFailed:
      case api::ResponsesEventType::kError:
        // The upstream's own failure, relayed as it is; nothing of ours is added after it.
        failed_ = true;
        break;
      default:
        break;
    }
  }

  // A response.failed event, the Responses API's own way to end a stream in error: Codex retries
  // on it, the Vercel AI SDK and the OpenAI SDK surface response.error (code and message).
  void failStream(std::string_view message, std::string& out) {
    failed_ = true;
    out += "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":";
    out += std::to_string(last_sequence_ + 1);
    out += ",\"response\":{\"id\":";
    appendJsonString(out, response_id_);
    out += ",\"object\":\"response\",\"model\":";
    appendJsonString(out, response_model_);
    out +=
        ",\"status\":\"failed\",\"output\":[],\"usage\":null,\"error\":{\"code\":"
        "\"server_error\",\"message\":";
    appendJsonString(out, message);
    out += "}}}\n\n";
  }

  std::string path_;
  int status_ = 0;
  bool event_stream_ = false;
  bool ended_ = false;   // a terminal event (completed, incomplete) was relayed
  bool failed_ = false;  // the stream ended in error (the upstream's or ours)
  int64_t last_sequence_ = -1;
  api::SseParser sse_;
  api::TokenUsage usage_;
  std::string response_model_;
  std::string response_id_;
};

}  // namespace

std::unique_ptr<Translator> makeOpenAIResponsesPassThrough(std::string version) {
  return std::make_unique<ResponsesPassThrough>(std::move(version));
}

}  // namespace tollgate::providers
