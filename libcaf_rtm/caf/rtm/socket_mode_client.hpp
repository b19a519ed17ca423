// The Socket Mode client: what a Slack app spawns to get its events, slash
// commands and interactions over a WebSocket.
//
//   auto client = sys.spawn(caf::rtm::socket_mode_client, cfg);
//   self->request(client, 30s, caf::rtm::connect_atom_v).receive(...);
//
// It runs `cfg.connections` connections (each opened with the app-level
// token), acks every envelope on the connection it came on, delivers each
// event once (retries deduplicated by envelope id and event id) and makes
// each new connection before it breaks the old one on a refresh. The handle
// accepts exactly the messages listed in `socket_mode_client_actor`.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/envelope.hpp"
#include "caf/rtm/hooks.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/web_api.hpp"

namespace caf::rtm {

/// The Socket Mode client, as users see it.
using socket_mode_client_actor = caf::typed_actor<
    // Starts the client; replies once the first connection said hello, or
    // with an error (fatal, gave up, or reconnecting is off).
    caf::replies_to<connect_atom>::with<connected>,
    // Delivers envelopes whose type or inner event type is one of these ("*"
    // = all) to the actor as `envelope`. An envelope that accepts a response
    // payload arrives as a request: a `json_object` reply becomes the ack's
    // payload (the first one wins); any other reply, or none by
    // `ack_deadline`, acks it empty.
    caf::replies_to<subscribe_atom, caf::actor,
                    std::vector<std::string>>::with<caf::ok_atom>,
    // The same, but one `envelope_batch` per batch of frames the client read
    // instead of one message per envelope: cheaper for actors that take many.
    // Envelopes that wait for an answer still come one by one, as above.
    caf::replies_to<subscribe_atom, caf::actor, std::vector<std::string>,
                    batch_atom>::with<caf::ok_atom>,
    // Delivers lifecycle messages (connecting, connected, ...) to the actor.
    caf::replies_to<subscribe_atom, lifecycle_atom,
                    caf::actor>::with<caf::ok_atom>,
    // Runs a callback on the listener pool; replies with a subscription id.
    caf::replies_to<subscribe_atom, envelope_listener>::with<uint64_t>,
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
    // Any Web API method with the bot token, or through the shared caller
    // (`client_config::api`); without either, only a call that carries its
    // own token works.
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
    // Refreshes every connection (a new one is made before the old breaks).
    caf::replies_to<disconnect_atom>::with<caf::ok_atom>,
    // Switches reconnecting on or off at run time (`auto_reconnect`).
    caf::replies_to<reconnect_atom, bool>::with<caf::ok_atom>,
    // Stops for good; replies when every actor and socket is gone.
    caf::replies_to<close_atom>::with<caf::ok_atom>,
    caf::replies_to<status_atom>::with<client_status>>;

/// Spawn with `sys.spawn(caf::rtm::socket_mode_client, cfg)`; `cfg.app_token`
/// is required, `cfg.bot_token` optional. A configuration that cannot work
/// (see `client_config::validate`) makes `connect` fail with that error.
socket_mode_client_actor::behavior_type
socket_mode_client(socket_mode_client_actor::pointer self, client_config cfg);

} // namespace caf::rtm
