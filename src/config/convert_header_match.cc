// Header matches, as AIGatewayRoute rules and BackendTrafficPolicy client selectors write them.

#include <re2/re2.h>

#include <optional>
#include <string>

#include "common/strings.h"
#include "config/loader_internal.h"

namespace tollgate::config::detail {

std::optional<HeaderMatch> Loader::parseHeaderMatch(const YAML::Node& n, const std::string& path,
                                                    bool rate_limit, const Reporter& r) {
  if (!requireMap(r, n, path)) return std::nullopt;
  HeaderMatch match;
  bool ok = true;
  // Header names are case-insensitive; the matchers compare lower-case names.
  if (const std::optional<std::string> name = requireString(r, n, "name", path)) {
    match.name = toLower(*name);
  } else {
    ok = false;
  }
  const YAML::Node type = child(n, "type");
  bool type_ok = true;
  if (present(type)) {
    const std::optional<HeaderMatchType> value =
        rate_limit
            ? getEnum<HeaderMatchType>(r, type, sub(path, "type"),
                                       {{"Exact", HeaderMatchType::kExact},
                                        {"Distinct", HeaderMatchType::kDistinct},
                                        {"RegularExpression", HeaderMatchType::kRegularExpression}})
            : getEnum<HeaderMatchType>(
                  r, type, sub(path, "type"),
                  {{"Exact", HeaderMatchType::kExact},
                   {"RegularExpression", HeaderMatchType::kRegularExpression}});
    if (value) {
      match.type = *value;
    } else {
      ok = type_ok = false;
    }
  }
  const YAML::Node value = child(n, "value");
  const std::string value_path = sub(path, "value");
  if (!type_ok) {
    // What the value must be depends on the type; one error for the type is enough.
  } else if (match.type == HeaderMatchType::kDistinct) {
    if (present(value)) {
      r.error(value, value_path,
              "must not be set when type is Distinct (every distinct value gets its own bucket)");
      ok = false;
    }
  } else if (!present(value)) {
    r.error(n, value_path, "required field is missing");
    ok = false;
  } else if (const std::optional<std::string> text = getString(r, value, value_path)) {
    match.value = *text;
    if (match.type == HeaderMatchType::kRegularExpression) {
      // Compiled here only to reject bad patterns at load time; the router compiles its own.
      const RE2 re(match.value, RE2::Quiet);
      if (!re.ok()) {
        r.error(value, value_path,
                "invalid regular expression " + inQuotes(match.value) + ": " + re.error());
        ok = false;
      }
    }
  } else {
    ok = false;
  }
  if (rate_limit) {
    match.invert = getBool(r, child(n, "invert"), sub(path, "invert")).value_or(false);
  }
  if (!ok) return std::nullopt;
  return match;
}

}  // namespace tollgate::config::detail
