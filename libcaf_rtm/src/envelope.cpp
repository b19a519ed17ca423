#include "caf/rtm/envelope.hpp"

#include <boost/json/serialize.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/pattern.hpp"
#include "detail/envelope_data.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace json = boost::json;

namespace caf::rtm {

void intrusive_ptr_add_ref(const envelope::data* ptr) noexcept {
  detail::add_frame_ref(ptr);
}

void intrusive_ptr_release(const envelope::data* ptr) noexcept {
  detail::release_frame(ptr);
}

void envelope::data::index() {
  using namespace detail;
  const auto& obj = value.get_object();
  id = string_field(obj, "envelope_id");
  type = string_field(obj, "type");
  retry_reason = string_field(obj, "retry_reason");
  if (auto* x = obj.if_contains("retry_attempt");
      x && x->is_int64() && x->get_int64() >= 0 && x->get_int64() <= UINT32_MAX)
    retry_attempt = static_cast<uint32_t>(x->get_int64());
  if (auto* x = obj.if_contains("accepts_response_payload"); x && x->is_bool())
    accepts_response_payload = x->get_bool();
  payload = object_field(obj, "payload");
  if (payload == nullptr)
    return;
  event_id = string_field(*payload, "event_id");
  if (auto* ev = object_field(*payload, "event")) {
    // events_api: what an Events API endpoint would get.
    event_type = string_field(*ev, "type");
    event_subtype = string_field(*ev, "subtype");
    bot_id = string_field(*ev, "bot_id");
    if (auto* x = ev->if_contains("channel"))
      channel = as_string_or_id(*x);
    if (channel.empty())
      if (auto* item = object_field(*ev, "item"))
        channel = string_field(*item, "channel");
    if (auto* x = ev->if_contains("user"))
      user = as_string_or_id(*x);
    return;
  }
  if (auto command = string_field(*payload, "command"); !command.empty()) {
    // slash_commands: the fields of the command's form post.
    event_type = command;
    channel = string_field(*payload, "channel_id");
    user = string_field(*payload, "user_id");
    return;
  }
  // interactive: block_actions, view_submission, shortcut, ...
  event_type = string_field(*payload, "type");
  if (auto* x = payload->if_contains("channel"))
    channel = as_string_or_id(*x);
  if (channel.empty())
    if (auto* container = object_field(*payload, "container"))
      channel = string_field(*container, "channel_id");
  if (auto* x = payload->if_contains("user"))
    user = as_string_or_id(*x);
}

envelope envelope::parse(std::string_view raw, uint64_t connection,
                         std::string* why) {
  detail::frame_parser parser;
  auto result = parser.parse_envelope(raw, connection);
  if (!result && why)
    *why = parser.last_error();
  return result;
}

std::string_view envelope::id() const noexcept {
  return data_ ? data_->id : std::string_view{};
}

std::string_view envelope::type() const noexcept {
  return data_ ? data_->type : std::string_view{};
}

std::string_view envelope::event_type() const noexcept {
  return data_ ? data_->event_type : std::string_view{};
}

std::string_view envelope::event_subtype() const noexcept {
  return data_ ? data_->event_subtype : std::string_view{};
}

std::string_view envelope::event_id() const noexcept {
  return data_ ? data_->event_id : std::string_view{};
}

std::string_view envelope::channel() const noexcept {
  return data_ ? data_->channel : std::string_view{};
}

std::string_view envelope::user() const noexcept {
  return data_ ? data_->user : std::string_view{};
}

std::string_view envelope::bot_id() const noexcept {
  return data_ ? data_->bot_id : std::string_view{};
}

uint32_t envelope::retry_attempt() const noexcept {
  return data_ ? data_->retry_attempt : 0;
}

std::string_view envelope::retry_reason() const noexcept {
  return data_ ? data_->retry_reason : std::string_view{};
}

bool envelope::accepts_response_payload() const noexcept {
  return data_ ? data_->accepts_response_payload : false;
}

const json::object& envelope::json() const noexcept {
  static const json::object empty;
  return data_ ? data_->value.get_object() : empty;
}

const json::object& envelope::payload() const noexcept {
  static const json::object empty;
  return data_ && data_->payload ? *data_->payload : empty;
}

std::string_view envelope::raw() const noexcept {
  return data_ ? data_->raw : std::string_view{};
}

std::string envelope::to_json() const {
  return json::serialize(json());
}

uint64_t envelope::connection() const noexcept {
  return data_ ? data_->session : 0;
}

response no_payload() {
  return make_error(errc::no_payload);
}

bool matches(const std::vector<std::string>& types, const envelope& x) {
  for (const auto& t : types)
    if (t == "*" || t == x.type() ||
        (!x.event_type().empty() &&
         pattern_matches(t, x.event_type(), x.event_subtype())))
      return true;
  return false;
}

} // namespace caf::rtm
