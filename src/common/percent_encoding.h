// Percent-encoding of one URL path segment (RFC 3986 section 2.3: every byte but the unreserved
// letters, digits and -._~ becomes %XX): a Bedrock model id or an Azure deployment name put into
// an upstream path, where a ':' or '/' in a client's model name must not change the path.
#pragma once

#include <string>
#include <string_view>

namespace tollgate {

std::string percentEncodeSegment(std::string_view segment);

}  // namespace tollgate
