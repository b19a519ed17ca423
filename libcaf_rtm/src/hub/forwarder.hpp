// The bot side's subscribers on the hubs: one forwarder per bot actor (it is
// what the hubs' clients deliver to) and one for the client lifecycle. A
// forwarder subscribed on several hubs drops the envelopes it delivered
// already (Slack may hand an unacked envelope to another hub's connection),
// so each reaches the bot's actor once.

#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "detail/envelope_filter.hpp"
#include "detail/pool_trim.hpp"
#include "detail/pooled_message.hpp"

namespace caf::rtm::hub::detail {

struct forwarder_state {
  static inline const char* name = "caf-rtm.hub.forwarder";

  caf::actor target;
  /// The remote subscription (weak: it holds the forwarder), told of what a
  /// hub dropped for `target`.
  caf::actor_addr subscription;
  /// Memory of the messages of unpacked batches (see pooled_message.hpp).
  rtm::detail::frame_pool_owner messages;
  /// When `messages` gives back what a burst left in it.
  rtm::detail::pool_trim messages_trim;
  rtm::detail::envelope_filter filter;
  /// Shared with the remote subscription for its status.
  std::shared_ptr<std::atomic<uint64_t>> duplicates;
};

/// Hands events and envelopes to `target`, one by one (batches unpacked); an
/// envelope that accepts a response payload goes as the request it came as
/// (the answer goes straight back to the hub). Answers the hub's relay once it
/// handed a message on, and passes the relay's report of what it dropped to
/// `subscription`, with the hub's node. Ends when `target` ends.
caf::behavior forwarder(caf::stateful_actor<forwarder_state>* self,
                        const caf::actor& target, caf::actor_addr subscription,
                        std::chrono::milliseconds window, size_t capacity,
                        std::shared_ptr<std::atomic<uint64_t>> duplicates);

/// Hands the client lifecycle messages of every hub to `target`. Ends when
/// `target` ends.
caf::behavior lifecycle_forwarder(caf::event_based_actor* self,
                                  const caf::actor& target);

} // namespace caf::rtm::hub::detail
