// What an `event` points to: the parsed frame plus the fields it indexes.

#pragma once

#include <optional>
#include <string_view>

#include "caf/rtm/event.hpp"
#include "detail/frame_data.hpp"

namespace caf::rtm {

struct event::data : detail::frame_data {
  using frame_data::frame_data;

  /// Fills the fields below from `value` (a JSON object).
  void index();

  std::string_view type;
  std::string_view subtype;
  std::string_view channel;
  std::string_view user;
  std::string_view bot_id;
  std::string_view ts;
  std::optional<int64_t> reply_to;
  std::optional<bool> ok;
};

} // namespace caf::rtm
