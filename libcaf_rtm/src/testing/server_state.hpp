// Shared state of the fake Slack: recorded requests, scripted answers, tickets
// and WebSocket session records. Free of Asio and Beast so that the heavy
// translation units only add the stream code on top.

#pragma once

#include "caf/rtm/testing/fake_slack.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

namespace caf::rtm::testing::detail {

using frame_maker = std::function<std::string(std::size_t, int64_t)>;

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
};

/// The `ws_session` handed to tests: recorded data plus a weak link to the
/// connection, which may end (or whose server may go away) at any time.
class session_record final : public ws_session {
public:
  session_record(std::size_t index, ack_policy policy);
  ~session_record() override;

  // -- ws_session ------------------------------------------------------------

  std::size_t index() const override;
  void send(std::string text) override;
  void send_fragmented(std::string text, std::size_t parts) override;
  void send_binary(std::string bytes) override;
  void send_raw(std::string bytes) override;
  void send_goodbye() override;
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
  std::vector<std::string> received() const override;
  bool wait_received(std::size_t n, std::chrono::milliseconds timeout) override;
  std::size_t pings_received() const override;
  std::vector<std::string> pongs_received() const override;
  bool ended() const override;
  bool wait_ended(std::chrono::milliseconds timeout) override;
  std::optional<uint16_t> close_code_received() const override;
  std::size_t frames_written() const override;
  bool wait_written(std::chrono::milliseconds timeout) override;

  // -- called by the connection (I/O thread) ---------------------------------

  void attach(std::weak_ptr<session_control> control);
  /// Cuts the link to the connection for good (server shutdown).
  void detach();
  ack_policy policy() const;
  void add_text(std::string text);
  void add_ping();
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

  // Guards only the link; never held while taking `mtx_` from the other side.
  std::mutex link_mtx_;
  std::weak_ptr<session_control> control_;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  ack_policy policy_;
  std::vector<std::string> texts_;
  std::size_t pings_ = 0;
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

/// Everything the connections of one fake server share.
class server_state {
public:
  using handler = std::function<http_response(const recorded_request&)>;

  explicit server_state(fake_slack_options opts);

  const fake_slack_options opts;

  /// Host part of every URL the fake hands out.
  std::string host() const;
  std::string base_url() const;
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

  // -- Web API ---------------------------------------------------------------

  /// Records `req` (filling in `form`) and picks its answer. Runs `on()`
  /// handlers outside the lock; turns their exceptions into a 500.
  http_response handle_api(recorded_request req);

  void script(const std::string& method, http_response response);
  void on(const std::string& method, handler fn);
  std::vector<recorded_request> requests() const;
  std::vector<recorded_request> requests(const std::string& method) const;
  bool wait_requests(const std::string& method, std::size_t n,
                     std::chrono::milliseconds timeout) const;

  // -- WebSocket sessions ----------------------------------------------------

  /// True if `ticket` was issued, is unused and not expired; uses it up.
  bool redeem_ticket(const std::string& ticket);
  std::shared_ptr<session_record>
  open_session(std::weak_ptr<session_control> control);
  ws_session_ptr session(std::size_t index,
                         std::chrono::milliseconds timeout) const;
  std::size_t session_count() const;
  std::size_t open_sessions() const;
  std::vector<std::shared_ptr<session_record>> all_sessions() const;
  /// Detaches every session record from its connection, for good.
  void shut_down();

  /// The answers to one client text frame on session `rec`.
  rtm_replies on_client_text(session_record& rec, const std::string& text);

private:
  http_response default_response(const recorded_request& req);
  std::string next_ts();

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
};

/// Decodes an application/x-www-form-urlencoded body (`+` is a space);
/// malformed input yields no fields.
std::map<std::string, std::string> parse_form(const std::string& body);

/// The JSON texts the fake sends, escaped properly.
std::string ack_ok_json(int64_t id, const std::string& ts,
                        const std::optional<std::string>& text);
std::string ack_error_json(int64_t id, int code, const std::string& msg);

} // namespace caf::rtm::testing::detail
