// Shared state of the fake Slack: recorded requests, scripted answers, tickets,
// WebSocket session records and Socket Mode envelopes. Free of Asio and Beast
// so that the heavy translation units only add the stream code on top; timers
// come in through the small `scheduler` interface.

#pragma once

#include "caf/rtm/testing/fake_slack.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>

namespace caf::rtm::testing::detail {

using frame_maker = std::function<std::string(std::size_t, int64_t)>;

class server_state;

/// Runs work later on the server's I/O thread (server-wide timers, which
/// outlive any one session: Socket Mode redeliveries).
class scheduler {
public:
  virtual ~scheduler();

  /// Calls `fn` on the I/O thread `delay` from now, unless the server stops
  /// first. Thread-safe.
  virtual void run_after(std::chrono::milliseconds delay,
                         std::function<void()> fn) = 0;
};

/// What a session handle asks of its live connection. Implementations post
/// the work onto the connection's strand and return at once.
class session_control {
public:
  virtual ~session_control();

  /// Queues pre-encoded bytes behind earlier data.
  virtual void post_data(std::string bytes) = 0;
  virtual void post_flood(std::size_t n, frame_maker make) = 0;
  virtual void post_pace(std::size_t n, double per_second,
                         frame_maker make) = 0;
  virtual void post_close(uint16_t code, std::string reason) = 0;
  virtual void post_drop() = 0;
  virtual void post_silent() = 0;
  virtual void post_pause_reading() = 0;
  virtual void post_ignore_close() = 0;
};

/// The `ws_session` handed to tests: recorded data plus weak links to the
/// connection and the server, which may end (or go away) at any time.
class session_record final : public ws_session {
public:
  session_record(std::size_t index, ack_policy policy, bool socket_mode,
                 std::weak_ptr<server_state> server);
  ~session_record() override;

  // -- ws_session -------------------------------------------------------------

  std::size_t index() const override;
  bool socket_mode() const override;
  void send(std::string text) override;
  void send_fragmented(std::string text, std::size_t parts) override;
  void send_binary(std::string bytes) override;
  void send_raw(std::string bytes) override;
  void send_goodbye() override;
  void send_disconnect(std::string reason) override;
  std::string send_envelope(std::string type, std::string payload_json,
                            bool accepts_response_payload) override;
  std::string send_event(std::string event_json) override;
  void flood(std::size_t n,
             std::function<std::string(std::size_t, int64_t)> make) override;
  void pace(std::size_t n, double per_second,
            std::function<std::string(std::size_t, int64_t)> make) override;
  void ack(int64_t id, std::string ts) override;
  void ack_error(int64_t id, int code, std::string msg) override;
  void set_ack_policy(ack_policy policy) override;
  void close(uint16_t code, std::string reason) override;
  void drop() override;
  void go_silent() override;
  void pause_reading() override;
  void ignore_close() override;
  std::vector<std::string> received() const override;
  bool wait_received(std::size_t n, std::chrono::milliseconds timeout) override;
  std::size_t pings_received() const override;
  std::vector<std::string> ping_payloads() const override;
  std::vector<std::string> pongs_received() const override;
  bool ended() const override;
  bool wait_ended(std::chrono::milliseconds timeout) override;
  std::optional<uint16_t> close_code_received() const override;
  std::size_t frames_written() const override;
  bool wait_written(std::chrono::milliseconds timeout) override;

  // -- called by the connection (I/O thread) ----------------------------------

  void attach(std::weak_ptr<session_control> control);
  /// Cuts the link to the connection for good (server shutdown).
  void detach();
  ack_policy policy() const;
  void add_text(std::string text);
  void add_ping(std::string payload);
  void add_pong(std::string payload);
  void set_close_code(uint16_t code);
  void add_written(std::size_t frames);
  void mark_ended();
  /// Remembers the text of a message left for a manual ack.
  void remember_text(int64_t id, std::string text);

private:
  template <class F>
  void with_control(F&& f);

  const std::size_t index_;
  const bool socket_mode_;
  const std::weak_ptr<server_state> server_;

  // Guards only the link; never held while taking `mtx_` from the other side.
  std::mutex link_mtx_;
  std::weak_ptr<session_control> control_;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  ack_policy policy_;
  // Deques: a flood of 200,000 frames must not copy the record as it grows.
  std::deque<std::string> texts_;
  std::vector<std::string> pings_;
  std::vector<std::string> pongs_;
  std::optional<uint16_t> close_code_;
  bool ended_ = false;
  std::size_t written_ = 0;
  std::size_t requested_ = 0;
  std::map<int64_t, std::string> pending_texts_;
};

/// Answers the fake sends for one client text frame.
struct rtm_replies {
  /// Sent at once (RTM pongs).
  std::vector<std::string> now;
  /// Sent after `ack_delay` (echo and ack of a message).
  std::vector<std::string> later;
};

/// The two WebSocket endpoints of the fake.
enum class ws_endpoint {
  /// `/ws/<ticket>`, URLs from `rtm.connect`.
  rtm,
  /// `/link/?ticket=...`, URLs from `apps.connections.open`.
  socket_mode,
};

/// How the server answers one WebSocket handshake.
struct handshake_plan {
  ws_endpoint endpoint = ws_endpoint::rtm;
  /// 101 upgrades; anything else is the HTTP status of a refusal.
  unsigned status = 101;
  /// A refusal's `Retry-After` header (none if empty).
  std::string retry_after;
  /// Set: the answer, byte for byte, instead of a refusal made of the
  /// fields above.
  std::string raw;
  /// RTM only: an upgrade with an invalid ticket gets Slack's error event
  /// and a close frame (Socket Mode refuses those handshakes instead).
  bool ticket_valid = false;
  /// Socket Mode only: the URL asked for a refresh after
  /// `debug_reconnect_interval`.
  bool debug_reconnects = false;
};

/// The outcome of opening a Socket Mode session.
struct socket_mode_admission {
  std::shared_ptr<session_record> rec;
  /// False: over `max_socket_mode_connections`, turn it away.
  bool admitted = false;
  /// For hello: live sessions including this one, plus the ghosts.
  std::size_t num_connections = 0;
};

/// Everything the connections of one fake server share.
class server_state : public std::enable_shared_from_this<server_state> {
public:
  using handler = std::function<http_response(const recorded_request&)>;

  explicit server_state(fake_slack_options opts);

  /// Installs the timer source for redeliveries (before serving starts).
  void set_scheduler(std::shared_ptr<scheduler> sched);

  const fake_slack_options opts;

  /// Host part of every URL the fake hands out.
  std::string host() const;
  /// `http(s)://host:port`, the start of every URL the fake hands out.
  std::string origin() const;
  std::string base_url() const;
  std::string webhook_url(const std::string& name) const;
  uint16_t port() const;
  void set_port(uint16_t port);

  /// Numbers accepted connections from 1 and counts them as open.
  uint64_t connection_opened() noexcept {
    ++open_connections_;
    return ++connections_;
  }

  void connection_closed() noexcept {
    --open_connections_;
  }

  std::size_t open_connections() const noexcept {
    return open_connections_.load();
  }

  // -- Web API ----------------------------------------------------------------

  /// Records `req` (filling in `form`) and picks its answer. Runs `on()`
  /// handlers outside the lock; turns their exceptions into a 500.
  http_response handle_api(recorded_request req);

  void script(const std::string& method, http_response response);
  void on(const std::string& method, handler fn);
  std::vector<recorded_request> requests() const;
  std::vector<recorded_request> requests(const std::string& method) const;
  bool wait_requests(const std::string& method, std::size_t n,
                     std::chrono::milliseconds timeout) const;
  /// The answer without scripts or handlers.
  http_response default_answer(const recorded_request& req) {
    return default_response(req);
  }
  std::vector<recorded_upload> uploads() const;

  // -- WebSocket sessions -----------------------------------------------------

  /// Decides the answer to a handshake on `endpoint`: `ticket` is the path
  /// rest for RTM, `query` the query string for Socket Mode. Uses up the
  /// ticket and counts refusals.
  handshake_plan plan_handshake(ws_endpoint endpoint, const std::string& ticket,
                                const std::string& query);
  void script_handshake(unsigned status, std::string retry_after);
  void script_handshake_raw(std::string bytes);
  std::size_t rejected_handshakes() const;
  /// Opens the record of an RTM session.
  std::shared_ptr<session_record>
  open_session(std::weak_ptr<session_control> control);
  /// Opens the record of a Socket Mode session and, unless there are too
  /// many, makes it live.
  socket_mode_admission
  open_socket_mode_session(std::weak_ptr<session_control> control);
  /// The session with this index closes or ended: no more envelopes for it.
  /// Idempotent.
  void socket_mode_session_gone(std::size_t index);
  ws_session_ptr session(std::size_t index,
                         std::chrono::milliseconds timeout) const;
  std::size_t session_count() const;
  std::size_t open_sessions() const;
  std::vector<std::shared_ptr<session_record>> all_sessions() const;
  /// Detaches every session record from its connection, for good.
  void shut_down();

  /// The answers to one client text frame on RTM session `rec`.
  rtm_replies on_client_text(session_record& rec, const std::string& text);

  // -- Socket Mode ------------------------------------------------------------

  /// Records a client text frame on Socket Mode session `index`, read at
  /// `read_at`, as an ack if it is one.
  void on_socket_mode_text(std::size_t index, const std::string& text,
                           clock_type::time_point read_at);
  /// Sends an envelope on `rec`, or on a random live session if null (then
  /// "" and nothing sent if none is live). Throws `std::invalid_argument`
  /// for a `payload_json` that is not JSON.
  std::string send_envelope(session_record* rec, const std::string& type,
                            const std::string& payload_json,
                            bool accepts_response_payload);
  /// Sends an event on `rec`, or on a random live session if null (then
  /// waiting for a redelivery deadline if none is live); returns its id.
  std::string send_event(session_record* rec, const std::string& event_json);
  std::vector<recorded_ack> acks() const;
  bool wait_acks(std::size_t n, std::chrono::milliseconds timeout) const;
  std::vector<sent_envelope> envelopes() const;
  std::size_t live_socket_mode_sessions() const;
  /// The hello of a Socket Mode session.
  std::string socket_mode_hello(std::size_t num_connections) const;

private:
  /// An `events_api` envelope the fake redelivers until acked.
  struct tracked_event {
    std::string type;
    std::string event_id;
    /// Compact JSON, the same for every attempt.
    std::string payload;
    bool accepts_response_payload = false;
    /// `retry_attempt` of the next delivery.
    uint32_t next_attempt = 0;
    /// Every envelope id it went out with (an ack of any of them counts).
    std::vector<std::string> envelope_ids;
  };

  http_response default_response(const recorded_request& req);
  http_response connections_open(const recorded_request& req);
  http_response conversations_list(const recorded_request& req);
  http_response get_upload_url(const recorded_request& req);
  http_response receive_upload(const recorded_request& req);
  http_response receive_webhook(const recorded_request& req);
  http_response complete_upload(const recorded_request& req);
  /// `oauth.v2.access` with a refresh token (token rotation).
  http_response refresh_token(const recorded_request& req);
  /// Whether `token` is one a refresh handed out: `token_expired` once its
  /// time is over, else nothing (accepted).
  std::optional<http_response> check_rotated(const std::string& token);
  /// Slack's answers to chat.postMessage, postEphemeral, update and delete,
  /// and to views.open, push, update and publish; nothing for other methods.
  std::optional<http_response> chat_write(const recorded_request& req);
  std::optional<http_response> views_write(const recorded_request& req);
  std::string next_ts();
  /// A random live Socket Mode session (nullptr if none); needs `mtx_`.
  std::shared_ptr<session_record> pick_live_locked();
  /// Records one delivery of `ev` on `rec` and returns the frame text;
  /// needs `mtx_`.
  std::string deliver_locked(uint64_t key, tracked_event& ev,
                             session_record& rec);
  /// Starts tracking `ev`; delivers it at once on `rec` (frame text in
  /// `frame`) unless `rec` is null. Needs `mtx_`.
  void track_locked(tracked_event ev, session_record* rec, std::string& frame);
  /// Schedules the check of event `key` after `redelivery_delays[k]`.
  void schedule_redelivery_locked(uint64_t key, std::size_t k);
  void on_redelivery_deadline(uint64_t key, std::size_t k);
  void forget_event_locked(uint64_t key);

  std::atomic<uint64_t> connections_{0};
  std::atomic<std::size_t> open_connections_{0};

  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  uint16_t port_ = 0;
  bool shut_down_ = false;
  std::vector<recorded_request> requests_;
  std::map<std::string, std::deque<http_response>> scripts_;
  std::map<std::string, handler> handlers_;
  std::map<std::string, clock_type::time_point> tickets_;
  std::vector<std::shared_ptr<session_record>> sessions_;
  uint64_t ts_counter_ = 0;
  std::vector<recorded_upload> uploads_;
  /// Upload URL ticket -> index in `uploads_`.
  std::map<std::string, std::size_t> upload_tickets_;
  /// Posts Slack took per webhook path.
  std::map<std::string, std::size_t> webhook_posts_;
  /// Token rotation: the refresh token accepted next (empty: the options'),
  /// the refreshes so far, and every token they handed out with its expiry.
  std::string refresh_token_;
  uint64_t refreshes_ = 0;
  std::map<std::string, clock_type::time_point> rotated_tokens_;

  // Socket Mode
  std::shared_ptr<scheduler> scheduler_;
  std::map<std::string, clock_type::time_point> app_tickets_;
  /// Scripted refusals: status and Retry-After.
  std::deque<handshake_plan> handshake_scripts_;
  std::size_t rejected_handshakes_ = 0;
  /// Indices of the live Socket Mode sessions.
  std::set<std::size_t> live_socket_mode_;
  std::mt19937 rng_;
  uint64_t event_counter_ = 0;
  uint64_t next_event_key_ = 0;
  std::map<uint64_t, tracked_event> events_;
  /// Envelope id -> key in `events_`, for the events still tracked.
  std::map<std::string, uint64_t> envelope_events_;
  std::deque<recorded_ack> acks_;
  std::vector<sent_envelope> envelopes_;
};

/// One accepted TCP connection as the server counts it: numbered at accept,
/// open until the slot is destroyed. Moves from the HTTP session to the
/// WebSocket peer together with the stream, so that an upgrade neither ends
/// nor recounts the connection.
class connection_slot {
public:
  explicit connection_slot(std::shared_ptr<server_state> state)
      : state_(std::move(state)), id_(state_->connection_opened()) {
    // nop
  }

  connection_slot(connection_slot&& other) noexcept
      : state_(std::move(other.state_)), id_(other.id_) {
    // nop
  }

  connection_slot& operator=(connection_slot&&) = delete;

  ~connection_slot() {
    if (state_)
      state_->connection_closed();
  }

  server_state& state() const noexcept {
    return *state_;
  }

  uint64_t id() const noexcept {
    return id_;
  }

private:
  std::shared_ptr<server_state> state_;
  uint64_t id_;
};

/// Decodes an application/x-www-form-urlencoded body (`+` is a space);
/// malformed input yields no fields.
std::map<std::string, std::string> parse_form(const std::string& body);

/// The JSON texts the fake sends, escaped properly.
std::string ack_ok_json(int64_t id, const std::string& ts,
                        const std::optional<std::string>& text);
std::string ack_error_json(int64_t id, int code, const std::string& msg);
std::string disconnect_json(const std::string& reason);

} // namespace caf::rtm::testing::detail
