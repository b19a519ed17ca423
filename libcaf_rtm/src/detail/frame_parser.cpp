#include "detail/frame_parser.hpp"

#include <boost/json/parser.hpp>

#include "detail/envelope_data.hpp"
#include "detail/event_data.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

frame_parser::frame_parser(size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  parser_ = std::make_unique<json::parser>(json::storage_ptr{}, opts);
}

frame_parser::~frame_parser() = default;

template <class T>
caf::intrusive_ptr<T> frame_parser::parse(std::string_view frame,
                                          uint64_t session) {
  // The handle owns its data from here; an early return frees it.
  caf::intrusive_ptr<T> d{make_frame<T>(frame, session), false};
  parser_->reset(json::storage_ptr{&d->arena});
  json::error_code ec;
  parser_->write(d->raw.data(), d->raw.size(), ec);
  if (ec) {
    last_error_ = "malformed JSON: " + ec.message();
    parser_->reset();
    last_kind_ = failure::malformed;
    return nullptr;
  }
  d->value = parser_->release();
  if (!d->value.is_object()) {
    last_error_ = "not a JSON object";
    last_kind_ = failure::not_object;
    return nullptr;
  }
  d->index();
  last_kind_ = failure::none;
  return d;
}

event frame_parser::parse_event(std::string_view frame, uint64_t session) {
  auto d = parse<event::data>(frame, session);
  if (!d)
    return {};
  return event{caf::intrusive_ptr<const event::data>{std::move(d)}};
}

envelope frame_parser::parse_envelope(std::string_view frame,
                                      uint64_t session) {
  auto d = parse<envelope::data>(frame, session);
  if (!d)
    return {};
  return envelope{caf::intrusive_ptr<const envelope::data>{std::move(d)}};
}

} // namespace caf::rtm::detail
