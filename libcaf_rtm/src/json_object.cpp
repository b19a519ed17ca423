#include "caf/rtm/json_object.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "detail/frame_parser.hpp"

namespace json = boost::json;

namespace caf::rtm {

std::string to_json(const json_object& x) {
  return json::serialize(x.value);
}

json_object json_object_from(std::string_view text) {
  json::error_code ec;
  // Strict about numbers, so that to_json() of the result is JSON again.
  auto value = detail::parse_json(text, ec);
  if (ec || !value.is_object())
    return {};
  return json_object{std::move(value.get_object())};
}

} // namespace caf::rtm
