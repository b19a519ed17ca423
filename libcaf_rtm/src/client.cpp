#include "caf/rtm/client.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/supervisor.hpp"
#include "caf/rtm/web_api.hpp"
#include "net/net_context.hpp"

namespace json = boost::json;

namespace caf::rtm {

namespace {

using self_ptr = client_actor::stateful_pointer<client_state>;

// How long an ack of a message whose session died may still come from the
// next session (Slack sends it right after hello, if at all).
constexpr auto orphan_grace = std::chrono::seconds{2};

// Slack ignores typing indicators closer together than this per channel.
constexpr auto typing_interval = std::chrono::seconds{3};

// Slack's limit on message text, in characters.
constexpr size_t max_text_chars = 4000;

size_t utf8_chars(std::string_view x) {
  return static_cast<size_t>(std::count_if(x.begin(), x.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string with_id(int64_t id, const std::string& body) {
  std::string result = "{\"id\":";
  result += std::to_string(id);
  if (body.size() > 2) {
    result += ',';
    result.append(body, 1, std::string::npos);
  } else {
    result += '}';
  }
  return result;
}

template <class T>
void tell_lifecycle(self_ptr self, const T& msg) {
  for (auto& hdl : self->state.lifecycle_subscribers)
    caf::anon_send(hdl, msg);
}

bool session_up(self_ptr self) {
  return self->state.conn != nullptr;
}

// -- sending ------------------------------------------------------------------

void fail_queue(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  for (auto* q : {&st.unsent, &st.queue}) {
    for (auto& x : *q)
      x.rp.deliver(err);
    st.stats.messages_failed += q->size();
    q->clear();
  }
}

void fail_awaiting(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  for (auto& [id, x] : st.acks)
    x.rp.deliver(make_error(errc::delivery_unknown,
                            "message " + std::to_string(id) +
                                " sent, no ack: " + render(err)));
  st.stats.messages_failed += st.acks.size();
  st.acks.clear();
  for (auto& [id, x] : st.pongs)
    x.rp.deliver(err);
  st.pongs.clear();
}

// Sends queued messages while the session is up and the bucket has tokens.
void pump(self_ptr self) {
  auto& st = self->state;
  while (session_up(self) && (!st.unsent.empty() || !st.queue.empty())) {
    auto now = self->clock().now();
    if (!st.bucket->try_take(now)) {
      if (!st.tick_scheduled) {
        st.tick_scheduled = true;
        self->delayed_send(self, st.bucket->time_to_next(now), tick_atom_v);
      }
      return;
    }
    auto& from = st.unsent.empty() ? st.queue : st.unsent;
    auto msg = std::move(from.front());
    from.pop_front();
    // A fresh id even for a message that comes back unsent: ids are unique
    // per connection, and the old one may have reached the old connection.
    auto id = st.next_id++;
    self->send(st.conn, send_atom_v, id, with_id(id, msg.body));
    st.acks.emplace(id,
                    client_state::awaiting_ack{std::move(msg.rp), st.session,
                                               false, std::move(msg.body)});
    ++st.stats.messages_sent;
    self->delayed_send(self, st.cfg->ack_timeout, timeout_atom_v, id);
  }
}

// The connection never wrote message `id`: it goes out again, first thing on
// the next session (never a blind duplicate: it was not written).
void on_unsent(self_ptr self, int64_t id) {
  auto& st = self->state;
  if (auto i = st.acks.find(id); i != st.acks.end()) {
    --st.stats.messages_sent;
    st.unsent.push_back({std::move(i->second.body), std::move(i->second.rp)});
    st.acks.erase(i);
    pump(self);
  } else if (auto j = st.pongs.find(id); j != st.pongs.end()) {
    j->second.rp.deliver(make_error(errc::not_connected, "session ended"));
    st.pongs.erase(j);
  }
}

caf::result<send_ack> enqueue_message(self_ptr self, json_object& msg) {
  auto& st = self->state;
  if (st.fatal)
    return st.fatal;
  if (st.closing)
    return make_error(errc::closed, "client is closed");
  if (!st.started)
    return make_error(errc::not_connected, "connect first");
  auto& obj = msg.value;
  auto* type = obj.if_contains("type");
  if (type == nullptr || !type->is_string())
    return make_error(errc::invalid_argument,
                      "an RTM message needs a string \"type\"");
  if (auto* text = obj.if_contains("text");
      text && text->is_string() &&
      utf8_chars(text->get_string()) > max_text_chars)
    return make_error(errc::text_too_long, "text over " +
                                               std::to_string(max_text_chars) +
                                               " characters");
  obj.erase("id"); // ids are the client's business
  auto body = json::serialize(obj);
  // Room for the id the client adds: `"id":<up to 19 digits>,`.
  if (body.size() + 26 > st.cfg->max_send_size)
    return make_error(errc::message_too_large,
                      std::to_string(body.size()) + " bytes, limit " +
                          std::to_string(st.cfg->max_send_size));
  if (st.queue.size() + st.unsent.size() >= st.cfg->send_queue_size)
    return make_error(errc::send_queue_full,
                      std::to_string(st.queue.size()) + " messages waiting");
  auto rp = self->make_response_promise<send_ack>();
  st.queue.push_back({std::move(body), rp});
  pump(self);
  return rp;
}

bool send_typing(self_ptr self, const std::string& channel) {
  auto& st = self->state;
  if (!session_up(self) || channel.empty())
    return false;
  auto now = self->clock().now();
  auto& last = st.last_typing[channel];
  if (last != client_state::time_point{} && now - last < typing_interval)
    return false;
  // Typing is best effort: it never waits for, nor delays, real messages.
  if (!st.queue.empty() || !st.bucket->try_take(now))
    return false;
  last = now;
  json::object msg;
  msg["id"] = st.next_id++;
  msg["type"] = "typing";
  msg["channel"] = channel;
  self->send(st.conn, send_atom_v, msg.at("id").as_int64(),
             json::serialize(msg));
  return true;
}

caf::result<caf::timespan> send_rtm_ping(self_ptr self) {
  auto& st = self->state;
  if (!session_up(self))
    return make_error(errc::not_connected, "no session");
  auto id = st.next_id++;
  json::object msg;
  msg["id"] = id;
  msg["type"] = "ping";
  self->send(st.conn, send_atom_v, id, json::serialize(msg));
  auto rp = self->make_response_promise<caf::timespan>();
  st.pongs.emplace(id, client_state::awaiting_pong{rp, self->clock().now()});
  self->delayed_send(self, st.cfg->ack_timeout, timeout_atom_v, id);
  return rp;
}

void on_ack(self_ptr self, const event& ev, int64_t id) {
  auto& st = self->state;
  auto i = st.acks.find(id);
  if (i == st.acks.end()) {
    CAF_RTM_LOG(st.log, debug, "client", "ack for unknown message ", id);
    return;
  }
  auto rp = std::move(i->second.rp);
  st.acks.erase(i);
  if (*ev.ok()) {
    ++st.stats.messages_acked;
    send_ack ack;
    ack.id = id;
    ack.ts = std::string{ev.ts()};
    if (auto* text = ev.json().if_contains("text"); text && text->is_string())
      ack.text = std::string{text->get_string()};
    rp.deliver(std::move(ack));
    return;
  }
  ++st.stats.messages_failed;
  std::string code = "unknown";
  std::string msg;
  if (auto* e = ev.json().if_contains("error"); e && e->is_object()) {
    const auto& obj = e->get_object();
    if (auto* c = obj.if_contains("code"))
      code = json::serialize(*c);
    if (auto* m = obj.if_contains("msg"); m && m->is_string())
      msg = std::string{m->get_string()};
  } else if (e && e->is_string()) {
    code = std::string{e->get_string()};
  }
  rp.deliver(make_error(errc::send_rejected, code, msg));
}

void on_timeout(self_ptr self, int64_t id) {
  auto& st = self->state;
  if (auto i = st.acks.find(id); i != st.acks.end()) {
    ++st.stats.messages_failed;
    auto rp = std::move(i->second.rp);
    auto orphaned = i->second.orphaned;
    st.acks.erase(i);
    if (orphaned)
      rp.deliver(make_error(errc::delivery_unknown,
                            "session ended before the ack of message " +
                                std::to_string(id)));
    else
      rp.deliver(make_error(errc::ack_timeout,
                            "no ack for message " + std::to_string(id)));
  } else if (auto j = st.pongs.find(id); j != st.pongs.end()) {
    j->second.rp.deliver(make_error(errc::ack_timeout, "no pong"));
    st.pongs.erase(j);
  }
}

// -- delivery -----------------------------------------------------------------

void deliver(self_ptr self, const event& ev) {
  auto& st = self->state;
  auto type = ev.type();
  for (auto& sub : st.subscribers)
    if (subscribed_to(sub.types, type))
      caf::anon_send(sub.hdl, ev);
  if (!st.callbacks.empty()) {
    auto wanted = std::any_of(
        st.callbacks.begin(), st.callbacks.end(),
        [type](const auto& cb) { return subscribed_to(cb.types, type); });
    if (wanted) {
      self->send(st.pool.pick(ev.channel()), ev);
      ++st.callback_backlog;
    }
  }
  ++st.stats.events_delivered;
}

void on_batch(self_ptr self, event_batch& batch) {
  auto& st = self->state;
  st.stats.frames_malformed += batch.malformed;
  st.stats.frames_not_object += batch.not_object;
  st.stats.frames_binary += batch.binary;
  auto now = self->clock().now();
  for (auto& ev : batch.events) {
    ++st.stats.events_received;
    if (auto reply_to = ev.reply_to()) {
      if (ev.ok()) {
        on_ack(self, ev, *reply_to);
        continue;
      }
      if (auto i = st.pongs.find(*reply_to);
          i != st.pongs.end() && ev.type() == "pong") {
        i->second.rp.deliver(
            std::chrono::duration_cast<caf::timespan>(now - i->second.sent));
        st.pongs.erase(i);
        continue;
      }
    }
    if (st.overlap.duplicate(ev, now)) {
      ++st.stats.events_duplicate;
      continue;
    }
    if (ev.type() == "goodbye" || ev.type() == "team_migration_started") {
      st.overlap.begin(ev.session());
      // That session is going away: new sends wait for the next one.
      if (ev.session() == st.session)
        st.conn = nullptr;
    }
    if (st.cfg->skip_own_events && !st.own_bot_id.empty() &&
        ev.bot_id() == st.own_bot_id) {
      ++st.stats.events_own_skipped;
      continue;
    }
    deliver(self, ev);
  }
}

// -- sessions -----------------------------------------------------------------

void on_session_up(self_ptr self, connected& info, connection_actor& conn) {
  auto& st = self->state;
  st.session = info.session;
  st.conn = std::move(conn);
  // Acks of messages from a dead session come right after hello, or never.
  for (auto& [id, x] : st.acks)
    if (x.orphaned)
      self->delayed_send(
          self, std::min<caf::timespan>(orphan_grace, st.cfg->ack_timeout),
          timeout_atom_v, id);
  tell_lifecycle(self, info);
  pump(self);
}

void on_session_down(self_ptr self, disconnected& msg) {
  auto& st = self->state;
  st.overlap.session_ended(msg.session, self->clock().now());
  for (auto& [id, x] : st.acks)
    if (x.session == msg.session)
      x.orphaned = true;
  if (msg.session == st.session) {
    st.session = 0;
    st.conn = nullptr;
    if (!st.cfg->auto_reconnect) {
      // No session is coming: sends must fail now, not wait for one.
      st.started = false;
      fail_queue(self, make_error(errc::not_connected,
                                  "session ended and auto_reconnect is off"));
    }
  }
  tell_lifecycle(self, msg);
}

// -- closing ------------------------------------------------------------------

void reply_closed(self_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.close_promises)
    rp.deliver(caf::ok_atom_v);
  st.close_promises.clear();
  self->quit();
}

// Sessions and the web-API caller are gone; the listener workers finish the
// events they have, then the close is complete.
void finish_close(self_ptr self) {
  auto& st = self->state;
  fail_awaiting(self, make_error(errc::closed, "client closed"));
  for (auto& w : st.pool.stop(self)) {
    st.ending_workers.push_back(w.address());
    self->monitor(w);
  }
  if (st.ending_workers.empty())
    reply_closed(self);
}

caf::result<caf::ok_atom> start_close(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.close_promises.push_back(rp);
  if (st.closing)
    return rp;
  st.closing = true;
  fail_queue(self, make_error(errc::closed, "client closed"));
  // Sessions first (close frames), then the web-API caller (its sockets).
  self->request(st.supervisor, caf::infinite, close_atom_v)
      .then(
          [self](caf::ok_atom) {
            self->request(self->state.api, caf::infinite, close_atom_v)
                .then([self](caf::ok_atom) { finish_close(self); },
                      [self](caf::error&) { finish_close(self); });
          },
          [self](caf::error&) { finish_close(self); });
  return rp;
}

} // namespace

client_actor::behavior_type
client(client_actor::stateful_pointer<client_state> self, client_config cfg) {
  auto& st = self->state;
  st.log = net::make_logger(cfg);
  if (!cfg.log)
    cfg.log = st.log;
  st.setup_error = cfg.validate();
  if (st.setup_error)
    CAF_RTM_LOG(st.log, error, "client", render(st.setup_error));
  st.cfg = std::make_shared<const client_config>(std::move(cfg));
  st.bucket = std::make_unique<token_bucket>(
      st.cfg->send_rate, st.cfg->send_burst, self->clock().now());
  st.api = self->spawn<caf::linked>(web_api, *st.cfg);
  st.supervisor = self->spawn<caf::linked>(
      supervisor, st.cfg, caf::actor_cast<client_actor>(self), st.api);
  // Subscribers that die leave the lists; workers that end complete a close.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto& ending = st.ending_workers;
    if (auto i = std::find(ending.begin(), ending.end(), dm.source);
        i != ending.end()) {
      ending.erase(i);
      if (ending.empty())
        reply_closed(self);
      return;
    }
    auto& subs = st.subscribers;
    subs.erase(std::remove_if(
                   subs.begin(), subs.end(),
                   [&](const auto& x) { return x.hdl.address() == dm.source; }),
               subs.end());
    auto& lc = st.lifecycle_subscribers;
    lc.erase(
        std::remove_if(lc.begin(), lc.end(),
                       [&](const auto& x) { return x.address() == dm.source; }),
        lc.end());
  });
  return {
      // -- public -------------------------------------------------------------
      [self](connect_atom) -> caf::result<connected> {
        auto& st = self->state;
        if (st.setup_error)
          return st.setup_error;
        if (st.closing)
          return make_error(errc::closed, "client is closed");
        st.started = true;
        auto rp = self->make_response_promise<connected>();
        self->request(st.supervisor, caf::infinite, connect_atom_v)
            .then([rp](connected& info) mutable { rp.deliver(info); },
                  [self, rp](caf::error& err) mutable {
                    // No session and none coming (reconnecting off, fatal,
                    // gave up): queued sends must not wait for one.
                    if (!session_up(self)) {
                      self->state.started = false;
                      fail_queue(self, err);
                    }
                    rp.deliver(err);
                  });
        return rp;
      },
      [self](subscribe_atom, caf::actor& hdl,
             std::vector<std::string>& types) -> caf::result<caf::ok_atom> {
        if (!hdl || types.empty())
          return make_error(errc::invalid_argument,
                            "subscribe needs an actor and event types");
        auto& subs = self->state.subscribers;
        auto i = std::find_if(subs.begin(), subs.end(),
                              [&](const auto& x) { return x.hdl == hdl; });
        if (i == subs.end()) {
          self->monitor(hdl);
          subs.push_back({std::move(hdl), std::move(types)});
        } else {
          i->types.insert(i->types.end(), types.begin(), types.end());
        }
        return caf::ok_atom_v;
      },
      [self](subscribe_atom, lifecycle_atom,
             caf::actor& hdl) -> caf::result<caf::ok_atom> {
        if (!hdl)
          return make_error(errc::invalid_argument, "invalid actor handle");
        auto& lc = self->state.lifecycle_subscribers;
        if (std::find(lc.begin(), lc.end(), hdl) == lc.end()) {
          self->monitor(hdl);
          lc.push_back(std::move(hdl));
        }
        return caf::ok_atom_v;
      },
      [self](subscribe_atom,
             callback_listener& listener) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (!listener.fn || listener.types.empty())
          return make_error(errc::invalid_argument,
                            "a callback listener needs a function and types");
        if (!st.pool.started())
          st.pool.start(self, st.cfg->concurrency);
        auto id = st.next_callback_id++;
        st.callbacks.push_back({id, listener.types});
        for (auto& worker : st.pool.workers())
          self->send(worker, subscribe_atom_v, id, listener);
        return id;
      },
      [self](unsubscribe_atom, const caf::actor& hdl) -> caf::ok_atom {
        auto& st = self->state;
        st.subscribers.erase(
            std::remove_if(st.subscribers.begin(), st.subscribers.end(),
                           [&](const auto& x) { return x.hdl == hdl; }),
            st.subscribers.end());
        st.lifecycle_subscribers.erase(
            std::remove(st.lifecycle_subscribers.begin(),
                        st.lifecycle_subscribers.end(), hdl),
            st.lifecycle_subscribers.end());
        return caf::ok_atom_v;
      },
      [self](unsubscribe_atom, uint64_t id) -> caf::ok_atom {
        auto& st = self->state;
        st.callbacks.erase(
            std::remove_if(st.callbacks.begin(), st.callbacks.end(),
                           [id](const auto& x) { return x.id == id; }),
            st.callbacks.end());
        for (auto& worker : st.pool.workers())
          self->send(worker, unsubscribe_atom_v, id);
        return caf::ok_atom_v;
      },
      [self](send_atom, json_object& msg) -> caf::result<send_ack> {
        return enqueue_message(self, msg);
      },
      [self](typing_atom, const std::string& channel) -> bool {
        return send_typing(self, channel);
      },
      [self](ping_atom) -> caf::result<caf::timespan> {
        return send_rtm_ping(self);
      },
      [self](call_atom, std::string& method,
             api_args& args) -> caf::result<json_object> {
        return self->delegate(self->state.api, call_atom_v, std::move(method),
                              std::move(args));
      },
      [self](disconnect_atom) -> caf::result<caf::ok_atom> {
        return self->delegate(self->state.supervisor, disconnect_atom_v);
      },
      [self](close_atom) -> caf::result<caf::ok_atom> {
        return start_close(self);
      },
      [self](status_atom) -> caf::result<client_status> {
        auto rp = self->make_response_promise<client_status>();
        self->request(self->state.supervisor, caf::infinite, status_atom_v)
            .then(
                [self, rp](client_status& sup) mutable {
                  auto result = self->state.stats;
                  result.state = std::move(sup.state);
                  result.session = sup.session;
                  result.sessions = sup.sessions;
                  result.last_rtt = sup.last_rtt;
                  result.send_queue = self->state.queue.size();
                  result.awaiting_ack = self->state.acks.size();
                  rp.deliver(std::move(result));
                },
                [self, rp](caf::error&) mutable {
                  auto result = self->state.stats;
                  result.state = "closed";
                  rp.deliver(std::move(result));
                });
        return rp;
      },
      // -- internal -----------------------------------------------------------
      [self](event_batch& batch) -> caf::result<caf::ok_atom> {
        on_batch(self, batch);
        auto& st = self->state;
        if (st.callback_backlog <= st.cfg->callback_backlog)
          return caf::ok_atom_v;
        // The callbacks lag behind: hold the connection's next read.
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.held_batches.push_back(rp);
        return rp;
      },
      [self](unsent_atom, int64_t id) { on_unsent(self, id); },
      [self](progress_atom, uint64_t n) {
        auto& st = self->state;
        st.callback_backlog -= std::min(n, st.callback_backlog);
        if (st.callback_backlog > st.cfg->callback_backlog)
          return;
        for (auto& rp : st.held_batches)
          rp.deliver(caf::ok_atom_v);
        st.held_batches.clear();
      },
      [self](identity& me) { self->state.own_bot_id = me.bot_id; },
      [self](session_atom, connected& info, connection_actor& conn) {
        on_session_up(self, info, conn);
      },
      [self](const connecting& msg) { tell_lifecycle(self, msg); },
      [self](disconnected& msg) { on_session_down(self, msg); },
      [self](const reconnecting& msg) { tell_lifecycle(self, msg); },
      [self](const error_event& msg) {
        auto& st = self->state;
        if (is(msg.reason, errc::listener_failed)) {
          ++st.stats.listener_errors;
          CAF_RTM_LOG(st.log, warn, "client", msg.what, ": ",
                      render(msg.reason));
        }
        tell_lifecycle(self, msg);
      },
      [self](const fatal_event& msg) {
        auto& st = self->state;
        st.fatal = msg.reason;
        fail_queue(self, msg.reason);
        fail_awaiting(self, msg.reason);
        tell_lifecycle(self, msg);
      },
      [self](tick_atom) {
        self->state.tick_scheduled = false;
        pump(self);
      },
      [self](timeout_atom, int64_t id) { on_timeout(self, id); },
  };
}

client_actor spawn_client(caf::actor_system& sys) {
  return sys.spawn(client, client_config::from(sys.config()));
}

} // namespace caf::rtm
