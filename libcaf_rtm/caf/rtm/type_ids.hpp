// The atoms and type IDs of caf-rtm's public messages, declared with CAF's
// type-ID block macros. Everything in this block has an `inspect` overload and
// is registered by `add_message_types`, so it can cross CAF's network layer.
// The messages the client's own actors exchange are not in here on purpose:
// they are never registered, so no remote node can send them.

#pragma once

#include <vector>

#include <caf/type_id.hpp>

namespace caf {
class actor_system_config;
} // namespace caf

namespace caf::rtm {

struct json_object;
struct api_call;
class event;
struct event_batch;
class envelope;
struct envelope_batch;
struct identity;
struct rtm_endpoint;
struct send_ack;
struct connecting;
struct connected;
struct disconnected;
struct reconnecting;
struct error_event;
struct fatal_event;
struct client_status;
struct api_page;
struct file_upload;
struct upload_progress;
struct webhook_post;
struct api_status;
struct token_rotated;

} // namespace caf::rtm

// Well above `caf::first_custom_type_id`, where an application's own block
// usually starts.
CAF_BEGIN_TYPE_ID_BLOCK(caf_rtm, caf::first_custom_type_id + 1000)

CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::json_object))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::api_call))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::event))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::envelope))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::identity))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::rtm_endpoint))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::send_ack))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::connecting))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::connected))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::disconnected))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::reconnecting))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::error_event))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::fatal_event))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::client_status))
CAF_ADD_TYPE_ID(caf_rtm, (std::vector<caf::rtm::json_object>))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::api_page))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::file_upload))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::upload_progress))

// What users send (CAF 0.17 atoms: at most 10 characters).
CAF_ADD_ATOM(caf_rtm, caf::rtm, all_pages_atom, "all_pages")
CAF_ADD_ATOM(caf_rtm, caf::rtm, call_atom, "call")
CAF_ADD_ATOM(caf_rtm, caf::rtm, close_atom, "close")
CAF_ADD_ATOM(caf_rtm, caf::rtm, connect_atom, "connect")
CAF_ADD_ATOM(caf_rtm, caf::rtm, disconnect_atom, "disconnect")
CAF_ADD_ATOM(caf_rtm, caf::rtm, lifecycle_atom, "lifecycle")
CAF_ADD_ATOM(caf_rtm, caf::rtm, no_ack_atom, "no_ack")
CAF_ADD_ATOM(caf_rtm, caf::rtm, ping_atom, "ping")
CAF_ADD_ATOM(caf_rtm, caf::rtm, presence_atom, "presence")
CAF_ADD_ATOM(caf_rtm, caf::rtm, reconnect_atom, "reconnect")
CAF_ADD_ATOM(caf_rtm, caf::rtm, send_atom, "send")
CAF_ADD_ATOM(caf_rtm, caf::rtm, status_atom, "status")
CAF_ADD_ATOM(caf_rtm, caf::rtm, subscribe_atom, "subscribe")
CAF_ADD_ATOM(caf_rtm, caf::rtm, typing_atom, "typing")
CAF_ADD_ATOM(caf_rtm, caf::rtm, unsubscribe_atom, "unsubscr")
CAF_ADD_ATOM(caf_rtm, caf::rtm, upload_atom, "upload")

// New entries go last, so that the IDs above keep their values (nodes of
// different builds agree on them).
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::event_batch))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::envelope_batch))
CAF_ADD_ATOM(caf_rtm, caf::rtm, batch_atom, "batch")
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::webhook_post))
CAF_ADD_ATOM(caf_rtm, caf::rtm, webhook_atom, "webhook")
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::api_status))
CAF_ADD_TYPE_ID(caf_rtm, (caf::rtm::token_rotated))

CAF_END_TYPE_ID_BLOCK(caf_rtm)

namespace caf::rtm {

/// Registers caf-rtm's message types, the handle types of its public actors
/// and its error category with `cfg`.
void add_message_types(caf::actor_system_config& cfg);

} // namespace caf::rtm
