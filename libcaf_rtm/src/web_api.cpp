#include "caf/rtm/web_api.hpp"

#include <caf/event_based_actor.hpp>

#include "detail/behavior_with.hpp"
#include "detail/client_web_api.hpp"
#include "detail/web_api_caller.hpp"
#include "detail/web_api_forwarding.hpp"

namespace caf::rtm {

namespace {

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

} // namespace

bool safe_to_repeat(std::string_view method) {
  // Methods that only hand out something (an identity, a single-use URL) or
  // open what exists already.
  // And reads the rule below does not see.
  for (auto x : {"auth.test", "rtm.connect", "rtm.start",
                 "apps.connections.open", "conversations.open", "api.test",
                 "users.conversations", "users.identity", "team.accessLogs",
                 "team.integrationLogs", "team.billableInfo", "dnd.teamInfo"})
    if (method == x)
      return true;
  if (starts_with(method, "search."))
    return true;
  // Reads: the last part of the name says so (users.info, conversations.list,
  // conversations.history, users.getPresence, users.lookupByEmail,
  // admin.conversations.search, ...).
  auto dot = method.rfind('.');
  if (dot == std::string_view::npos)
    return false;
  auto verb = method.substr(dot + 1);
  for (auto x : {"list", "info", "history", "replies", "members", "get",
                 "lookup", "search"})
    if (starts_with(verb, x))
      return true;
  return false;
}

// The public handle belongs to this actor: it accepts exactly what users may
// send and forwards it to the caller, which also takes the results of its
// HTTP exchanges and its own timers. It ends with the caller.
namespace {

web_api_actor::behavior_type
forward_to(web_api_actor::pointer self,
           const detail::web_api_core_actor& caller) {
  self->set_exit_handler(
      [self](caf::exit_msg& msg) { self->quit(msg.reason); });
  return detail::behavior_with<web_api_actor::behavior_type>(
      detail::web_api_forwarding(self, caller),
      [=](close_atom x) { return self->delegate(caller, x); });
}

} // namespace

web_api_actor::behavior_type web_api(web_api_actor::pointer self,
                                     client_config cfg) {
  return forward_to(self,
                    self->spawn<caf::linked>(detail::web_api_caller,
                                             std::move(cfg), caf::actor{}));
}

namespace detail {

web_api_actor::behavior_type client_web_api(web_api_actor::pointer self,
                                            client_config cfg,
                                            caf::actor client) {
  return forward_to(self, self->spawn<caf::linked>(detail::web_api_caller,
                                                   std::move(cfg),
                                                   std::move(client)));
}

} // namespace detail

} // namespace caf::rtm
