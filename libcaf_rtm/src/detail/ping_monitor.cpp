#include "detail/ping_monitor.hpp"

#include <cstdlib>

#include <caf/event_based_actor.hpp>

namespace caf::rtm::detail {

std::string ping_payload(uint64_t session, uint64_t n) {
  return "caf-rtm:" + std::to_string(session) + ":" + std::to_string(n);
}

bool parse_ping_payload(const std::string& payload, uint64_t& session,
                        uint64_t& n) {
  constexpr std::string_view prefix = "caf-rtm:";
  if (payload.compare(0, prefix.size(), prefix) != 0)
    return false;
  const char* first = payload.c_str() + prefix.size();
  char* end = nullptr;
  session = std::strtoull(first, &end, 10);
  if (end == first || *end != ':')
    return false;
  first = end + 1;
  n = std::strtoull(first, &end, 10);
  return end != first && *end == '\0';
}

ping_monitor_actor::behavior_type
ping_monitor(ping_monitor_actor::stateful_pointer<ping_monitor_state> self,
             ping_monitor_args args) {
  self->state.args = std::move(args);
  self->state.next_ping = self->state.args.first_ping;
  // The monitor lives exactly as long as its connection.
  self->monitor(self->state.args.connection);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->send(self, tick_atom_v);
  return {
      [self](tick_atom) {
        auto& st = self->state;
        if (st.dead)
          return;
        auto n = st.next_ping++;
        st.outstanding.emplace(n, self->clock().now());
        self->send(st.args.connection, ping_atom_v,
                   ping_payload(st.args.session, n));
        self->delayed_send(self, st.args.timeout, timeout_atom_v, n);
        self->delayed_send(self, st.args.interval, tick_atom_v);
      },
      [self](timeout_atom, uint64_t n) {
        auto& st = self->state;
        if (st.dead || st.outstanding.count(n) == 0)
          return;
        st.dead = true;
        self->send(st.args.connection, dead_link_atom_v,
                   ping_payload(st.args.session, n));
      },
      [self](pong_atom, const std::string& payload) {
        auto& st = self->state;
        uint64_t session = 0;
        uint64_t n = 0;
        // A pong counts only if it answers one of this session's pings.
        if (!parse_ping_payload(payload, session, n) ||
            session != st.args.session)
          return;
        auto i = st.outstanding.find(n);
        if (i == st.outstanding.end())
          return;
        auto rtt = self->clock().now() - i->second;
        // The link is alive: earlier pings without pongs no longer matter.
        st.outstanding.erase(st.outstanding.begin(), std::next(i));
        self->send(st.args.rtt_sink, rtt_atom_v, st.args.session,
                   std::chrono::duration_cast<caf::timespan>(rtt));
      },
  };
}

} // namespace caf::rtm::detail
