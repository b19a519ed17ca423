// The web-API caller's interface and the types of its messages, apart from
// the actor itself (web_api.hpp): the client configuration can name an
// existing caller without a cycle of includes.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "caf/rtm/messages.hpp"

namespace caf::rtm {

/// Whether a Web API call is retried after a failure that may have reached
/// Slack (a timeout while waiting for the answer, a 5xx, `internal_error`, a
/// connection lost after the request went out). Failures that surely did not
/// reach Slack (connect, TLS, the request not written) and rate limits are
/// retried whatever the mode.
enum class api_retry : uint8_t {
  /// Retried only if the method is safe to repeat: reads (`*.list`,
  /// `*.info`, `*.history`, `*.replies`, `*.members`, `*.get*`,
  /// `*.lookup*`, `*.search*`, `search.*`, `users.conversations` and a few
  /// more), `auth.test`, `rtm.connect`, `apps.connections.open`,
  /// `conversations.open`, and every page of a paged call that carries a
  /// cursor. Anything else (say `chat.postMessage`) fails with
  /// `delivery_unknown` instead of posting twice.
  automatic,
  /// Always retried: for calls the caller knows to be idempotent. A repeat
  /// that Slack refuses because the attempt before it went through
  /// (`already_reacted` for `reactions.add`, `message_not_found` for
  /// `chat.delete`, and the like for pins, stars, archiving, kicks and
  /// `files.delete`) is a success: `{"ok":true,"warning":"<code>"}`, with no
  /// other field of Slack's answer.
  always,
};

/// Whether `method` can be repeated without effect (see api_retry).
bool safe_to_repeat(std::string_view method);

/// A Web API call with everything a call can say.
struct api_call {
  std::string method;
  /// Form-encoded arguments (what most methods take).
  api_args args;
  /// A JSON body instead of `args`, sent as application/json when not empty:
  /// for nested arguments such as `blocks`, `attachments` or `metadata`.
  json_object json;
  /// A token for this call only (a bot serving several workspaces, a user
  /// token); empty: the caller's own.
  std::string token;
  /// The workspace the call is for: a Socket Mode client with
  /// `client_config::team_tokens` sends it with that workspace's token
  /// (unless `token` is set). Other callers ignore it.
  std::string team_id;
  api_retry retry = api_retry::automatic;
  /// Zero: no limit. Else no attempt of the call starts later than this
  /// after it arrived (waiting out a rate limit, a retry's backoff or a free
  /// connection): the call fails with `send_expired` instead, and sooner
  /// when a wait surely ends too late. If no attempt reached Slack, it never
  /// will. An attempt that started in time runs to its end (at most
  /// `request_timeout`), so a caller that waits for the answer waits
  /// `max_wait + request_timeout` and then knows what happened. For a paged
  /// list, each page's call. Above a year (`timespan::max()`, say): no
  /// limit.
  caf::timespan max_wait{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_call& x) {
  return f(caf::meta::type_name("caf::rtm::api_call"), x.method, x.args, x.json,
           x.token, x.team_id, x.retry, x.max_wait);
}

// -- paged lists --------------------------------------------------------------

/// One page of a paged list, streamed to an actor (see `web_api_actor`).
struct api_page {
  std::string method;
  /// 0 for the first page, then 1, 2, ... (pages arrive in order).
  uint64_t index = 0;
  /// Slack's whole answer for this page, `response_metadata` included.
  json_object page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_page& x) {
  return f(caf::meta::type_name("caf::rtm::api_page"), x.method, x.index,
           x.page);
}

// -- file uploads -------------------------------------------------------------

/// A further file of an upload (`file_upload::more_files`), shared in the
/// same message as the first. Its fields mean what the same fields of
/// `file_upload` mean.
struct upload_file {
  std::string filename;
  std::string title;
  std::string alt_text;
  std::string snippet_type;
  std::string content;
  std::string path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_file& x) {
  return f(caf::meta::type_name("caf::rtm::upload_file"), x.filename, x.title,
           x.alt_text, x.snippet_type, x.content, x.path);
}

/// A file (or several) to upload and where to share it. The bytes come from
/// `content` or from the file at `path` (exactly one of the two); all files
/// of an upload hold at most `client_config::max_upload_size` bytes.
struct file_upload {
  /// The file's name in Slack (required), e.g. "report.csv".
  std::string filename;
  /// Shown instead of the name; empty: the name.
  std::string title;
  /// A description of an image for screen readers (Slack's `alt_txt`, up to
  /// 1,000 characters); empty: none.
  std::string alt_text;
  /// The syntax a text file is highlighted as (`python`, `cpp`, ...); empty:
  /// Slack guesses.
  std::string snippet_type;
  /// The bytes themselves...
  std::string content;
  /// ...or the file to read them from (read by the web-API caller).
  std::string path;
  /// The channel to share the file in; empty: uploaded but not shared.
  std::string channel_id;
  /// Shares it as a reply in this thread (needs `channel_id`).
  std::string thread_ts;
  /// A message posted with the file.
  std::string initial_comment;
  /// Instead of `initial_comment` (not with it: Slack would ignore the
  /// blocks): the message's blocks, a JSON array as text.
  std::string blocks;
  /// Further files shared in the same message, after this one.
  std::vector<upload_file> more_files;
  /// A token for this upload only; empty: the caller's own.
  std::string token;
  /// The workspace the upload is for, as `api_call::team_id`.
  std::string team_id;
  /// Whether files.completeUploadExternal is sent again after a failure that
  /// may have reached Slack (see api_retry; automatic: not), and the bytes
  /// after a timeout. The bytes are sent again after other failures either
  /// way: nothing is shared before that last step.
  api_retry retry = api_retry::automatic;
  /// Receives `upload_progress` messages, if set.
  caf::actor progress;
  /// No step starts later than this after the upload arrived (0: no limit),
  /// as `api_call::max_wait`: an upload whose caller gave up is never shared
  /// behind its back. A step that cannot start in time fails the upload with
  /// `send_expired` (or, after an attempt that may have reached Slack, with
  /// that attempt's error). Negative: `invalid_argument`. Above a year: no
  /// limit.
  caf::timespan max_wait{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_upload& x) {
  return f(caf::meta::type_name("caf::rtm::file_upload"), x.filename, x.title,
           x.alt_text, x.snippet_type, x.content, x.path, x.channel_id,
           x.thread_ts, x.initial_comment, x.blocks, x.more_files, x.token,
           x.team_id, x.retry, x.progress, x.max_wait);
}

/// How far the bytes of an upload went: `sent` of `total` bytes (of all its
/// files, which go one after another). The first report of an attempt has
/// `sent` at the bytes of the files before it (0 for the first);
/// `sent == total` comes once, after the last file's upload URL accepted its
/// bytes (for empty files, that is the only report).
struct upload_progress {
  uint64_t sent = 0;
  uint64_t total = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_progress& x) {
  return f(caf::meta::type_name("caf::rtm::upload_progress"), x.sent, x.total);
}

// -- response URLs and incoming webhooks --------------------------------------

/// A message posted to a URL Slack handed out instead of a Web API method:
/// the `response_url` of a slash command or an interaction (Slack takes up
/// to five within 30 minutes, so a bot can answer after the ack's three
/// seconds), or an incoming webhook's URL. No token goes with it: the URL is
/// the credential, and no error or log line repeats it. Like an upload URL,
/// it must be https:// and in the domain of `base_url` (or listed in
/// `ws_hosts`); plain http:// only where the configuration allows it for
/// the Web API itself.
struct webhook_post {
  std::string url;
  /// The message, as Slack documents it for these URLs: `text` and/or
  /// `blocks`; for a response_url also `response_type` ("ephemeral", the
  /// default, or "in_channel"), `replace_original`, `delete_original`,
  /// `thread_ts`. Must not be empty.
  json_object message;
  /// Sent again after a failure that may have reached Slack only with
  /// `api_retry::always` (a post is never repeated by default).
  api_retry retry = api_retry::automatic;
  /// As `api_call::max_wait` (0: no limit; negative: `invalid_argument`).
  caf::timespan max_wait{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_post& x) {
  return f(caf::meta::type_name("caf::rtm::webhook_post"), x.url, x.message,
           x.retry, x.max_wait);
}

// -- status -------------------------------------------------------------------

/// What a web-API caller holds and has done (`status_atom, call_atom`): its
/// lines, Slack's rate limits, retries. A request is one HTTP exchange with
/// its retries: a call, a page of a list, a step of an upload, a webhook
/// post. One refused before it was taken in (bad arguments, an unreadable
/// file, the caller closing or misconfigured) counts nowhere. A caller
/// shared by several clients (`client_config::api`) counts them all.
struct api_status {
  /// Requests it holds now: out, waiting for a free connection, in a rate
  /// limit's line or backing off before a retry.
  uint64_t requests_open = 0;
  /// Of those, out on a connection now.
  uint64_t requests_in_flight = 0;
  /// Methods (per token), upload URLs and webhook URLs still inside a 429's
  /// or `ratelimited`'s wait now.
  uint64_t methods_rate_limited = 0;
  /// Since the caller started: requests that ended with Slack's success, and
  /// with an error (Slack's refusals included).
  uint64_t requests_succeeded = 0;
  uint64_t requests_failed = 0;
  /// Requests refused at once: `api_queue_size` were open (`send_queue_full`).
  uint64_t requests_refused = 0;
  /// 429s and `ratelimited` answers taken, and attempts scheduled again
  /// after a failure (a re-send on a fresh connection after a kept-alive one
  /// closed is not counted).
  uint64_t rate_limit_hits = 0;
  uint64_t retries = 0;
  /// Refreshes of the caller's rotating token (`token_rotation`) that got new
  /// tokens, and that failed.
  uint64_t tokens_rotated = 0;
  uint64_t token_refreshes_failed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_status& x) {
  return f(caf::meta::type_name("caf::rtm::api_status"), x.requests_open,
           x.requests_in_flight, x.methods_rate_limited, x.requests_succeeded,
           x.requests_failed, x.requests_refused, x.rate_limit_hits, x.retries,
           x.tokens_rotated, x.token_refreshes_failed);
}

// -- token rotation -----------------------------------------------------------

/// What Slack answered a refresh of the caller's token with (see
/// `token_rotation`), sent to `token_rotation::listener`. Store
/// `refresh_token` first: Slack revoked the one it replaced, and a process
/// that starts with that one cannot refresh any more.
struct token_rotated {
  std::string access_token;
  std::string refresh_token;
  /// When `access_token` expires, in seconds since the Unix epoch; 0: Slack
  /// gave no expiry.
  int64_t expires_at = 0;
  /// The workspace of the token (Slack's `team.id`), if the answer says.
  std::string team_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_rotated& x) {
  return f(caf::meta::type_name("caf::rtm::token_rotated"), x.access_token,
           x.refresh_token, x.expires_at, x.team_id);
}

// -- the actor ----------------------------------------------------------------

/// The web-API caller, as users see it.
using web_api_actor = caf::typed_actor<
    // Any Web API method; replies with Slack's answer (`ok:true`) or an error
    // (`errc::slack_error` with Slack's code, HTTP and network errors).
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    caf::replies_to<call_atom, api_call>::with<json_object>,
    // A paged list (cursor pagination): every page's answer, in order. The
    // cursor goes into `args`; a `json` body goes as a form (its fields
    // replace `args`: a read takes no JSON body); `limit` is the caller's. More
    // than `max_pages` pages fail with `too_many_pages`, a cursor handed out
    // twice with `cursor_loop`.
    caf::replies_to<call_atom, api_call,
                    all_pages_atom>::with<std::vector<json_object>>,
    // The same, sending each page as `api_page` to the actor as it arrives;
    // replies with the number of pages, or with the error that ended the list
    // (pages sent stay sent). An actor that ends ends the list
    // (`invalid_argument`).
    caf::replies_to<call_atom, api_call, caf::actor>::with<uint64_t>,
    // Uploads a file; replies with files.completeUploadExternal's answer.
    // Errors name the step that failed in their last context element.
    caf::replies_to<upload_atom, file_upload>::with<json_object>,
    // Posts to a response_url or webhook; replies `ok_atom` once Slack took
    // the message, else with Slack's code (`errc::slack_error`: `no_text`,
    // `expired_url`, `used_url`, ...) or the HTTP or network error.
    caf::replies_to<webhook_atom, webhook_post>::with<caf::ok_atom>,
    // What the caller holds and has done (see api_status).
    caf::replies_to<status_atom, call_atom>::with<api_status>,
    // Cancels every call in flight; replies once their sockets are closed.
    caf::replies_to<close_atom>::with<caf::ok_atom>>;

} // namespace caf::rtm
