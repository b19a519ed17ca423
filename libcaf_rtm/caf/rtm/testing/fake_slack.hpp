// A Slack-compatible fake server for tests, the demo and benchmarks.
//
// One loopback port serves Slack's Web API (`POST /api/<method>`), upload URLs
// (`POST /upload/v1/<ticket>`, from `files.getUploadURLExternal`), response
// URLs and incoming webhooks (`POST /hooks/<name>`, see `webhook_url`), the RTM
// WebSocket endpoint (`GET /ws/<ticket>` with an upgrade) and the Socket Mode
// endpoint (`GET /link/?ticket=...`, URLs from `apps.connections.open`), over
// plain TCP or TLS with a certificate generated at start-up. The server runs
// on its own I/O thread; every public member function is thread-safe and may
// be called from a test's thread while clients talk to the server.
//
// WebSocket frames are written by the fake itself (not by a WebSocket library)
// so that tests can send what a real library refuses to produce: fragmented,
// masked, oversized or malformed frames, and floods of pre-encoded frames.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caf::rtm::testing {

using clock_type = std::chrono::steady_clock;

/// A scripted answer to one Web API call.
struct http_response {
  unsigned status = 200;
  /// Extra response headers, e.g. {"Retry-After", "2"}.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Response body; `content_type` defaults to JSON.
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  /// Waits this long before answering (slow responses, client timeouts).
  std::chrono::milliseconds delay{0};
  /// Closes the TCP connection instead of answering.
  bool drop_connection = false;
  /// Answers as if the connection stayed open for the next request, then
  /// closes it (a server closing an idle keep-alive connection).
  bool close_after = false;
  /// Set: these bytes go out as they are instead of an answer made of the
  /// fields above (status line and headers included: interim answers,
  /// broken framing), and the connection ends after them.
  std::string raw{};

  /// `{"ok":true, ...fields}` with status 200.
  static http_response ok(const std::string& json_fields = "");
  /// `{"ok":false,"error":"<code>"}` with status 200.
  static http_response error(const std::string& code);
  /// Status 429 with `Retry-After: <retry_after>` (omitted when empty).
  static http_response rate_limited(std::string retry_after);
  /// A plain-text answer, as webhooks, upload URLs and failing servers give.
  static http_response text(unsigned status, std::string body);
};

/// The method name under which requests to upload URLs are recorded, and
/// can be scripted (`script`, `on`).
inline const std::string upload_method = "upload";

/// The method name under which POSTs to webhook URLs (`fake_slack::
/// webhook_url`) are recorded, and can be scripted.
inline const std::string webhook_method = "webhook";

/// One request the fake received on its Web API.
struct recorded_request {
  /// Slack method name, e.g. "auth.test" (the path after `/api/`), or
  /// `upload_method` for a request to an upload URL, `webhook_method` for one
  /// to a webhook URL.
  std::string method;
  std::string http_method;
  std::string target;
  /// Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;
  /// The form-decoded body (application/x-www-form-urlencoded).
  std::map<std::string, std::string> form;
  clock_type::time_point received_at;
  bool tls = false;
  /// The TCP connection that carried it, numbered from 1 in accept order
  /// (requests with the same number shared one connection).
  uint64_t connection = 0;
};

/// How a WebSocket session answers client messages that carry an `id`
/// (everything but pings, which are answered as long as the session is not
/// silent).
enum class ack_policy {
  /// `{"ok":true,"reply_to":ID,"ts":"<generated>","text":<echoed text>}`.
  ok,
  /// `{"ok":false,"reply_to":ID,"error":{"code":2,"msg":"message text is
  /// missing"}}`.
  error,
  /// No answer; the test acks by hand with `ws_session::ack` (any order).
  manual,
};

/// A further workspace the app is installed in (see
/// `fake_slack_options::workspaces`).
struct fake_workspace {
  std::string team_id;
  /// Its installation's bot token: accepted like `fake_slack_options::token`.
  std::string token;
  /// What auth.test answers for the token.
  std::string user_id;
  std::string bot_id;
};

struct fake_slack_options {
  bool tls = false;
  /// Host names and IP addresses the generated certificate is valid for.
  std::vector<std::string> cert_names = {"localhost", "127.0.0.1"};
  /// The token the fake accepts (besides those a refresh hands out, see
  /// `refresh_token`); other tokens get `invalid_auth`.
  std::string token = "xoxb-test-token";
  /// Token rotation: `oauth.v2.access` with `grant_type=refresh_token`,
  /// these credentials and the newest refresh token (at first this one)
  /// answers as Slack does, with a new token `xoxe.xoxb-1-rotated-<n>` and
  /// refresh token `xoxe-1-refresh-<n>` (n = 1, 2, ...) and `expires_in`
  /// (`rotated_token_ttl` in whole seconds, at least 1). The refresh token
  /// used is spent (`invalid_refresh_token` from then on); a rotated token
  /// gets `token_expired` once `rotated_token_ttl` is over. Wrong credentials
  /// get `invalid_client_id` or `bad_client_secret`.
  std::string client_id = "1234.5678";
  std::string client_secret = "test-client-secret";
  std::string refresh_token = "xoxe-1-test-refresh";
  std::chrono::milliseconds rotated_token_ttl{std::chrono::hours{12}};
  /// The `expires_in` a refresh reports; 0: `rotated_token_ttl`'s. A token
  /// that ends before the client expects it to: as one Slack revoked.
  std::chrono::seconds rotated_expires_in{0};
  /// Identity returned by `auth.test` and `rtm.connect`. An empty `bot_id` is
  /// a user token: `auth.test` then carries no `bot_id` field.
  std::string user_id = "U0BOT";
  std::string user_name = "testbot";
  std::string bot_id = "B0BOT";
  std::string team_id = "T0TEAM";
  std::string team_name = "Test Team";
  std::string team_domain = "testteam";
  /// Further workspaces of the app (`client_config::team_tokens`): their
  /// tokens are accepted too, and auth.test answers with their identity.
  std::vector<fake_workspace> workspaces;
  /// Sends `{"type":"hello"}` as soon as a WebSocket session opens.
  bool send_hello = true;
  /// A `rtm.connect` URL is single-use and expires after this long; a session
  /// opened with a used or expired URL gets the Slack error event
  /// `{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}`
  /// followed by a close frame.
  std::chrono::milliseconds url_ttl{30000};
  ack_policy acks = ack_policy::ok;
  /// Delay before each automatic ack.
  std::chrono::milliseconds ack_delay{0};
  /// Before acking, echo each client `message` back as an event that carries
  /// `reply_to` but no `ok` (as real Slack sometimes does).
  bool echo_messages = false;

  // -- Socket Mode ------------------------------------------------------------

  /// The only app-level token `apps.connections.open` accepts, and only in
  /// `Authorization: Bearer`. Other `xapp-` tokens get `invalid_auth`, tokens
  /// of another kind (e.g. `token`) `not_allowed_token_type`, no token
  /// `not_authed`.
  std::string app_token = "xapp-1-test-token";
  /// Reported in ticket URLs, hello frames and event payloads.
  std::string app_id = "A0APP";
  /// Seconds until Slack would refresh a connection, reported in hello.
  int approximate_connection_time = 18060;
  /// Added to `num_connections` in every Socket Mode hello: half-open sockets
  /// Slack still counts for the app. They do not count against
  /// `max_socket_mode_connections`.
  std::size_t ghost_connections = 0;
  /// A Socket Mode session opened while this many are live gets
  /// `{"type":"disconnect","reason":"too_many_websockets",...}` instead of
  /// hello, then its TCP connection ends without a close frame (the client
  /// sees close code 1006).
  std::size_t max_socket_mode_connections = 10;
  /// An `events_api` envelope not acked within `redelivery_delays[k]` after
  /// delivery attempt k goes out again as attempt k + 1 (new envelope id,
  /// same payload, `"retry_attempt":k+1,"retry_reason":"timeout"`) on a
  /// randomly chosen live Socket Mode session; no more attempts after the
  /// last delay. An ack of any envelope id of the event stops the retries.
  /// An event that finds no live session is delivered (as attempt 1) at the
  /// first deadline that finds one. Empty: no redelivery.
  std::vector<std::chrono::milliseconds> redelivery_delays = {
      std::chrono::milliseconds{3000}, std::chrono::milliseconds{60000},
      std::chrono::milliseconds{300000}};
  /// Seeds the random choice of session for server-level sends and
  /// redeliveries: the same seed makes the same choices.
  uint32_t seed = 1;
  /// A session whose ticket URL carries `debug_reconnects=true` gets
  /// `{"type":"disconnect","reason":"refresh_requested",...}` this long after
  /// it opened.
  std::chrono::milliseconds debug_reconnect_interval{360000};
  /// When positive, Socket Mode sessions get a WebSocket ping at this
  /// interval, with payloads "1", "2", ... (the client's pongs show in
  /// `ws_session::pongs_received`).
  std::chrono::milliseconds server_ping_interval{0};

  // -- Web API lists and files ------------------------------------------------

  /// Channels `conversations.list` pages through: ids C0000001, C0000002,
  /// ..., names channel-1, channel-2, ... Pages hold `limit` channels (form
  /// or JSON argument; default 100, at most 1000); `next_cursor` is empty on
  /// the last page, and an unknown `cursor` gets `invalid_cursor`.
  std::size_t conversation_count = 5;
};

/// One file announced by `files.getUploadURLExternal` (which answers with a
/// file id F1, F2, ... and a single-use upload URL on the fake), its bytes
/// POSTed to that URL (answered `200 OK - <size>` as Slack does, any token
/// or none), and `files.completeUploadExternal` (`files` as a JSON array of
/// `{"id","title"}`, as a form field or in a JSON body; `file_not_found` for
/// an id without uploaded bytes).
struct recorded_upload {
  std::string file_id;
  /// As `files.getUploadURLExternal` announced them.
  std::string filename;
  std::size_t length = 0;
  /// `alt_txt` and `snippet_type`, if given.
  std::string alt_text;
  std::string snippet_type;
  /// The bytes of the latest POST to the upload URL.
  std::string bytes;
  /// POSTs to the upload URL.
  std::size_t posts = 0;
  /// Set by `files.completeUploadExternal`.
  bool completed = false;
  std::string title;
  std::string channel_id;
  std::string thread_ts;
  std::string initial_comment;
  /// The message's blocks as sent (a JSON array as text), if any.
  std::string blocks;
};

/// One Socket Mode acknowledgement: a text frame from the client that is a
/// JSON object with a string `envelope_id` (whether or not the fake sent an
/// envelope with that id).
struct recorded_ack {
  std::string envelope_id;
  /// The ack's `payload` as compact JSON text, if it had one.
  std::optional<std::string> payload;
  /// The whole frame as received.
  std::string raw;
  /// Index of the `ws_session` it came on.
  std::size_t session = 0;
  clock_type::time_point received_at;
};

/// One Socket Mode envelope the fake sent (or tried to: a session may have
/// ended or gone silent meanwhile).
struct sent_envelope {
  std::string envelope_id;
  /// `events_api`, `slash_commands`, `interactive`, ...
  std::string type;
  /// The payload's `event_id` (`events_api` only, else empty).
  std::string event_id;
  /// 0 for the first delivery, k for the k-th redelivery.
  uint32_t retry_attempt = 0;
  /// Index of the `ws_session` it went to.
  std::size_t session = 0;
  clock_type::time_point sent_at;
};

class fake_slack;

/// One WebSocket session on the fake server, RTM or Socket Mode. Handles stay
/// valid after the session ends (calls on an ended session send nothing).
class ws_session {
public:
  virtual ~ws_session();

  /// Zero-based index of this session on its server (order of opening).
  virtual std::size_t index() const = 0;
  /// True for a session opened on the Socket Mode endpoint. Such a session
  /// records acks (`fake_slack::acks`) and does not answer RTM messages (RTM
  /// JSON pings included; WebSocket pings get their pong as everywhere).
  virtual bool socket_mode() const = 0;

  // -- sending ----------------------------------------------------------------

  /// Sends one text frame.
  virtual void send(std::string text) = 0;
  /// Sends `text` as a text frame followed by `parts - 1` continuation frames.
  virtual void send_fragmented(std::string text, std::size_t parts) = 0;
  /// Sends one binary frame.
  virtual void send_binary(std::string bytes) = 0;
  /// Writes bytes to the stream as they are (malformed or masked frames,
  /// headers announcing huge payloads, ...).
  virtual void send_raw(std::string bytes) = 0;
  /// Sends `{"type":"goodbye"}`.
  virtual void send_goodbye() = 0;
  /// Sends `{"type":"disconnect","reason":<reason>,"debug_info":{...}}`
  /// (Socket Mode's `warning`, `refresh_requested`, `link_disabled`, ...).
  virtual void send_disconnect(std::string reason) = 0;
  /// Sends `{"envelope_id":<new id>,"type":<type>,"payload":<payload_json>,
  /// "accepts_response_payload":<accepts_response_payload>}` and returns the
  /// envelope id. An `events_api` envelope also carries `retry_attempt` 0 and
  /// an empty `retry_reason` and is redelivered until acked (see
  /// `fake_slack_options::redelivery_delays`). On a session that ended the
  /// envelope is still recorded as sent (a delivery that got lost), so an
  /// `events_api` one comes again on a live session. Throws
  /// `std::invalid_argument` if `payload_json` is not JSON.
  virtual std::string send_envelope(std::string type, std::string payload_json,
                                    bool accepts_response_payload) = 0;
  /// Sends an `events_api` envelope (`accepts_response_payload` false) with
  /// the payload `{"token":"x","team_id":<team_id>,"api_app_id":<app_id>,
  /// "event":<event_json>,"type":"event_callback","event_id":"Ev<n>",
  /// "event_time":<now, in s>}` and returns the new `event_id`. Redelivered
  /// until acked, as `send_envelope`. Throws `std::invalid_argument` if
  /// `event_json` is not JSON.
  virtual std::string send_event(std::string event_json) = 0;
  /// Writes `n` text frames as fast as the socket takes them. Frames are
  /// encoded in chunks right before each write; `make(i, now_ns)` gives the
  /// text of frame i, `now_ns` being `steady_clock` nanoseconds at encoding.
  virtual void flood(std::size_t n,
                     std::function<std::string(std::size_t, int64_t)> make) = 0;
  /// Writes `n` text frames at `per_second` frames per second, each encoded
  /// right before it is written.
  virtual void pace(std::size_t n, double per_second,
                    std::function<std::string(std::size_t, int64_t)> make) = 0;
  /// Acks client message `id` by hand (for `ack_policy::manual`).
  virtual void ack(int64_t id, std::string ts) = 0;
  /// Answers client message `id` with an error by hand.
  virtual void ack_error(int64_t id, int code, std::string msg) = 0;
  /// Changes how this session acks from now on.
  virtual void set_ack_policy(ack_policy policy) = 0;

  // -- ending -----------------------------------------------------------------

  /// Sends a close frame, waits (up to 2 s) for the client's, then closes TCP.
  virtual void close(uint16_t code = 1000, std::string reason = "") = 0;
  /// Closes TCP at once, without a close frame (an abrupt drop).
  virtual void drop() = 0;
  /// Stops answering pings and sending anything; keeps the socket open.
  virtual void go_silent() = 0;
  /// Stops reading from the socket: what the client writes piles up in the
  /// kernel's buffers and then in the client's own queue.
  virtual void pause_reading() = 0;
  /// From now on a close frame from the client is recorded
  /// (`close_code_received`) but not answered, and the TCP connection stays
  /// open until the client ends it (a TLS close_notify does not end it
  /// either): a server that never finishes the close handshake.
  virtual void ignore_close() = 0;

  // -- observing --------------------------------------------------------------

  /// Text frames received from the client, in order.
  virtual std::vector<std::string> received() const = 0;
  /// Waits until at least `n` text frames arrived; false on timeout.
  virtual bool wait_received(std::size_t n,
                             std::chrono::milliseconds timeout) = 0;
  /// WebSocket ping frames received from the client.
  virtual std::size_t pings_received() const = 0;
  /// Their payloads, in order.
  virtual std::vector<std::string> ping_payloads() const = 0;
  /// Payloads of the WebSocket pong frames received from the client (answers
  /// to pings sent with `send_raw(encode_frame(0x9, payload))`).
  virtual std::vector<std::string> pongs_received() const = 0;
  /// True once the TCP connection is gone.
  virtual bool ended() const = 0;
  /// Waits until the TCP connection is gone; false on timeout.
  virtual bool wait_ended(std::chrono::milliseconds timeout) = 0;
  /// The close code the client sent, if it sent a close frame.
  virtual std::optional<uint16_t> close_code_received() const = 0;
  /// Frames written by `flood`/`pace` so far.
  virtual std::size_t frames_written() const = 0;
  /// Waits until `flood` or `pace` wrote all its frames; false on timeout.
  virtual bool wait_written(std::chrono::milliseconds timeout) = 0;
};

using ws_session_ptr = std::shared_ptr<ws_session>;

/// The fake server. Starts listening on 127.0.0.1 (an ephemeral port) in the
/// constructor and stops in the destructor, ending every session.
class fake_slack {
public:
  explicit fake_slack(fake_slack_options options = {});
  ~fake_slack();

  fake_slack(const fake_slack&) = delete;
  fake_slack& operator=(const fake_slack&) = delete;

  const fake_slack_options& options() const;
  uint16_t port() const;
  /// `http://127.0.0.1:<port>/api/` or `https://127.0.0.1:<port>/api/`.
  std::string base_url() const;
  /// PEM of the CA that signed the server certificate (TLS only).
  std::string ca_pem() const;
  /// A file holding `ca_pem()`, removed by the destructor (TLS only).
  std::string ca_file() const;

  // -- Web API ----------------------------------------------------------------

  /// Queues a one-shot answer for the next call of `method`; queued answers
  /// are used in order before the default handling resumes.
  void script(const std::string& method, http_response response);
  /// Replaces the default handling of `method` (called on the I/O thread).
  void on(const std::string& method,
          std::function<http_response(const recorded_request&)> handler);
  /// Every Web API request so far, in order of arrival.
  std::vector<recorded_request> requests() const;
  /// Web API requests for `method` so far.
  std::vector<recorded_request> requests(const std::string& method) const;
  /// Waits until `n` requests for `method` arrived; false on timeout.
  bool wait_requests(const std::string& method, std::size_t n,
                     std::chrono::milliseconds timeout) const;
  /// The answer the fake gives `req` without scripts or handlers: lets an
  /// `on()` handler change some answers and leave the rest as they were.
  http_response default_answer(const recorded_request& req);
  /// Every file announced by `files.getUploadURLExternal`, in order.
  std::vector<recorded_upload> uploads() const;
  /// A response_url or incoming webhook URL on the fake,
  /// `http(s)://127.0.0.1:<port>/hooks/<name>`. Answers as Slack does, in
  /// plain text: `ok`; 400 `invalid_payload` for a body that is no JSON
  /// object, 400 `no_text` without `text`, `blocks` or `delete_original`;
  /// 404 `used_url` after five posts to the same URL (a response_url's
  /// limit).
  std::string webhook_url(const std::string& name) const;

  // -- WebSocket sessions -----------------------------------------------------

  /// Answers the next WebSocket handshake (RTM or Socket Mode) with HTTP
  /// `status` (e.g. 408, 409, 429, 503) instead of 101, with a
  /// `Retry-After: <retry_after>` header unless it is empty; its ticket is
  /// used up. One handshake per call, in order.
  void script_handshake(unsigned status, std::string retry_after = "");
  /// Answers the next WebSocket handshake with `bytes` as they are (odd or
  /// endless HTTP), then ends the connection; its ticket is used up.
  void script_handshake_raw(std::string bytes);
  /// Handshakes answered with something else than 101: scripted ones and
  /// Socket Mode tickets that were used, expired or unknown (HTTP 401).
  std::size_t rejected_handshakes() const;
  /// Waits for the session with this index (0 = first ever opened); nullptr
  /// on timeout.
  ws_session_ptr session(std::size_t index,
                         std::chrono::milliseconds timeout) const;
  /// Sessions opened so far.
  std::size_t session_count() const;
  /// Sessions whose TCP connection is still open.
  std::size_t open_sessions() const;
  /// TCP connections open right now, Web API and WebSocket alike.
  std::size_t open_connections() const;
  /// Ends every session at once with `drop()` semantics.
  void drop_all();

  // -- Socket Mode ------------------------------------------------------------

  /// Sends an event as `ws_session::send_event` does, on a randomly chosen
  /// live Socket Mode session, and returns its `event_id`. With no live
  /// session the event waits for the first redelivery deadline that finds
  /// one (and is lost if `redelivery_delays` is empty).
  std::string send_event(const std::string& event_json);
  /// Sends an envelope as `ws_session::send_envelope` does, on a randomly
  /// chosen live Socket Mode session; returns the envelope id, or "" if no
  /// session is live (nothing is sent).
  std::string send_envelope(const std::string& type,
                            const std::string& payload_json,
                            bool accepts_response_payload);
  /// What a user does, as Slack sends it (on a random live session, as
  /// `send_envelope`; each returns the envelope id, or "" if no session is
  /// live). Payloads carry the options' team, app and bot, a new
  /// `trigger_id` and, but for modals and shortcuts, a `response_url` on the
  /// fake (`webhook_url("commands-<hex>")`, `"actions-<hex>"`).
  ///
  /// A `slash_commands` envelope for `command` ("/deploy") with `text`, the
  /// fields of the form Slack posts for it; it accepts a response payload.
  std::string send_slash_command(const std::string& command,
                                 const std::string& text,
                                 const std::string& user_id = "U1",
                                 const std::string& channel_id = "C1");
  /// An `interactive` envelope of a `block_actions` payload: `user_id`
  /// clicked the button `action_id` (carrying `value`) of the bot's message
  /// `message_ts` in `channel_id`.
  std::string send_block_action(const std::string& action_id,
                                const std::string& value,
                                const std::string& user_id = "U1",
                                const std::string& channel_id = "C1",
                                const std::string& message_ts = "1.000100");
  /// An `interactive` envelope of a `view_submission`: `user_id` submitted
  /// the modal `callback_id` whose `state.values` are `values_json` (block
  /// id -> action id -> the element's state, as Slack writes it:
  /// `{"type":"plain_text_input","value":"..."}`, `{"type":"static_select",
  /// "selected_option":{...}}`); it accepts a response payload
  /// (`response_action`). Throws `std::invalid_argument` if `values_json` is
  /// no JSON object.
  std::string send_view_submission(const std::string& callback_id,
                                   const std::string& values_json,
                                   const std::string& private_metadata = "",
                                   const std::string& user_id = "U1");
  /// An `interactive` envelope of a global `shortcut` with `callback_id`.
  std::string send_shortcut(const std::string& callback_id,
                            const std::string& user_id = "U1");
  /// Every ack received so far, in order of arrival.
  std::vector<recorded_ack> acks() const;
  /// Waits until at least `n` acks arrived; false on timeout.
  bool wait_acks(std::size_t n, std::chrono::milliseconds timeout) const;
  /// Every envelope sent so far (explicit sends and redeliveries), in order.
  std::vector<sent_envelope> envelopes() const;
  /// Socket Mode sessions admitted (not turned away as too many) that are
  /// neither closing nor gone: the ones envelopes go to. A silent session
  /// still counts, as Slack cannot tell a dead peer from a quiet one.
  std::size_t live_socket_mode_sessions() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// A minimal HTTP CONNECT proxy on 127.0.0.1 for tests: tunnels bytes to the
/// requested host:port and records every CONNECT request.
class connect_proxy {
public:
  /// With non-empty `user`, requires `Proxy-Authorization: Basic` with
  /// `user:password` and answers 407 otherwise.
  explicit connect_proxy(std::string user = "", std::string password = "");
  ~connect_proxy();

  connect_proxy(const connect_proxy&) = delete;
  connect_proxy& operator=(const connect_proxy&) = delete;

  uint16_t port() const;
  /// `http://127.0.0.1:<port>` (with `user:password@` when required).
  std::string url() const;
  /// The `host:port` of every CONNECT request, in order.
  std::vector<std::string> targets() const;
  /// The `Proxy-Authorization` header of every CONNECT request ("" if none).
  std::vector<std::string> authorizations() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// Encodes one server-to-client WebSocket frame (RFC 6455 section 5.2):
/// `opcode` 0x0 continuation, 0x1 text, 0x2 binary, 0x8 close, 0x9 ping,
/// 0xA pong. `mask` produces a masked frame, which servers must not send.
std::string encode_frame(uint8_t opcode, const std::string& payload,
                         bool fin = true, bool mask = false);

} // namespace caf::rtm::testing
