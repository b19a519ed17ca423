// Who gets what: actors subscribed to event types, actors subscribed to
// lifecycle messages, and the callbacks of the listener pool, as a plain
// class. The router maps subscribe/unsubscribe messages and down messages
// onto it and asks it, per event, where the event goes.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"

namespace caf::rtm::detail {

/// The error of a subscription that would hold over `max_patterns` patterns.
caf::error too_many_patterns();

class subscription_table {
public:
  struct actor_entry {
    caf::actor hdl;
    std::vector<std::string> types;
    /// Takes one message per batch (`event_batch`) instead of one per event.
    bool batched = false;
  };

  struct callback_entry {
    uint64_t id;
    std::vector<std::string> types;
  };

  // -- changes ----------------------------------------------------------------

  /// Adds `types` to the subscription of `hdl` (a type given twice counts
  /// once), to its batched one if `batched`: an actor may hold both, and then
  /// gets an event that both cover twice. Returns true if `hdl` had no
  /// subscription of any kind before (the caller then monitors it).
  bool add_actor(const caf::actor& hdl, const std::vector<std::string>& types,
                 bool batched = false);

  /// The patterns the subscription of `hdl` would hold with `types` added.
  size_t patterns_with(const caf::actor& hdl,
                       const std::vector<std::string>& types,
                       bool batched = false) const;

  /// Subscribes `hdl` to lifecycle messages. Returns true if `hdl` had no
  /// subscription of any kind before.
  bool add_lifecycle(const caf::actor& hdl);

  /// Adds a callback subscription; returns its id.
  uint64_t add_callback(std::vector<std::string> types);

  /// Adds a hook subscription (`frames`: it wants every frame); returns its
  /// id, from the same range as callbacks.
  uint64_t add_hooks(bool frames);

  /// Ends every subscription of `addr` (unsubscribe, or the actor died);
  /// false if it had none.
  bool remove_actor(const caf::actor_addr& addr);

  /// Takes `types` off the event subscriptions of `hdl` (batched or not).
  /// Returns true if `hdl` has no subscription of any kind left (the caller
  /// then demonitors it).
  bool remove_types(const caf::actor& hdl,
                    const std::vector<std::string>& types);

  void remove_callback(uint64_t id);

  // -- lookups ----------------------------------------------------------------

  /// Calls `f(entry, i)` for every subscription (`actors()[i]`) that covers
  /// events of `type` and `subtype`.
  template <class F>
  void for_each_actor(std::string_view type, std::string_view subtype,
                      F&& f) const {
    for (size_t i = 0; i < actors_.size(); ++i)
      if (matches(actors_[i].types, type, subtype))
        f(actors_[i], i);
  }

  /// Calls `f(entry, i)` for every subscription that covers events like `ev`.
  template <class F>
  void for_each_actor(const event& ev, F&& f) const {
    for_each_actor(ev.type(), ev.subtype(), std::forward<F>(f));
  }

  /// Calls `f(entry, i)` for every subscription that covers envelopes like
  /// `x` (by envelope type or inner event type).
  template <class F>
  void for_each_actor(const envelope& x, F&& f) const {
    for (size_t i = 0; i < actors_.size(); ++i)
      if (matches(actors_[i].types, x))
        f(actors_[i], i);
  }

  /// Whether any subscription takes batches.
  bool has_batched() const noexcept;

  /// True if a callback wants events of `type` and `subtype`.
  bool callback_wants(std::string_view type,
                      std::string_view subtype = {}) const;

  /// True if a callback wants events like `ev`.
  bool callback_wants(const event& ev) const {
    return callback_wants(ev.type(), ev.subtype());
  }

  /// True if a callback wants envelopes like `x`.
  bool callback_wants(const envelope& x) const;

  const std::vector<caf::actor>& lifecycle() const noexcept {
    return lifecycle_;
  }

  /// Whether any hook subscription exists, and any that wants frames.
  bool has_hooks() const noexcept {
    return !hooks_.empty();
  }

  bool has_frame_hooks() const noexcept;

  const std::vector<actor_entry>& actors() const noexcept {
    return actors_;
  }

  const std::vector<callback_entry>& callbacks() const noexcept {
    return callbacks_;
  }

private:
  bool known(const caf::actor_addr& addr) const;

  std::vector<actor_entry> actors_;
  std::vector<caf::actor> lifecycle_;
  std::vector<callback_entry> callbacks_;
  /// Hook subscriptions: id and whether it wants frames.
  std::vector<std::pair<uint64_t, bool>> hooks_;
  uint64_t next_callback_id_ = 1;
};

} // namespace caf::rtm::detail
