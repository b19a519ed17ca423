// What the routers of both protocols share: the state that outlives a
// session (subscriptions, listener pool, backpressure, lifecycle
// subscribers, closing) and the handlers that work on it. Each router's state
// derives from `router_base`; the functions below take the router's self
// pointer, whatever its protocol.

#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/default_attachable.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/pattern.hpp"
#include "detail/frame_parser.hpp"
#include "detail/interfaces.hpp"
#include "detail/listener_pool.hpp"
#include "detail/pool_trim.hpp"
#include "detail/pooled_message.hpp"
#include "detail/subscription_table.hpp"
#include "detail/worker_watch.hpp"

namespace caf::rtm::detail {

struct router_base {
  /// A monitor lives on the actor it watches and keeps the watcher's memory
  /// (a few KB) until that actor ends: subscribers that outlive the client
  /// would gather them. Dropped here, however the router ends.
  ~router_base() {
    caf::default_attachable::observe_token tk{me,
                                              caf::default_attachable::monitor};
    for (const auto& x : subs.actors())
      x.hdl->detach(tk);
    for (const auto& x : subs.lifecycle())
      x->detach(tk);
  }

  /// The router's own address, as its monitors name it.
  caf::actor_addr me;
  std::shared_ptr<const client_config> cfg;
  logger_ptr log;
  /// Why the configuration cannot work; `connect` fails with it.
  caf::error setup_error;
  session_control_actor supervisor;
  /// Web-API callers the client spawned; closed (sockets and all) by close.
  std::vector<web_api_actor> own_apis;

  // -- delivery ---------------------------------------------------------------

  subscription_table subs;
  /// Memory of the messages to per-item subscribers.
  frame_pool_owner messages;
  /// When `messages` gives back what a burst left in it.
  pool_trim messages_trim;
  listener_pool pool;
  /// Per callback or hook subscription: set once it ends (see until_ended).
  std::map<uint64_t, std::shared_ptr<std::atomic<bool>>> listener_ended;
  /// Events handed to the listener workers and not yet done.
  uint64_t callback_backlog = 0;
  /// Batches not yet acknowledged to their connection because the callbacks
  /// lag behind.
  std::vector<caf::typed_response_promise<caf::ok_atom>> held_batches;
  /// Told when the connections stop reading (a batch held) and when they read
  /// again (RTM: the acks and pongs waited for are among the frames not read).
  std::function<void(bool held)> reading_held;
  /// What each worker owes and when it last finished something; when the
  /// pending check of it is due, if one is.
  worker_watch watch;
  std::optional<caf::actor_clock::time_point> stall_check_due;
  /// The client's own bot (from auth.test); empty for user tokens.
  std::string own_bot_id;

  // -- lifecycle --------------------------------------------------------------

  bool started = false;
  bool closing = false;
  /// Closing, and the supervisor answered: no session is left.
  bool sessions_gone = false;
  caf::error fatal;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
  /// Listener workers still ending after a close.
  std::vector<caf::actor_addr> ending_workers;
  /// Runs once the sessions and web-API callers are gone while closing.
  std::function<void()> sessions_closed;

  /// Counters of the router (the supervisor adds the session counts).
  client_status stats;
};

// -- the watch over the listener workers --------------------------------------

/// Arms the check of the watch for when the next worker may become stuck,
/// unless one is pending (work handed out or done later only moves that time
/// on).
template <class Self>
void arm_stall_check(Self* self) {
  auto& st = self->state;
  if (st.stall_check_due)
    return;
  auto due = st.watch.next_check(st.cfg->listener_stall_timeout);
  if (!due)
    return;
  st.stall_check_due = *due;
  auto now = self->clock().now();
  self->delayed_send(self, *due > now ? *due - now : caf::timespan{0},
                     timeout_atom_v, progress_atom_v);
}

/// `n` calls (events for callbacks, or items for the hooks) go to `worker`.
template <class Self, class Handle>
void hand_to_worker(Self* self, const Handle& worker, uint64_t n) {
  auto& st = self->state;
  st.callback_backlog += n;
  st.watch.assigned(worker.address(), n, self->clock().now());
  arm_stall_check(self);
}

/// Tells lifecycle subscribers, and the hooks what they take (errors and
/// ends of sessions).
template <class Self, class T>
void tell_lifecycle(Self* self, const T& msg, bool hooks_too = true) {
  auto& st = self->state;
  for (auto& hdl : st.subs.lifecycle())
    caf::anon_send(hdl, msg);
  if constexpr (std::is_same_v<T, error_event> ||
                std::is_same_v<T, fatal_event> ||
                std::is_same_v<T, disconnected>)
    if (hooks_too && st.subs.has_hooks() && st.pool.hook_worker()) {
      // Counted as frames for the hooks are: hooks that lag behind a flood
      // of errors (a callback that throws on every event) hold the reading
      // instead of letting a queue grow at their worker.
      hand_to_worker(self, st.pool.hook_worker(), 1);
      self->send(st.pool.hook_worker(), msg);
    }
}

/// Hands the raw-frame hooks every frame of `batch`, in wire order: the
/// events or envelopes (`items`) with the other frames at their places.
template <class Self, class Items>
void forward_frames(Self* self, const inbound_batch& batch,
                    const Items& items) {
  auto& st = self->state;
  if (!st.subs.has_frame_hooks() || !st.pool.hook_worker())
    return;
  raw_frames out;
  out.texts.reserve(items.size() + batch.other_frames.size());
  auto other = batch.other_frames.begin();
  auto flush_until = [&](size_t pos) {
    for (; other != batch.other_frames.end() && other->first <= pos; ++other)
      out.texts.push_back(other->second);
  };
  for (size_t i = 0; i < items.size(); ++i) {
    flush_until(i);
    out.texts.emplace_back(items[i].raw());
  }
  flush_until(items.size());
  if (out.texts.empty())
    return;
  hand_to_worker(self, st.pool.hook_worker(), out.texts.size());
  self->send(st.pool.hook_worker(), std::move(out));
}

/// The check of the watch: reports each worker that finished nothing for
/// `listener_stall_timeout` while it owes calls, once per stall; a callback
/// or hook that does not return would otherwise stop events without a word
/// (reading waits for the backlog) or hold a close forever.
template <class Self>
void on_stall_check(Self* self) {
  auto& st = self->state;
  st.stall_check_due.reset();
  auto now = self->clock().now();
  for (auto& x : st.watch.newly_stalled(now, st.cfg->listener_stall_timeout)) {
    ++st.stats.listener_stalls;
    auto quiet =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - x.since);
    auto reason =
        make_error(errc::listener_stalled,
                   log_text("a listener worker owes ", x.owed,
                            " callback or hook calls and finished none for ",
                            quiet.count() / 1000.0,
                            " s (a callback or hook that does not return?)",
                            st.held_batches.empty() ? "" : "; batches are held",
                            st.closing ? "; the close waits for it" : ""));
    CAF_RTM_LOG(st.log, error, "client", render(reason));
    tell_lifecycle(self, error_event{std::move(reason), "listener worker"},
                   false);
  }
  arm_stall_check(self);
}

/// Hands the items (events or envelopes) of one batch of frames to the
/// subscribed actors that cover them: to per-item subscriptions one message
/// each at once, to batched ones one `Batch` each, sent by `flush` once the
/// whole batch is routed. Lives within one handler: the subscriptions must not
/// change meanwhile.
template <class Batch, class Item>
class actor_fanout {
public:
  actor_fanout(const subscription_table& subs, frame_pool* pool)
      : subs_(subs), pool_(pool) {
    if (subs.has_batched())
      batched_.resize(subs.actors().size());
  }

  /// Routes `x`; `next` is the item routed after it, if any, whose memory a
  /// per-item subscriber prefetches when it gets `x` (pooled_message.hpp).
  void deliver(const Item& x, const Item* next = nullptr) {
    subs_.for_each_actor(x, [&](const auto& sub, size_t i) {
      if (sub.batched)
        batched_[i].push_back(x);
      else
        send_pooled(pool_, sub.hdl, x,
                    next != nullptr ? frame_parser::block_of(*next)
                                    : memory_span{});
    });
  }

  /// Sends what the batched subscriptions have so far; call it before
  /// anything else goes to them, or they get it out of order.
  void flush() {
    for (size_t i = 0; i < batched_.size(); ++i) {
      if (!batched_[i].empty()) {
        caf::anon_send(subs_.actors()[i].hdl, Batch{std::move(batched_[i])});
        batched_[i].clear();
      }
    }
  }

private:
  const subscription_table& subs_;
  /// The router's pool, for the messages to per-item subscriptions.
  frame_pool* pool_;
  /// Indexed like `subs_.actors()`; only batched subscriptions fill theirs.
  std::vector<std::vector<Item>> batched_;
};

// -- subscriptions ------------------------------------------------------------

/// Subscribes `hdl` to events (or envelopes) of `types`, one message each or,
/// if `batched`, one message per batch.
template <class Self>
caf::result<caf::ok_atom> subscribe_actor(Self* self, const caf::actor& hdl,
                                          const std::vector<std::string>& types,
                                          bool batched = false) {
  if (!hdl)
    return make_error(errc::invalid_argument, "subscribe needs an actor");
  if (auto err = check_patterns(types))
    return err;
  if (self->state.subs.patterns_with(hdl, types, batched) > max_patterns)
    return too_many_patterns();
  if (self->state.subs.add_actor(hdl, types, batched)) {
    self->state.me = self->address();
    self->monitor(hdl);
  }
  return caf::ok_atom_v;
}

template <class Self>
caf::result<caf::ok_atom> subscribe_lifecycle(Self* self,
                                              const caf::actor& hdl) {
  if (!hdl)
    return make_error(errc::invalid_argument, "invalid actor handle");
  if (self->state.subs.add_lifecycle(hdl)) {
    self->state.me = self->address();
    self->monitor(hdl);
  }
  return caf::ok_atom_v;
}

/// Why callbacks or hooks cannot be taken now: without workers (a
/// configuration that `connect` refuses, say `concurrency = 0`) nothing would
/// run them, and workers started while closing would outlive the client.
template <class Self>
caf::error pool_unavailable(Self* self) {
  auto& st = self->state;
  if (st.closing)
    return make_error(errc::closed, "the client is closing");
  if (st.setup_error)
    return st.setup_error;
  return caf::none;
}

/// Makes `fn` do nothing once `ended` is set. An unsubscribe is answered at
/// once, while calls of the subscription may still wait at the workers
/// (up to `callback_backlog`): none may start after that answer, as what the
/// callback uses may be gone by then.
template <class F>
void until_ended(F& fn, const std::shared_ptr<std::atomic<bool>>& ended) {
  if (!fn)
    return;
  fn = [inner = std::move(fn), ended](const auto&... xs) {
    if (!ended->load())
      inner(xs...);
  };
}

/// Adds a callback subscription (`Listener` is callback_listener or
/// envelope_listener) and hands it to every listener worker.
template <class Self, class Listener>
caf::result<uint64_t> subscribe_callback(Self* self, Listener& listener) {
  auto& st = self->state;
  if (!listener.fn)
    return make_error(errc::invalid_argument,
                      "a callback listener needs a function");
  if (auto err = check_patterns(listener.types))
    return err;
  if (auto err = pool_unavailable(self))
    return err;
  if (!st.pool.started())
    st.pool.start(self, st.cfg->concurrency);
  auto id = st.subs.add_callback(listener.types);
  auto ended = std::make_shared<std::atomic<bool>>(false);
  until_ended(listener.fn, ended);
  st.listener_ended.emplace(id, std::move(ended));
  for (auto& worker : st.pool.workers())
    self->send(worker, subscribe_atom_v, id, listener);
  return id;
}

/// Ends every subscription of `hdl`.
template <class Self>
caf::ok_atom unsubscribe_actor(Self* self, const caf::actor& hdl) {
  self->state.subs.remove_actor(hdl.address());
  self->demonitor(hdl);
  return caf::ok_atom_v;
}

/// Takes `types` off the subscription of `hdl` (its lifecycle subscription
/// stays).
template <class Self>
caf::ok_atom unsubscribe_types(Self* self, const caf::actor& hdl,
                               const std::vector<std::string>& types) {
  if (self->state.subs.remove_types(hdl, types))
    self->demonitor(hdl);
  return caf::ok_atom_v;
}

/// Adds a hook subscription and hands it to the hook worker.
template <class Self>
caf::result<uint64_t> subscribe_hooks(Self* self, hook_listener& hooks) {
  auto& st = self->state;
  if (!hooks.on_frame && !hooks.on_error && !hooks.on_close)
    return make_error(errc::invalid_argument, "a hook listener needs a hook");
  if (auto err = pool_unavailable(self))
    return err;
  auto id = st.subs.add_hooks(static_cast<bool>(hooks.on_frame));
  auto ended = std::make_shared<std::atomic<bool>>(false);
  until_ended(hooks.on_frame, ended);
  until_ended(hooks.on_error, ended);
  until_ended(hooks.on_close, ended);
  st.listener_ended.emplace(id, std::move(ended));
  self->send(st.pool.hook_worker(self), subscribe_atom_v, id, std::move(hooks));
  return id;
}

template <class Self>
caf::ok_atom unsubscribe_callback(Self* self, uint64_t id) {
  auto& st = self->state;
  st.subs.remove_callback(id);
  if (auto i = st.listener_ended.find(id); i != st.listener_ended.end()) {
    i->second->store(true);
    st.listener_ended.erase(i);
  }
  for (auto& worker : st.pool.all())
    self->send(worker, unsubscribe_atom_v, id);
  return caf::ok_atom_v;
}

// -- backpressure -------------------------------------------------------------

/// Acknowledges a batch to its connection at once, or later while the
/// callbacks lag behind (the connection reads on only then).
template <class Self>
caf::result<caf::ok_atom> batch_done(Self* self) {
  auto& st = self->state;
  if (st.callback_backlog <= st.cfg->callback_backlog)
    return caf::ok_atom_v;
  auto rp = self->template make_response_promise<caf::ok_atom>();
  if (st.held_batches.empty() && st.reading_held)
    st.reading_held(true);
  st.held_batches.push_back(rp);
  return rp;
}

/// The listener workers finished `n` events or envelopes.
template <class Self>
void on_progress(Self* self, uint64_t n) {
  auto& st = self->state;
  st.callback_backlog -= std::min(n, st.callback_backlog);
  st.watch.done(caf::actor_cast<caf::actor_addr>(self->current_sender()), n,
                self->clock().now());
  arm_stall_check(self);
  if (st.callback_backlog > st.cfg->callback_backlog || st.held_batches.empty())
    return;
  for (auto& rp : st.held_batches)
    rp.deliver(caf::ok_atom_v);
  st.held_batches.clear();
  if (st.reading_held)
    st.reading_held(false);
}

template <class Self>
void on_callback_failure(Self* self, callback_failure& x) {
  auto& st = self->state;
  ++st.stats.listener_errors;
  CAF_RTM_LOG(st.log, warn, "client", x.what, ": ", render(x.reason));
  tell_lifecycle(self, error_event{std::move(x.reason), std::move(x.what)},
                 !x.hooks_told);
}

// -- closing ------------------------------------------------------------------

template <class Self>
void reply_closed(Self* self) {
  auto& st = self->state;
  for (auto& rp : st.close_promises)
    rp.deliver(caf::ok_atom_v);
  st.close_promises.clear();
  self->quit();
}

// Ends the listener workers, callback workers first (their failures still
// reach the hooks), then the hook worker; the close is complete when none is
// left.
template <class Self>
void stop_workers(Self* self) {
  auto& st = self->state;
  for (auto& w : st.pool.stop_next(self)) {
    st.ending_workers.push_back(w.address());
    self->monitor(w);
  }
  if (st.ending_workers.empty())
    reply_closed(self);
}

// Sessions and the web-API callers are gone; the listener workers finish the
// events they have, then the close is complete.
template <class Self>
void finish_close(Self* self) {
  auto& st = self->state;
  if (st.sessions_closed)
    st.sessions_closed();
  stop_workers(self);
}

template <class Self>
void close_apis(Self* self, size_t i) {
  auto& apis = self->state.own_apis;
  if (i >= apis.size())
    return finish_close(self);
  self->request(apis[i], caf::infinite, close_atom_v)
      .then([self, i](caf::ok_atom) { close_apis(self, i + 1); },
            [self, i](caf::error&) { close_apis(self, i + 1); });
}

/// Closes the sessions for good (see `start_close`).
template <class Self>
void close_sessions(Self* self) {
  auto& st = self->state;
  self->request(st.supervisor, caf::infinite, close_atom_v)
      .then(
          [self](caf::ok_atom) {
            self->state.sessions_gone = true;
            close_apis(self, 0);
          },
          [self](caf::error&) {
            self->state.sessions_gone = true;
            close_apis(self, 0);
          });
}

/// Closes the sessions (close frames), then the web-API callers (their
/// sockets), then the listener workers; replies when all are gone.
/// `on_start` runs once, when the close begins; if it returns false, the
/// router calls `close_sessions` itself later.
template <class Self, class OnStart>
caf::result<caf::ok_atom> start_close(Self* self, OnStart on_start) {
  auto& st = self->state;
  auto rp = self->template make_response_promise<caf::ok_atom>();
  st.close_promises.push_back(rp);
  if (st.closing)
    return rp;
  st.closing = true;
  if (on_start())
    close_sessions(self);
  return rp;
}

/// Whether a subscriber that ended with `reason` failed: ended neither on
/// its own (`quit()`), nor by a shutdown or kill of its program, nor with
/// its node (a hub's relay), nor unseen (CAF's `unknown`: a remote actor
/// that had ended before its proxy was announced).
inline bool subscriber_failed(const caf::error& reason) {
  if (!reason)
    return false;
  for (auto x :
       {caf::exit_reason::normal, caf::exit_reason::user_shutdown,
        caf::exit_reason::kill, caf::exit_reason::remote_link_unreachable,
        caf::exit_reason::unreachable, caf::exit_reason::unknown,
        caf::exit_reason::out_of_workers})
    if (reason == x)
      return false;
  return true;
}

/// A listener worker ended (closing) or a subscriber died.
template <class Self>
void on_down(Self* self, caf::down_msg& dm) {
  auto& st = self->state;
  auto& ending = st.ending_workers;
  if (auto i = std::find(ending.begin(), ending.end(), dm.source);
      i != ending.end()) {
    st.watch.forget(dm.source);
    ending.erase(i);
    if (ending.empty())
      stop_workers(self);
    return;
  }
  // A subscriber died: it leaves every list. One that failed (an exception
  // it did not handle, say) is reported: its events stop, and without a word
  // a bot would go deaf.
  // Only this process's own: a remote node could make the client report
  // failures to every lifecycle subscriber, other nodes' included.
  if (st.subs.remove_actor(dm.source) && dm.source.node() == self->node() &&
      subscriber_failed(dm.reason)) {
    ++st.stats.listener_errors;
    auto what = "subscribed actor #" + std::to_string(dm.source.id()) +
                " ended with " + render(dm.reason) + "; it gets no more events";
    CAF_RTM_LOG(st.log, warn, "client", what);
    tell_lifecycle(self,
                   error_event{make_error(errc::listener_failed, what), what});
  }
}

// -- status -------------------------------------------------------------------

/// The subscriber counts of a status snapshot, and the workers' backlog.
inline void count_subscribers(const router_base& st, client_status& out) {
  out.callback_backlog = st.callback_backlog;
  out.batches_held = st.held_batches.size();
  // An actor subscribed one by one and in batches is one subscriber.
  std::vector<caf::actor_addr> seen;
  for (auto& sub : st.subs.actors())
    if (std::find(seen.begin(), seen.end(), sub.hdl.address()) == seen.end())
      seen.push_back(sub.hdl.address());
  out.subscribers = seen.size();
  out.lifecycle_subscribers = st.subs.lifecycle().size();
}

/// The router's own part of a status (`fill` adds what only the protocol's
/// router knows), for a client whose sessions are ending or gone: `state`,
/// and no session comes any more.
template <class Self, class Fill>
client_status status_without_sessions(Self* self, Fill& fill,
                                      const char* state) {
  auto result = self->state.stats;
  fill(result);
  count_subscribers(self->state, result);
  result.state = state;
  result.auto_reconnect = false;
  return result;
}

/// The router's counters plus the supervisor's view; `fill` adds what only
/// the protocol's router knows.
template <class Self, class Fill>
caf::result<client_status> status(Self* self, Fill fill) {
  if (self->state.closing)
    // The supervisor may have quit already, and its answer (an error) could
    // come after this router's own end, which drops the promise: a status
    // asked during a close would never be answered.
    return status_without_sessions(
        self, fill, self->state.sessions_gone ? "closed" : "closing");
  auto rp = self->template make_response_promise<client_status>();
  self->request(self->state.supervisor, caf::infinite, status_atom_v)
      .then(
          [self, rp, fill](supervisor_status& sup) mutable {
            auto result = self->state.stats;
            fill(result);
            count_subscribers(self->state, result);
            result.state = std::move(sup.state);
            result.session = sup.session;
            result.sessions = sup.sessions_up;
            result.connections = sup.live;
            result.connected = sup.live > 0;
            result.auto_reconnect = sup.auto_reconnect;
            result.last_rtt = sup.last_rtt;
            result.num_connections = sup.hello.num_connections;
            result.app_id = sup.hello.app_id;
            rp.deliver(std::move(result));
          },
          [self, rp, fill](caf::error&) mutable {
            rp.deliver(status_without_sessions(self, fill, "closed"));
          });
  return rp;
}

// -- handlers -----------------------------------------------------------------

/// The handlers both routers have alike: subscriptions (`Listener` is the
/// protocol's callback listener), switching reconnects, what the supervisor
/// reports besides sessions, and the listener workers' reports. Each router
/// adds its own (see behavior_with.hpp).
template <class Listener, class Self>
auto shared_handlers(Self* self) {
  using caf::ok_atom;
  return std::make_tuple(
      // -- what users send (through the public handle) ------------------------
      [self](subscribe_atom, caf::actor& hdl, std::vector<std::string>& types)
          -> caf::result<ok_atom> { return subscribe_actor(self, hdl, types); },
      [self](subscribe_atom, caf::actor& hdl, std::vector<std::string>& types,
             batch_atom) -> caf::result<ok_atom> {
        return subscribe_actor(self, hdl, types, true);
      },
      [self](subscribe_atom, lifecycle_atom, caf::actor& hdl)
          -> caf::result<ok_atom> { return subscribe_lifecycle(self, hdl); },
      [self](subscribe_atom, Listener& listener) -> caf::result<uint64_t> {
        return subscribe_callback(self, listener);
      },
      [self](subscribe_atom, hook_listener& hooks) -> caf::result<uint64_t> {
        return subscribe_hooks(self, hooks);
      },
      [self](unsubscribe_atom, const caf::actor& hdl) -> ok_atom {
        return unsubscribe_actor(self, hdl);
      },
      [self](unsubscribe_atom, const caf::actor& hdl,
             const std::vector<std::string>& types) -> ok_atom {
        return unsubscribe_types(self, hdl, types);
      },
      [self](unsubscribe_atom, uint64_t id) -> ok_atom {
        return unsubscribe_callback(self, id);
      },
      [self](reconnect_atom, bool on) -> caf::result<ok_atom> {
        return self->delegate(self->state.supervisor, reconnect_atom_v, on);
      },
      // -- from the supervisor ------------------------------------------------
      [self](identity& me) { self->state.own_bot_id = me.bot_id; },
      [self](const connecting& msg) { tell_lifecycle(self, msg); },
      [self](const reconnecting& msg) { tell_lifecycle(self, msg); },
      [self](const error_event& msg) { tell_lifecycle(self, msg); },
      // -- from listener workers ----------------------------------------------
      [self](progress_atom, uint64_t n) { on_progress(self, n); },
      [self](timeout_atom, progress_atom) { on_stall_check(self); },
      [self](timeout_atom, trim_atom) {
        auto& st = self->state;
        st.messages_trim.run(self, st.messages.get());
      },
      [self](callback_failure& x) { on_callback_failure(self, x); });
}

} // namespace caf::rtm::detail
