#include "caf/rtm/hub/registry.hpp"

#include <atomic>
#include <map>
#include <memory>

#include <caf/actor_registry.hpp>
#include <caf/atom.hpp>
#include <caf/default_attachable.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/stray_errors.hpp"
#include "hub/drop_log.hpp"
#include "hub/gate.hpp"
#include "hub/private_requests.hpp"
#include "hub/when_gone.hpp"

namespace caf::rtm::hub {

namespace {

struct workspace_entry {
  /// The client's own handles (never handed out).
  workspace_info own;
  /// The gate's handle, as lookups hand it out.
  workspace_info shared;
  std::shared_ptr<detail::drop_log> drops;
  /// What the gates' relays dropped for nodes that fell behind.
  std::shared_ptr<std::atomic<uint64_t>> dropped =
      std::make_shared<std::atomic<uint64_t>>(0);
  /// The client ended (a program that embeds the hub closed it, or it
  /// failed): no gate opens in front of it again, lookups fail.
  bool client_gone = false;
};

// Shared by the registry's handlers.
struct registry_state {
  std::map<std::string, workspace_entry> workspaces;
  registry_options options;
  bool closed = false;
  /// Makes the registry's requests (see private_requests.hpp).
  caf::actor requester;
  /// The registry's own address, as its monitors name it.
  caf::actor_addr me;

  // The gates end with the registry. Its monitors of the clients go: they
  // would keep the registry's memory until the clients end (a node that
  // kills the registry makes the hub publish a new one).
  void close() {
    closed = true;
    caf::default_attachable::observe_token tk{me,
                                              caf::default_attachable::monitor};
    for (auto& [name, entry] : workspaces) {
      caf::anon_send_exit(entry.shared.handle(), caf::exit_reason::kill);
      if (auto hdl = caf::actor_cast<caf::strong_actor_ptr>(entry.own.handle()))
        hdl->get()->detach(tk);
    }
    caf::anon_send_exit(requester, caf::exit_reason::kill);
  }
};

using self_ptr = registry_actor::pointer;
using state_ptr = std::shared_ptr<registry_state>;

// Spawns (or replaces) the gate of `entry` and watches it.
void open_gate(self_ptr self, const registry_options& options,
               workspace_entry& entry) {
  detail::gate_args args;
  auto& relay = args.relay;
  relay.workspace = entry.own.name;
  relay.drops = entry.drops;
  if (options.remote_window > 0)
    relay.window = options.remote_window;
  relay.log = options.log;
  relay.dropped = entry.dropped;
  entry.shared = entry.own;
  if (entry.own.kind == client_kind::rtm)
    entry.shared.rtm = self->spawn(detail::rtm_gate, entry.own.rtm, args);
  else
    entry.shared.socket_mode =
        self->spawn(detail::socket_mode_gate, entry.own.socket_mode, args);
  self->monitor(entry.shared.handle());
}

struct listing {
  std::vector<workspace_status> lines;
  size_t pending = 0;
  caf::typed_response_promise<std::vector<workspace_status>> rp;
};

caf::result<std::vector<workspace_status>> list(self_ptr self,
                                                const state_ptr& st) {
  auto& all = st->workspaces;
  auto out = std::make_shared<listing>();
  out->rp = self->make_response_promise<std::vector<workspace_status>>();
  out->pending = all.size();
  if (all.empty()) {
    out->rp.deliver(std::vector<workspace_status>{});
    return out->rp;
  }
  auto now = caf::make_timestamp();
  for (auto& [name, entry] : all) {
    auto index = out->lines.size();
    workspace_status line;
    line.name = name;
    line.kind = entry.own.kind;
    line.nodes_away = entry.drops->size(now);
    line.dropped_for_nodes = entry.dropped->load();
    out->lines.push_back(std::move(line));
    auto done = [out, index](client_status* status) {
      if (status != nullptr)
        out->lines[index].status = std::move(*status);
      else
        out->lines[index].status.state = "closed";
      if (--out->pending == 0)
        out->rp.deliver(std::move(out->lines));
    };
    detail::request_privately<client_status>(
        self, st->requester, entry.own.handle(), std::chrono::seconds{5},
        [done](client_status& status) { done(&status); },
        [done](caf::error&) { done(nullptr); }, status_atom_v);
  }
  return out->rp;
}

caf::result<workspace_info> lookup(self_ptr self, const state_ptr& st,
                                   const std::string& name) {
  auto& all = st->workspaces;
  auto i = all.find(name);
  if (i == all.end())
    return make_error(errc::unknown_workspace, name);
  auto& entry = i->second;
  if (entry.client_gone)
    return make_error(errc::connection_lost,
                      "the hub's client for " + name + " ended");
  auto sender = self->current_sender();
  auto now = caf::make_timestamp();
  if (sender == nullptr || !entry.drops->came_back(sender->node(), now))
    return entry.shared;
  // The node was seen to go away: what it missed is the client's count now
  // minus the count then.
  auto node = sender->node();
  auto info = entry.shared;
  auto drops = entry.drops;
  auto rp = self->make_response_promise<workspace_info>();
  detail::request_privately<client_status>(
      self, st->requester, entry.own.handle(), std::chrono::seconds{5},
      [rp, info, drops, node](client_status& status) mutable {
        info.missed = drops->take(node, detail::events_counted(status),
                                  caf::make_timestamp());
        rp.deliver(std::move(info));
      },
      [rp, info, drops, node](caf::error&) mutable {
        // No count to give: the record goes, so that it cannot count for a
        // later outage of the node.
        drops->take(node, 0, caf::make_timestamp());
        rp.deliver(std::move(info));
      },
      status_atom_v);
  return rp;
}

} // namespace

registry_actor::behavior_type registry(registry_actor::pointer self,
                                       std::vector<workspace_info> workspaces,
                                       registry_options options) {
  auto st = std::make_shared<registry_state>();
  st->options = std::move(options);
  st->requester = self->spawn(detail::requester, self->address());
  st->me = self->address();
  // CAF registers these two under names any connected node can look up:
  // ConfigServ keeps whatever it is sent, for good, and SpawnServ spawns
  // actors for remote nodes. A hub serves neither.
  self->system().registry().erase(caf::atom("ConfigServ"));
  self->system().registry().erase(caf::atom("SpawnServ"));
  for (auto& ws : workspaces) {
    auto& entry = st->workspaces[ws.name];
    entry.own = std::move(ws);
    entry.drops = std::make_shared<detail::drop_log>();
    self->monitor(entry.own.handle());
    open_gate(self, st->options, entry);
  }
  // Published: unknown messages are dropped, exit messages end nothing (the
  // hub ends the registry with `kill`). The answers its requester hands
  // back come here as well (they are no part of the published interface).
  self->set_default_handler(
      [self, st](caf::scheduled_actor* ptr,
                 caf::message_view& x) -> caf::result<caf::message> {
        auto& xs = x.content();
        if (!xs.match_elements<detail::continuation>())
          return caf::drop(ptr, x);
        auto& k = *static_cast<detail::continuation*>(xs.get_mutable(0));
        detail::run_continuation(self, st->requester, k);
        return caf::message{};
      });
  self->set_exit_handler([](caf::exit_msg&) {});
  caf::rtm::detail::ignore_stray_errors(self); // an error message ends nothing
  // A gate can be killed by any node that reaches it (CAF delivers `kill`
  // whoever sends it): the next lookup gets a new one.
  self->attach_functor([st] { st->close(); });
  self->set_down_handler([self, st](caf::down_msg& dm) {
    if (st->closed)
      return;
    for (auto& [name, entry] : st->workspaces) {
      auto* e = &entry;
      if (dm.source == entry.own.handle().address()) {
        // Its gate sees it too, and ends.
        detail::when_gone(self, st->requester, entry.own.handle(),
                          [e] { e->client_gone = true; });
        continue;
      }
      if (dm.source != entry.shared.handle().address())
        continue;
      // A gate that is still alive keeps serving; one in front of a client
      // that is gone is not replaced (it ended because its client did).
      auto gate = entry.shared.handle();
      detail::when_gone(self, st->requester, gate, [self, st, gate, e] {
        if (st->closed || e->client_gone || e->shared.handle() != gate)
          return;
        detail::check_alive(
            self, st->requester, e->own.handle(),
            [self, st, gate, e] {
              if (!st->closed && !e->client_gone && e->shared.handle() == gate)
                open_gate(self, st->options, *e);
            },
            [e] { e->client_gone = true; });
      });
    }
  });
  return {
      [self, st](lookup_atom, const std::string& name) {
        return lookup(self, st, name);
      },
      [self, st](list_atom) { return list(self, st); },
  };
}

} // namespace caf::rtm::hub
