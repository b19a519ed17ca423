// Error codes of caf-rtm. Errors travel as `caf::error` values (category
// `caf_rtm`); the context of an error carries details such as the Slack error
// code string or the WebSocket close code.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace caf::rtm {

enum class errc : uint8_t {
  none = 0,
  /// Slack answered `ok:false`; context: the Slack error code (string), and
  /// for a Web API call or a webhook post what Slack said beyond it (string,
  /// empty if nothing: see `slack_error_detail`), then what the caller adds
  /// (an upload's step, a list's page).
  slack_error,
  /// Unexpected HTTP status; context: the status (uint16_t).
  http_error,
  /// Still rate limited after the allowed number of waits; or a WebSocket
  /// handshake refused with 429 (context: what, and the `Retry-After` wait
  /// as a timespan if there was one).
  rate_limited,
  /// The response body is not the JSON the method promises.
  malformed_response,
  /// The response body exceeds what any Slack answer needs (not retried).
  response_too_large,
  /// DNS, TCP connect, reset or EOF while talking HTTP.
  connect_failed,
  /// A connect, TLS, request, WebSocket handshake or hello timeout.
  timeout,
  /// TLS handshake failure; context: the reason (e.g. certificate checks).
  tls_error,
  /// The HTTP proxy refused the CONNECT request; context: the status.
  proxy_error,
  /// A URL (base URL, proxy, WebSocket URL) that cannot be used.
  invalid_url,
  /// A WebSocket or upload URL from the Web API that points elsewhere or
  /// downgrades to plain ws:// or http:// (retried: a server error, not a
  /// configuration one); or a `webhook_post` URL that does (not retried).
  untrusted_url,
  /// A configuration value that cannot be used; context: which and why.
  invalid_config,
  /// WebSocket handshake or protocol failure; context: the reason.
  websocket_error,
  /// The server sent a close frame; context: close code, reason.
  connection_closed,
  /// The connection ended without a close frame (EOF, reset).
  connection_lost,
  /// No matching pong arrived within the pong timeout, or the server reads
  /// nothing: over 16 MB of frames (acks) wait to be written.
  dead_link,
  /// An incoming message exceeded `max_message_size` (the session is closed
  /// with 1009).
  incoming_too_large,
  /// The server sent an `error` event; context: code, message.
  server_error,
  /// No session and none being established.
  not_connected,
  /// The client is closed.
  closed,
  /// An outgoing message is larger than Slack accepts (16 KB).
  message_too_large,
  /// The `text` of an outgoing message exceeds 4,000 characters.
  text_too_long,
  /// The bounded queue of messages waiting to be sent is full (RTM:
  /// `send_queue_size`); for the Web API, `api_queue_size` requests are open.
  send_queue_full,
  /// A message given a `max_wait` could not be written in time; it never
  /// will be.
  send_expired,
  /// No ack arrived within the ack timeout.
  ack_timeout,
  /// The session died before the ack and no later session acked it: the
  /// message may or may not have been delivered. For a Web API call or a
  /// webhook post that is not safe to repeat: a failure that may have reached
  /// Slack (its answer lost or unreadable, a 5xx, Slack's `internal_error`
  /// or `fatal_error`).
  delivery_unknown,
  /// Slack answered a message with `ok:false`; context: code, message.
  send_rejected,
  /// Reconnecting gave up after the configured number of attempts; context:
  /// the last error (rendered).
  gave_up,
  /// A malformed argument in a request to an actor.
  invalid_argument,
  /// A listener callback threw, or a subscribed actor ended with an error
  /// (an exception it did not handle, say); context: what it said.
  listener_failed,
  /// Slack counts more connections for the app than the client holds: stale
  /// sockets eat the limit of 10; context: the numbers.
  stale_connections,
  /// The subscribers of a Socket Mode envelope had not answered by
  /// `ack_deadline` (one that accepts a response payload, or with
  /// `ack_after_delivery` any that is not left to Slack): acked empty;
  /// context: the envelope id.
  no_response,
  /// A subscriber answered an envelope without a response payload (see
  /// `no_payload()`): not a failure, the envelope is acked empty.
  no_payload,
  /// An ack (with or without a payload) that cannot be written: the
  /// connection its envelope came on is closing or gone. An answer for an
  /// envelope that is unknown or acked already is dropped without an error.
  not_waiting,
  /// A paged list handed out a cursor it had handed out before: it would
  /// never end; context: the method, which page did it.
  cursor_loop,
  /// A paged list has more than `max_pages` pages; context: the method, the
  /// cap.
  too_many_pages,
  /// A hub has no workspace of that name; context: the name.
  unknown_workspace,
  /// A hub refuses what only its owner may do (close, disconnect, reconnect,
  /// read files); context: what and why.
  not_permitted,
  /// A subscriber's answer to an envelope it declines (a hub's relay whose
  /// window toward the bot's node is full answers so): with
  /// `redeliver_unclaimed`, an envelope no subscriber took is left to Slack
  /// to send again; otherwise it is acked empty.
  not_taken,
  /// A listener worker that owes callback or hook calls finished none for
  /// `listener_stall_timeout`: a callback or hook that does not return;
  /// context: what it owes, and what waits for it.
  listener_stalled,
};

std::string to_string(errc x);

caf::error make_error(errc x);

template <class T, class... Ts>
caf::error make_error(errc x, T&& y, Ts&&... ys) {
  return caf::error{
      static_cast<uint8_t>(x), caf::atom("caf_rtm"),
      caf::make_message(std::forward<T>(y), std::forward<Ts>(ys)...)};
}

/// The error category of caf-rtm errors.
constexpr caf::atom_value error_category = caf::atom("caf_rtm");

/// True if `err` belongs to caf-rtm and has code `code`.
bool is(const caf::error& err, errc code);

/// The string at `index` of a caf-rtm error's context (its subject: the
/// reason of an `invalid_config`, the envelope id of a `no_response`, ...),
/// or "" if `err` is not caf-rtm's or that element is not a string.
std::string context_string(const caf::error& err, size_t index = 0);

/// The Slack error code carried by an `errc::slack_error` or
/// `errc::send_rejected` error, or "" for other errors.
std::string slack_error_code(const caf::error& err);

/// What Slack said beyond the code of an `errc::slack_error` from a Web API
/// call or a webhook post: the problems `response_metadata.messages` lists
/// (an `invalid_blocks` names the block at fault), the scopes `needed` and
/// `provided` of a `missing_scope`, joined by "; "; "" if Slack said nothing
/// more, or for other errors.
std::string slack_error_detail(const caf::error& err);

/// Slack error codes that retrying cannot fix (invalid_auth, not_authed, ...).
bool is_fatal_slack_error(const std::string& code);

/// Slack error codes worth retrying later (ratelimited, internal_error, ...).
bool is_transient_slack_error(const std::string& code);

/// True if retrying cannot fix `err`: fatal Slack errors, a server
/// certificate that fails the client's verification (not a TLS alert of the
/// server), invalid URLs and configuration, a closed client, an unknown
/// workspace.
bool is_fatal(const caf::error& err);

/// The WebSocket close code carried by an `errc::connection_closed` error,
/// or 0.
uint16_t close_code(const caf::error& err);

/// Renders any error of caf-rtm as "caf_rtm: <code> (<context>)".
std::string render(const caf::error& err);

} // namespace caf::rtm
