#include "detail/rtm_router.hpp"

#include <algorithm>
#include <string>

#include <boost/json/array.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/behavior_with.hpp"
#include "detail/client_web_api.hpp"
#include "detail/protocol.hpp"
#include "detail/stray_errors.hpp"
#include "detail/supervisor.hpp"
#include "detail/token_file.hpp"
#include "detail/wait_deadline.hpp"

namespace caf::rtm::detail {

namespace {

using self_ptr = rtm_router_actor::stateful_pointer<rtm_router_state>;

// Sessions the router remembers as ended before their `connected`: only the
// newest attempts can still come up.
constexpr size_t max_ended_before_up = 16;

// -- sending ------------------------------------------------------------------

// A failure of messages whose senders had their answer already: logged and
// told to the lifecycle subscribers, not lost in silence.
void report_answered(self_ptr self, caf::error err, std::string what) {
  CAF_RTM_LOG(self->state.log, warn, "client", what, ": ", render(err));
  tell_lifecycle(self, error_event{std::move(err), std::move(what)});
}

// Messages sent without an ack were answered when their connection got them,
// those that timed out when their time was up: one of them handed back
// unwritten and dropped at its max_wait, or refused by Slack later, is
// reported.
void report_late_failures(self_ptr self) {
  auto& st = self->state;
  if (auto n = st.out->take_expired_answered(); n > 0)
    report_answered(self,
                    make_error(errc::send_expired, "not sent within max_wait"),
                    std::to_string(n) +
                        " message(s) sent without an ack came back unwritten "
                        "and were not sent within their max_wait");
  if (auto late = st.out->take_late_refusals(); late.count > 0)
    report_answered(self, std::move(late.first),
                    "Slack refused " + std::to_string(late.count) +
                        " message(s) whose send was answered already (sent "
                        "without an ack or as a typing indicator, or timed "
                        "out)");
}

// Arms the outbox timer for its next deadline, unless an earlier one is set.
// Every change to the outbox ends here: it also reports what the change
// dropped.
void schedule_wakeup(self_ptr self) {
  report_late_failures(self);
  auto& st = self->state;
  auto now = self->clock().now();
  auto next = st.out->next_wakeup(now);
  if (!next || (st.wakeup_at && *st.wakeup_at <= *next))
    return;
  st.wakeup_at = *next;
  self->delayed_send(self, *next - now, tick_atom_v);
}

void on_wakeup(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (st.wakeup_at && *st.wakeup_at <= now)
    st.wakeup_at.reset();
  st.out->on_wakeup(now);
  schedule_wakeup(self);
}

caf::result<send_ack>
enqueue_message(self_ptr self, json_object& msg,
                std::optional<caf::timespan> max_wait = std::nullopt) {
  auto& st = self->state;
  if (st.fatal)
    return st.fatal;
  if (st.closing)
    return make_error(errc::closed, "client is closed");
  if (!st.started)
    return make_error(errc::not_connected, "connect first");
  if (max_wait)
    if (auto err = check_max_wait(*max_wait, "send"))
      return err;
  auto rp = self->make_response_promise<send_ack>();
  auto done = [rp](caf::expected<send_ack> x) mutable {
    if (x)
      rp.deliver(std::move(*x));
    else
      rp.deliver(std::move(x.error()));
  };
  // The promise took over the request: refusals go through it too.
  auto now = self->clock().now();
  std::optional<outbox::time_point> deadline;
  if (max_wait)
    deadline = wait_deadline(now, *max_wait);
  if (auto err = st.out->enqueue(std::move(msg.value), done, now, deadline))
    rp.deliver(std::move(err));
  schedule_wakeup(self);
  return rp;
}

// Fails every message not sent yet with `err`. Those sent without an ack
// were answered when their connection got them: one handed back unwritten
// and now never sent is reported, not lost in silence.
void fail_unsent(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  if (auto n = st.out->fail_queued(err); n > 0)
    report_answered(self, err,
                    std::to_string(n) +
                        " message(s) sent without an ack came back unwritten "
                        "and are not sent");
}

// After a fatal error no session comes: whatever a connection hands back
// unwritten fails at once (with an `error_event` for messages sent without
// an ack, answered already).
void fail_unsent_if_fatal(self_ptr self) {
  if (auto& st = self->state; st.fatal)
    fail_unsent(self, st.fatal);
}

// No session is up and none is coming (a failed `connect`, or the
// supervisor's `sessions_idle`): queued sends fail with `err`, and new ones
// need a `connect` first.
void no_session_coming(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  if (st.out->session_up())
    return;
  st.started = false;
  fail_unsent(self, err);
  schedule_wakeup(self);
}

// A message Slack does not ack; answered once written.
caf::result<caf::ok_atom> enqueue_unacked(self_ptr self, json_object& msg) {
  auto& st = self->state;
  if (st.fatal)
    return st.fatal;
  if (st.closing)
    return make_error(errc::closed, "client is closed");
  if (!st.started)
    return make_error(errc::not_connected, "connect first");
  auto rp = self->make_response_promise<caf::ok_atom>();
  auto done = [rp](caf::expected<send_ack> x) mutable {
    if (x)
      rp.deliver(caf::ok_atom_v);
    else
      rp.deliver(std::move(x.error()));
  };
  if (auto err = st.out->enqueue_unacked(std::move(msg.value), done,
                                         self->clock().now()))
    rp.deliver(std::move(err));
  schedule_wakeup(self);
  return rp;
}

// The `presence_sub` message for `users`.
boost::json::object presence_sub(const std::vector<std::string>& users) {
  boost::json::object msg;
  msg["type"] = "presence_sub";
  boost::json::array ids;
  for (auto& user : users)
    ids.emplace_back(user);
  msg["ids"] = std::move(ids);
  return msg;
}

// A `presence_sub` that was not queued or not written: the list stays and
// goes out again after the next hello.
void log_presence_sub_unsent(const logger_ptr& log, const caf::error& err) {
  CAF_RTM_LOG(log, warn, "client", "presence_sub not sent: ", render(err));
}

outbox::send_handler presence_sub_done(const logger_ptr& log) {
  return [log](caf::expected<send_ack> x) {
    if (!x)
      log_presence_sub_unsent(log, x.error());
  };
}

// Queues `presence_sub` for the current list (the outbox sends it once a
// session is up). Returns why it was not queued.
caf::error send_presence_sub(self_ptr self) {
  auto& st = self->state;
  auto err =
      st.out->enqueue_standing(presence_sub(st.presence_users),
                               presence_sub_done(st.log), self->clock().now());
  if (err)
    log_presence_sub_unsent(st.log, err);
  schedule_wakeup(self);
  return err;
}

caf::result<caf::ok_atom> set_presence(self_ptr self,
                                       std::vector<std::string>& users) {
  auto& st = self->state;
  for (auto& user : users)
    if (user.empty() || user.find_first_of(" \t\r\n\"") != std::string::npos)
      return make_error(errc::invalid_argument,
                        "presence: user ids must be non-empty, no spaces");
  if (st.closing)
    return make_error(errc::closed, "client is closed");
  // A list too long for one message would be refused at every hello.
  if (auto err = st.out->refusal(presence_sub(users)))
    return err;
  auto had_any = !st.presence_users.empty();
  st.presence_users = std::move(users);
  // A statement of the old list still waiting must not go out after this
  // one, nor on the next session (whose hello states the list as it is).
  st.out->drop_standing();
  // An empty list ends the subscription Slack holds for this session.
  if (st.out->session_up() && (had_any || !st.presence_users.empty()))
    if (auto err = send_presence_sub(self))
      return err;
  return caf::ok_atom_v;
}

caf::result<caf::timespan> send_ping(self_ptr self) {
  auto& st = self->state;
  if (st.closing)
    return make_error(errc::closed, "client is closed");
  auto rp = self->make_response_promise<caf::timespan>();
  auto done = [rp](caf::expected<caf::timespan> x) mutable {
    if (x)
      rp.deliver(*x);
    else
      rp.deliver(std::move(x.error()));
  };
  if (auto err = st.out->ping(done, self->clock().now()))
    rp.deliver(std::move(err));
  schedule_wakeup(self);
  return rp;
}

// The connection writes; a message it cannot write any more comes back.
outbox::writer make_writer(frame_writer_actor conn) {
  return [conn = std::move(conn)](int64_t id, std::string frame) {
    caf::anon_send(conn, send_atom_v, id, std::move(frame));
  };
}

// -- delivery -----------------------------------------------------------------

// Hands out the events of one batch: to subscribed actors one by one or in
// one `event_batch` each, to the listener workers in one message per worker.
void deliver(self_ptr self, std::vector<event>& events) {
  auto& st = self->state;
  std::vector<std::vector<event>> runs;
  if (st.pool.started())
    runs.resize(st.pool.workers().size());
  actor_fanout<event_batch, event> to_actors{st.subs, st.messages.get()};
  st.messages_trim.note_use(self);
  for (size_t i = 0; i < events.size(); ++i) {
    auto& ev = events[i];
    to_actors.deliver(ev, i + 1 < events.size() ? &events[i + 1] : nullptr);
    if (!runs.empty() && st.subs.callback_wants(ev))
      runs[st.pool.pick(ev.channel())].push_back(ev);
    ++st.stats.events_delivered;
  }
  to_actors.flush();
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].empty())
      continue;
    hand_to_worker(self, st.pool.workers()[i], runs[i].size());
    self->send(st.pool.workers()[i], std::move(runs[i]));
  }
}

// Session `id` ended or announced its end. If its `connected` has not come
// yet, it must not become the session sends go out on.
void note_session_end(self_ptr self, uint64_t id) {
  auto& st = self->state;
  // Session ids grow: one that came up already, or an older one, needs no
  // note.
  if (id <= st.newest_up)
    return;
  auto& early = st.ended_before_up;
  if (std::find(early.begin(), early.end(), id) != early.end())
    return;
  if (early.size() >= max_ended_before_up)
    early.erase(early.begin());
  early.push_back(id);
}

void on_batch(self_ptr self, inbound_batch& batch) {
  auto& st = self->state;
  forward_frames(self, batch, batch.events);
  st.stats.frames_malformed += batch.malformed;
  st.stats.frames_not_object += batch.not_object;
  st.stats.frames_binary += batch.binary;
  if (batch.session_ending) {
    // That session is going away: new sends wait for the next one, and
    // events both sessions deliver meanwhile are dropped once.
    st.overlap.begin(batch.session);
    st.out->session_ending(batch.session);
    note_session_end(self, batch.session);
  }
  auto now = self->clock().now();
  std::vector<event> events;
  events.reserve(batch.events.size());
  for (auto& ev : batch.events) {
    ++st.stats.events_received;
    if (st.out->on_reply(ev, now))
      continue;
    if (st.overlap.duplicate(ev, now)) {
      ++st.stats.events_duplicate;
      continue;
    }
    if (st.cfg->skip_own_events && !st.own_bot_id.empty() &&
        ev.bot_id() == st.own_bot_id) {
      ++st.stats.events_own_skipped;
      continue;
    }
    events.push_back(std::move(ev));
  }
  deliver(self, events);
  schedule_wakeup(self);
}

// -- sessions -----------------------------------------------------------------

void on_session_up(self_ptr self, connected& info, frame_writer_actor& conn) {
  auto& st = self->state;
  // Also a session that came without a `connect` (reconnecting switched back
  // on after the client went idle): sends go out on it.
  st.started = true;
  auto& early = st.ended_before_up;
  auto ended =
      std::find(early.begin(), early.end(), info.session) != early.end();
  // Sessions before this one never come up any more.
  early.erase(std::remove_if(early.begin(), early.end(),
                             [&](uint64_t x) { return x <= info.session; }),
              early.end());
  st.newest_up = std::max(st.newest_up, info.session);
  if (ended) {
    // Its connection is gone or going: what the outbox wrote on it would be
    // lost (a drained connection hands nothing back). Sends wait for the
    // next session; `disconnected` follows.
    tell_lifecycle(self, info);
    return;
  }
  // A new session knows nothing of the old one's presence subscription: the
  // list goes first, before the backlog takes the burst.
  auto statement = st.presence_users.empty() ? boost::json::object{}
                                             : presence_sub(st.presence_users);
  if (auto err = st.out->session_up(info.session, make_writer(std::move(conn)),
                                    self->clock().now(), std::move(statement),
                                    presence_sub_done(st.log)))
    log_presence_sub_unsent(st.log, err);
  schedule_wakeup(self);
  tell_lifecycle(self, info);
}

void on_session_down(self_ptr self, disconnected& msg) {
  auto& st = self->state;
  st.overlap.session_ended(msg.session, self->clock().now());
  st.out->session_down(msg.session);
  // Queued sends wait for the next session; if none is coming, the
  // supervisor says so (`sessions_idle`).
  schedule_wakeup(self);
  tell_lifecycle(self, msg);
}

caf::result<client_status> client_status_of(self_ptr self) {
  return status(self, [self](client_status& result) {
    auto& st = self->state;
    const auto& out = st.out->stats();
    result.messages_sent = out.sent;
    result.messages_acked = out.acked;
    result.messages_failed = out.failed;
    result.send_queue = st.out->queued();
    result.awaiting_ack = st.out->awaiting_ack();
  });
}

} // namespace

rtm_router_actor::behavior_type
rtm_router(rtm_router_actor::stateful_pointer<rtm_router_state> self,
           client_config cfg) {
  auto& st = self->state;
  cfg.token = trim_token(cfg.token);
  // The file's tokens are newer than the configured ones.
  auto from_file = load_token_file(cfg.rotation, cfg.token);
  cfg.log = make_logger(cfg.log, {cfg.token});
  st.log = cfg.log;
  if (from_file && *from_file)
    CAF_RTM_LOG(st.log, info, "client", "the tokens of ", cfg.rotation.file,
                " replace the configured ones");
  st.setup_error = from_file ? cfg.validate() : std::move(from_file.error());
  if (st.setup_error)
    CAF_RTM_LOG(st.log, error, "client", render(st.setup_error));
  st.cfg = std::make_shared<const client_config>(std::move(cfg));
  outbox::limits lim;
  lim.rate = st.cfg->send_rate;
  lim.burst = st.cfg->send_burst;
  lim.queue_size = st.cfg->send_queue_size;
  lim.max_message_size = st.cfg->max_send_size;
  lim.ack_timeout = st.cfg->ack_timeout;
  st.out.emplace(lim, self->clock().now());
  // While the connection reads nothing (the callbacks lag behind), the acks
  // and pongs it waits for may be among the frames not read: a message Slack
  // accepted must not fail with ack_timeout because a callback was slow.
  st.reading_held = [self](bool held) {
    auto& out = *self->state.out;
    if (held) {
      out.hold_replies(self->clock().now());
    } else {
      out.release_replies(self->clock().now());
      schedule_wakeup(self);
    }
  };
  if (st.cfg->api) {
    st.api = st.cfg->api; // the user's, shared: never closed by the client
  } else {
    st.api = self->spawn<caf::linked>(client_web_api, *st.cfg,
                                      caf::actor_cast<caf::actor>(self));
    st.own_apis.push_back(st.api);
  }
  st.sessions_closed = [self] {
    // Also what a connection handed back unwritten while the close ran.
    auto err = make_error(errc::closed, "client closed");
    fail_unsent(self, err);
    self->state.out->fail_awaiting(err);
  };
  supervisor_args args;
  args.cfg = st.cfg;
  args.proto = make_rtm_protocol(*st.cfg);
  args.router = caf::actor_cast<session_listener_actor>(self);
  args.batch_sink = caf::actor_cast<batch_sink_actor>(self);
  args.api = st.api;
  st.supervisor = self->spawn<caf::linked>(supervisor, std::move(args));
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  ignore_stray_errors(self);
  return behavior_with<rtm_router_actor::behavior_type>(
      shared_handlers<callback_listener>(self),
      // -- what users send (through the public handle) ------------------------
      [self](disconnect_atom) -> caf::result<caf::ok_atom> {
        // Make-before-break, as after a goodbye: the old session delivers
        // until the next one is up, and an event both deliver comes once.
        auto& st = self->state;
        if (auto session = st.out->writing_session(); session != 0)
          st.overlap.begin(session);
        return self->delegate(st.supervisor, disconnect_atom_v);
      },
      [self](connect_atom) -> caf::result<connected> {
        auto& st = self->state;
        if (st.setup_error)
          return st.setup_error;
        if (st.closing)
          return make_error(errc::closed, "client is closed");
        st.started = true;
        ++st.connects_pending;
        auto rp = self->make_response_promise<connected>();
        self->request(st.supervisor, caf::infinite, connect_atom_v)
            .then(
                [self, rp](connected& info) mutable {
                  --self->state.connects_pending;
                  rp.deliver(info);
                },
                [self, rp](caf::error& err) mutable {
                  // Reconnecting off, fatal, gave up. A later `connect` may
                  // have started another attempt meanwhile: the sends wait
                  // for its outcome.
                  if (--self->state.connects_pending == 0)
                    no_session_coming(self, err);
                  rp.deliver(err);
                });
        return rp;
      },
      [self](send_atom, json_object& msg) -> caf::result<send_ack> {
        return enqueue_message(self, msg);
      },
      [self](send_atom, json_object& msg, no_ack_atom)
          -> caf::result<caf::ok_atom> { return enqueue_unacked(self, msg); },
      [self](presence_atom, std::vector<std::string>& users)
          -> caf::result<caf::ok_atom> { return set_presence(self, users); },
      [self](send_atom, json_object& msg,
             caf::timespan max_wait) -> caf::result<send_ack> {
        return enqueue_message(self, msg, max_wait);
      },
      [self](typing_atom, const std::string& channel) -> bool {
        auto& st = self->state;
        return !st.closing && st.out->typing(channel, self->clock().now());
      },
      [self](ping_atom) -> caf::result<caf::timespan> {
        return send_ping(self);
      },
      [self](call_atom, std::string& method,
             api_args& args) -> caf::result<json_object> {
        return self->delegate(self->state.api, call_atom_v, std::move(method),
                              std::move(args));
      },
      [self](call_atom, api_call& call) -> caf::result<json_object> {
        return self->delegate(self->state.api, call_atom_v, std::move(call));
      },
      [self](call_atom, api_call& call,
             all_pages_atom) -> caf::result<std::vector<json_object>> {
        return self->delegate(self->state.api, call_atom_v, std::move(call),
                              all_pages_atom_v);
      },
      [self](call_atom, api_call& call,
             caf::actor& sink) -> caf::result<uint64_t> {
        return self->delegate(self->state.api, call_atom_v, std::move(call),
                              std::move(sink));
      },
      [self](upload_atom, file_upload& file) -> caf::result<json_object> {
        return self->delegate(self->state.api, upload_atom_v, std::move(file));
      },
      [self](webhook_atom, webhook_post& post) -> caf::result<caf::ok_atom> {
        return self->delegate(self->state.api, webhook_atom_v, std::move(post));
      },
      [self](status_atom x, call_atom y) -> caf::result<api_status> {
        return self->delegate(self->state.api, x, y);
      },
      [self](close_atom) -> caf::result<caf::ok_atom> {
        return start_close(self, [self] {
          fail_unsent(self, make_error(errc::closed, "client closed"));
          return true;
        });
      },
      [self](status_atom) -> caf::result<client_status> {
        return client_status_of(self);
      },
      // -- from connections ---------------------------------------------------
      [self](inbound_batch& batch) -> caf::result<caf::ok_atom> {
        on_batch(self, batch);
        return batch_done(self);
      },
      [](unsent_atom, const std::string&) {
        // Socket Mode only: RTM writes no acks.
      },
      [](unsent_atom, uint64_t, uint32_t) {
        // Likewise.
      },
      [self](written_atom, int64_t id) { self->state.out->written(id); },
      [self](unsent_atom, int64_t id) {
        self->state.out->unsent(id, self->clock().now());
        fail_unsent_if_fatal(self);
        schedule_wakeup(self);
      },
      [self](const session_drained& msg) {
        auto now = self->clock().now();
        // Also the end of a session that never said hello (for which no
        // `disconnected` comes): one that said goodbye before would keep
        // the overlap going.
        self->state.overlap.session_ended(msg.session, now);
        self->state.out->unsent_after(msg.session, msg.last_handed, now);
        fail_unsent_if_fatal(self);
        note_session_end(self, msg.session);
        schedule_wakeup(self);
      },
      // -- from the supervisor ------------------------------------------------
      [self](connected& info, frame_writer_actor& conn) {
        on_session_up(self, info, conn);
      },
      [](close_atom, uint64_t, session_closer_actor& conn) {
        // Nothing waits: a message awaiting its ack on the old session gets
        // it there until the close, or is reported as delivery_unknown.
        caf::anon_send(conn, close_atom_v, uint16_t{1000});
      },
      [self](disconnected& msg) { on_session_down(self, msg); },
      [self](sessions_idle& msg) {
        if (msg.goodbye_session != 0)
          self->state.out->session_ending(msg.goodbye_session);
        // Stale if a connect came after it: that one starts a session, or
        // its failure ends the wait.
        if (self->state.connects_pending == 0)
          no_session_coming(self, msg.reason);
      },
      [self](const fatal_event& msg) {
        auto& st = self->state;
        st.fatal = msg.reason;
        fail_unsent(self, msg.reason); // queued pings fail with the reason too
        // Nothing goes out any more (the supervisor closes the sessions
        // next): what an older session hands back must not go to this one.
        st.out->session_ending(st.out->writing_session());
        st.out->fail_awaiting(msg.reason);
        tell_lifecycle(self, msg);
      },
      // -- its own timer ------------------------------------------------------
      [self](tick_atom) { on_wakeup(self); });
}

} // namespace caf::rtm::detail
