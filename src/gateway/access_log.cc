#include "gateway/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "common/strings.h"

namespace tollgate::gateway {

AccessLog::AccessLog(const std::string& path) {
  if (path == "off" || path.empty()) return;
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  owns_fd_ = fd_ >= 0;
  path_ = path;
}

bool AccessLog::reopen() {
  if (!owns_fd_) return true;  // stdout or off: nothing to reopen
  int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fresh < 0) return false;
  bool ok = ::dup3(fresh, fd_, O_CLOEXEC) >= 0;
  ::close(fresh);
  return ok;
}

AccessLog::~AccessLog() {
  if (owns_fd_) ::close(fd_);
}

std::string AccessLog::format(const RequestContext& ctx) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  std::string out;
  out.reserve(512);
  char ts[96];
  auto secs = std::chrono::system_clock::to_time_t(ctx.wall_start);
  auto ms =
      duration_cast<std::chrono::milliseconds>(ctx.wall_start.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  auto now = Clock::now();
  auto us = [](Clock::duration d) { return duration_cast<microseconds>(d).count() / 1000.0; };
  auto field = [&out](std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    appendJsonString(out, value);
  };
  auto number = [&out](std::string_view name, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    out += ",\"";
    out += name;
    out += "\":";
    out += buf;
  };
  auto integer = [&out](std::string_view name, uint64_t v) {
    out += ",\"";
    out += name;
    out += "\":";
    out += std::to_string(v);
  };
  out += "{\"time\":\"";
  out += ts;
  out += '"';
  field("request_id", ctx.request_id);
  field("method", ctx.method);
  field("path", ctx.path);
  integer("status", static_cast<uint64_t>(ctx.status));
  field("user", ctx.user);
  field("model", ctx.parsed.model);
  field("response_model", ctx.response_model);
  field("route", ctx.route);
  field("backend", ctx.backend);
  integer("attempts", ctx.attempts);
  out += ",\"stream\":";
  out += ctx.stream ? "true" : "false";
  integer("input_tokens", ctx.usage.input_tokens);
  integer("output_tokens", ctx.usage.output_tokens);
  integer("cached_input_tokens", ctx.usage.cached_input_tokens);
  integer("total_tokens", ctx.usage.total_tokens);
  out += ",\"usage_known\":";
  out += ctx.usage.known ? "true" : "false";
  number("duration_ms", us(now - ctx.start));
  if (ctx.first_byte != Clock::time_point{}) number("ttfb_ms", us(ctx.first_byte - ctx.start));
  number("upstream_ms", us(ctx.upstream_time));
  if (!ctx.error_type.empty()) field("error_type", ctx.error_type);
  if (ctx.rate_limit.verdict != ratelimit::Verdict::kNoLimits)
    field("rate_limit", ratelimit::verdictName(ctx.rate_limit.verdict));
  if (ctx.client_gone) out += ",\"client_gone\":true";
  out += "}\n";
  return out;
}

void AccessLog::write(const RequestContext& ctx) const {
  if (fd_ < 0) return;
  std::string line = format(ctx);
  // One write per line; a short write to a pipe/file of a small line does not happen in practice
  // and a lost log line must never block or fail a request.
  ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace tollgate::gateway
