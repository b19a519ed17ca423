// What an `event` points to: the parsed frame plus the fields it indexes.

#pragma once

#include "caf/rtm/event.hpp"
#include "detail/event_fields.hpp"
#include "detail/frame_data.hpp"

namespace caf::rtm {

struct event::data : detail::frame_data, detail::event_fields {
  using frame_data::frame_data;

  /// Fills the fields (event_fields) from `value` (a JSON object).
  void index();
};

} // namespace caf::rtm
