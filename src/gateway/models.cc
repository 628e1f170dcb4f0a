#include "gateway/models.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>

#include "auth/sigv4.h"
#include "common/strings.h"

namespace tollgate::gateway {

namespace {

// Anthropic's page sizes: https://platform.claude.com/docs/en/api/models-list ("Defaults to 20.
// Ranges from 1 to 1000.").
constexpr int64_t kDefaultLimit = 20;
constexpr int64_t kMaxLimit = 1000;

std::string rfc3339(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

struct PageQuery {
  int64_t limit = kDefaultLimit;
  std::optional<std::string> after_id, before_id;
};

Error badParam(std::string message, std::string param) {
  return Error::client(ErrorCode::kBadRequest, std::move(message), std::move(param));
}

Result<PageQuery> parsePageQuery(std::string_view query) {
  PageQuery q;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string value =
        eq == std::string_view::npos ? std::string() : auth::percentDecode(pair.substr(eq + 1));
    if (key == "limit") {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > kMaxLimit)
        return badParam("limit: must be an integer from 1 to 1000", "limit");
      q.limit = n;
    } else if (key == "after_id") {
      q.after_id = value;
    } else if (key == "before_id") {
      q.before_id = value;
    }
  }
  if (q.after_id && q.before_id)
    return badParam("after_id and before_id cannot both be given", "before_id");
  return q;
}

}  // namespace

std::string openAIModelList(const std::vector<std::string>& models, int64_t created_unix) {
  std::string body = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& m : models) {
    if (!first) body += ',';
    first = false;
    body += R"({"id":)";
    appendJsonString(body, m);
    body += R"(,"object":"model","created":)";
    body += std::to_string(created_unix);
    body += R"(,"owned_by":"tollgate"})";
  }
  body += "]}";
  return body;
}

Result<std::string> anthropicModelList(const std::vector<std::string>& models, int64_t created_unix,
                                       std::string_view query) {
  auto q = parsePageQuery(query);
  if (!q) return q.error();
  const auto n = static_cast<int64_t>(models.size());
  const auto limit = q->limit;
  int64_t begin = 0, end = std::min(n, limit);
  bool has_more = false;
  auto indexOf = [&](const std::string& id) -> std::optional<int64_t> {
    auto it = std::find(models.begin(), models.end(), id);
    if (it == models.end()) return std::nullopt;
    return it - models.begin();
  };
  if (q->after_id) {
    const auto at = indexOf(*q->after_id);
    begin = at ? *at + 1 : n;
    end = std::min(n, begin + limit);
    has_more = end < n;
  } else if (q->before_id) {
    const auto at = indexOf(*q->before_id);
    end = at ? *at : 0;
    begin = std::max<int64_t>(0, end - limit);
    has_more = begin > 0;
  } else {
    has_more = end < n;
  }
  const std::string created_at = rfc3339(created_unix);
  std::string body = R"({"data":[)";
  for (int64_t i = begin; i < end; ++i) {
    if (i > begin) body += ',';
    const std::string& id = models[static_cast<size_t>(i)];
    body += R"({"type":"model","id":)";
    appendJsonString(body, id);
    body += R"(,"display_name":)";
    appendJsonString(body, id);
    body += R"(,"created_at":")";
    body += created_at;
    body += "\"}";
  }
  body += R"(],"has_more":)";
  body += has_more ? "true" : "false";
  auto cursor = [&](std::string_view name, int64_t i) {
    body += ",\"";
    body += name;
    body += "\":";
    if (begin < end) {
      appendJsonString(body, models[static_cast<size_t>(i)]);
    } else {
      body += "null";
    }
  };
  cursor("first_id", begin);
  cursor("last_id", end - 1);
  body += '}';
  return body;
}

}  // namespace tollgate::gateway
