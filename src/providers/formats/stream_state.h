// What every Bedrock stream converter (InvokeStreamToAnthropicSse, ConverseStreamToOpenAISse)
// reports besides its output: the usage so far, and whether and why the stream failed. One base,
// so the converters' callers (the translators, transports::feedEventStream) read them alike.
#pragma once

#include "common/error.h"
#include "providers/formats/usage.h"

namespace tollgate::providers::formats {

class StreamState {
 public:
  Usage usage() const { return usage_; }
  bool failed() const { return failed_; }
  // Still taking input: nothing failed yet.
  bool open() const { return !failed_; }
  const Error& error() const { return error_; }

 protected:
  Usage usage_;
  Error error_;
  bool failed_ = false;
};

}  // namespace tollgate::providers::formats
