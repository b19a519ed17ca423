#include "caf/rtm/json_object.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"

namespace json = boost::json;

namespace caf::rtm {

std::string to_json(const json_object& x) {
  return json::serialize(x.value);
}

caf::error load_json_object(std::string_view text, json_object& x) {
  json::error_code ec;
  // Strict about numbers, so that to_json() of the result is JSON again; as
  // deep as a frame, so that what a client took in goes on.
  auto value =
      detail::parse_json(text, ec, detail::frame_parser::default_max_depth);
  if (ec)
    return make_error(errc::invalid_argument,
                      "a json_object that is no JSON: " + ec.message());
  if (!value.is_object())
    return make_error(errc::invalid_argument,
                      "a json_object that is no JSON object");
  x.value = std::move(value.get_object());
  return caf::none;
}

json_object json_object_from(std::string_view text) {
  json_object result;
  if (load_json_object(text, result))
    return {};
  return result;
}

} // namespace caf::rtm
