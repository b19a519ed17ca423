#include "hub/relay.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/json_object.hpp"
#include "detail/internal_messages.hpp"
#include "detail/stray_errors.hpp"

namespace caf::rtm::hub::detail {

namespace {

// The line that says what was reported to the node since the last one.
void log_reported(const relay_state& st) {
  CAF_RTM_LOG(st.args.log, warn, "hub", st.args.workspace, ": dropped ",
              st.unlogged, " events (", st.unlogged_stretches,
              " stretches) for a subscriber on node ",
              caf::to_string(st.target.node()),
              " that did not take them in time; reported to it");
}

} // namespace

relay_state::~relay_state() {
  for (auto& [n, rp] : envelopes_open)
    rp.deliver(caf::make_error(caf::sec::request_receiver_down));
  if (unlogged > 0)
    log_reported(*this);
  if (dropped > 0 && args.drops && target && args.node_gone &&
      args.node_gone->load())
    args.drops->add_unreported(target.node(), first_drop, dropped);
}

namespace {

using self_ptr = caf::stateful_actor<relay_state>*;

// The relay's log lines come at most this often (each kind).
constexpr caf::timespan log_interval = std::chrono::seconds{10};

// Writes the report line now, if any report waits for it.
void flush_reported(self_ptr self) {
  auto& st = self->state;
  if (st.unlogged == 0)
    return;
  log_reported(st);
  st.last_report_log = caf::make_timestamp();
  st.unlogged = 0;
  st.unlogged_stretches = 0;
}

size_t bytes_of(const event& ev) {
  return ev.raw().size();
}

size_t bytes_of(const envelope& env) {
  return env.raw().size();
}

template <class T>
size_t bytes_of(const std::vector<T>& xs) {
  size_t n = 0;
  for (auto& x : xs)
    n += bytes_of(x);
  return n;
}

size_t bytes_of(const event_batch& x) {
  return bytes_of(x.events);
}

size_t bytes_of(const envelope_batch& x) {
  return bytes_of(x.envelopes);
}

size_t count_of(const event&) {
  return 1;
}

size_t count_of(const envelope&) {
  return 1;
}

size_t count_of(const event_batch& x) {
  return x.events.size();
}

size_t count_of(const envelope_batch& x) {
  return x.envelopes.size();
}

// What message `x` costs the window: its JSON text, and what the hub holds
// for it besides (CAF's message and framing, the pending answer's handler).
template <class T>
size_t charge(self_ptr self, const T& x) {
  return bytes_of(x) + self->state.args.message_overhead;
}

// The target answered (or failed) a request of `bytes`: that much room again.
// Once half the window is free again, what was dropped is reported, ahead of
// anything sent later, and sending resumes: a node that stays too slow misses
// few long stretches rather than one batch in every other.
void answered(self_ptr self, size_t bytes) {
  auto& st = self->state;
  st.unanswered -= std::min(bytes, st.unanswered);
  if (st.dropped == 0 || st.unanswered > st.args.window / 2)
    return;
  hub_gap gap;
  gap.workspace = st.args.workspace;
  gap.since = st.first_drop;
  gap.until = st.last_drop;
  gap.missed.known = true;
  gap.missed.count = st.dropped;
  gap.missed.since = st.first_drop;
  gap.dropped = true;
  // At most one line per `log_interval`, with what came since the last; a
  // timer writes what is held back, should no later report come.
  st.unlogged += st.dropped;
  ++st.unlogged_stretches;
  if (gap.until - st.last_report_log >= log_interval) {
    flush_reported(self);
  } else if (!st.log_flush_armed) {
    st.log_flush_armed = true;
    self->delayed_send(self, log_interval, caf::rtm::detail::timeout_atom_v);
  }
  st.dropped = 0;
  // From the relay: the bot node tells by the sender's node which hub it was.
  self->send(st.target, std::move(gap));
}

// True if `bytes` more fit the window, or nothing is unanswered (a batch
// larger than the window still goes, alone). Counts `count` items as dropped
// otherwise. Once something was dropped, everything is until the report
// (see `answered`): what the node misses is one stretch, and the report
// comes before anything sent after it.
bool take_room(self_ptr self, size_t count, size_t bytes) {
  auto& st = self->state;
  if (st.dropped == 0 &&
      (st.unanswered == 0 || st.unanswered + bytes <= st.args.window)) {
    st.unanswered += bytes;
    return true;
  }
  auto now = caf::make_timestamp();
  if (st.dropped == 0) {
    st.first_drop = now;
    if (now - st.last_start_log >= log_interval) {
      CAF_RTM_LOG(st.args.log, warn, "hub", st.args.workspace, ": node ",
                  caf::to_string(st.target.node()), " has ", st.unanswered,
                  " bytes of events unconfirmed: dropping what comes for "
                  "its subscriber until it catches up");
      st.last_start_log = now;
    }
  }
  st.last_drop = now;
  st.dropped += count;
  if (st.args.dropped)
    *st.args.dropped += count;
  return false;
}

// The target answered request `n` of `bytes` (or failed it other than by
// the timeout): as CAF delivers in order on one link, every request sent
// before it reached the node too, those that timed out included.
void answered(self_ptr self, uint64_t n, size_t bytes) {
  auto& st = self->state;
  auto i = st.timed_out.begin();
  for (; i != st.timed_out.end() && i->first < n; ++i)
    bytes += i->second;
  st.timed_out.erase(st.timed_out.begin(), i);
  answered(self, bytes);
}

// Asks the target for an answer behind everything sent so far, unless a
// probe is on its way already or nothing waits for one.
void probe(self_ptr self) {
  auto& st = self->state;
  if (st.probing || st.timed_out.empty())
    return;
  st.probing = true;
  // Any answer counts: the forwarder's is empty, an actor that does not know
  // the probe answers with an error.
  auto n = ++st.last_request;
  auto done = [self, n](const caf::error& err) {
    self->state.probing = false;
    // After a timeout, the link may still move, slower than that.
    if (err != caf::sec::request_timeout)
      answered(self, n, 0);
    probe(self); // for requests that timed out since
  };
  self->request(st.target, st.args.confirm_timeout, probe_atom_v)
      .then([done] { done(caf::error{}); },
            [done](caf::error& err) { done(err); });
}

// Request `n` of `bytes` got no answer in time. Its bytes may still wait in
// CAF's buffer of a slow link, so they stay in the window until a later
// request is answered.
void timed_out(self_ptr self, uint64_t n, size_t bytes) {
  self->state.timed_out.emplace(n, bytes);
  probe(self);
}

// Request `n` of `bytes` ended with `err` (none: answered).
void settle(self_ptr self, uint64_t n, size_t bytes, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    timed_out(self, n, bytes);
  else
    answered(self, n, bytes);
}

// Whether `err`, the answer to an envelope sent to the remote subscriber,
// says that it never took it: it was gone (CAF 0.17 bounces a request to an
// actor that ended, or to a node that does not know it, with
// `request_receiver_down`), or did not answer in time (a request in flight
// when the link broke; the client's `ack_deadline` comes first, so this only
// matters to a client that asked without one). The client then may leave
// the envelope to Slack (`redeliver_unclaimed`); an answer of the
// subscriber, its errors included, is one.
bool not_taken(const caf::error& err) {
  return err == caf::sec::request_receiver_down ||
         err == caf::sec::request_timeout;
}

// Sends `msg` if the window has room for it; drops and counts it otherwise.
template <class T>
void pass_on(self_ptr self, T msg) {
  auto bytes = charge(self, msg);
  if (!take_room(self, count_of(msg), bytes))
    return;
  // Any answer counts: the forwarder's is empty (for an envelope, the error
  // `no_payload`), other actors may answer with a value or an error (a value
  // not expected here ends in the error handler as well).
  auto n = ++self->state.last_request;
  self->request(self->state.target, self->state.args.confirm_timeout,
                std::move(msg))
      .then([self, n, bytes] { answered(self, n, bytes); },
            [self, n, bytes](caf::error& err) { settle(self, n, bytes, err); });
}

} // namespace

caf::behavior relay(caf::stateful_actor<relay_state>* self, caf::actor target,
                    relay_args args) {
  self->state.target = std::move(target);
  self->state.args = std::move(args);
  // Reachable from remote nodes: anything but what the client delivers is
  // dropped, and an exit message some node sends ends nothing (the gate ends
  // relays with `kill`), but for the one the gate sends once it set the
  // relay's `node_gone` flag: with that reason, the client learns that the
  // subscriber's node went away (for `redeliver_unclaimed`).
  self->set_default_handler(caf::drop);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& gone = self->state.args.node_gone;
    if (gone && gone->load() &&
        msg.reason == caf::exit_reason::remote_link_unreachable)
      self->quit(msg.reason);
  });
  // A target that does not know the report (a bot's own actor subscribed
  // directly, say) answers it with an error: that ends nothing either.
  caf::rtm::detail::ignore_stray_errors(self);
  self->set_down_handler([](caf::down_msg&) {});
  return {
      [self](event& ev) { pass_on(self, std::move(ev)); },
      [self](event_batch& batch) { pass_on(self, std::move(batch)); },
      [self](envelope_batch& batch) { pass_on(self, std::move(batch)); },
      [self](caf::rtm::detail::timeout_atom) {
        // Its own timer only: the relay is reachable from remote nodes.
        if (self->current_sender() != self->ctrl())
          return;
        self->state.log_flush_armed = false;
        flush_reported(self);
      },
      [self](envelope& env) -> caf::result<json_object> {
        // Sent without a request, the client acked it already.
        if (!self->current_message_id().is_request()) {
          pass_on(self, std::move(env));
          return no_payload();
        }
        // A request: the client acks once the bot's node answered (for an
        // envelope without a payload, once it took it), or empty after its
        // `ack_deadline`, or leaves it to Slack if the node did not take it
        // (`redeliver_unclaimed`, see `not_taken`). In the window as well: a
        // dropped one is refused at once, counted like any drop, and the
        // client acks it empty or leaves it to Slack, as at the deadline.
        // Unanswered after `answer_timeout`, its room comes back with the
        // answer to a later request (see `relay_args::confirm_timeout`).
        auto bytes = charge(self, env);
        if (!take_room(self, 1, bytes))
          return make_error(errc::not_taken,
                            "the bot's node has not confirmed what the hub "
                            "sent it: envelope dropped at the hub");
        auto& st = self->state;
        auto rp = self->make_response_promise<json_object>();
        auto n = ++st.last_request;
        st.envelopes_open.emplace(n, rp);
        // The promise leaves the map with its answer.
        auto take = [self, n] {
          auto& open = self->state.envelopes_open;
          auto i = open.find(n);
          auto result = std::move(i->second);
          open.erase(i);
          return result;
        };
        self->request(st.target, st.args.answer_timeout, std::move(env))
            .then(
                [self, take, n, bytes](json_object& x) {
                  answered(self, n, bytes);
                  take().deliver(std::move(x));
                },
                [self, take, n, bytes](caf::error& err) {
                  settle(self, n, bytes, err);
                  if (not_taken(err))
                    take().deliver(make_error(caf::sec::request_receiver_down));
                  else
                    take().deliver(std::move(err));
                });
        return rp;
      },
  };
}

} // namespace caf::rtm::hub::detail
