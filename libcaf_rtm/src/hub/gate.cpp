#include "hub/gate.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <caf/default_attachable.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/behavior_with.hpp"
#include "detail/stray_errors.hpp"
#include "hub/relay.hpp"
#include "hub/when_gone.hpp"

namespace caf::rtm::hub::detail {

namespace {

constexpr const char* client_ended =
    "the hub's client for this workspace ended";

// Fails the requests still forwarded: the gate ends, their answers with it.
void fail_forwarding(gate_state& st,
                     const char* why = "the hub's gate for this workspace "
                                       "ended before the answer; look the "
                                       "workspace up again") {
  auto xs = std::move(st.forwarding);
  st.forwarding.clear();
  for (auto& [id, fail] : xs)
    fail(make_error(errc::connection_lost, why));
}

} // namespace

gate_state::~gate_state() {
  // Ended by `kill` (the registry's, or any node's): the last moment to
  // answer.
  fail_forwarding(*this);
  // A monitor lives on the watched actor (here its proxy) and keeps the
  // gate's memory until that actor ends: dropped however the gate ends.
  caf::default_attachable::observe_token tk{me,
                                            caf::default_attachable::monitor};
  for (const auto& addr : watched)
    if (auto hdl = caf::actor_cast<caf::strong_actor_ptr>(addr))
      hdl->get()->detach(tk);
  if (auto hdl = caf::actor_cast<caf::strong_actor_ptr>(client))
    hdl->get()->detach(tk);
  for (auto& [addr, relay] : relays)
    caf::anon_send_exit(relay.hdl, caf::exit_reason::kill);
  for (auto& relay : retiring)
    caf::anon_send_exit(relay, caf::exit_reason::kill);
  caf::anon_send_exit(requester, caf::exit_reason::kill);
}

namespace {

// Asks the client (through the requester) and answers with its reply: the
// reply's sender is the gate, whoever answered inside the client.
template <class R, class Self, class Client, class... Ts>
caf::result<R> forward(Self* self, const Client& client, Ts&&... xs) {
  auto rp = self->template make_response_promise<R>();
  auto id = ++self->state.next_forwarding;
  self->state.forwarding.emplace(
      id, [rp](const caf::error& err) mutable { rp.deliver(err); });
  request_privately<R>(
      self, self->state.requester, client, caf::infinite,
      [self, rp, id](R& x) mutable {
        self->state.forwarding.erase(id);
        rp.deliver(std::move(x));
      },
      [self, rp, id](caf::error& err) mutable {
        self->state.forwarding.erase(id);
        // Only the client can be gone here (nobody else learns the
        // requester's address): the gate is about to end with it.
        if (err == caf::sec::request_receiver_down)
          err = make_error(errc::connection_lost, client_ended);
        rp.deliver(std::move(err));
      },
      std::forward<Ts>(xs)...);
  return rp;
}

caf::error owner_only(const char* what) {
  return make_error(errc::not_permitted,
                    std::string{what} +
                        ": only the hub that runs the client may do that");
}

// Uploads through a hub carry their bytes: a remote node must not make the
// hub read (and post to Slack) files of its own disk, its configuration
// with the tokens included.
caf::error check_upload(const file_upload& file) {
  auto by_path = !file.path.empty();
  for (const auto& more : file.more_files)
    by_path = by_path || !more.path.empty();
  if (by_path)
    return make_error(errc::not_permitted,
                      "upload of a file by path: a hub reads no files for "
                      "remote callers, send the bytes in `content`");
  return caf::none;
}

// Methods that end the hub's token or the app's installation for good: one
// call from a node would cut off every client that uses the token. A call
// with a token of its own ends only that token, the caller's business.
// Slack's method names are letters, digits and dots: any other name
// ("auth%2Erevoke") is refused as well, whatever Slack would make of it.
caf::error check_method(std::string_view method, const std::string& token) {
  if (!token.empty())
    return caf::none;
  std::string name{method};
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  auto odd = std::any_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) == 0 && c != '.' && c != '_';
  });
  if (odd || name == "auth.revoke" || name == "apps.uninstall")
    return owner_only(name.c_str());
  return caf::none;
}

template <class Self>
bool is_remote(Self* self, const caf::actor& hdl) {
  return hdl && hdl.node() != self->node();
}

// Monitors a remote subscriber once: its down message says when its node
// went away.
template <class Self>
void watch(Self* self, const caf::actor& hdl) {
  if (is_remote(self, hdl) && self->state.watched.insert(hdl.address()).second)
    self->monitor(hdl);
}

template <class Self>
bool is_relay(Self* self, const caf::actor_addr& addr) {
  for (auto& [subscriber, relay] : self->state.relays)
    if (relay.hdl.address() == addr)
      return true;
  return false;
}

// A relay went away while its subscriber still had it: killed by some node
// (CAF 0.17 delivers `kill` whatever the relay says), so the client dropped
// that subscription. The gate then ends as well: the registry opens a new
// one, and the remote subscriptions see their gate go and subscribe again,
// reporting the gap, instead of waiting for envelopes that never come. A
// forged down message names a relay that still answers: it changes nothing.
template <class Self>
void on_relay_down(Self* self, const caf::actor_addr& addr) {
  when_gone(self, self->state.requester, caf::actor_cast<caf::actor>(addr),
            [self, addr] {
              if (is_relay(self, addr)) {
                fail_forwarding(self->state);
                self->quit(
                    make_error(errc::connection_lost, "a relay was killed"));
              }
            });
}

// The client ended (its program closed it, or it failed): the gate ends
// with it. The requests it forwarded get no answer from the client any more,
// and the remote subscriptions, which watch the gate, see it go and say so
// (the registry opens no new gate in front of a client that is gone).
template <class Self, class Client>
void on_client_down(Self* self, const Client& client) {
  when_gone(self, self->state.requester, caf::actor_cast<caf::actor>(client),
            [self] {
              fail_forwarding(self->state, client_ended);
              self->quit(make_error(errc::connection_lost, client_ended));
            });
}

// A remote subscriber went away. When its node is gone (rather than the
// actor ending), the hub records what the client had received by then.
template <class Self, class Client>
void on_down(Self* self, const Client& client, caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source == st.client)
    return on_client_down(self, client);
  if (is_relay(self, dm.source))
    return on_relay_down(self, dm.source);
  // Down messages can be forged by any node that reaches the gate: only
  // actors the gate monitors count.
  if (st.watched.erase(dm.source) == 0)
    return;
  auto node_gone = dm.reason == caf::exit_reason::remote_link_unreachable;
  if (auto i = st.relays.find(dm.source); i != st.relays.end()) {
    // Set before the exit message: the relay reads it as it ends, and ends
    // with the node's reason, so that the client knows the subscriber's node
    // went away rather than that it stopped wanting events.
    i->second.node_gone->store(node_gone);
    caf::anon_send_exit(i->second.hdl,
                        node_gone ? caf::exit_reason::remote_link_unreachable
                                  : caf::exit_reason::kill);
    st.relays.erase(i);
  }
  if (!node_gone)
    return;
  auto node = dm.source.node();
  auto at = caf::make_timestamp();
  auto drops = st.args.relay.drops;
  request_privately<client_status>(
      self, st.requester, client, std::chrono::seconds{10},
      [drops, node, at](client_status& status) {
        drops->record(node, at, events_counted(status));
      },
      [](caf::error&) {
        // The client is gone: nothing to count against.
      },
      status_atom_v);
}

// Gates are reachable from remote nodes: unknown messages are dropped, exit
// messages end nothing (the registry ends gates with `kill`).
template <class Self, class Client>
void harden(Self* self, const Client& client) {
  self->set_default_handler(caf::drop);
  self->set_exit_handler([](caf::exit_msg&) {});
  caf::rtm::detail::ignore_stray_errors(self); // an error message ends nothing
  self->set_down_handler(
      [self, client](caf::down_msg& dm) { on_down(self, client, dm); });
  self->state.client = client.address();
  self->monitor(client);
}

// A remote caller may name only actors of its own node: naming another
// node's subscriber, or a relay of this hub, would let it cut off, widen or
// redirect someone else's events. Callers on this node name any actor; an
// anonymous caller, which could be anywhere, none.
template <class Self>
caf::error check_named(Self* self, const caf::actor& hdl) {
  // A relay is the gate's own: no caller has a reason to name one, and a
  // node running a modified CAF can claim to be a local sender.
  if (hdl && is_relay(self, hdl.address()))
    return make_error(errc::not_permitted, "a relay of the hub is its own");
  auto sender = self->current_sender();
  if (sender && sender->node() == self->node())
    return caf::none;
  if (sender && hdl && hdl.node() == sender->node())
    return caf::none;
  return make_error(errc::not_permitted,
                    "a remote caller may name only actors of its own node");
}

// The relay that stands in for a remote subscriber (local subscribers need
// none: their node sees every address anyway, and their mailboxes are this
// process's own).
template <class Self>
caf::actor relay_for(Self* self, const caf::actor& hdl) {
  if (!is_remote(self, hdl))
    return hdl;
  auto& relays = self->state.relays;
  auto i = relays.find(hdl.address());
  if (i == relays.end()) {
    auto args = self->state.args.relay;
    args.node_gone = std::make_shared<std::atomic<bool>>(false);
    auto flag = args.node_gone;
    auto x = self->spawn(relay, hdl, std::move(args));
    self->monitor(x);
    i = relays.emplace(hdl.address(), relay_handle{std::move(x), flag}).first;
  }
  return i->second.hdl;
}

// What the client knows as `hdl`: its relay, if it has one.
template <class Self>
caf::actor subscriber_of(Self* self, const caf::actor& hdl) {
  auto& relays = self->state.relays;
  auto i = relays.find(hdl.address());
  return i != relays.end() ? i->second.hdl : hdl;
}

// What both gates answer alike: connecting, subscriptions (a remote
// subscriber's through its relay), Web API calls (uploads checked), status, and
// what only the hub that runs the client may do.
template <class Self, class Client>
auto shared_handlers(Self* self, const Client& client) {
  using caf::ok_atom;
  return std::make_tuple(
      [=](connect_atom x) { return forward<connected>(self, client, x); },
      [=](subscribe_atom x, lifecycle_atom y,
          caf::actor& hdl) -> caf::result<ok_atom> {
        if (auto err = check_named(self, hdl))
          return err;
        watch(self, hdl);
        return forward<ok_atom>(self, client, x, y, std::move(hdl));
      },
      [=](subscribe_atom x, caf::actor& hdl,
          std::vector<std::string>& types) -> caf::result<ok_atom> {
        if (auto err = check_named(self, hdl))
          return err;
        watch(self, hdl);
        return forward<ok_atom>(self, client, x, relay_for(self, hdl),
                                std::move(types));
      },
      [=](subscribe_atom x, caf::actor& hdl, std::vector<std::string>& types,
          batch_atom y) -> caf::result<ok_atom> {
        if (auto err = check_named(self, hdl))
          return err;
        watch(self, hdl);
        return forward<ok_atom>(self, client, x, relay_for(self, hdl),
                                std::move(types), y);
      },
      [=](unsubscribe_atom x, caf::actor& hdl) -> caf::result<ok_atom> {
        if (auto err = check_named(self, hdl))
          return err;
        // Lifecycle subscriptions are the remote actor's own; events went to
        // its relay, which ends with the subscription.
        auto& relays = self->state.relays;
        if (auto i = relays.find(hdl.address()); i != relays.end()) {
          // Its flag stays unset: nobody misses what it did not report.
          auto relay = i->second.hdl;
          relays.erase(i);
          self->state.retiring.push_back(relay);
          auto retire = [self, relay] {
            caf::anon_send_exit(relay, caf::exit_reason::kill);
            auto& xs = self->state.retiring;
            xs.erase(std::remove(xs.begin(), xs.end(), relay), xs.end());
          };
          request_privately<ok_atom>(
              self, self->state.requester, client, caf::infinite,
              [retire](ok_atom) { retire(); },
              [retire](caf::error&) { retire(); }, x, relay);
        }
        return forward<ok_atom>(self, client, x, std::move(hdl));
      },
      [=](unsubscribe_atom x, caf::actor& hdl,
          std::vector<std::string>& types) -> caf::result<ok_atom> {
        if (auto err = check_named(self, hdl))
          return err;
        return forward<ok_atom>(self, client, x, subscriber_of(self, hdl),
                                std::move(types));
      },
      [=](subscribe_atom x, hook_listener& hooks) {
        return forward<uint64_t>(self, client, x, std::move(hooks));
      },
      [=](unsubscribe_atom, uint64_t) -> caf::result<ok_atom> {
        // Ids name callbacks and hooks, which only this process can have
        // subscribed (they do not cross the wire): a remote node would cut
        // off the listeners of a program that embeds the hub. That program
        // holds the client itself, and a sender that claims to be local may
        // be forged: nobody unsubscribes by id through a gate.
        return owner_only("unsubscribe by id");
      },
      [=](call_atom x, std::string& method,
          api_args& args) -> caf::result<json_object> {
        if (auto err = check_method(method, {}))
          return err;
        return forward<json_object>(self, client, x, std::move(method),
                                    std::move(args));
      },
      [=](call_atom x, api_call& call) -> caf::result<json_object> {
        if (auto err = check_method(call.method, call.token))
          return err;
        return forward<json_object>(self, client, x, std::move(call));
      },
      [=](call_atom x, api_call& call,
          all_pages_atom y) -> caf::result<std::vector<json_object>> {
        if (auto err = check_method(call.method, call.token))
          return err;
        return forward<std::vector<json_object>>(self, client, x,
                                                 std::move(call), y);
      },
      [=](call_atom x, api_call& call,
          caf::actor& sink) -> caf::result<uint64_t> {
        if (auto err = check_method(call.method, call.token))
          return err;
        if (auto err = check_named(self, sink))
          return err;
        return forward<uint64_t>(self, client, x, std::move(call),
                                 std::move(sink));
      },
      [=](upload_atom x, file_upload& file) -> caf::result<json_object> {
        if (auto err = check_upload(file))
          return err;
        // Its progress goes to an actor of the caller's own node only.
        if (file.progress)
          if (auto err = check_named(self, file.progress))
            return err;
        return forward<json_object>(self, client, x, std::move(file));
      },
      [=](webhook_atom x, webhook_post& post) {
        return forward<ok_atom>(self, client, x, std::move(post));
      },
      [=](status_atom x, call_atom y) {
        return forward<api_status>(self, client, x, y);
      },
      [=](disconnect_atom) -> caf::result<ok_atom> {
        return owner_only("disconnect");
      },
      [=](reconnect_atom, bool) -> caf::result<ok_atom> {
        return owner_only("reconnect");
      },
      [=](close_atom) -> caf::result<ok_atom> { return owner_only("close"); },
      [=](status_atom x) { return forward<client_status>(self, client, x); });
}

} // namespace

rtm_gate_actor::behavior_type
rtm_gate(rtm_gate_actor::stateful_pointer<gate_state> self,
         const rtm_client_actor& client, gate_args args) {
  self->state.args = std::move(args);
  self->state.me = self->address();
  self->state.requester = self->spawn(requester, self->address());
  harden(self, client);
  using caf::ok_atom;
  return caf::rtm::detail::behavior_with<rtm_gate_actor::behavior_type>(
      shared_handlers(self, client),
      [self](continuation& k) {
        run_continuation(self, self->state.requester, k);
      },
      [=](subscribe_atom x, callback_listener& listener) {
        return forward<uint64_t>(self, client, x, std::move(listener));
      },
      [=](send_atom x, json_object& msg) {
        return forward<send_ack>(self, client, x, std::move(msg));
      },
      [=](send_atom x, json_object& msg, caf::timespan max_wait) {
        return forward<send_ack>(self, client, x, std::move(msg), max_wait);
      },
      [=](send_atom x, json_object& msg, no_ack_atom y) {
        return forward<ok_atom>(self, client, x, std::move(msg), y);
      },
      [=](presence_atom x, std::vector<std::string>& users) {
        return forward<ok_atom>(self, client, x, std::move(users));
      },
      [=](typing_atom x, std::string& channel) {
        return forward<bool>(self, client, x, std::move(channel));
      },
      [=](ping_atom x) { return forward<caf::timespan>(self, client, x); });
}

socket_mode_gate_actor::behavior_type
socket_mode_gate(socket_mode_gate_actor::stateful_pointer<gate_state> self,
                 const socket_mode_client_actor& client, gate_args args) {
  self->state.args = std::move(args);
  self->state.me = self->address();
  self->state.requester = self->spawn(requester, self->address());
  harden(self, client);
  using caf::ok_atom;
  return caf::rtm::detail::behavior_with<socket_mode_gate_actor::behavior_type>(
      shared_handlers(self, client),
      [self](continuation& k) {
        run_continuation(self, self->state.requester, k);
      },
      [=](subscribe_atom x, envelope_listener& listener) {
        return forward<uint64_t>(self, client, x, std::move(listener));
      });
}

} // namespace caf::rtm::hub::detail
