// Operational log: spdlog, one line per event, to stderr. The access log (one JSON line per
// request) is separate and goes to stdout (gateway/access_log.h).
#pragma once

#include <spdlog/spdlog.h>

namespace tollgate::log {

// Sets up the default logger: "2026-11-25T19:54:36.123Z info message". level: trace..off.
void init(const std::string& level);

}  // namespace tollgate::log
