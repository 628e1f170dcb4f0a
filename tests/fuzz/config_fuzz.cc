// The YAML configuration loader (Envoy AI Gateway / Envoy Gateway manifests): every input either
// loads or gives diagnostics; it must never throw, crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base64.h"
#include "config/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = tollgate::config::loadString(text, "fuzz.yaml");
  for (const auto& d : result.diagnostics) (void)d.toString();
  (void)tollgate::config::parseDurationMs(text);
  (void)tollgate::config::parseQuantityBytes(text);
  std::string decoded;
  (void)tollgate::base64Decode(text, decoded, tollgate::Base64Whitespace::kSkip);
  return 0;
}
