// What a hub remembers of the nodes it saw go away, per workspace: when, and
// how many events the client had received by then, and what the relays in
// front of its subscribers had dropped and not yet reported. When such a
// node looks the workspace up again, the difference to the client's count
// now (and those drops) is what it missed. Bounded: at most `capacity` nodes,
// each for at most `ttl`.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include <caf/node_id.hpp>
#include <caf/timestamp.hpp>

#include "caf/rtm/hub/messages.hpp"

namespace caf::rtm::hub::detail {

/// Shared by a workspace's gate (which notices nodes going away) and the
/// registry (which answers their lookups): both run on the hub, so a mutex
/// guards it instead of messages any remote node could send as well.
/// The client's count of events for what a node away missed: the events it
/// received, less the Socket Mode envelopes it left to Slack
/// (`redeliver_unclaimed`). Slack sends those again, and each copy would
/// count; one whose last retry came while the node was away counts once.
uint64_t events_counted(const client_status& status);

class drop_log {
public:
  static constexpr size_t default_capacity = 1024;
  static constexpr std::chrono::hours default_ttl{1};

  explicit drop_log(size_t capacity = default_capacity,
                    caf::timespan ttl = default_ttl)
      : capacity_(capacity), ttl_(ttl) {
    // nop
  }

  /// Node `node` went away at `at`, when the client had received
  /// `events_received` events. The first record of a node stays until it is
  /// taken (its subscribers go away one by one), or until the node came back
  /// and goes away again (a lookup that took nothing). A record that comes
  /// after the node came back (`came_back` later than `at`) is dropped: its
  /// lookup is over, and the record would be added to its next outage.
  void record(const caf::node_id& node, caf::timestamp at,
              uint64_t events_received);

  /// A relay in front of a subscriber on `node` ended with `count` events
  /// dropped since `since` and not reported to the node (the node went away
  /// before it answered again). If the node's record comes as well, they add
  /// to what it missed; the largest count of its relays counts, as their
  /// stretches overlap. (`since` is when the relay began dropping, while the
  /// node was still there: it cannot tell a late report from one of the
  /// current outage, so a late one is kept.)
  void add_unreported(const caf::node_id& node, caf::timestamp since,
                      uint64_t count);

  /// Whether a record for `node` is waiting.
  bool contains(const caf::node_id& node, caf::timestamp now);

  /// Node `node` looks the workspace up at `now`: it is back. Returns whether
  /// a record waits for it (to `take`); records of its earlier outages that
  /// come from now on are dropped.
  bool came_back(const caf::node_id& node, caf::timestamp now);

  /// Takes the record of `node`, if any: what it missed given the client's
  /// count now.
  missed_events take(const caf::node_id& node, uint64_t events_received,
                     caf::timestamp now);

  /// Records waiting.
  size_t size(caf::timestamp now);

private:
  struct entry {
    caf::timestamp at;
    uint64_t events_received;
  };

  struct unreported {
    /// When the first relay began dropping.
    caf::timestamp at;
    uint64_t count;
  };

  struct return_time {
    /// The node's latest lookup.
    caf::timestamp at;
  };

  void expire(caf::timestamp now);

  /// Whether `node` came back after `at` (what happened at `at` is over).
  bool back_since(const caf::node_id& node, caf::timestamp at) const;

  std::mutex mtx_;
  size_t capacity_;
  caf::timespan ttl_;
  std::map<caf::node_id, entry> entries_;
  std::map<caf::node_id, unreported> unreported_;
  std::map<caf::node_id, return_time> returns_;
};

} // namespace caf::rtm::hub::detail
