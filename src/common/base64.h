// Standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, '=' padding), the one codec of the
// program. Its users differ only in what they accept: Bedrock's event-stream payloads (each
// Anthropic event of an InvokeModel stream is base64, so the decoder runs for every byte such a
// stream carries) are strict, while Secret.data and kubeconfig credentials, which people paste
// and `base64` wraps at 76 columns, may hold whitespace.
//
// Free functions on caller-owned strings, no state: safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace tollgate {

// What the decoder does with ASCII whitespace in its input.
enum class Base64Whitespace {
  kReject,  // an invalid character like any other (wire formats)
  kSkip,    // space, tab, CR and LF are ignored wherever they stand (text people write)
};

// Appends the padded encoding of `in` to `out`.
void base64Encode(std::string_view in, std::string& out);

// Appends the bytes `in` encodes to `out`. '=' padding is optional, but when present it must
// complete the last group of four characters; bits below the last whole byte are ignored. False
// on any other character or an impossible length, and `out` is then left as it was.
bool base64Decode(std::string_view in, std::string& out,
                  Base64Whitespace whitespace = Base64Whitespace::kReject);

}  // namespace tollgate
