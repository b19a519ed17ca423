// Whether a hub's port takes TCP connections, asked before CAF's middleman
// connects to it. The middleman (plain or TLS) connects on its one thread,
// blocking, with no limit but the kernel's (about two minutes for a host
// that never answers, one powered off or behind a firewall that drops
// packets): one such hub would hold up the connects to every other hub
// behind it, and its attempts would pile up there. The probe runs on a
// thread of its own and gives up after the step timeout, so the middleman
// only gets hubs that answered a moment ago, at the address that answered
// (CAF would look the name up again, blocking, and connect to its first
// address only).

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

namespace caf::rtm::hub::detail {

/// Answers one `connect_atom` with the numeric address that took a TCP
/// connection to its port (closed again at once), or with
/// `sec::cannot_connect_to_node`; then ends.
using reachability_probe_actor =
    caf::typed_actor<caf::replies_to<caf::connect_atom>::with<std::string>>;

/// A probe of `host`:`port` on a thread of its own: its connects try for at
/// most `timeout` in all (each address its share of it), and give up within
/// 100 ms once `cancelled` is set (its asker ended: the actor system waits
/// for the thread). The name lookup before them is the system resolver's,
/// bounded only by the resolver's own timeouts and not cancellable.
/// `running` is set until the probe is done, lookup included: a stalled
/// resolver must not get one more probe thread per attempt.
reachability_probe_actor
spawn_reachability_probe(caf::actor_system& sys, std::string host,
                         uint16_t port, caf::timespan timeout,
                         std::shared_ptr<const std::atomic<bool>> cancelled,
                         std::shared_ptr<std::atomic<bool>> running);

} // namespace caf::rtm::hub::detail
