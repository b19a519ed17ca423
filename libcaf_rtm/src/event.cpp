#include "caf/rtm/event.hpp"

#include "caf/rtm/pattern.hpp"

#include <boost/json/serialize.hpp>

#include "detail/event_data.hpp"
#include "detail/event_fields.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace json = boost::json;

namespace caf::rtm {

void intrusive_ptr_add_ref(const event::data* ptr) noexcept {
  detail::add_frame_ref(ptr);
}

void intrusive_ptr_release(const event::data* ptr) noexcept {
  detail::release_frame(ptr);
}

namespace detail {

// One pass over the members instead of a lookup per field: this runs for
// every event and every envelope.
event_fields scan_event(const json::object& ev) {
  event_fields out;
  std::string_view event_ts;
  // Events API events about files, pins and calls name their channel so.
  std::string_view channel_id;
  const json::object* item = nullptr;
  for (const auto& member : ev) {
    auto key = std::string_view{member.key()};
    const auto& x = member.value();
    switch (key.size()) {
    case 2:
      if (key == "ts")
        out.ts = as_string(x);
      else if (key == "ok" && x.is_bool())
        out.ok = x.get_bool();
      break;
    case 4:
      if (key == "type")
        out.type = as_string(x);
      else if (key == "user")
        out.user = as_string_or_id(x);
      else if (key == "item" && x.is_object())
        item = &x.get_object();
      else if (key == "text")
        out.text = as_string(x);
      break;
    case 6:
      if (key == "bot_id")
        out.bot_id = as_string(x);
      break;
    case 7:
      if (key == "subtype")
        out.subtype = as_string(x);
      else if (key == "channel")
        out.channel = as_string_or_id(x);
      break;
    case 8:
      if (key == "event_ts")
        event_ts = as_string(x);
      else if (key == "reply_to" && x.is_int64())
        out.reply_to = x.get_int64();
      else if (key == "reply_to" && x.is_uint64() &&
               x.get_uint64() <= INT64_MAX)
        out.reply_to = static_cast<int64_t>(x.get_uint64());
      break;
    case 9:
      if (key == "thread_ts")
        out.thread_ts = as_string(x);
      break;
    case 10:
      if (key == "channel_id")
        channel_id = as_string(x);
      break;
    default:
      break;
    }
  }
  if (out.ts.empty())
    out.ts = event_ts;
  if (out.channel.empty())
    out.channel = channel_id;
  if (out.channel.empty() && item != nullptr)
    out.channel = string_field(*item, "channel");
  return out;
}

} // namespace detail

void event::data::index() {
  static_cast<detail::event_fields&>(*this) =
      detail::scan_event(value.get_object());
}

event event::parse(std::string_view raw, uint64_t session, std::string* why) {
  // One frame: its block comes from the heap, not a pool of its own.
  using detail::frame_parser;
  frame_parser parser{frame_parser::default_max_depth,
                      frame_parser::memory::heap};
  auto result = parser.parse_event(raw, session);
  if (!result && why)
    *why = parser.last_error();
  return result;
}

std::string_view event::type() const noexcept {
  return data_ ? data_->type : std::string_view{};
}

std::string_view event::subtype() const noexcept {
  return data_ ? data_->subtype : std::string_view{};
}

std::string_view event::channel() const noexcept {
  return data_ ? data_->channel : std::string_view{};
}

std::string_view event::user() const noexcept {
  return data_ ? data_->user : std::string_view{};
}

std::string_view event::bot_id() const noexcept {
  return data_ ? data_->bot_id : std::string_view{};
}

std::string_view event::ts() const noexcept {
  return data_ ? data_->ts : std::string_view{};
}

std::string_view event::text() const noexcept {
  return data_ ? data_->text : std::string_view{};
}

std::string_view event::thread_ts() const noexcept {
  return data_ ? data_->thread_ts : std::string_view{};
}

std::optional<int64_t> event::reply_to() const noexcept {
  return data_ ? data_->reply_to : std::nullopt;
}

std::optional<bool> event::ok() const noexcept {
  return data_ ? data_->ok : std::nullopt;
}

const boost::json::object& event::json() const noexcept {
  static const json::object empty;
  return data_ ? data_->value.get_object() : empty;
}

std::string_view event::raw() const noexcept {
  return data_ ? data_->raw : std::string_view{};
}

std::string event::to_json() const {
  return json::serialize(json());
}

uint64_t event::session() const noexcept {
  return data_ ? data_->session : 0;
}

bool matches(const std::vector<std::string>& types, std::string_view type,
             std::string_view subtype) {
  for (const auto& x : types)
    if (pattern_matches(x, type, subtype))
      return true;
  return false;
}

bool matches(const std::vector<std::string>& types, const event& ev) {
  return matches(types, ev.type(), ev.subtype());
}

} // namespace caf::rtm
