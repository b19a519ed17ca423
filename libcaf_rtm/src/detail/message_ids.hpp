// The `id` ranges of RTM messages a client sends. Slack echoes the id in its
// ack (`reply_to`), so ids must be unique per connection; the router and the
// ping monitor draw from disjoint ranges so that an ack can never be mistaken
// for a pong or the other way round.

#pragma once

#include <cstdint>
#include <string_view>

namespace caf::rtm::detail::message_ids {

/// Messages, typing indicators and user pings sent through the router:
/// increasing from here, client-wide.
constexpr int64_t first_router_id = 1;

/// RTM JSON pings of the ping monitor (`ping_mode::rtm`): per connection,
/// increasing from here.
constexpr int64_t first_monitor_ping_id = int64_t{1} << 40;

/// The field that marks the ping monitor's JSON pings; Slack echoes scalar
/// fields of a ping in its pong.
constexpr std::string_view ping_marker = "caf_rtm_ping";

/// True if `id` belongs to the router's range.
constexpr bool is_router_id(int64_t id) noexcept {
  return id >= first_router_id && id < first_monitor_ping_id;
}

} // namespace caf::rtm::detail::message_ids
