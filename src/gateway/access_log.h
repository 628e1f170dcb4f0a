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
  // Re-opens the file (log rotation, on SIGUSR1). The descriptor number stays the same (dup2),
  // so writers on other threads never see a closed or reused descriptor. Returns false and keeps
  // writing to the old file when the path cannot be opened.
  bool reopen();
  void write(const RequestContext& ctx) const;
  // The line as it would be written (tests).
  static std::string format(const RequestContext& ctx);

 private:
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string path_;
};

}  // namespace tollgate::gateway
