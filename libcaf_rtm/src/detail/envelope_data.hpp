// What an `envelope` points to: the parsed frame plus the fields it indexes.

#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <boost/json/object.hpp>

#include "caf/rtm/envelope.hpp"
#include "detail/event_fields.hpp"
#include "detail/frame_data.hpp"

namespace caf::rtm {

struct envelope::data : detail::frame_data {
  using frame_data::frame_data;

  /// Fills the fields below from `value` (a JSON object).
  void index();

  std::string_view id;
  std::string_view type;
  std::string_view event_id;
  /// The inner event's fields (events_api), as for an RTM event; for a
  /// command or an interaction, its type, channel and user.
  detail::event_fields inner;
  std::string_view retry_reason;
  uint32_t retry_attempt = 0;
  bool accepts_response_payload = false;
  const boost::json::object* payload = nullptr;
  /// `payload.event` (events_api), else null.
  const boost::json::object* event = nullptr;
  /// What a command or an interaction carries besides (see the accessors of
  /// the same names).
  std::string_view team_id;
  std::string_view trigger_id;
  std::string_view response_url;
  std::string_view action_id;
  std::string_view callback_id;
  std::string_view private_metadata;
  /// `payload.view` and the first of `payload.actions`, else null.
  const boost::json::object* view = nullptr;
  const boost::json::object* action = nullptr;
  /// When the I/O layer read the frame (unset for an envelope parsed from
  /// text): the ack deadline of one that waits for its subscribers counts
  /// from then, however long it waited in the client before.
  std::chrono::steady_clock::time_point read_at{};
};

} // namespace caf::rtm
