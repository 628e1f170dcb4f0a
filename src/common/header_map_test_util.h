// For tests only: a HeaderSource over a map the test fills (routing and rate-limit tests match
// on request headers without a real request).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/header_match.h"

namespace tollgate {

class MapHeaders final : public HeaderSource {
 public:
  std::map<std::string, std::string, std::less<>> h;
  std::optional<std::string_view> get(std::string_view name) const override {
    auto it = h.find(name);
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};

}  // namespace tollgate
