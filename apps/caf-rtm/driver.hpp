// The actor behind the caf-rtm tool: prints events (RTM) or envelopes (Socket
// Mode) as JSON lines, sends the lines of stdin (--send) or answers envelopes
// with them (--respond), answers mentions and slash commands (demo), keeps the
// counters for --stats, and decides when and with which code the program
// exits.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/type_id.hpp>

#include "caf/rtm/logger.hpp"
#include <caf/response_promise.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/messages.hpp"

CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, eof_atom, "eof")
CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, line_atom, "line")
CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, long_line_atom, "longLine")
CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, drained_atom, "drained")
CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, enough_atom, "enough")
CAF_ADD_ATOM(caf_rtm_cli, caf::rtm::cli, flush_due_atom, "flushDue")

namespace caf::rtm::cli {

class printer;

struct driver_options {
  /// Event types to print; "*" for all.
  std::vector<std::string> events{"*"};
  /// Exit 0 after this many printed events (0: no limit).
  uint64_t count = 0;
  /// Exit 0 after this long (0: no limit).
  caf::timespan duration{0};
  bool stats = false;
  bool reconnect_on = true;
  /// The client is a socket_mode_client (else an rtm_client).
  bool socket_mode = false;
  /// Sessions the client keeps open at once (Socket Mode: `connections`):
  /// the first ones are no reconnects.
  uint64_t connections = 1;
  /// Socket Mode: stdin lines answer envelopes that accept a response.
  bool respond = false;
  /// --respond: how long the client waits for an answer (its ack_deadline);
  /// a line after that finds the envelope acked empty already.
  caf::timespan ack_deadline = std::chrono::milliseconds{2500};
  /// RTM: stdin lines are messages to send (--send).
  bool sends = false;
  /// How long a line may wait to be written (--max-wait; 0: no limit).
  caf::timespan max_wait{0};
  /// Counts the stdin lines that are done: --send, those that have their
  /// result; --respond, those handled. The stdin reader reads on while
  /// fewer than its window are open, so that a driver that lags (a blocked
  /// stdout, a slow rate limiter) slows the reader instead of growing its
  /// mailbox.
  std::shared_ptr<std::atomic<uint64_t>> lines_done;
  /// Answer mentions and `/echo` (the demo).
  bool answer_mentions = false;
  /// The client is a hub's (--hub): it arrives with `hub::hub_up` (and
  /// again after the hub came back), is not closed at the end, and
  /// losing the hub for good ends the program.
  bool from_hub = false;
  /// Prints events or envelopes from the client's listener pool (the
  /// driver then only flushes it and counts); null: the driver prints what
  /// it receives.
  std::shared_ptr<printer> lines;
  logger_ptr log;
  /// Called once with the exit code.
  std::function<void(int)> on_exit;
};

struct driver_state {
  static inline const char* name = "caf-rtm.driver";

  /// The client (rtm_client or socket_mode_client).
  caf::actor client;
  driver_options opts;
  std::string own_id;
  bool finishing = false;
  bool stdout_closed = false;
  std::chrono::steady_clock::time_point started;
  uint64_t printed = 0;
  uint64_t sessions = 0;
  // --send: results are printed in input order.
  uint64_t next_result = 1;
  std::map<uint64_t, std::string> results;
  std::optional<uint64_t> input_lines;
  /// --send with --hub: lines read while no hub delivers (before the first
  /// hub_up, or after a link broke), sent at the next hub_up.
  std::vector<std::pair<uint64_t, std::string>> waiting_lines;
  /// --hub: a hub delivered once (the client was asked who it is).
  bool hub_seen = false;
  /// --send: lines sent whose result has not come. With --hub, a link that
  /// breaks takes their results along (CAF answers no request to a node
  /// that went away): they are reported as `delivery_unknown` then.
  std::set<uint64_t> pending_sends;
  uint64_t replies = 0;
  /// Mention replies not answered by Slack yet.
  uint64_t replies_pending = 0;
  /// Set when the program should end once the pending replies are done.
  std::optional<int> exit_when_drained;
  /// --respond: envelopes waiting for their stdin line, by envelope id.
  std::map<std::string, caf::response_promise> responses;
  /// --respond with --count: the count is reached; the program ends once
  /// the envelopes printed are answered (or their time is up).
  bool done_when_answered = false;
  // Output is batched until the mailbox is drained.
  std::string out;
  bool flush_pending = false;
  /// Flushes of stdout are at least `flush_interval` apart; a request in
  /// between waits for the timer.
  std::chrono::steady_clock::time_point last_flush;
  bool flush_timer_set = false;
};

/// Longest stdin line taken (a message Slack takes is at most 16 KB, a
/// response payload 20 KB); the rest of a longer one is not even held.
constexpr size_t max_line_size = size_t{1} << 20;

/// Messages: events or envelopes and lifecycle (from the client), (line, N,
/// text), (longLine, N) and (eof, lines) or (eof, lines, failure) from the
/// stdin reader, flush and enough from the printer, close_atom to stop
/// (signals); with `from_hub`, hub_up, hub_down and hub_gap from the remote
/// subscription (`client` is null while no hub delivers).
caf::behavior driver(caf::stateful_actor<driver_state>* self, caf::actor client,
                     driver_options opts);

} // namespace caf::rtm::cli
