// Views into parsed JSON for the fields events and envelopes index: no copies,
// no exceptions, "" when a field is absent or of another type.

#pragma once

#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace caf::rtm::detail {

inline std::string_view as_string(const boost::json::value& x) {
  if (x.is_string())
    return x.get_string();
  return {};
}

inline std::string_view string_field(const boost::json::object& obj,
                                     std::string_view key) {
  if (auto* x = obj.if_contains(key))
    return as_string(*x);
  return {};
}

/// A string, or the `id` of an object (some events carry whole channel or
/// user objects).
inline std::string_view as_string_or_id(const boost::json::value& x) {
  if (x.is_object())
    return string_field(x.get_object(), "id");
  return as_string(x);
}

inline const boost::json::object* object_field(const boost::json::object& obj,
                                               std::string_view key) {
  if (auto* x = obj.if_contains(key); x && x->is_object())
    return &x->get_object();
  return nullptr;
}

} // namespace caf::rtm::detail
