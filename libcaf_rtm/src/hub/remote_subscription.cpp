#include "caf/rtm/hub/remote_subscription.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/pattern.hpp"
#include "detail/backoff.hpp"
#include "detail/client_front.hpp"
#include "detail/stray_errors.hpp"
#include "hub/forwarder.hpp"
#include "hub/reachability.hpp"

// The subscription's own timer: attempt N of the hub with this index.
CAF_ADD_ATOM(caf_rtm_hub, caf::rtm::hub::detail, attempt_atom, "attempt")

namespace caf::rtm::hub {

caf::error remote_subscription_config::validate() const {
  auto invalid = [](std::string what) {
    return make_error(errc::invalid_config, std::move(what));
  };
  if (hubs.empty())
    return invalid("a remote subscription needs at least one hub");
  for (auto& hub : hubs)
    if (hub.host.empty() || hub.port == 0)
      return invalid("a hub needs a host and a port");
  if (workspace.empty())
    return invalid("a remote subscription needs a workspace name");
  if (subscribers.empty() && !lifecycle)
    return invalid("a remote subscription needs a subscriber or a lifecycle "
                   "subscriber");
  for (auto& sub : subscribers) {
    if (!sub.hdl)
      return invalid("a subscriber without an actor");
    if (auto err = check_patterns(sub.patterns))
      return err;
  }
  if (reconnect.initial_delay.count() <= 0 ||
      reconnect.max_delay < reconnect.initial_delay)
    return invalid("retry delays must be positive, max >= initial");
  if (step_timeout.count() <= 0)
    return invalid("step_timeout must be positive");
  if (dedupe_window.count() <= 0 || dedupe_capacity == 0)
    return invalid("the dedupe window and capacity must be positive");
  return caf::none;
}

namespace detail {

using subscription_impl_actor = remote_subscription_actor::extend<
    caf::reacts_to<attempt_atom, uint64_t, uint64_t>,
    // From a forwarder: what the relay on the hub of that node dropped.
    caf::reacts_to<hub_gap, caf::node_id>>;

} // namespace detail

namespace {

enum class phase {
  waiting,
  connecting,
  looking_up,
  subscribing,
  up,
  standby,
  failed,
};

const char* to_string(phase x) {
  switch (x) {
  case phase::waiting:
    return "waiting";
  case phase::connecting:
    return "connecting";
  case phase::looking_up:
    return "looking_up";
  case phase::subscribing:
    return "subscribing";
  case phase::up:
    return "up";
  case phase::standby:
    return "standby";
  case phase::failed:
    break;
  }
  return "failed";
}

// One hub: where it stands, and what an attempt got so far.
struct link {
  hub_endpoint where;
  std::string name;
  phase state = phase::waiting;
  /// Numbers the attempts: replies and timers of an older one are stale.
  uint64_t attempt = 0;
  uint32_t failures = 0;
  caf::error last_error;
  registry_actor registry;
  workspace_info info;
  caf::actor client;
  /// Subscriptions of the current attempt not confirmed yet.
  size_t pending = 0;
  /// A reachability probe of this hub still runs (see reachability.hpp).
  std::shared_ptr<std::atomic<bool>> probing =
      std::make_shared<std::atomic<bool>>(false);
};

struct subscriber {
  caf::actor fwd;
  std::vector<std::string> patterns;
};

struct subscription_state {
  static inline const char* name = "caf-rtm.hub.remote_subscription";

  remote_subscription_config cfg;
  std::vector<link> links;
  std::vector<subscriber> subs;
  caf::actor lifecycle_fwd;
  std::shared_ptr<std::atomic<uint64_t>> duplicates =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::minstd_rand rng{std::random_device{}()};
  /// Since when no hub delivers (unset while one does, and before the
  /// first one did).
  std::optional<caf::timestamp> gap_since;
  bool ever_up = false;
  uint64_t gaps = 0;
  uint64_t dropped = 0;
  caf::error config_error;
  bool closing = false;
  /// Every `close` asked while the unsubscribes are out: all are answered
  /// when they are done.
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
  /// Set when the subscription ends: its reachability probes give up at
  /// once instead of holding the actor system's shutdown for their timeout.
  std::shared_ptr<std::atomic<bool>> ended =
      std::make_shared<std::atomic<bool>>(false);

  ~subscription_state() {
    ended->store(true);
    // Ended before its unsubscribes came back (the front's last resort, an
    // exit with an error sent to it): every close is answered all the same.
    for (auto& rp : close_promises)
      rp.deliver(caf::ok_atom_v);
    for (auto& sub : subs)
      caf::anon_send_exit(sub.fwd, caf::exit_reason::kill);
    if (lifecycle_fwd)
      caf::anon_send_exit(lifecycle_fwd, caf::exit_reason::kill);
  }
};

using self_ptr =
    detail::subscription_impl_actor::stateful_pointer<subscription_state>;

template <class T>
void tell(self_ptr self, T msg) {
  if (auto& dest = self->state.cfg.lifecycle)
    caf::anon_send(dest, std::move(msg));
}

size_t up_count(const subscription_state& st) {
  size_t n = 0;
  for (auto& x : st.links)
    if (x.state == phase::up)
      ++n;
  return n;
}

// RTM: every connection gets every event, so one hub delivers at a time.
bool other_delivers(const subscription_state& st, size_t i) {
  for (size_t j = 0; j < st.links.size(); ++j)
    if (j != i && (st.links[j].state == phase::up ||
                   st.links[j].state == phase::subscribing))
      return true;
  return false;
}

void start_attempt(self_ptr self, size_t i);
void subscribe(self_ptr self, size_t i);

// How often an attempt looks again whether the previous attempt's probe (its
// name lookup) is done.
constexpr auto probe_recheck = std::chrono::milliseconds{500};

// Ends the attempt of hub i: the next one follows with backoff, unless the
// error is fatal or the attempts are used up.
void fail(self_ptr self, size_t i, uint64_t attempt, const caf::error& err) {
  auto& st = self->state;
  auto& x = st.links[i];
  if (st.closing || attempt != x.attempt || x.state == phase::waiting ||
      x.state == phase::failed)
    return;
  auto was_up = x.state == phase::up;
  auto was_delivering = was_up || x.state == phase::subscribing;
  x.state = phase::waiting;
  if (x.registry)
    self->demonitor(x.registry.address());
  if (x.client) {
    self->demonitor(x.client.address());
    // A subscribe that timed out may still be done at the gate (after this
    // in the order the gate reads them, so it comes first): undone, or an
    // RTM hub standing by would deliver the same events as this one.
    if (was_delivering) {
      auto undo = [self, &x](const caf::actor& fwd) {
        self->request(x.client, self->state.cfg.step_timeout,
                      unsubscribe_atom_v, fwd)
            .then([](caf::ok_atom) {}, [](caf::error&) {});
      };
      for (auto& sub : st.subs)
        undo(sub.fwd);
      if (st.lifecycle_fwd)
        undo(st.lifecycle_fwd);
    }
  }
  x.registry = nullptr;
  x.client = nullptr;
  x.info = workspace_info{};
  x.pending = 0;
  x.last_error = err;
  ++x.failures;
  ++x.attempt; // replies still on their way are stale now
  if (was_up && up_count(st) == 0 && !st.gap_since)
    st.gap_since = caf::make_timestamp();
  // RTM: a hub standing by takes over once no other hub delivers or is about
  // to (also when this one failed before its subscription was confirmed).
  if (was_delivering && !other_delivers(st, i))
    for (size_t j = 0; j < st.links.size(); ++j)
      if (st.links[j].state == phase::standby) {
        subscribe(self, j);
        break;
      }
  hub_down msg;
  msg.workspace = st.cfg.workspace;
  msg.hub = x.name;
  msg.reason = err;
  auto max = st.cfg.reconnect.max_attempts;
  if (is_fatal(err) || (max > 0 && x.failures >= max)) {
    x.state = phase::failed;
    msg.final = true;
    tell(self, std::move(msg));
    return;
  }
  x.state = phase::waiting;
  auto delay = rtm::detail::backoff_delay(st.cfg.reconnect, x.failures, st.rng);
  msg.retry_in = delay;
  tell(self, std::move(msg));
  self->delayed_send(self, delay, detail::attempt_atom_v, uint64_t{i},
                     x.attempt);
}

// Every subscription of hub i is confirmed: events flow from it.
void on_up(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& x = st.links[i];
  x.state = phase::up;
  x.failures = 0;
  x.last_error = caf::none;
  // The gap first: a bot that sees hub_up knows of every gap before it.
  // The hub may know of one this subscription did not see (the node was
  // cut off under an earlier one, or another hub delivered meanwhile): its
  // count is a gap all the same.
  auto& missed = x.info.missed;
  if (st.gap_since || (missed.known && missed.count > 0)) {
    ++st.gaps;
    // The hub's clock says when the node went away; this node's may run
    // behind it.
    auto since = st.gap_since ? *st.gap_since : missed.since;
    auto until = std::max(since, caf::make_timestamp());
    tell(self, hub_gap{st.cfg.workspace, x.name, since, until, missed});
    st.gap_since.reset();
  }
  // The lookup's record counts once: a later gap is not this one.
  auto info = x.info;
  x.info.missed = missed_events{};
  tell(self, hub_up{st.cfg.workspace, x.name, std::move(info)});
  st.ever_up = true;
}

void subscribe(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& x = st.links[i];
  x.state = phase::subscribing;
  x.pending = st.subs.size() + (st.lifecycle_fwd ? 1 : 0);
  if (x.pending == 0)
    return on_up(self, i);
  auto id = x.attempt;
  auto on_ok = [self, i, id](caf::ok_atom) {
    auto& x = self->state.links[i];
    if (x.attempt != id || x.state != phase::subscribing)
      return;
    if (--x.pending == 0)
      on_up(self, i);
  };
  auto on_error = [self, i, id](caf::error& err) {
    fail(self, i, id, err);
  };
  auto timeout = st.cfg.step_timeout;
  if (st.lifecycle_fwd)
    self->request(x.client, timeout, subscribe_atom_v, lifecycle_atom_v,
                  st.lifecycle_fwd)
        .then(on_ok, on_error);
  // In batches: a batch crosses the network as one message, and the
  // forwarder hands its items to the bot's actor one by one.
  for (auto& sub : st.subs)
    self->request(x.client, timeout, subscribe_atom_v, sub.fwd, sub.patterns,
                  batch_atom_v)
        .then(on_ok, on_error);
}

void on_info(self_ptr self, size_t i, uint64_t id, workspace_info& info) {
  auto& st = self->state;
  auto& x = st.links[i];
  if (x.attempt != id || x.state != phase::looking_up)
    return;
  if (!info.handle())
    return fail(self, i, id,
                make_error(errc::invalid_argument,
                           "the hub handed out no client for " + info.name));
  x.info = std::move(info);
  x.client = x.info.handle();
  // The gate ends with its hub, or alone (then the registry makes a new
  // one): either way this hub delivers no more.
  self->monitor(x.client);
  if (x.info.kind == client_kind::rtm && other_delivers(st, i)) {
    // What this node missed is the delivering hub's to report; by the time
    // this one takes over, its record tells of an older gap.
    x.info.missed = missed_events{};
    x.state = phase::standby;
    // Reached: failures are counted in a row, and a standby hub whose link
    // blips now and then must not reach `max_attempts` over days.
    x.failures = 0;
    x.last_error = caf::none;
    return;
  }
  subscribe(self, i);
}

void on_registry(self_ptr self, size_t i, uint64_t id, caf::node_id&,
                 caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
  auto& st = self->state;
  auto& x = st.links[i];
  if (x.attempt != id || x.state != phase::connecting)
    return;
  if (!ptr)
    return fail(self, i, id, caf::sec::no_actor_published_at_port);
  auto& sys = self->home_system();
  if (!ifs.empty() && !sys.assignable(ifs, sys.message_types<registry_actor>()))
    return fail(self, i, id, caf::sec::unexpected_actor_messaging_interface);
  x.registry = caf::actor_cast<registry_actor>(std::move(ptr));
  // Losing the hub's node kills every proxy of it: this down message says
  // the hub is gone.
  self->monitor(x.registry);
  x.state = phase::looking_up;
  self->request(x.registry, st.cfg.step_timeout, lookup_atom_v,
                st.cfg.workspace)
      .then([self, i, id](workspace_info& info) { on_info(self, i, id, info); },
            [self, i, id](caf::error& err) { fail(self, i, id, err); });
}

// The hub answered a probe at `address`: CAF's middleman actor (plain or
// TLS) connects there and does CAF's handshake; the same node reached twice
// shares one connection. The address, not the name: the middleman would look
// the name up again, blocking, and connect to its first address only.
void connect_node(self_ptr self, size_t i, uint64_t id, std::string address) {
  auto& st = self->state;
  auto& x = st.links[i];
  if (x.attempt != id || x.state != phase::connecting)
    return;
  auto& sys = self->home_system();
  auto mm = st.cfg.tls ? sys.openssl_manager().actor_handle()
                       : sys.middleman().actor_handle();
  self->request(mm, st.cfg.step_timeout, caf::connect_atom_v,
                std::move(address), x.where.port)
      .then(
          [self, i, id](caf::node_id& nid, caf::strong_actor_ptr& ptr,
                        std::set<std::string>& ifs) {
            on_registry(self, i, id, nid, ptr, ifs);
          },
          [self, i, id](caf::error& err) { fail(self, i, id, err); });
}

void start_attempt(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& x = st.links[i];
  // A probe whose name lookup stalls outlives its attempt: the next attempt
  // waits for it instead of adding a thread, and counts as no failure (it
  // tried nothing).
  if (x.probing->load()) {
    self->delayed_send(self, probe_recheck, detail::attempt_atom_v, uint64_t{i},
                       x.attempt);
    return;
  }
  x.state = phase::connecting;
  auto id = ++x.attempt;
  // The middleman connects blocking, one hub after the other: a hub that
  // never answers must not get there (see reachability.hpp).
  auto probe = detail::spawn_reachability_probe(
      self->home_system(), x.where.host, x.where.port, st.cfg.step_timeout,
      st.ended, x.probing);
  self->request(probe, st.cfg.step_timeout + std::chrono::seconds{1},
                caf::connect_atom_v)
      .then(
          [self, i, id](std::string& address) {
            connect_node(self, i, id, std::move(address));
          },
          [self, i, id](caf::error& err) { fail(self, i, id, err); });
}

caf::error check_system(self_ptr self) {
  auto& st = self->state;
  if (auto err = st.cfg.validate())
    return err;
  auto& sys = self->home_system();
  if (!sys.has_middleman())
    return make_error(errc::invalid_config,
                      "a remote subscription needs CAF's middleman: set the "
                      "system up with caf::rtm::hub::configure_node");
  if (st.cfg.tls && !sys.has_openssl_manager())
    return make_error(errc::invalid_config,
                      "tls needs CAF::openssl: set the system up with "
                      "caf::rtm::hub::configure_node and TLS files");
  return caf::none;
}

void start(self_ptr self) {
  auto& st = self->state;
  for (auto& where : st.cfg.hubs) {
    link x;
    x.where = where;
    x.name = to_string(where);
    st.links.push_back(std::move(x));
  }
  if (auto err = check_system(self)) {
    st.config_error = err;
    for (auto& x : st.links) {
      x.state = phase::failed;
      x.last_error = err;
    }
    tell(self, hub_down{st.cfg.workspace, "", err, caf::timespan{0}, true});
    return;
  }
  for (auto& sub : st.cfg.subscribers) {
    auto fwd = self->spawn(detail::forwarder, sub.hdl, self->address(),
                           st.cfg.dedupe_window, st.cfg.dedupe_capacity,
                           st.duplicates);
    self->monitor(fwd);
    st.subs.push_back({fwd, sub.patterns});
  }
  if (st.cfg.lifecycle) {
    st.lifecycle_fwd =
        self->spawn(detail::lifecycle_forwarder, st.cfg.lifecycle);
    self->monitor(st.lifecycle_fwd);
  }
  for (size_t i = 0; i < st.links.size(); ++i)
    start_attempt(self, i);
}

void on_down(self_ptr self, caf::down_msg& dm) {
  auto& st = self->state;
  for (size_t i = 0; i < st.links.size(); ++i) {
    auto& x = st.links[i];
    if ((x.registry && dm.source == x.registry.address()) ||
        (x.client && dm.source == x.client.address()))
      return fail(self, i, x.attempt, dm.reason);
  }
  // A bot actor ended (its forwarder follows it): nothing to subscribe for
  // it any more.
  auto& subs = st.subs;
  for (auto j = subs.begin(); j != subs.end(); ++j)
    if (dm.source == j->fwd.address()) {
      subs.erase(j);
      return;
    }
  if (st.lifecycle_fwd && dm.source == st.lifecycle_fwd.address())
    st.lifecycle_fwd = nullptr;
}

// A hub dropped events for one of the bot's actors: its node did not take
// them in time. The gap names the hub by the node the report came from.
void on_dropped(self_ptr self, hub_gap& gap, const caf::node_id& node) {
  auto& st = self->state;
  gap.workspace = st.cfg.workspace;
  for (auto& x : st.links)
    if (x.client && x.client.node() == node)
      gap.hub = x.name;
  ++st.gaps;
  st.dropped += gap.missed.count;
  tell(self, std::move(gap));
}

remote_subscription_status status(self_ptr self) {
  auto& st = self->state;
  remote_subscription_status result;
  result.workspace = st.cfg.workspace;
  for (auto& x : st.links)
    result.hubs.push_back(
        {x.name, to_string(x.state), x.failures, x.last_error});
  result.up = up_count(st);
  result.gaps = st.gaps;
  result.duplicates = *st.duplicates;
  result.dropped = st.dropped;
  return result;
}

// Answers every `close` and ends.
void closed(self_ptr self) {
  for (auto& rp : self->state.close_promises)
    rp.deliver(caf::ok_atom_v);
  self->state.close_promises.clear();
  self->quit();
}

// Unsubscribes on every hub that delivers (bounded by the step timeout),
// then ends. A second `close` meanwhile waits for the first one's end.
caf::result<caf::ok_atom> close(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.close_promises.push_back(rp);
  if (st.closing)
    return rp;
  st.closing = true;
  auto pending = std::make_shared<size_t>(0);
  auto done = [self, pending] {
    if (--*pending == 0)
      closed(self);
  };
  std::vector<caf::actor> mine;
  for (auto& sub : st.subs)
    mine.push_back(sub.fwd);
  if (st.lifecycle_fwd)
    mine.push_back(st.lifecycle_fwd);
  for (auto& x : st.links) {
    // What an attempt still gets (a lookup, a subscription's answer) is
    // stale now: no hub is subscribed on, nor reported up, after `close`.
    ++x.attempt;
    if (x.state != phase::up && x.state != phase::subscribing)
      continue;
    for (auto& fwd : mine) {
      ++*pending;
      self->request(x.client, st.cfg.step_timeout, unsubscribe_atom_v, fwd)
          .then([done](caf::ok_atom) { done(); },
                [done](caf::error&) { done(); });
    }
  }
  if (*pending == 0)
    closed(self);
  return rp;
}

detail::subscription_impl_actor::behavior_type
subscription_impl(self_ptr self, remote_subscription_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  caf::rtm::detail::ignore_stray_errors(self);
  start(self);
  return {
      [self](status_atom) { return status(self); },
      [self](hub_gap& gap, caf::node_id& node) { on_dropped(self, gap, node); },
      [self](close_atom) { return close(self); },
      [self](detail::attempt_atom, uint64_t i, uint64_t attempt) {
        auto& st = self->state;
        if (st.closing || i >= st.links.size())
          return;
        auto& x = st.links[i];
        if (x.attempt == attempt && x.state == phase::waiting)
          start_attempt(self, i);
      },
  };
}

} // namespace

// The public handle belongs to this actor; the subscription's own timers go
// to the one behind it. An actor linked to the handle that ends closes the
// subscription (its unsubscribes go out), as it closes a client.
remote_subscription_actor::behavior_type
remote_subscription(remote_subscription_actor::pointer self,
                    remote_subscription_config cfg) {
  auto impl = rtm::detail::start_front(self, subscription_impl, std::move(cfg));
  return {
      [=](status_atom x) { return self->delegate(impl, x); },
      [=](close_atom x) { return self->delegate(impl, x); },
  };
}

} // namespace caf::rtm::hub
