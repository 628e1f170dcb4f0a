// Small Boost.JSON lookups every translator makes on bodies and events it did not write: absent
// keys, wrong types and non-objects all read as "not there", never as an exception.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <string_view>
#include <utility>

namespace tollgate::providers::formats {

// The member `key` of `v` when `v` is an object holding it, else nullptr.
inline const boost::json::value* field(const boost::json::value* v, std::string_view key) {
  if (v == nullptr) return nullptr;
  const boost::json::object* o = v->if_object();
  return o == nullptr ? nullptr : o->if_contains(key);
}

// The string `v` holds, empty when it is absent or not a string.
inline std::string_view stringOf(const boost::json::value* v) {
  const boost::json::string* s = v == nullptr ? nullptr : v->if_string();
  return s == nullptr ? std::string_view() : std::string_view(*s);
}

// The member `key` of a request object, nullptr when absent or null (clients send null for
// "not set").
inline const boost::json::value* member(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

// The string member `key` of `o`, empty when absent or not a string.
inline std::string_view stringMember(const boost::json::object& o, std::string_view key) {
  return stringOf(member(o, key));
}

// Whether member `key` of `o` is the boolean true.
inline bool isTrue(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = member(o, key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

// The parsed object, or null when `text` is not a JSON object. Callers pass a monotonic
// resource over a stack buffer: a Bedrock event is a few hundred bytes, so most events parse
// without touching the heap.
inline boost::json::value parseObject(std::string_view text, boost::json::storage_ptr sp) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, std::move(sp));
  if (ec || !v.is_object()) return boost::json::value();
  return v;
}

// The stack buffer callers give parseObject's monotonic resource.
constexpr size_t kParseBufferSize = 4096;

}  // namespace tollgate::providers::formats
