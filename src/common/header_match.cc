#include "common/header_match.h"

#include <re2/re2.h>

#include <utility>

namespace tollgate {

HeaderMatcher::HeaderMatcher(std::string lower_name, HeaderMatchKind kind, std::string value,
                             bool invert)
    : name_(std::move(lower_name)), kind_(kind), value_(std::move(value)), invert_(invert) {
  if (kind_ == HeaderMatchKind::kRegularExpression) {
    auto regex = std::make_shared<re2::RE2>(value_, RE2::Quiet);
    if (regex->ok()) regex_ = std::move(regex);
  }
}

bool HeaderMatcher::matches(std::optional<std::string_view> value) const {
  bool match = false;
  switch (kind_) {
    case HeaderMatchKind::kDistinct:
      return value.has_value();
    case HeaderMatchKind::kExact:
      match = value && *value == value_;
      break;
    case HeaderMatchKind::kRegularExpression:
      match = value && regex_ &&
              RE2::FullMatch(re2::StringPiece(value->data(), value->size()), *regex_);
      break;
  }
  return invert_ ? !match : match;
}

}  // namespace tollgate
