#include "detail/event_parser.hpp"

#include <boost/json/parser.hpp>

#include "detail/event_data.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

std::string_view string_field(const json::object& obj, std::string_view key) {
  if (auto* x = obj.if_contains(key); x && x->is_string())
    return x->get_string();
  return {};
}

std::string_view as_string(const json::value& x) {
  if (x.is_string())
    return x.get_string();
  return {};
}

// A string, or the `id` of an object (some events carry whole channel or
// user objects).
std::string_view as_string_or_id(const json::value& x) {
  if (x.is_object())
    return string_field(x.get_object(), "id");
  return as_string(x);
}

// One pass over the top-level members instead of a lookup per field: this
// runs for every event.
void extract_fields(event::data& d) {
  const auto& obj = d.value.get_object();
  std::string_view event_ts;
  const json::object* item = nullptr;
  for (const auto& member : obj) {
    auto key = std::string_view{member.key()};
    const auto& x = member.value();
    switch (key.size()) {
    case 2:
      if (key == "ts")
        d.ts = as_string(x);
      else if (key == "ok" && x.is_bool())
        d.ok = x.get_bool();
      break;
    case 4:
      if (key == "type")
        d.type = as_string(x);
      else if (key == "user")
        d.user = as_string_or_id(x);
      else if (key == "item" && x.is_object())
        item = &x.get_object();
      break;
    case 6:
      if (key == "bot_id")
        d.bot_id = as_string(x);
      break;
    case 7:
      if (key == "subtype")
        d.subtype = as_string(x);
      else if (key == "channel")
        d.channel = as_string_or_id(x);
      break;
    case 8:
      if (key == "event_ts")
        event_ts = as_string(x);
      else if (key == "reply_to" && x.is_int64())
        d.reply_to = x.get_int64();
      else if (key == "reply_to" && x.is_uint64() &&
               x.get_uint64() <= INT64_MAX)
        d.reply_to = static_cast<int64_t>(x.get_uint64());
      break;
    default:
      break;
    }
  }
  if (d.ts.empty())
    d.ts = event_ts;
  if (d.channel.empty() && item != nullptr)
    d.channel = string_field(*item, "channel");
}

} // namespace

event_parser::event_parser(size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  parser_ = std::make_unique<json::parser>(json::storage_ptr{}, opts);
}

event_parser::~event_parser() = default;

event event_parser::parse(std::string_view frame, uint64_t session) {
  // The event owns its data from here; an early return frees it.
  caf::intrusive_ptr<event::data> d{event::data::make(frame, session), false};
  parser_->reset(json::storage_ptr{&d->arena});
  json::error_code ec;
  parser_->write(d->raw.data(), d->raw.size(), ec);
  if (ec) {
    last_error_ = "malformed JSON: " + ec.message();
    parser_->reset();
    last_kind_ = failure::malformed;
    return {};
  }
  d->value = parser_->release();
  if (!d->value.is_object()) {
    last_error_ = "not a JSON object";
    last_kind_ = failure::not_object;
    return {};
  }
  extract_fields(*d);
  last_kind_ = failure::none;
  return event{caf::intrusive_ptr<const event::data>{std::move(d)}};
}

} // namespace caf::rtm::detail
