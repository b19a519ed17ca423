#include "detail/connection.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/event_based_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/event_parser.hpp"
#include "detail/message_ids.hpp"
#include "detail/ping_monitor.hpp"
#include "net/net_context.hpp"
#include "net/ws_client.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

// The field that marks RTM pings of the ping monitor; Slack echoes scalar
// fields of a ping in its pong.
constexpr std::string_view ping_marker = "caf_rtm_ping";

// Ends the session: `reason` becomes the exit reason once the I/O side is
// done (none = normal exit). An orderly end sends a close frame with `code`.
void end_session(self_ptr self, caf::error reason, bool orderly,
                 uint16_t code = 1000) {
  auto& st = self->state;
  if (st.ending)
    return;
  st.ending = true;
  st.end_reason = std::move(reason);
  if (!st.ws)
    return self->quit(st.end_reason);
  if (orderly)
    st.ws->close(code);
  else
    st.ws->abort(st.end_reason ? st.end_reason
                               : make_error(errc::closed, "closed"));
}

// What a frame means to the session itself.
enum class control {
  /// An event for the router.
  none,
  hello,
  /// The server ends the session soon (goodbye, team migration).
  goodbye,
  /// A session-level error (e.g. an expired URL): the session is over.
  error,
  /// A pong of the ping monitor's RTM ping: internal.
  monitor_pong,
};

control classify(const event& ev) {
  auto type = ev.type();
  if (type == "hello")
    return control::hello;
  if (type == "goodbye" || type == "team_migration_started")
    return control::goodbye;
  if (type == "error" && !ev.reply_to())
    return control::error;
  if (type == "pong") {
    if (auto* marker = ev.json().if_contains(ping_marker);
        marker && marker->is_string())
      return control::monitor_pong;
  }
  return control::none;
}

caf::error server_error(const event& ev) {
  std::string msg = "error event";
  int64_t code = 0;
  if (auto* e = ev.json().if_contains("error"); e && e->is_object()) {
    if (auto* m = e->get_object().if_contains("msg"); m && m->is_string())
      msg = std::string{m->get_string()};
    if (auto* c = e->get_object().if_contains("code"); c && c->is_int64())
      code = c->get_int64();
  }
  return make_error(errc::server_error, code, msg);
}

// Acts on a control frame; returns false if the frame is internal and must
// not reach the router.
bool on_control(self_ptr self, const event& ev, event_batch& out) {
  auto& st = self->state;
  switch (classify(ev)) {
  case control::none:
    return true;
  case control::hello:
    // A session that is ending (hello timeout, close) stays unannounced.
    if (!st.hello && !st.ending) {
      st.hello = true;
      self->send(st.args.observer, session_hello{st.args.session});
    }
    return true;
  case control::goodbye:
    CAF_RTM_LOG(st.log, info, "connection", "session ", st.args.session, ": ",
                ev.type());
    out.session_ending = true;
    self->send(st.args.observer,
               session_goodbye{st.args.session, std::string{ev.type()}});
    return true;
  case control::error: {
    auto err = server_error(ev);
    CAF_RTM_LOG(st.log, warn, "connection", "session ", st.args.session,
                ": server ", render(err));
    end_session(self, std::move(err), true);
    return true;
  }
  case control::monitor_pong:
    if (st.monitor)
      self->send(st.monitor, pong_atom_v,
                 std::string{ev.json().at(ping_marker).get_string()});
    return false;
  }
  return true;
}

void start_monitor(self_ptr self);

void on_frames(self_ptr self, frame_batch& batch) {
  auto& st = self->state;
  event_batch out;
  out.session = st.args.session;
  out.binary = batch.binary;
  out.events.reserve(batch.sizes.size());
  std::string_view bytes{batch.bytes};
  size_t offset = 0;
  for (auto size : batch.sizes) {
    auto ev = st.parser->parse(bytes.substr(offset, size), st.args.session);
    offset += size;
    if (!ev) {
      if (st.parser->last_failure() == event_parser::failure::malformed)
        ++out.malformed;
      else
        ++out.not_object;
      CAF_RTM_LOG(st.log, debug, "connection",
                  "dropped a frame: ", st.parser->last_error());
      continue;
    }
    if (on_control(self, ev, out))
      out.events.push_back(std::move(ev));
  }
  if (out.binary > 0)
    CAF_RTM_LOG(st.log, debug, "connection", "dropped ", out.binary,
                " binary frame(s)");
  // The I/O side reads on once the router took the batch; the router answers
  // late while its callbacks lag behind, so a slow consumer slows the socket.
  ++st.held_batches;
  self->request(st.args.router, caf::infinite, std::move(out))
      .then(
          [self](caf::ok_atom) {
            auto& st = self->state;
            --st.held_batches;
            if (st.ws)
              st.ws->consumed();
            if (st.monitor_stopped && !st.ending)
              start_monitor(self);
          },
          [](caf::error&) {
            // The router is gone; so is this connection shortly.
          });
}

void start_monitor(self_ptr self) {
  auto& st = self->state;
  ping_monitor_args args;
  args.session = st.args.session;
  args.interval = st.args.cfg->ping_interval;
  args.timeout = st.args.cfg->effective_pong_timeout();
  args.connection = caf::actor_cast<ping_target_actor>(self);
  args.rtt_sink = st.args.rtt_sink;
  if (st.monitor)
    caf::anon_send_exit(st.monitor, caf::exit_reason::user_shutdown);
  st.monitor = self->spawn(ping_monitor, std::move(args));
  st.monitor_stopped = false;
}

void send_ping(self_ptr self, const std::string& payload) {
  auto& st = self->state;
  if (!st.ws)
    return;
  if (st.args.cfg->pings == ping_mode::websocket) {
    st.ws->send_ping(payload);
    return;
  }
  json::object ping;
  ping["id"] = st.next_monitor_ping_id++;
  ping["type"] = "ping";
  ping[ping_marker] = payload;
  st.ws->send_text(json::serialize(ping));
}

} // namespace

connection_state::~connection_state() {
  if (ws)
    ws->abort(make_error(errc::closed, "connection actor ended"));
}

connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           connection_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  const auto& cfg = *st.args.cfg;
  st.log = cfg.log;
  st.parser = std::make_shared<event_parser>();
  st.next_monitor_ping_id = message_ids::first_monitor_ping_id;
  auto fail = [self](caf::error err) -> connection_actor::behavior_type {
    self->quit(std::move(err));
    return connection_actor::behavior_type::make_empty_behavior();
  };
  auto url = net::parse_endpoint(st.args.url);
  if (!url)
    return fail(std::move(url.error()));
  if (!url->websocket)
    return fail(make_error(errc::invalid_url, "rtm.connect URL is not ws(s)"));
  auto ctx = net::make_net_context(cfg, st.log);
  if (!ctx)
    return fail(std::move(ctx.error()));
  st.net = std::move(*ctx);
  net::ws_options opts;
  opts.max_message_size = cfg.max_message_size;
  opts.handshake_timeout = cfg.hello_timeout;
  opts.close_timeout = cfg.close_timeout;
  // The URL is single-use but still a credential: log the host only.
  CAF_RTM_LOG(st.log, info, "connection", "session ", st.args.session,
              ": connecting to ", url->host, ":", url->port);
  st.ws = net::start_ws_client(*st.net, *url, opts,
                               caf::actor_cast<io_sink_actor>(self));
  self->delayed_send(self, cfg.hello_timeout, timeout_atom_v);
  return {
      // -- from the router ----------------------------------------------------
      [self](send_atom, int64_t id, std::string& text) {
        auto& st = self->state;
        if (st.ws && !st.ending)
          st.ws->send_text(std::move(text));
        else // never written: the router may send it on the next session
          self->send(st.args.router, unsent_atom_v, id);
      },
      // -- from the ping monitor ----------------------------------------------
      [self](ping_atom, const std::string& payload) {
        send_ping(self, payload);
      },
      [self](dead_link_atom) {
        auto& st = self->state;
        if (st.held_batches > 0) {
          // Reading pauses while the router holds a batch (slow callbacks),
          // so pongs wait unread: a slow consumer, not a dead link. A new
          // monitor starts once the router takes the batch.
          st.monitor_stopped = true;
          return;
        }
        CAF_RTM_LOG(st.log, warn, "connection", "session ", st.args.session,
                    ": no pong in time, link is dead");
        end_session(self,
                    make_error(errc::dead_link, "no pong within pong_timeout"),
                    false);
      },
      // -- from the I/O layer -------------------------------------------------
      [self](opened_atom) {
        auto& st = self->state;
        if (st.ending)
          return; // no pings for a session on its way out
        CAF_RTM_LOG(st.log, debug, "connection", "session ", st.args.session,
                    ": WebSocket open");
        start_monitor(self);
      },
      [self](frame_batch& batch) { on_frames(self, batch); },
      [self](pong_atom, std::string& payload) {
        if (self->state.monitor)
          self->send(self->state.monitor, pong_atom_v, std::move(payload));
      },
      [self](closed_atom, caf::error& err) {
        auto& st = self->state;
        CAF_RTM_LOG(st.log, info, "connection", "session ", st.args.session,
                    " ended: ", render(st.ending ? st.end_reason : err));
        self->quit(st.ending ? st.end_reason : std::move(err));
      },
      // -- from the supervisor ------------------------------------------------
      [self](close_atom, uint16_t code) {
        end_session(self, caf::none, true, code);
      },
      // -- its own timer ------------------------------------------------------
      [self](timeout_atom) {
        if (!self->state.hello)
          end_session(
              self, make_error(errc::timeout, "no hello within hello_timeout"),
              false);
      },
  };
}

} // namespace caf::rtm::detail
