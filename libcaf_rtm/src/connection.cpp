#include "caf/rtm/connection.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/event_based_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/ping_monitor.hpp"
#include "detail/event_parser.hpp"
#include "net/net_context.hpp"
#include "net/ws_client.hpp"

namespace json = boost::json;

namespace caf::rtm {

namespace {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

// The field that marks RTM pings of the ping monitor; Slack echoes scalar
// fields of a ping in its pong.
constexpr std::string_view ping_marker = "caf_rtm_ping";

// Ends the session: `reason` becomes the exit reason once the I/O side is
// done (none = normal exit).
void end_session(self_ptr self, caf::error reason, bool orderly) {
  auto& st = self->state;
  if (st.ending)
    return;
  st.ending = true;
  st.end_reason = std::move(reason);
  if (!st.ws)
    return self->quit(st.end_reason);
  if (orderly)
    st.ws->close(1000);
  else
    st.ws->abort(st.end_reason ? st.end_reason
                               : make_error(errc::closed, "closed"));
}

// Handles control events; returns false if the event is internal and must not
// reach the client.
bool inspect_event(self_ptr self, const event& ev) {
  auto& st = self->state;
  auto type = ev.type();
  if (type == "hello") {
    if (!st.hello) {
      st.hello = true;
      self->send(st.args.supervisor, hello_atom_v, st.args.session);
    }
  } else if (type == "goodbye" || type == "team_migration_started") {
    CAF_RTM_LOG(st.log, info, "connection", "session ", st.args.session, ": ",
                type);
    self->send(st.args.supervisor, goodbye_atom_v, st.args.session,
               std::string{type});
  } else if (type == "error" && !ev.reply_to()) {
    // Socket-level trouble such as an expired URL: this session is over.
    std::string msg = "error event";
    int64_t code = 0;
    if (auto* e = ev.json().if_contains("error"); e && e->is_object()) {
      if (auto* m = e->get_object().if_contains("msg"); m && m->is_string())
        msg = std::string{m->get_string()};
      if (auto* c = e->get_object().if_contains("code"); c && c->is_int64())
        code = c->get_int64();
    }
    CAF_RTM_LOG(st.log, warn, "connection", "session ", st.args.session,
                ": server error ", code, ": ", msg);
    end_session(self, make_error(errc::server_error, code, msg), true);
  } else if (type == "pong") {
    if (auto* marker = ev.json().if_contains(ping_marker);
        marker && marker->is_string()) {
      if (st.monitor)
        self->send(st.monitor, pong_atom_v, std::string{marker->get_string()});
      return false;
    }
  }
  return true;
}

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
    if (inspect_event(self, ev))
      out.events.push_back(std::move(ev));
  }
  if (out.binary > 0)
    CAF_RTM_LOG(st.log, debug, "connection", "dropped ", out.binary,
                " binary frame(s)");
  self->send(st.args.client, std::move(out));
  // Return the credit only now: the I/O side reads ahead by one batch.
  st.ws->consumed();
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
  ping["id"] = st.next_rtm_ping_id++;
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
  st.log = net::make_logger(cfg);
  st.parser = std::make_shared<event_parser>();
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
                               caf::actor_cast<connection_actor>(self));
  self->delayed_send(self, cfg.hello_timeout, timeout_atom_v);
  return {
      [self](send_atom, std::string& text) {
        if (self->state.ws && !self->state.ending)
          self->state.ws->send_text(std::move(text));
      },
      [self](ping_atom, const std::string& payload) {
        send_ping(self, payload);
      },
      [self](dead_link_atom) {
        auto& st = self->state;
        CAF_RTM_LOG(st.log, warn, "connection", "session ", st.args.session,
                    ": no pong in time, link is dead");
        end_session(self,
                    make_error(errc::dead_link, "no pong within pong_timeout"),
                    false);
      },
      [self](close_atom, uint16_t) { end_session(self, caf::none, true); },
      [self](opened_atom) {
        auto& st = self->state;
        CAF_RTM_LOG(st.log, debug, "connection", "session ", st.args.session,
                    ": WebSocket open");
        ping_monitor_args margs;
        margs.session = st.args.session;
        margs.interval = st.args.cfg->ping_interval;
        margs.timeout = st.args.cfg->effective_pong_timeout();
        margs.connection = caf::actor_cast<connection_actor>(self);
        margs.supervisor = st.args.supervisor;
        st.monitor = self->spawn(ping_monitor, std::move(margs));
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
      [self](timeout_atom) {
        if (!self->state.hello)
          end_session(
              self, make_error(errc::timeout, "no hello within hello_timeout"),
              false);
      },
  };
}

} // namespace caf::rtm
