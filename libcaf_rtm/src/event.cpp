#include "caf/rtm/event.hpp"

#include <boost/json/serialize.hpp>

#include "detail/event_data.hpp"
#include "detail/event_parser.hpp"

namespace json = boost::json;

namespace caf::rtm {

void intrusive_ptr_add_ref(const event::data* ptr) noexcept {
  ptr->refs.fetch_add(1, std::memory_order_relaxed);
}

void intrusive_ptr_release(const event::data* ptr) noexcept {
  if (ptr->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    event::data::destroy(ptr);
}

event event::parse(std::string_view raw, uint64_t session, std::string* why) {
  detail::event_parser parser;
  auto result = parser.parse(raw, session);
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

bool matches(const std::vector<std::string>& types, std::string_view type) {
  for (const auto& x : types)
    if (x == "*" || x == type)
      return true;
  return false;
}

} // namespace caf::rtm
