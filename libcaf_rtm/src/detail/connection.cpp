#include "detail/connection.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/event_based_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/message_ids.hpp"
#include "detail/ping_monitor.hpp"
#include "net/net_context.hpp"
#include "net/ws_client.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

// Hands the acks collected while a batch was parsed to the I/O layer at once;
// from here on, writes go out one by one again.
void flush_first_frames(self_ptr self) {
  auto& st = self->state;
  if (!st.first_frames)
    return;
  auto frames = std::move(*st.first_frames);
  st.first_frames.reset();
  if (!frames.empty() && st.ws)
    st.ws->send_texts_first(std::move(frames));
}

// May anything still be written? Not once this side sent its close frame
// (or aborted) or the socket is gone.
bool writable(self_ptr self) {
  auto& st = self->state;
  return st.ws && !st.ending && !st.io_closed;
}

// A pong of one of the session's own pings (WebSocket or RTM) came.
void note_pong(self_ptr self, const std::string& payload) {
  auto& st = self->state;
  uint64_t session = 0;
  uint64_t n = 0;
  // Only numbers of pings sent: a pong the server (or a user's own RTM ping)
  // makes up must not excuse every later verdict.
  if (parse_ping_payload(payload, session, n) && session == st.args.session &&
      n < st.next_ping_number)
    st.newest_pong = std::max(st.newest_pong, n);
}

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

// How the protocol part acts on this session.
class context_impl final : public session_context {
public:
  explicit context_impl(self_ptr self) : self_(self) {
    // nop
  }

  uint64_t session() const noexcept override {
    return self_->state.args.session;
  }

  frame_parser& parser() noexcept override {
    return *self_->state.parser;
  }

  const logger_ptr& log() const noexcept override {
    return self_->state.log;
  }

  void hello(hello_info info) override {
    auto& st = self_->state;
    // A session that is ending (hello timeout, close) stays unannounced.
    if (st.hello || st.ending)
      return;
    st.hello = true;
    self_->send(st.args.observer, session_hello{session(), std::move(info)});
  }

  void goodbye(std::string reason) override {
    auto& st = self_->state;
    CAF_RTM_LOG(st.log, info, "connection", "session ", session(), ": ",
                reason);
    self_->send(st.args.observer,
                session_goodbye{session(), std::move(reason)});
  }

  void end(caf::error reason, bool orderly) override {
    // Acks of frames before the end still go out, ahead of the close frame.
    flush_first_frames(self_);
    CAF_RTM_LOG(self_->state.log, warn, "connection", "session ", session(),
                ": ", render(reason));
    end_session(self_, std::move(reason), orderly);
  }

  void monitor_pong(std::string payload) override {
    note_pong(self_, payload);
    if (self_->state.monitor)
      self_->send(self_->state.monitor, pong_atom_v, std::move(payload));
  }

  bool write_first(std::string_view text) override {
    auto& st = self_->state;
    CAF_RTM_LOG(st.log, trace, "connection", "session ", st.args.session,
                " -> ", text);
    if (!writable(self_))
      return false;
    if (st.first_frames) {
      st.first_frames->add(text);
    } else {
      net::text_frames one;
      one.add(text);
      st.ws->send_texts_first(std::move(one));
    }
    return true;
  }

private:
  self_ptr self_;
};

void start_monitor(self_ptr self);

// Batches the router may hold while the I/O layer hands over the next one:
// this actor parses a batch while the router delivers the last one, instead
// of the two taking turns. One more (two held, the next on its way) was no
// faster beyond the noise and cost the CLI 7 MB of peak RSS in a flood.
constexpr size_t max_held_batches = 1;

// How far a connection that acks on receipt reads ahead of a lagging router.
constexpr size_t max_unrouted_bytes = size_t{16} * 1024 * 1024;

// May the I/O layer read on?
bool may_read_on(self_ptr self) {
  auto& st = self->state;
  if (st.close_deferred)
    return false; // what is read now could not be acked
  if (st.held_batches < max_held_batches)
    return true;
  return st.args.proto->acks_on_receipt() &&
         st.held_bytes <= max_unrouted_bytes;
}

// Lets the I/O layer read on (it waits for the credit of its latest batch).
void credit(self_ptr self) {
  auto& st = self->state;
  if (!st.io_paused)
    return;
  st.io_paused = false;
  if (st.paused_since) {
    st.paused_total += self->clock().now() - *st.paused_since;
    st.paused_since.reset();
  }
  if (st.ws)
    st.ws->consumed();
  if (st.monitor_stopped && !st.ending)
    start_monitor(self);
}

void on_frames(self_ptr self, frame_batch& batch) {
  auto& st = self->state;
  if (st.log && st.log->enabled(log_level::trace)) {
    std::string_view bytes{batch.bytes};
    size_t offset = 0;
    for (auto size : batch.sizes) {
      CAF_RTM_LOG(st.log, trace, "connection", "session ", st.args.session,
                  " <- ", bytes.substr(offset, size));
      offset += size;
    }
  }
  // The I/O side reads on while the router holds no batch besides this one;
  // the router answers late while its callbacks lag behind, so a slow
  // consumer slows the socket. A protocol that acks on receipt reads on
  // (bounded) however many the router holds, so that its acks never wait
  // for slow subscribers. The credit comes before the parse: the next batch
  // is on its way while this one is parsed.
  st.io_paused = true;
  if (may_read_on(self))
    credit(self);
  else if (!st.paused_since)
    st.paused_since = self->clock().now();
  st.trim.note_use(self);
  inbound_batch out;
  out.session = st.args.session;
  out.seq = ++st.batches_sent;
  out.binary = batch.binary;
  st.first_frames.emplace();
  st.args.proto->on_frames(batch, out, *st.context);
  flush_first_frames(self);
  out.closing = !writable(self);
  if (out.binary > 0)
    CAF_RTM_LOG(st.log, debug, "connection", "dropped ", out.binary,
                " binary frame(s)");
  auto bytes = batch.bytes.size() +
               (batch.sizes.size() + batch.binary) * net::frame_overhead;
  st.held_bytes += bytes;
  ++st.held_batches;
  self->request(st.args.router, caf::infinite, std::move(out))
      .then(
          [self, bytes](caf::ok_atom) {
            auto& st = self->state;
            st.held_bytes -= bytes;
            --st.held_batches;
            if (may_read_on(self))
              credit(self);
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
  args.first_ping = st.next_ping_number;
  if (st.monitor)
    caf::anon_send_exit(st.monitor, caf::exit_reason::user_shutdown);
  // The marks are the last monitor's; the new one numbers on from its pings
  // (the last one gave up, or is new: all its pings came before this).
  st.ping_marks.clear();
  st.monitor = self->spawn(ping_monitor, std::move(args));
  st.monitor_stopped = false;
}

// Reading was paused for this long in all, up to now.
caf::timespan paused_until_now(self_ptr self) {
  auto& st = self->state;
  auto result = st.paused_total;
  if (st.paused_since)
    result += self->clock().now() - *st.paused_since;
  return result;
}

// How long reading was paused since the ping with this payload went out:
// while the monitor waited for its pong. The marks are the current
// monitor's (its pings have payloads of their own); the latest counts all
// the same. None excuses nothing.
caf::timespan paused_for_ping(self_ptr self, const std::string& payload) {
  auto& marks = self->state.ping_marks;
  auto i = std::find_if(marks.rbegin(), marks.rend(),
                        [&](const auto& x) { return x.payload == payload; });
  if (i == marks.rend())
    return caf::timespan{0};
  return paused_until_now(self) - i->paused_before;
}

// Marks kept, at most: the oldest goes first. A monitor gives up after its
// first unanswered ping's timeout, so only `pong_timeout` over
// `ping_interval` above this drops a mark still waited for. Not pruned by
// age: the monitor's word may come late (a starved core).
constexpr size_t max_ping_marks = 256;

void send_ping(self_ptr self, const std::string& payload) {
  auto& st = self->state;
  if (!st.ws)
    return;
  auto& marks = st.ping_marks;
  if (marks.size() >= max_ping_marks)
    marks.pop_front();
  marks.push_back({payload, paused_until_now(self)});
  CAF_RTM_LOG(st.log, trace, "connection", "session ", st.args.session,
              " -> ping ", payload);
  if (st.args.cfg->pings == ping_mode::websocket ||
      !st.args.proto->json_pings()) {
    st.ws->send_ping(payload);
    return;
  }
  json::object ping;
  ping["id"] = st.next_monitor_ping_id++;
  ping["type"] = "ping";
  ping[message_ids::ping_marker] = payload;
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
  st.parser = std::make_unique<frame_parser>();
  st.context = std::make_unique<context_impl>(self);
  st.next_monitor_ping_id = message_ids::first_monitor_ping_id;
  auto fail = [self](caf::error err) -> connection_actor::behavior_type {
    self->quit(std::move(err));
    return connection_actor::behavior_type::make_empty_behavior();
  };
  auto url = net::parse_endpoint(st.args.url);
  if (!url)
    return fail(std::move(url.error()));
  if (!url->websocket)
    return fail(
        make_error(errc::invalid_url,
                   std::string{st.args.proto->name()} + " URL is not ws(s)"));
  auto ctx = net::make_net_context(cfg, st.log);
  if (!ctx)
    return fail(std::move(ctx.error()));
  st.net = std::move(*ctx);
  net::ws_options opts;
  opts.max_message_size = cfg.max_message_size;
  opts.handshake_timeout = cfg.hello_timeout;
  opts.close_timeout = cfg.close_timeout;
  opts.time_frames = st.args.proto->times_frames();
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
        CAF_RTM_LOG(st.log, trace, "connection", "session ", st.args.session,
                    " -> ", text);
        if (writable(self)) {
          st.ws->send_text(std::move(text), id);
          st.last_handed = id;
        } else { // never written: the router may send it on the next session
          self->send(st.args.router, unsent_atom_v, id);
        }
      },
      [self](ack_atom, std::string& id, std::string& text) {
        // A Socket Mode ack with a response payload: ahead of anything
        // queued, on the connection the envelope came from.
        ++self->state.acks_taken;
        if (!self->state.context->write_first(text))
          self->send(self->state.args.router, unsent_atom_v, std::move(id));
      },
      // -- from the ping monitor ----------------------------------------------
      [self](ping_atom, const std::string& payload) {
        uint64_t session = 0;
        uint64_t n = 0;
        if (parse_ping_payload(payload, session, n))
          self->state.next_ping_number =
              std::max(self->state.next_ping_number, n + 1);
        send_ping(self, payload);
      },
      [self](dead_link_atom, const std::string& payload) {
        auto& st = self->state;
        if (uint64_t session = 0, n = 0;
            parse_ping_payload(payload, session, n) &&
            session == st.args.session && st.newest_pong >= n) {
          // The pong came in time, and waited here while the monitor's
          // timer fired: the link is alive. A new monitor goes on.
          CAF_RTM_LOG(st.log, debug, "connection", "session ", st.args.session,
                      ": the pong crossed the monitor's verdict");
          if (writable(self))
            start_monitor(self);
          return;
        }
        if (st.io_paused) {
          // Reading pauses while the router holds batches (slow callbacks),
          // so pongs wait unread: a slow consumer, not a dead link. A new
          // monitor starts once the router takes the batch.
          st.monitor_stopped = true;
          return;
        }
        if (paused_for_ping(self, payload) * 2 >=
            st.args.cfg->effective_pong_timeout()) {
          // Reading resumed, but was paused for half the pong's wait or
          // more: the pong may still be behind the backlog the pause left.
          // A new monitor gives it a full timeout.
          CAF_RTM_LOG(st.log, debug, "connection", "session ", st.args.session,
                      ": no pong in time, but reading was paused meanwhile");
          if (writable(self))
            start_monitor(self);
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
      [self](timeout_atom, trim_atom) {
        auto& st = self->state;
        st.trim.run(self, st.parser ? st.parser->pool() : nullptr);
      },
      [self](pong_atom, std::string& payload) {
        CAF_RTM_LOG(self->state.log, trace, "connection", "session ",
                    self->state.args.session, " <- pong ", payload);
        note_pong(self, payload);
        if (self->state.monitor)
          self->send(self->state.monitor, pong_atom_v, std::move(payload));
      },
      [self](written_atom, int64_t id) {
        self->send(self->state.args.router, written_atom_v, id);
      },
      [self](unsent_atom, const std::vector<int64_t>& ids) {
        for (auto id : ids)
          self->send(self->state.args.router, unsent_atom_v, id);
      },
      [self](unsent_atom, uint32_t acks) {
        // Counted as written when handed over: the router corrects that.
        self->send(self->state.args.router, unsent_atom_v,
                   self->state.args.session, acks);
      },
      [self](closed_atom, caf::error& err) {
        auto& st = self->state;
        st.closed_reason = st.ending ? st.end_reason : std::move(err);
        CAF_RTM_LOG(
            st.log, info, "connection", "session ", st.args.session,
            " ended: ", st.closed_reason ? render(st.closed_reason) : "closed");
        // Sends handed over just before the end may still be on their way to
        // the I/O thread; they come back as unsent before drained does.
        st.io_closed = true;
        if (st.ws)
          st.ws->drain();
        else
          self->quit(std::move(st.closed_reason));
      },
      [self](drained_atom) {
        auto& st = self->state;
        // Sends still in the mailbox now are lost with the actor: the router
        // sends everything after the latest one handed over again.
        self->send(
            st.args.router,
            session_drained{st.args.session, st.last_handed, st.acks_taken});
        self->quit(std::move(st.closed_reason));
      },
      // -- from the supervisor ------------------------------------------------
      [self](close_atom, uint16_t code) {
        end_session(self, caf::none, true, code);
      },
      [self](close_atom, uint16_t code, uint64_t seen) {
        auto& st = self->state;
        if (seen < st.batches_sent) {
          // A batch is on its way to the router, which may owe acks for its
          // envelopes on this connection: read nothing more (it could not be
          // acked) and wait until the router, with that batch, asks again.
          st.close_deferred = true;
          return;
        }
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
