#include "providers/anthropic_to_anthropic.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/sse.h"

namespace tollgate::providers {

namespace json = boost::json;

namespace {

class AnthropicToAnthropicTranslator final : public Translator {
 public:
  Result<UpstreamRequest> translateRequest(const api::ApiRequest& req, std::string_view client_body,
                                           const std::string& model_override) override {
    UpstreamRequest out;
    out.path = "/v1/messages";
    out.forward_client_query = true;
    // The client's anthropic-version and anthropic-beta headers are forwarded as they are.
    if (model_override.empty()) return out;
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
    if (status_ < 200 || status_ >= 300) return output();
    if (readUsage(body)) return output();
    // A success the client cannot parse is no success: say so in its shape, with a 502.
    replaceUnusableBody(
        body, api::renderAnthropicError(Error::upstream(ErrorCode::kUpstreamBadResponse,
                                                        "the upstream response is not valid JSON",
                                                        "2xx body that is not JSON", false)));
    return output();
  }

  ResponseOutput onChunk(std::string_view piece, bool end_of_stream, std::string& out) override {
    if (!event_stream_) {
      out.append(piece);
      return output();
    }
    sse_.feed(piece, [&](const api::SseEvent& ev) {
      if (failed_) return;
      if (ev.event == "message_start" || ev.event == "message_delta") readUsage(ev.data);
      if (ev.event == "message_stop") saw_stop_ = true;
      if (ev.event == "error") failed_ = true;  // Anthropic's own error event, relayed as it is
      out.append(ev.raw);
    });
    if (!end_of_stream || failed_ || status_ < 200 || status_ >= 300) return output();
    // A cut event is lost, and a stream without message_stop is not complete: say so in the
    // stream's own format rather than let the client take it for a finished message.
    if (!sse_.pending().empty() || !saw_stop_) {
      sse_.clear();
      const Error err = Error::upstream(ErrorCode::kUpstreamBadResponse,
                                        "the upstream stream ended before the message was complete",
                                        "Anthropic stream without message_stop", false);
      appendError(err, out);
    }
    return output();
  }

  ResponseOutput onFailure(const Error& err, std::string& out) override {
    if (failed_) return output();
    sse_.clear();  // an event cut by the failure is lost
    appendError(err, out);
    return output();
  }

 private:
  ResponseOutput output() const { return makeOutput(status_, usage_, response_model_, failed_); }

  // Anthropic reports prompt tokens apart from cache reads and writes; the gateway's input count
  // includes them (as OpenAI's prompt_tokens does), cached_input the reads. False when the text is
  // not JSON at all.
  bool readUsage(std::string_view event_json) {
    boost::system::error_code ec;
    json::value v = json::parse(event_json, ec);
    if (ec) return false;
    if (!v.is_object()) return true;
    const json::object& o = v.as_object();
    const json::object* msg = &o;
    if (auto* m = o.if_contains("message"); m && m->is_object()) msg = &m->as_object();  // start
    if (auto* model = msg->if_contains("model"); model && model->is_string())
      response_model_ = model->as_string();
    const json::value* u = msg->if_contains("usage");
    if (!u) u = o.if_contains("usage");  // message_delta
    if (!u || !u->is_object()) return true;
    auto num = [&](const char* k) -> std::optional<uint64_t> {
      auto* x = u->as_object().if_contains(k);
      if (x && x->is_int64() && x->as_int64() >= 0) return static_cast<uint64_t>(x->as_int64());
      return std::nullopt;
    };
    if (auto in = num("input_tokens")) {
      usage_.input_tokens = *in + num("cache_read_input_tokens").value_or(0) +
                            num("cache_creation_input_tokens").value_or(0);
      usage_.cached_input_tokens = num("cache_read_input_tokens").value_or(0);
    }
    if (auto outt = num("output_tokens"))
      usage_.output_tokens = *outt;  // cumulative: the last wins
    usage_.total_tokens = usage_.input_tokens + usage_.output_tokens;
    usage_.known = true;
    return true;
  }

  void appendError(const Error& err, std::string& out) {
    failed_ = true;
    out += "event: error\ndata: ";
    out += api::renderAnthropicError(err);
    out += "\n\n";
  }

  int status_ = 0;
  bool event_stream_ = false;
  bool saw_stop_ = false;  // message_stop seen: the stream is complete
  bool failed_ = false;    // an error event was sent (ours or the upstream's)
  api::SseParser sse_;
  api::TokenUsage usage_;
  std::string response_model_;
};

}  // namespace

std::unique_ptr<Translator> makeAnthropicToAnthropic() {
  return std::make_unique<AnthropicToAnthropicTranslator>();
}

}  // namespace tollgate::providers
