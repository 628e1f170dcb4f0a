#include "kube/status.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <ctime>

namespace tollgate::kube {

namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return -1;
}

// Cuts at a UTF-8 character boundary.
std::string capped(const std::string& message) {
  if (message.size() <= kMaxConditionMessage) return message;
  size_t cut = kMaxConditionMessage - 3;
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return message.substr(0, cut) + "...";
}

}  // namespace

std::optional<json::array> conditionsFor(const Verdict& verdict, const json::value& current,
                                         std::string_view now) {
  const std::string status = verdict.accepted ? "True" : "False";
  const std::string reason(verdict.accepted ? kReasonAccepted : kReasonRejected);
  const std::string message = capped(verdict.message);
  std::string transition(now);
  const json::object* existing = nullptr;
  size_t count = 0;
  if (current.is_array()) {
    count = current.get_array().size();
    for (const json::value& c : current.get_array()) {
      if (c.is_object() && str(c.get_object(), "type") == "Accepted") existing = &c.get_object();
    }
  }
  if (existing != nullptr && str(*existing, "status") == status) {
    if (count == 1 && str(*existing, "reason") == reason && str(*existing, "message") == message &&
        integer(*existing, "observedGeneration") == verdict.generation) {
      return std::nullopt;
    }
    const std::string previous = str(*existing, "lastTransitionTime");
    if (!previous.empty()) transition = previous;
  }
  json::object condition;
  condition["type"] = "Accepted";
  condition["status"] = status;
  condition["reason"] = reason;
  condition["message"] = message;
  condition["observedGeneration"] = verdict.generation;
  condition["lastTransitionTime"] = transition;
  json::array out;
  out.push_back(std::move(condition));
  return out;
}

std::string statusPatch(const json::array& conditions) {
  json::object status;
  status["conditions"] = conditions;
  json::object patch;
  patch["status"] = std::move(status);
  return json::serialize(patch);
}

std::string formatTime(std::chrono::system_clock::time_point t, bool micro) {
  using namespace std::chrono;
  const auto secs = time_point_cast<seconds>(t);
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (micro) {
    const auto us = duration_cast<microseconds>(t - secs).count();
    n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(us));
  }
  return std::string(buf, n) + "Z";
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (text.size() < 20) return std::nullopt;
  int y, mo, d, h, mi, s;
  const std::string head(text.substr(0, 19));
  if (std::sscanf(head.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6 ||
      head[4] != '-' || head[7] != '-' || (head[10] != 'T' && head[10] != 't') || head[13] != ':' ||
      head[16] != ':') {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  int64_t micros = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 6) micros = micros * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  int64_t offset_s = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    const int oh = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int om = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)),
                           day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + microseconds(micros) -
                 seconds(offset_s);
  return time_point_cast<system_clock::duration>(t);
}

}  // namespace tollgate::kube
