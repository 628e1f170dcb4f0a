// The AWS Bedrock runtime as an upstream: how a model id goes into the URL path, and how Bedrock
// reports errors (x-amzn-errortype on a response, exception frames inside an event stream).
// Shared by every translator whose backend schema is a Bedrock one (AWSAnthropic, AWSBedrock).
// Pure functions: no networking, no clock; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "providers/formats/event_stream.h"

namespace boost::json {
class value;
}

namespace tollgate::providers::transports {

// A Bedrock model id (":" in ids, "/" in ARNs) as one path segment: every byte outside RFC 3986's
// unreserved set percent-encoded ("...-v1:0" → "...-v1%3A0").
std::string encodeModelId(std::string_view model);

// The gateway error for a Bedrock exception (`:exception-type`, or the x-amzn-errortype of a
// non-stream response, with or without its ":..." suffix) and its message. Messages of
// authorization failures stay in `detail`: they name the gateway's own IAM identity.
Error bedrockExceptionToError(std::string_view exception_type, std::string_view message);

// The human message of an AWS error body ({"message":...}; some services spell it Message; a
// proxy may answer in Anthropic's own error shape).
std::string awsErrorMessage(const boost::json::value& v);

// Whether an event-stream frame reports a failure (`:message-type` exception or error) rather
// than an event.
bool isExceptionFrame(const formats::Message& msg);
// The gateway error for such a frame (the message read from its JSON payload).
Error streamExceptionToError(const formats::Message& msg);
// A stream event the gateway could not read; `detail` says what was wrong with it.
Error malformedStreamEvent(std::string detail);

}  // namespace tollgate::providers::transports
