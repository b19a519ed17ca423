// Configuration of an RTM client: everything the seed's RTMClient constructor
// takes, plus reconnect, keep-alive and sending policies. The same options can
// come from CAF's configuration (config file, command line) under the
// `caf-rtm` category; see `add_options` and `client_config::from`.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/logger.hpp"
#include "caf/rtm/type_ids.hpp"
#include "caf/rtm/web_api_actor.hpp"

namespace caf::rtm {

/// Exponential backoff with full jitter: the delay before attempt n+1 is
/// uniform in [0, min(max_delay, initial_delay * 2^(n-1))].
struct retry_policy {
  caf::timespan initial_delay = std::chrono::milliseconds{500};
  caf::timespan max_delay = std::chrono::seconds{30};
  /// Attempts in a row before giving up; 0 = never give up.
  uint32_t max_attempts = 0;
};

/// Token rotation (an app with "token rotation" on): the token a Web API
/// caller uses expires after 12 hours, and the caller exchanges the refresh
/// token for a new pair (`oauth.v2.access`, `grant_type=refresh_token`)
/// before it does, and again when Slack answers `token_expired`. Calls wait
/// for the new token; a call with a token of its own (`api_call::token`) is
/// left alone.
struct token_rotation {
  /// The app's credentials (its "Basic Information" page).
  std::string client_id;
  std::string client_secret;
  /// The refresh token (xoxe-) that goes with the current token; empty: no
  /// rotation. Slack revokes it once it was used: start with the newest one
  /// `listener` got.
  std::string refresh_token;
  /// When the current token expires, in seconds since the Unix epoch; 0:
  /// unknown, so the caller refreshes before its first call.
  int64_t expires_at = 0;
  /// A token is refreshed this long before it expires (as python-slack-sdk's
  /// rotator), but not before half its lifetime has passed (at most 12 h).
  caf::timespan refresh_before = std::chrono::minutes{120};
  /// Receives `token_rotated` after each refresh, to store the new tokens
  /// (this or `file` is required).
  caf::actor listener;
  /// A file that keeps the newest tokens across restarts (JSON, mode 0600);
  /// empty: none. When a client or caller starts and the file exists, its
  /// tokens replace the configured token, `refresh_token` and `expires_at`
  /// (they are newer: Slack revoked the configured refresh token when it
  /// was used). Rewritten after each refresh (a new file, then renamed over
  /// the old one), before `listener` hears of the refresh; a write that
  /// fails is logged as an error. Without the file, `refresh_token` is
  /// required. One file per token: two clients must not share one.
  std::string file;

  /// The latest `expires_at` (2100-01-01).
  static constexpr int64_t max_expires_at = 4102444800;
};

/// How the ping monitor checks the link.
enum class ping_mode {
  /// WebSocket ping frames with a session-tagged payload.
  websocket,
  /// RTM JSON pings (`{"type":"ping"}`) answered by `pong` events.
  rtm,
};

/// Which client a configuration is for (the options to check differ).
enum class client_kind {
  /// `rtm_client`: needs `token`.
  rtm,
  /// `socket_mode_client`: needs `app_token`; `bot_token` is optional.
  socket_mode,
};

struct client_config {
  // -- Slack ------------------------------------------------------------------

  /// A classic-app bot token (xoxb-) or a user token (xoxp-).
  std::string token;
  /// Where the Web API lives; `http://` only for loopback (local fakes) or
  /// with `allow_insecure`.
  std::string base_url = "https://slack.com/api/";
  /// Allows plain http:// and ws:// to hosts that are not loopback: the
  /// token and the events then travel in clear.
  bool allow_insecure = false;
  /// WebSocket and upload hosts accepted besides the base URL's domain
  /// (comma-separated host names or `.suffix`es): the Web API hands out the
  /// WebSocket and upload URLs, and one pointing elsewhere is refused.
  std::string ws_hosts;
  /// Extra arguments of rtm.connect (e.g. batch_presence_aware=1).
  bool batch_presence_aware = false;
  bool presence_sub = false;
  /// An existing web-API caller (`sys.spawn(web_api, cfg)`) to use instead
  /// of one of the client's own, the seed's `web_client`: clients that share
  /// it share its connections and its rate-limit state. It calls with its own
  /// token (`token` may then stay empty for RTM); the client never closes it.
  /// Socket Mode still opens connections with `app_token` on a caller of
  /// its own and uses this one for the Web API calls users make.
  web_api_actor api;

  /// Rotates `token` (Socket Mode: `bot_token`) when `refresh_token` is set.
  /// Not with `api`: a shared caller rotates by its own configuration.
  token_rotation rotation;

  // -- Socket Mode ------------------------------------------------------------

  /// The app-level token (xapp-, scope connections:write): opens connections
  /// only.
  std::string app_token;
  /// The bot token (xoxb-) for Web API calls through the client and for its
  /// identity (auth.test); optional.
  std::string bot_token;
  /// A bot token per workspace, by team id (`T...`; an org-wide install's
  /// one token goes in `bot_token`), for an app installed in several
  /// workspaces: Slack sends all
  /// their envelopes on the app's connections, but each workspace answers
  /// only its own installation's token. A call whose `api_call::team_id`
  /// (or `file_upload::team_id`) is listed here goes with that token; the
  /// reply helpers for envelopes set `team_id`. A call for a team not listed
  /// (or without one) goes with `bot_token`, or fails with `invalid_config`
  /// without one. The tokens do not rotate (`xoxe.` tokens are refused). With
  /// `skip_own_events`, the bot of each is learned with auth.test before the
  /// first connection.
  std::map<std::string, std::string> team_tokens;
  /// Connections kept open at once (1 to 10: Slack's limit per app). Slack
  /// sends each envelope to one of them; more give redundancy and gapless
  /// refreshes.
  size_t connections = 1;
  /// Connections the whole app keeps open, when more than one process serves
  /// it (0: this client's own). Slack counts connections per app: a hello
  /// that counts more than this (or than this client holds) is reported as
  /// `stale_connections`.
  size_t app_connections = 0;
  /// How long a subscriber may take to answer an envelope that accepts a
  /// response payload before the client acks it empty. Slack's limit is 3 s.
  /// It counts from when the client read the frame: an envelope that waited
  /// in the client (behind subscribers or callbacks that lag) has the rest
  /// of it (time spent unread in the socket, once the client's read-ahead is
  /// full, is not counted). With `redeliver_unclaimed`, an `events_api`
  /// envelope that may still be left to Slack (not its last retry) has all
  /// of it: its deadline decides whether a subscriber took it, and Slack
  /// retries it anyway once 3 s are past.
  /// `close` waits for such answers up to this long.
  caf::timespan ack_deadline = std::chrono::milliseconds{2500};
  /// Asks Slack to refresh each connection every 360 s (to test refreshes).
  bool debug_reconnects = false;
  /// Acks every envelope (events, and interactions without a response
  /// payload too) once the subscribed actors answered it (request and
  /// reply, bounded by `ack_deadline`) instead of on receipt.
  /// A client that dies before the ack leaves the envelope to Slack, which
  /// sends it again on another connection of the app: what a hub sets for
  /// its remote bots (two hubs for one app then lose nothing when one is
  /// killed). Acks then wait for the subscribers.
  bool ack_after_delivery = false;
  /// With `ack_after_delivery`: an `events_api` envelope that no subscriber
  /// took (nobody is subscribed to anything, the subscribed actors did not
  /// answer by `ack_deadline`, ended first or refused it) is left unacked,
  /// and forgotten by the duplicate filter, so that Slack sends it again
  /// (about 3 s, 1 min and 5 min later), possibly on a connection of another
  /// process that serves the app; Slack's last retry (`retry_attempt` 3) is
  /// acked as before, and so is an envelope nobody wants while others are
  /// subscribed to other types (unless a subscriber whose node went away
  /// within the last hour wanted it).
  /// What a hub sets: a hub that lost its bot leaves the envelopes Slack
  /// gives it to the app's other hubs instead of acking them unseen. Not for
  /// a process that serves the app alone: nobody else would take them.
  bool redeliver_unclaimed = false;

  // -- network ----------------------------------------------------------------

  /// HTTP CONNECT proxy, e.g. http://user:pass@proxy:3128. Empty: taken from
  /// the environment when `proxy_from_environment` is set: HTTPS_PROXY or
  /// https_proxy for https:// and wss://, http_proxy or HTTP_PROXY for plain
  /// http:// only (as curl: HTTP_PROXY never carries a TLS connection's
  /// tokens).
  std::string proxy;
  /// Hosts that bypass the proxy (NO_PROXY syntax). Empty: from NO_PROXY or
  /// no_proxy when `proxy_from_environment` is set.
  std::string no_proxy;
  bool proxy_from_environment = true;
  /// PEM file with extra CA certificates, trusted besides the system store.
  std::string ca_file;
  /// Limit for resolving, TCP connect, proxy CONNECT and TLS handshake.
  caf::timespan connect_timeout = std::chrono::seconds{10};
  /// Limit for one whole Web API request (the seed's `timeout`).
  caf::timespan request_timeout = std::chrono::seconds{30};
  /// How long an idle Web API connection is kept for the next call (HTTP
  /// keep-alive, no new TCP and TLS handshake); 0: one connection per call.
  caf::timespan api_keep_alive = std::chrono::seconds{30};
  /// Threads of the I/O pool shared by all clients of the process (the first
  /// client that starts the pool decides).
  size_t io_threads = 1;
  /// Appended to the library's own user agent ("caf-rtm/<version>
  /// <suffix>"), e.g. "mybot/1.2": Slack's logs then tell your app apart.
  /// No control characters.
  std::string user_agent_suffix;
  /// Header fields sent with every Web API request (upload URLs included),
  /// e.g. {"X-Request-Source", "mybot"} for a gateway in between. Names are
  /// HTTP tokens, values hold no control characters; names the client sets
  /// itself (Host, Authorization, Content-Type, Content-Length, Connection,
  /// User-Agent, ...) are refused.
  std::vector<std::pair<std::string, std::string>> extra_headers;

  // -- Web API retries --------------------------------------------------------

  /// Transient failures (5xx, network, timeouts) of one Web API call. Delays
  /// at most `max_api_retry_delay` (1 hour). `max_attempts` 0: no cap, a
  /// failing call ends only at its `max_wait` (or at close).
  retry_policy api_retry{std::chrono::milliseconds{250},
                         std::chrono::seconds{8}, 4};
  /// How often one call waits out `Retry-After` before failing.
  uint32_t max_rate_limit_waits = 5;
  /// Web API requests one caller holds at once (at least 1): out, waiting for
  /// a free connection or in a rate-limited method's line (an upload or a
  /// list counts as one, its steps follow one another). Past it a new request
  /// fails at once with `send_queue_full`: posts made faster than Slack takes
  /// them must not pile up in memory without a bound. The calls that bring a
  /// client's connection back (`rtm.connect`, `rtm.start`,
  /// `apps.connections.open`, `auth.test`) have 64 more, so that a backlog of
  /// posts cannot keep a client from reconnecting.
  size_t api_queue_size = 10000;

  // -- Web API lists and uploads ----------------------------------------------

  /// Pages one paged list may have (at least 1): a server that keeps handing
  /// out new cursors ends with `too_many_pages`, never in an endless loop.
  size_t max_pages = 1000;
  /// Largest upload, all its files together, from memory or read from disk
  /// (Slack's own limit is 1 GB a file; the bytes are held in memory while
  /// they go out).
  size_t max_upload_size = size_t{100} * 1024 * 1024;
  /// Largest Web API answer taken (1024 to 1 GiB): a larger one fails its
  /// call with `response_too_large` and is never held in memory whole. Raise
  /// it for big pages (`conversations.history` with `limit=1000`, say).
  size_t max_response_size = size_t{4} * 1024 * 1024;

  // -- sessions ---------------------------------------------------------------

  caf::timespan ping_interval = std::chrono::seconds{5};
  /// How long a pong may take; 0 means `ping_interval`.
  caf::timespan pong_timeout{0};
  ping_mode pings = ping_mode::websocket;
  /// Largest incoming message; a larger one closes the session with 1009.
  size_t max_message_size = size_t{16} * 1024 * 1024;
  /// Limit for the WebSocket handshake plus the server's hello.
  caf::timespan hello_timeout = std::chrono::seconds{30};
  /// How long an orderly close waits for the server's close frame.
  caf::timespan close_timeout = std::chrono::milliseconds{500};

  // -- reconnecting -----------------------------------------------------------

  /// Start a new session when one ends or announces its end (as the seed's
  /// auto_reconnect_enabled).
  bool auto_reconnect = true;
  /// Delays between failed attempts; the first reconnect after a healthy
  /// session is immediate. Delays at most `max_reconnect_delay` (1 day).
  retry_policy reconnect{std::chrono::milliseconds{500},
                         std::chrono::seconds{60}, 0};
  /// A session that ends sooner after hello counts as a failed attempt: the
  /// backoff grows and `reconnect.max_attempts` applies, so a server that
  /// says hello and drops at once cannot cause a reconnect storm.
  caf::timespan healthy_session = std::chrono::seconds{10};

  // -- delivery ---------------------------------------------------------------

  /// Listener actors that run callbacks (the seed's `concurrency`).
  size_t concurrency = 10;
  /// Skip events whose bot_id is the client's own (only when known).
  bool skip_own_events = true;
  /// Events waiting for callbacks before the client stops reading from the
  /// socket (backpressure from slow callbacks).
  size_t callback_backlog = 10000;
  /// How long a listener worker that owes callback or hook calls may finish
  /// none before the client reports it stuck (a callback or hook that does
  /// not return): an `error_event` with `errc::listener_stalled`, once per
  /// stall, and `client_status::listener_stalls`. At least 100 ms.
  caf::timespan listener_stall_timeout = std::chrono::seconds{30};

  // -- sending ----------------------------------------------------------------

  /// Messages waiting to be sent (while reconnecting or rate limited).
  size_t send_queue_size = 1000;
  /// Sustained messages per second (`min_send_rate` to `max_send_rate`: one
  /// per 100 s to a million per second) and burst size of the token bucket.
  double send_rate = 1.0;
  size_t send_burst = 5;
  caf::timespan ack_timeout = std::chrono::seconds{10};
  /// Largest outgoing message (Slack disconnects above 16 KB); at least 1024.
  size_t max_send_size = size_t{16} * 1024;

  // -- diagnostics ------------------------------------------------------------

  /// Where diagnostics go; null: warnings and errors to stderr.
  logger_ptr log;

  /// Set by `from()` when an option's value cannot be stored (negative, or
  /// too large for its field); `validate()` reports it.
  caf::error option_error;

  // -- limits of validate() ---------------------------------------------------

  static constexpr caf::timespan max_api_retry_delay = std::chrono::hours{1};
  static constexpr caf::timespan max_reconnect_delay = std::chrono::hours{24};
  /// Timeouts, intervals and `api_keep_alive`.
  static constexpr caf::timespan max_timeout = std::chrono::hours{24};
  /// Timeouts and intervals that are not 0 for "off" or "the default".
  static constexpr caf::timespan min_timeout = std::chrono::milliseconds{1};
  /// The shortest `listener_stall_timeout`.
  static constexpr caf::timespan min_stall_timeout =
      std::chrono::milliseconds{100};
  /// A `max_wait` (of a send or a Web API call) above this is no limit.
  static constexpr caf::timespan max_wait_limit = std::chrono::hours{24 * 365};
  static constexpr size_t max_response_size_limit = size_t{1} << 30;
  static constexpr size_t max_concurrency = 1024;
  static constexpr size_t max_io_threads = 256;
  static constexpr double min_send_rate = 0.01;
  static constexpr double max_send_rate = 1e6;

  // -- derived values ---------------------------------------------------------

  caf::timespan effective_pong_timeout() const {
    return pong_timeout.count() > 0 ? pong_timeout : ping_interval;
  }

  /// Checks values that cannot work for a client of `kind` (missing token,
  /// bad URL, zero sizes, ...).
  caf::error validate(client_kind kind = client_kind::rtm) const;

  /// Reads the `caf-rtm.*` options of `cfg`; absent options keep the
  /// defaults above.
  static client_config from(const caf::actor_system_config& cfg);
};

/// Checks a token: not empty, no whitespace or control characters inside
/// (a header line must not be split by it).
/// `what` names it in the error.
caf::error check_token(std::string_view token, std::string_view what = "token");

/// `token` without leading and trailing whitespace (a token pasted with a
/// line break, read from a file with one).
std::string trim_token(std::string_view token);

/// Declares the `caf-rtm.*` options (config file and command line), e.g.
/// `--caf-rtm.token=...`. Call from the constructor of your
/// `actor_system_config` with its `custom_options_`.
void add_options(caf::config_option_set& opts);

/// Both of the above.
inline void configure(caf::actor_system_config& cfg,
                      caf::config_option_set& opts) {
  add_options(opts);
  add_message_types(cfg);
}

} // namespace caf::rtm
