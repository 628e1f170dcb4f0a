// `tollgate client`: the blueprint's test clients as one command. Sends each model the request the
// blueprint's scripts send and prints status and reply text; exits 1 when any request failed.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <limits>

#include "api/sse.h"
#include "common/strings.h"
#include "main/commands.h"
#include "upstream/client.h"
#include "upstream/fetch.h"

namespace tollgate::cli {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

struct ParsedUrl {
  std::string host;
  uint16_t port = 80;
  std::string prefix;  // path prefix without trailing '/'
};

std::optional<ParsedUrl> parseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  auto slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  ParsedUrl out;
  if (slash != std::string_view::npos) out.prefix = std::string(url.substr(slash));
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  if (auto hp = parseHostPort(hostport)) {
    out.host = hp->host;
    out.port = hp->port;
  } else {
    out.host = std::string(hostport);
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

struct Reply {
  int status = 0;
  std::string text;   // reply text, or the error message
  std::string usage;  // "in=.. out=.." when known
};

std::string extractText(const json::value& v, bool anthropic) {
  try {
    if (anthropic) {
      std::string out;
      for (const auto& block : v.at("content").as_array())
        if (block.at("type").as_string() == "text") out += block.at("text").as_string().c_str();
      return out;
    }
    const auto& choice = v.at("choices").as_array().at(0);
    if (auto* msg = choice.as_object().if_contains("message")) {
      const auto& c = msg->at("content");
      return c.is_string() ? std::string(c.as_string().c_str()) : std::string();
    }
    if (auto* t = choice.as_object().if_contains("text"))
      return std::string(t->as_string().c_str());
  } catch (const std::exception&) {
  }
  return {};
}

std::string errorText(const json::value& v) {
  try {
    return std::string(v.at("error").at("message").as_string().c_str());
  } catch (const std::exception&) {
    return {};
  }
}

// The value of header `name` (any case) in `headers`, empty when absent.
std::string_view headerValue(const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

// Sends `req` to the gateway and reads the whole answer within `timeout`. A body whose read
// failed comes back with what arrived (`cut`, `read_error`): the scenarios print what they got.
asio::awaitable<Result<upstream::FetchResponse>> send(upstream::Pool& pool, const ParsedUrl& url,
                                                      const upstream::OutgoingRequest& req,
                                                      std::chrono::seconds timeout) {
  upstream::UpstreamTarget target;
  target.host = url.host;
  target.port = url.port;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  upstream::FetchLimits limits;
  limits.max_body = std::numeric_limits<size_t>::max();
  limits.keep_partial = true;
  co_return co_await upstream::fetch(pool, target, req, deadline, limits);
}

asio::awaitable<Reply> callModel(upstream::Pool& pool, const ParsedUrl& url, const ClientOptions& o,
                                 const std::string& model) {
  const bool anthropic = model.starts_with("anthropic.") || model.starts_with("claude");
  json::object body;
  body["model"] = model;
  body["max_tokens"] = o.max_tokens;
  body["messages"] = json::array{json::object{{"role", "user"}, {"content", o.prompt}}};
  if (o.stream) body["stream"] = true;
  std::string body_text = json::serialize(body);

  upstream::OutgoingRequest req;
  req.target = url.prefix + (anthropic ? "/anthropic/v1/messages" : "/v1/chat/completions");
  req.headers = {
      {"content-type", "application/json"}, {"x-ai-eg-model", model}, {"x-user-id", o.user}};
  if (anthropic) req.headers.emplace_back("anthropic-version", "2023-06-01");
  req.body = body_text;

  Reply reply;
  auto got = co_await send(pool, url, req, std::chrono::seconds(120));
  if (!got) {
    reply.text = got.error().detail;
    co_return reply;
  }
  reply.status = got->status;
  if (got->cut) {
    reply.text = got->read_error.detail;
    co_return reply;
  }
  const std::string& raw = got->body;
  if (headerValue(got->headers, "content-type").find("text/event-stream") != std::string::npos) {
    api::SseParser sse;
    std::string text;
    sse.feed(raw, [&](const api::SseEvent& ev) {
      if (ev.data == "[DONE]") return;
      boost::system::error_code ec;
      auto v = json::parse(ev.data, ec);
      if (ec || !v.is_object()) return;
      try {
        if (anthropic) {
          if (auto* d = v.as_object().if_contains("delta"))
            if (auto* t = d->as_object().if_contains("text")) text += t->as_string().c_str();
        } else if (auto* ch = v.as_object().if_contains("choices"); ch && !ch->as_array().empty()) {
          if (auto* d = ch->as_array()[0].as_object().if_contains("delta"))
            if (auto* c = d->as_object().if_contains("content"); c && c->is_string())
              text += c->as_string().c_str();
        }
      } catch (const std::exception&) {
      }
    });
    reply.text = text;
    co_return reply;
  }
  boost::system::error_code ec;
  auto v = json::parse(raw, ec);
  if (ec) {
    reply.text = raw.substr(0, 200);
  } else if (reply.status == 200) {
    reply.text = extractText(v, anthropic);
    if (auto* u = v.as_object().if_contains("usage")) reply.usage = json::serialize(*u);
  } else {
    reply.text = errorText(v);
    if (reply.text.empty()) reply.text = raw.substr(0, 200);
  }
  co_return reply;
}

// The blueprint's rate-limit scenario: one user sends 5 completions half a second apart; the
// scenario passes when at least one is refused with 429.
asio::awaitable<int> rateLimitScenario(upstream::Pool& pool, const ParsedUrl& url,
                                       const ClientOptions& o) {
  const std::string model = o.models.empty() ? "openai/gpt-oss-20b" : o.models.front();
  int limited = 0, failures = 0;
  for (int i = 1; i <= 5; ++i) {
    json::object body;
    body["model"] = model;
    body["prompt"] = o.prompt;
    body["max_tokens"] = o.max_tokens == 50 ? 5 : o.max_tokens;
    const std::string body_text = json::serialize(body);
    upstream::OutgoingRequest req;
    req.target = url.prefix + "/v1/completions";
    req.headers = {{"content-type", "application/json"}, {"x-user-id", o.user}};
    req.body = body_text;
    auto st = co_await send(pool, url, req, std::chrono::seconds(60));
    if (!st) {
      std::cout << "request " << i << ": " << st.error().detail << "\n";
      ++failures;
      continue;
    }
    const std::string& raw = st->body;
    std::string detail;
    boost::system::error_code ec;
    auto v = json::parse(raw, ec);
    if (!ec && st->status == 200) {
      if (auto* u = v.as_object().if_contains("usage"); u && u->is_object())
        if (auto* t = u->as_object().if_contains("total_tokens"))
          detail = "total_tokens=" + json::serialize(*t);
    } else if (!ec) {
      detail = errorText(v);
    }
    std::cout << "request " << i << " user=" << o.user << " status=" << st->status << " " << detail
              << " remaining=" << headerValue(st->headers, "x-ratelimit-remaining") << "\n";
    if (st->status == 429)
      ++limited;
    else if (st->status != 200)
      ++failures;
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
    co_await t.async_wait(asio::use_awaitable);
  }
  std::cout << (limited > 0 ? "PASS" : "FAIL") << " rate-limit: " << limited
            << " of 5 requests refused with 429\n";
  co_return limited > 0 && failures == 0 ? 0 : 1;
}

// The blueprint's Bedrock test: /anthropic/v1/messages to the Bedrock model with the
// anthropic-version header, then (its rate-limit variant) with anthropic_version in the body.
asio::awaitable<int> bedrockScenario(upstream::Pool& pool, const ParsedUrl& url,
                                     const ClientOptions& o) {
  const std::string model =
      o.models.empty() ? "anthropic.claude-3-haiku-20240307-v1:0" : o.models.front();
  int failures = 0;
  for (int variant = 0; variant < 2; ++variant) {
    json::object body;
    body["model"] = model;
    body["max_tokens"] = o.max_tokens;
    body["messages"] = json::array{json::object{{"role", "user"}, {"content", o.prompt}}};
    if (variant == 1) body["anthropic_version"] = "bedrock-2023-05-31";
    const std::string body_text = json::serialize(body);
    upstream::OutgoingRequest req;
    req.target = url.prefix + "/anthropic/v1/messages";
    req.headers = {{"content-type", "application/json"}, {"x-user-id", o.user}};
    if (variant == 0) req.headers.emplace_back("anthropic-version", "2023-06-01");
    req.body = body_text;
    auto st = co_await send(pool, url, req, std::chrono::seconds(120));
    const std::string raw = st ? st->body : std::string();
    const int status = st ? st->status : 0;
    boost::system::error_code ec;
    auto v = json::parse(raw, ec);
    std::string text =
        ec ? raw.substr(0, 200) : (status == 200 ? extractText(v, true) : errorText(v));
    if (!st) text = st.error().detail;
    const bool ok = status == 200;
    if (!ok) ++failures;
    std::cout << (ok ? "PASS " : "FAIL ") << model
              << (variant == 0 ? " (anthropic-version header)" : " (anthropic_version in body)")
              << " status=" << status << "\n  " << (text.empty() ? "(no text)" : text) << "\n";
  }
  co_return failures;
}

}  // namespace

int runClient(const ClientOptions& o) {
  auto url = parseUrl(o.url);
  if (!url) {
    std::cerr << "tollgate: error: --url must look like http://HOST:PORT\n";
    return 2;
  }
  if (o.scenario != "multi-model" && o.scenario != "rate-limit" && o.scenario != "bedrock") {
    std::cerr << "tollgate: error: unknown --scenario '" << o.scenario
              << "' (available: multi-model, rate-limit, bedrock)\n";
    return 2;
  }
  std::vector<std::string> models = o.models;
  if (models.empty())
    models = {"Qwen/Qwen3-1.7B", "openai/gpt-oss-20b", "anthropic.claude-3-haiku-20240307-v1:0"};

  asio::io_context io(1);
  upstream::Pool pool(io, upstream::PoolOptions{});
  int failures = 0;
  if (o.scenario == "bedrock") {
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { failures = co_await bedrockScenario(pool, *url, o); },
        asio::detached);
    io.run();
    return failures == 0 ? 0 : 1;
  }
  if (o.scenario == "rate-limit") {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> { failures = co_await rateLimitScenario(pool, *url, o); },
        asio::detached);
    io.run();
    return failures;
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const auto& m : models) {
          Reply r = co_await callModel(pool, *url, o, m);
          bool ok = r.status == 200;
          if (!ok) ++failures;
          std::cout << (ok ? "PASS " : "FAIL ") << m << " status=" << r.status;
          if (!r.usage.empty()) std::cout << " usage=" << r.usage;
          std::cout << "\n  " << (r.text.empty() ? "(no text)" : r.text) << "\n";
        }
      },
      asio::detached);
  io.run();
  std::cout << (failures == 0 ? "all requests succeeded" : std::to_string(failures) + " failed")
            << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace tollgate::cli
