// The fields of a Slack event object that the client indexes, taken in one
// pass over its members: an RTM event (event::data) and the inner event of a
// Socket Mode envelope (envelope::data) are the same kind of object.

#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/json/object.hpp>

namespace caf::rtm::detail {

struct event_fields {
  std::string_view type;
  std::string_view subtype;
  /// A string or the `id` of a channel object; else the `channel` of `item`
  /// (reactions).
  std::string_view channel;
  /// A string or the `id` of a user object.
  std::string_view user;
  std::string_view bot_id;
  /// `ts`, else `event_ts`.
  std::string_view ts;
  /// `text` (a message's text, escapes decoded).
  std::string_view text;
  /// `thread_ts` (set on replies in a thread).
  std::string_view thread_ts;
  std::optional<int64_t> reply_to;
  std::optional<bool> ok;
};

/// Views into `ev`, which must outlive them.
event_fields scan_event(const boost::json::object& ev);

} // namespace caf::rtm::detail
