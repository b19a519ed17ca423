// A JSON object as a message: outgoing RTM messages, Web API answers.

#pragma once

#include <map>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "caf/rtm/type_ids.hpp"

namespace caf::rtm {

/// A JSON object as a message. Serialized as its compact JSON text. A
/// `boost::json::object` converts to it implicitly.
struct json_object {
  json_object() = default;

  json_object(boost::json::object x) : value(std::move(x)) {
    // nop
  }

  boost::json::object value;
};

/// Compact JSON text of `x`.
std::string to_json(const json_object& x);

/// Parses `text`; an empty object if `text` is no JSON object.
json_object json_object_from(std::string_view text);

/// Parses `text` into `x` (for `inspect`): an error if `text` is no JSON
/// object, nested as deep as a frame may be.
caf::error load_json_object(std::string_view text, json_object& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_object& x) {
  std::string text;
  if constexpr (Inspector::reads_state)
    text = to_json(x);
  auto load = caf::meta::load_callback(
      [&]() -> caf::error { return load_json_object(text, x); });
  return f(caf::meta::type_name("caf::rtm::json_object"), text, load);
}

/// Arguments of a Web API call, sent form-encoded.
using api_args = std::map<std::string, std::string>;

} // namespace caf::rtm
