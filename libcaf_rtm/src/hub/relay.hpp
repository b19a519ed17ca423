// Stands in for a remote subscriber on the hub: the client delivers to the
// relay, the relay to the remote node.
//
// Why a relay at all: the sender of a request travels with it. The Socket Mode
// client asks its subscribers for the response payload of an envelope that
// accepts one with a request, so a remote subscriber would learn the address
// of the client's router and could send it the router's internal messages.
// The relay makes that request itself instead, so only the relay's address
// reaches the remote node.
//
// Why a window: what the hub sends to a node that does not take it (a node
// that hangs, a link that stalls in one direction) waits in CAF's outbound
// buffer of that connection, which has no bound, while the client reads on:
// one stuck bot node would grow the hub until it runs out of memory, and
// holding the client's socket instead would stall every other subscriber of
// the workspace. So the relay sends events as requests (the bot node's
// forwarder answers once it handed them on), keeps at most `window` bytes
// unanswered, and drops what does not fit, counted, until half the window is
// free again. Then the relay tells the node what it dropped (a `hub_gap`)
// before anything else it sends, and the remote subscription reports the gap
// to the bot.

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/logger.hpp"
#include "hub/drop_log.hpp"

// Asks a bot node's forwarder for an answer behind what the relay sent it.
// Not a public atom: a subscriber that handles one of those (`ping_atom`,
// say) must not act on a probe.
CAF_ADD_ATOM(caf_rtm_hub, caf::rtm::hub::detail, probe_atom, "rtm_probe")

namespace caf::rtm::hub::detail {

struct relay_args {
  std::string workspace;
  /// How long a request for a response payload waits for the remote
  /// subscriber's answer (Slack's own limit is 3 s; the client's ack
  /// deadline is shorter).
  caf::timespan answer_timeout = std::chrono::seconds{3};
  /// Bytes of events (their JSON text, and `message_overhead` per message)
  /// sent to the remote subscriber and not answered yet, at most; a batch that
  /// would exceed it is dropped, unless nothing is unanswered, and so is
  /// everything after it until half the window is free again.
  size_t window = default_remote_window;
  /// Bytes each message counts in the window besides its events' text:
  /// many small messages hold more of the hub than their text says.
  size_t message_overhead = 256;
  /// How long a request of events, or a probe, waits for its answer. What a
  /// request that got none holds of the window is freed only by the answer
  /// to a request sent after it (a probe, if nothing else is answered): CAF
  /// delivers in order on one link, so that answer shows the request left
  /// the hub. A link too slow for the workspace, which CAF's connection
  /// timeout never ends while anything still moves, thus holds at most the
  /// window.
  caf::timespan confirm_timeout = std::chrono::seconds{60};
  /// The hub's log: where a stretch of drops begins, and its count once
  /// reported.
  logger_ptr log;
  /// Counts every dropped item for the hub's listing, if set.
  std::shared_ptr<std::atomic<uint64_t>> dropped;
  /// Takes what the relay dropped and could not report before it ended (its
  /// node went away meanwhile), if set.
  std::shared_ptr<drop_log> drops;
  /// The relay's own flag (the gate makes one per relay): set by the gate
  /// before it ends the relay because the subscriber's node went away. Only
  /// then do unreported drops go to `drops`: after an unsubscribe, or when
  /// the subscriber itself ended, nobody misses them, and kept they would
  /// count against the node should it go away and return later.
  std::shared_ptr<std::atomic<bool>> node_gone;
};

struct relay_state {
  static inline const char* name = "caf-rtm.hub.relay";

  caf::actor target;
  relay_args args;
  /// Bytes sent and not answered yet.
  size_t unanswered = 0;
  /// Numbers the requests to the target (probes included) in the order
  /// sent.
  uint64_t last_request = 0;
  /// The bytes of requests that timed out, by number: still in `unanswered`
  /// until a later request is answered.
  std::map<uint64_t, size_t> timed_out;
  /// A probe is on its way.
  bool probing = false;
  /// Events (or envelopes) dropped since the last report, and when the first
  /// and the last of them came.
  uint64_t dropped = 0;
  caf::timestamp first_drop;
  caf::timestamp last_drop;
  /// The log's rate limit: when the last lines were written, and the drops
  /// reported since the last report line.
  caf::timestamp last_start_log;
  caf::timestamp last_report_log;
  uint64_t unlogged = 0;
  uint64_t unlogged_stretches = 0;
  /// A timer writes what the rate limit held back, should no later report
  /// come to write it.
  bool log_flush_armed = false;
  /// The client's requests for envelopes the node has not answered yet, by
  /// request number: a relay that ends answers them (CAF drops a promise
  /// that goes with its actor, and the client would wait for its deadline
  /// and blame a subscriber).
  std::map<uint64_t, caf::typed_response_promise<caf::rtm::json_object>>
      envelopes_open;

  /// Hands unreported drops to the drop log if the gate ended the relay
  /// because its node went away (`relay_args::node_gone`; the gate then ends
  /// it with `remote_link_unreachable`, else with `kill`): the drop log
  /// counts them only for a node it saw go away. Writes the reports the
  /// log's rate limit held back. Answers the open envelopes: not taken.
  ~relay_state();
};

/// Hands events and envelopes to `target` (a remote subscriber): those that
/// accept a response payload as a request of its own whose answer (or error)
/// it passes back, waiting at most `answer_timeout`; the others within the
/// window, as requests the target answers once it took them.
caf::behavior relay(caf::stateful_actor<relay_state>* self, caf::actor target,
                    relay_args args);

} // namespace caf::rtm::hub::detail
