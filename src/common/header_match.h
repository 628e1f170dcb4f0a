// Request-header conditions shared by routing (route matches) and rate limiting (client
// selectors): one lookup interface and one matcher, so both decide "does this header match"
// the same way.
//
// A HeaderMatcher is immutable once built and safe to call from any thread (RE2 matching is
// thread-safe); copies share the compiled expression.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace tollgate {

// Read access to the request headers (names lower-case) for matching.
class HeaderSource {
 public:
  virtual ~HeaderSource() = default;
  virtual std::optional<std::string_view> get(std::string_view lower_name) const = 0;
};

enum class HeaderMatchKind {
  kExact,              // the value equals
  kRegularExpression,  // RE2 full match
  kDistinct,           // present (rate limiting buckets by the value)
};

class HeaderMatcher {
 public:
  // `lower_name` is the header to look up. A regular expression that does not compile never
  // matches (the configuration loader has reported it). `invert` turns an Exact or
  // RegularExpression answer around, a missing header included; it never applies to Distinct.
  HeaderMatcher(std::string lower_name, HeaderMatchKind kind, std::string value,
                bool invert = false);

  // Whether the condition holds for the header's value (nullopt: the header is absent).
  bool matches(std::optional<std::string_view> value) const;
  bool matches(const HeaderSource& headers) const { return matches(headers.get(name_)); }

  const std::string& name() const { return name_; }
  HeaderMatchKind kind() const { return kind_; }
  const std::string& value() const { return value_; }
  bool invert() const { return invert_; }

 private:
  std::string name_;
  HeaderMatchKind kind_;
  std::string value_;
  bool invert_;
  std::shared_ptr<const re2::RE2> regex_;  // kRegularExpression, when it compiled
};

}  // namespace tollgate
