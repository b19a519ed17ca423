// What differs between Slack's two WebSocket APIs, as the shared actors see
// it: how the supervisor obtains a URL, and what the connection makes of the
// frames it reads (which are control frames, what is delivered, what must be
// answered). One implementation per API: rtm_protocol and
// socket_mode_protocol. What each API delivers to users lives in its router.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/messages.hpp"
#include "detail/internal_messages.hpp"

namespace caf::rtm::detail {

class frame_parser;

/// What a protocol's frame handling may do to its session; the connection
/// implements it.
class session_context {
public:
  virtual ~session_context();

  virtual uint64_t session() const noexcept = 0;

  virtual frame_parser& parser() noexcept = 0;

  virtual const logger_ptr& log() const noexcept = 0;

  /// The server said hello: the session is live.
  virtual void hello(hello_info info) = 0;

  /// The server ends this session soon: the next one is made first.
  virtual void goodbye(std::string reason) = 0;

  /// The session is over: close it (with a close frame if `orderly`) and
  /// report `reason`.
  virtual void end(caf::error reason, bool orderly) = 0;

  /// A pong of the ping monitor's JSON ping (RTM).
  virtual void monitor_pong(std::string payload) = 0;

  /// Writes a text frame ahead of anything queued: acks must not wait. False
  /// when the session has begun to close and nothing can be written any more.
  virtual bool write_first(std::string_view text) = 0;
};

class protocol {
public:
  virtual ~protocol();

  /// "RTM" or "Socket Mode", for log lines.
  virtual const char* name() const noexcept = 0;

  // -- obtaining a URL (the supervisor) ---------------------------------------

  /// Whether the supervisor asks `auth.test` once before the first
  /// connection (the client's identity: own bot id, team).
  virtual bool wants_identity() const noexcept = 0;

  /// The Web API method that hands out a single-use WebSocket URL, with its
  /// arguments.
  virtual std::string endpoint_method() const = 0;
  virtual api_args endpoint_args() const = 0;

  /// The endpoint in the method's answer (fails without a URL).
  virtual caf::expected<rtm_endpoint>
  to_endpoint(const boost::json::object& answer) const = 0;

  // -- frames (the connection) ------------------------------------------------

  /// Whether the ping monitor may use JSON pings (`ping_mode::rtm`).
  virtual bool json_pings() const noexcept = 0;

  /// Whether the connection answers frames itself on receipt (Socket Mode
  /// acks): then it reads on while the router lags behind (up to a bound),
  /// so that acks never wait for slow subscribers.
  virtual bool acks_on_receipt() const noexcept = 0;

  /// Whether the I/O layer records when it read each frame (`read_at` of a
  /// frame_batch): Socket Mode's ack deadlines count from there. A clock
  /// reading per frame that RTM does without.
  virtual bool times_frames() const noexcept = 0;

  /// Turns the frames of one batch into `out`, acting on control frames
  /// through `ctx`.
  virtual void on_frames(const frame_batch& in, inbound_batch& out,
                         session_context& ctx) const = 0;
};

using protocol_ptr = std::shared_ptr<const protocol>;

/// The RTM protocol part (rtm.connect, events, goodbye).
protocol_ptr make_rtm_protocol(const client_config& cfg);

/// The Socket Mode protocol part (apps.connections.open, envelopes, acks,
/// disconnect reasons).
protocol_ptr make_socket_mode_protocol(const client_config& cfg);

} // namespace caf::rtm::detail
