// Access log: one JSON line per request, written with a single write(2) so lines from different
// threads never interleave and no user-space lock is shared between threads.
#pragma once

#include <string>

#include "gateway/request_context.h"

namespace tollgate::gateway {

class AccessLog {
 public:
  // path: "-" for stdout, "off" to disable, else a file opened for append.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  bool enabled() const { return fd_ >= 0; }
  void write(const RequestContext& ctx) const;
  // The line as it would be written (tests).
  static std::string format(const RequestContext& ctx);

 private:
  int fd_ = -1;
  bool owns_fd_ = false;
};

}  // namespace tollgate::gateway
