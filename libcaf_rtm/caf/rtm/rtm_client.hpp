// The RTM client: what users spawn and talk to.
//
//   auto client = sys.spawn(caf::rtm::rtm_client, cfg);
//   self->request(client, 30s, caf::rtm::connect_atom_v).receive(...);
//
// The handle accepts exactly the messages listed in `rtm_client_actor`; the
// client's own actors (supervisor, connections, ping monitors, listener
// workers, web-API caller) talk to each other through handles users never
// see, so no holder of this handle, local or remote, can inject their
// messages.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/hooks.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/web_api.hpp"

namespace caf::rtm {

/// The RTM client, as users see it.
using rtm_client_actor = caf::typed_actor<
    // Starts the client; replies once the first session said hello, or with an
    // error (fatal, or gave up, or reconnecting is off).
    caf::replies_to<connect_atom>::with<connected>,
    // Delivers events of these types ("*" = all) to the actor as `event`.
    caf::replies_to<subscribe_atom, caf::actor,
                    std::vector<std::string>>::with<caf::ok_atom>,
    // The same, but one `event_batch` per batch of frames the client read
    // instead of one message per event: cheaper for actors that take many.
    caf::replies_to<subscribe_atom, caf::actor, std::vector<std::string>,
                    batch_atom>::with<caf::ok_atom>,
    // Delivers lifecycle messages (connecting, connected, ...) to the actor.
    caf::replies_to<subscribe_atom, lifecycle_atom,
                    caf::actor>::with<caf::ok_atom>,
    // Runs a callback on the listener pool; replies with a subscription id.
    caf::replies_to<subscribe_atom, callback_listener>::with<uint64_t>,
    // Runs the hooks (raw frames, errors, closes) on the listener pool;
    // replies with a subscription id.
    caf::replies_to<subscribe_atom, hook_listener>::with<uint64_t>,
    // Ends every subscription of the actor (its lifecycle one too), or only
    // these patterns.
    caf::replies_to<unsubscribe_atom, caf::actor>::with<caf::ok_atom>,
    caf::replies_to<unsubscribe_atom, caf::actor,
                    std::vector<std::string>>::with<caf::ok_atom>,
    // Ends a callback or hook subscription: once answered, none of its calls
    // starts any more (one already running may still be finishing).
    caf::replies_to<unsubscribe_atom, uint64_t>::with<caf::ok_atom>,
    // Sends a message (the client sets `id`); replies with Slack's ack, or
    // with why there is none: the client always answers (wait with
    // caf::infinite, not a shorter request timeout).
    caf::replies_to<send_atom, json_object>::with<send_ack>,
    // The same, but a message not written within this time (waiting for a
    // session or the rate limiter) fails with `send_expired` and is never
    // written (0: no limit).
    caf::replies_to<send_atom, json_object, caf::timespan>::with<send_ack>,
    // Sends a message Slack does not ack (custom types; see presence_atom
    // for presence_sub): replies once its connection has it (before the
    // socket write). One the connection hands back unwritten goes out on the
    // next session.
    caf::replies_to<send_atom, json_object, no_ack_atom>::with<caf::ok_atom>,
    // Subscribes to presence changes of these users (`presence_sub`),
    // replacing the previous list; sent again after every hello. An empty
    // list ends the subscription.
    caf::replies_to<presence_atom,
                    std::vector<std::string>>::with<caf::ok_atom>,
    // Sends a typing indicator for a channel if it costs real messages
    // nothing: false if one went out < 3 s ago, or with no session, messages
    // waiting or no token free in the rate limiter.
    caf::replies_to<typing_atom, std::string>::with<bool>,
    // RTM-level ping; replies with the round-trip time.
    caf::replies_to<ping_atom>::with<caf::timespan>,
    // Any Web API method through the client's web-API caller.
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    caf::replies_to<call_atom, api_call>::with<json_object>,
    // Paged lists and file uploads, as the web-API caller does them.
    caf::replies_to<call_atom, api_call,
                    all_pages_atom>::with<std::vector<json_object>>,
    caf::replies_to<call_atom, api_call, caf::actor>::with<uint64_t>,
    caf::replies_to<upload_atom, file_upload>::with<json_object>,
    // Posts to a response_url or an incoming webhook (see webhook_post).
    caf::replies_to<webhook_atom, webhook_post>::with<caf::ok_atom>,
    // The status of the web-API caller that makes the client's calls.
    caf::replies_to<status_atom, call_atom>::with<api_status>,
    // Ends the current session (a new one follows with auto-reconnect).
    caf::replies_to<disconnect_atom>::with<caf::ok_atom>,
    // Switches reconnecting on or off at run time (`auto_reconnect`).
    caf::replies_to<reconnect_atom, bool>::with<caf::ok_atom>,
    // Stops for good; replies when every actor and socket is gone.
    caf::replies_to<close_atom>::with<caf::ok_atom>,
    caf::replies_to<status_atom>::with<client_status>>;

/// Spawn with `sys.spawn(caf::rtm::rtm_client, cfg)`; see `rtm_client_actor`
/// for the messages it understands. A configuration that cannot work (see
/// `client_config::validate`) makes `connect` fail with that error.
rtm_client_actor::behavior_type rtm_client(rtm_client_actor::pointer self,
                                           client_config cfg);

} // namespace caf::rtm
