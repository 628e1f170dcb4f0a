// Standard base64 (RFC 4648): Bedrock's InvokeModel stream carries every Anthropic event as
// base64 inside an event-stream frame, so the decoder runs for each byte such a stream carries.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::providers::formats {

// Strict standard base64 (RFC 4648, '=' padding optional, no whitespace). Appends to `out`;
// false on any invalid character or impossible length.
bool base64Decode(std::string_view in, std::string& out);
// Appends the padded encoding of `in` to `out`.
void base64Encode(std::string_view in, std::string& out);

}  // namespace tollgate::providers::formats
