// Answering where something was said: the channel and thread of an event or
// envelope, as an RTM message or a `chat.postMessage` call; or, for a slash
// command or an interaction, through its `response_url` (later than the
// ack's three seconds, up to five times within 30 minutes).
//
//   [=](const rtm::event& ev) {
//     self->request(client, caf::infinite, rtm::send_atom_v,
//                   rtm::reply_message(ev, "pong"));
//   }
//   [=](const rtm::envelope& env) -> rtm::response {
//     self->request(client, caf::infinite, rtm::call_atom_v,
//                   rtm::reply_call(env, "pong", rtm::reply_in::thread));
//     return rtm::no_payload();
//   }
//   [=](const rtm::envelope& click) -> rtm::response {  // block_actions
//     if (auto note = rtm::reply_ephemeral(click, "on it"))
//       self->request(client, caf::infinite, rtm::call_atom_v, *note);
//     return rtm::no_payload();
//   }
//   [=](const rtm::envelope& cmd) -> rtm::response {   // slash_commands
//     if (auto post = rtm::respond(cmd, "done", rtm::respond_as::in_channel))
//       self->request(client, caf::infinite, rtm::webhook_atom_v, *post);
//     return rtm::no_payload();
//   }

#pragma once

#include <string>
#include <string_view>

#include <boost/json/array.hpp>

#include <caf/expected.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/web_api.hpp"

namespace caf::rtm {

/// Where a reply goes.
enum class reply_in {
  /// Where the message was said: its thread if it was in one, else the
  /// channel.
  place,
  /// Its thread, starting one under the message if there is none yet.
  thread,
  /// Its thread, and also to the channel (`reply_broadcast`).
  thread_and_channel,
};

/// The `thread_ts` a reply to `ev` carries (empty: none), and the same for
/// the inner event of an envelope.
std::string reply_thread(const event& ev, reply_in where);
std::string reply_thread(const envelope& env, reply_in where);

/// An RTM message (`send_atom`) with `text` in the channel (and thread) of
/// `ev`.
json_object reply_message(const event& ev, std::string_view text,
                          reply_in where = reply_in::place);

/// A `chat.postMessage` call with `text` in the channel (and thread) of `ev`.
api_call reply_call(const event& ev, std::string text,
                    reply_in where = reply_in::place);

/// A `chat.postMessage` call with `text` in the channel (and thread) of the
/// event, command or interaction inside `env`, for its workspace
/// (`api_call::team_id`: see `client_config::team_tokens`).
api_call reply_call(const envelope& env, std::string text,
                    reply_in where = reply_in::place);

/// A `chat.postEphemeral` call: `text` shown only to the user of `ev` (or
/// of the event, command or interaction in `env`), in its channel and
/// thread. `invalid_argument` if it names no channel or no user (a bot's
/// message, say). For an envelope, with its `team_id`.
caf::expected<api_call> reply_ephemeral(const event& ev, std::string text);
caf::expected<api_call> reply_ephemeral(const envelope& env, std::string text);

/// A `chat.update` of the message that `posted` names (Slack's answer to
/// the `chat.postMessage` or `chat.update` that made it, with its `channel`
/// and `ts`) to `text` alone: its blocks go (an empty `blocks`; Slack would
/// keep them otherwise). `with_blocks` gives it new ones. `invalid_argument`
/// if the answer names no message. The answer names no workspace: with
/// `client_config::team_tokens`, set `team_id` (the reply's).
caf::expected<api_call> update_call(const json_object& posted,
                                    std::string text);

/// A `chat.delete` of the message that `posted` names (see `update_call`).
caf::expected<api_call> delete_call(const json_object& posted);

/// `call` with Block Kit `blocks`, sent as a JSON body: its `args` move into
/// it as strings, but Slack's flags (`reply_broadcast`, `unfurl_links`,
/// `unfurl_media`, `mrkdwn`, `link_names`, `as_user`) as booleans and
/// `attachments` and `metadata` as JSON. Keep a `text`: Slack shows it in
/// notifications and to screen readers.
api_call with_blocks(api_call call, boost::json::array blocks);

/// `post` with Block Kit `blocks`.
webhook_post with_blocks(webhook_post post, boost::json::array blocks);

/// How a message posted to a `response_url` shows.
enum class respond_as {
  /// Only to the user who ran the command or clicked (Slack's default).
  ephemeral,
  /// To everyone in the channel.
  in_channel,
  /// In place of the message the interaction came from.
  replacement,
};

/// A post of `text` to the `response_url` of the slash command or
/// interaction in `env` (the first of a view submission's `response_urls`),
/// to send with `webhook_atom`; `invalid_argument` if `env` carries none.
caf::expected<webhook_post> respond(const envelope& env, std::string_view text,
                                    respond_as how = respond_as::ephemeral);

} // namespace caf::rtm
