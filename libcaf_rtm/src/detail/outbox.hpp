// The RTM send pipeline of one client, as a plain class: the queue of messages
// waiting for a session or for the rate limiter, their ids, the acks they wait
// for (also across a session that died), messages a connection could not
// write, typing indicators and user pings.
//
// It does no I/O and reads no clock: the router passes the time in, hands it
// a writer for the current session, and arms one timer for `next_wakeup()`.
// That keeps every rule here testable without sockets or actors.

#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/json/object.hpp>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/event.hpp"
#include "caf/rtm/messages.hpp"
#include "detail/token_bucket.hpp"

namespace caf::rtm::detail {

class outbox {
public:
  using clock_type = std::chrono::steady_clock;
  using time_point = clock_type::time_point;

  /// Receives Slack's ack of a message, or why there is none.
  using send_handler = std::function<void(caf::expected<send_ack>)>;

  /// Receives the round-trip time of a user ping, or why there is none.
  using ping_handler = std::function<void(caf::expected<caf::timespan>)>;

  /// Writes message `id` as one text frame on the current session.
  using writer = std::function<void(int64_t id, std::string frame)>;

  struct limits {
    /// Sustained messages per second and burst of the rate limiter.
    double rate = 1.0;
    size_t burst = 5;
    /// Messages waiting to be sent at most.
    size_t queue_size = 1000;
    /// Largest message in bytes, id included.
    size_t max_message_size = size_t{16} * 1024;
    caf::timespan ack_timeout = std::chrono::seconds{10};
  };

  /// Counters for the client's status.
  struct counters {
    uint64_t sent = 0;
    uint64_t acked = 0;
    uint64_t failed = 0;
  };

  outbox(limits lim, time_point now);

  // -- commands ---------------------------------------------------------------

  /// Queues a message (it goes out at once when a session is up and the rate
  /// limiter allows). Returns why the message cannot be sent at all; `done`
  /// is not called then. A message not written by `deadline` (if any) fails
  /// with `send_expired` and is never written.
  caf::error enqueue(boost::json::object msg, send_handler done, time_point now,
                     std::optional<time_point> deadline = std::nullopt);

  /// Queues a message Slack does not ack (custom types; `presence_sub` goes
  /// through `enqueue_standing`):
  /// `done` runs once it is handed to the connection, with only the id set. A
  /// message the connection hands back unwritten goes out on the next session
  /// like any other; nothing waits for an ack.
  caf::error enqueue_unacked(boost::json::object msg, send_handler done,
                             time_point now);

  /// Queues the client's own statement of a standing request that it makes
  /// again at every hello, after `session_up` (`presence_sub`), without an
  /// ack like `enqueue_unacked`. Only the latest statement counts: it
  /// replaces one still queued, a new session drops one still queued, one
  /// handed back unwritten is dropped (the next hello states the request as
  /// it is then), and one that fails is no user message (`done`, if set,
  /// hears of it; no counter or `fail_queued` does). It goes ahead of the
  /// messages queued and of those handed back, and a full queue does not
  /// keep it out.
  caf::error enqueue_standing(boost::json::object msg, send_handler done,
                              time_point now);

  /// Drops the standing request's statement still queued: the request
  /// changed, and the next hello or statement says it as it is now.
  void drop_standing() noexcept;

  /// Why `msg` could never be sent (no string type, text or size over
  /// Slack's limits), or none; also what `enqueue` checks first.
  caf::error refusal(const boost::json::object& msg) const;

  /// Sends a typing indicator for `channel` right away, or returns false:
  /// no session, one went out for that channel less than 3 s ago, messages
  /// are waiting, the rate limiter has no token, or the frame would be over
  /// `max_message_size`. Typing never waits.
  bool typing(const std::string& channel, time_point now);

  /// Queues an RTM ping like a message (it counts against the rate limit);
  /// fails at once without a session.
  caf::error ping(ping_handler done, time_point now);

  // -- sessions ---------------------------------------------------------------

  /// Session `session` said hello: send on it with `write`. Messages whose
  /// session died get the ack from this session right after hello, if at
  /// all, so they wait at most a short grace from now.
  void session_up(uint64_t session, writer write, time_point now);

  /// The same, with the owner's statement of its standing request for this
  /// session (see `enqueue_standing`), which goes ahead of everything the
  /// session sends. Returns why the statement was not queued.
  caf::error session_up(uint64_t session, writer write, time_point now,
                        boost::json::object statement, send_handler done);

  /// The current session announced its end (goodbye): new sends wait for the
  /// next one.
  void session_ending(uint64_t session);

  /// Session `session` is gone: its unacked messages are orphaned.
  void session_down(uint64_t session);

  /// The session sends go out on now; 0: none.
  uint64_t writing_session() const noexcept {
    return write_ ? session_ : 0;
  }

  /// The connection wrote message `id` to its socket: one sent without an ack
  /// can no longer come back unwritten.
  void written(int64_t id);

  /// The connection never wrote message `id`: it goes out again first thing
  /// on the next session (it was never written, so this is no duplicate).
  /// Its session writes no more (as after `session_ending`).
  void unsent(int64_t id, time_point now);

  /// The connection of `session` handed messages up to id `last_handed` to
  /// its I/O layer and ended: every later message of that session was never
  /// written and goes out again, in order, like an unsent one.
  void unsent_after(uint64_t session, int64_t last_handed, time_point now);

  // -- the wire ---------------------------------------------------------------

  /// Consumes `ev` if it answers a message or a user ping: an ack (`reply_to`
  /// and `ok`) or a `pong`. Returns false for events to deliver.
  bool on_reply(const event& ev, time_point now);

  // -- time -------------------------------------------------------------------

  /// Sends what the rate limiter allows and fails what timed out.
  void on_wakeup(time_point now);

  /// When `on_wakeup` has something to do next, if ever.
  std::optional<time_point> next_wakeup(time_point now);

  /// From `now` on the client reads no frames (its callbacks lag behind):
  /// the acks and pongs it waits for may be among those not read. Their
  /// deadlines stand still until `release_replies`, for `max_hold()` at most.
  void hold_replies(time_point now);

  /// How long a hold stops the clocks of acks and pongs at most.
  caf::timespan max_hold() const noexcept {
    return limits_.ack_timeout * max_hold_factor;
  }

  static constexpr int max_hold_factor = 6;

  /// The client reads again: the deadlines move on by the time held since
  /// each went out, each by max_hold() at most over all holds.
  void release_replies(time_point now);

  // -- ending -----------------------------------------------------------------

  /// Fails every message that was not sent yet. Returns how many of them
  /// were answered already: sent without an ack (answered once handed to
  /// their connection), handed back unwritten, and now never written.
  uint64_t fail_queued(const caf::error& err);

  /// Fails every message and ping waiting for an answer. Messages sent
  /// without an ack stay known until their connection reports them written
  /// or hands them back (then queued, for `fail_queued`).
  void fail_awaiting(const caf::error& err);

  /// How many messages answered when first handed over (sent without an
  /// ack), then handed back unwritten, missed their `max_wait` since the last
  /// call: no caller hears of them, so the owner reports them.
  uint64_t take_expired_answered() noexcept {
    return std::exchange(expired_answered_, 0);
  }

  /// Slack's refusals (`ok: false`) since the last call of messages whose
  /// sender had its answer already: sent without an ack, or past their ack
  /// timeout. No caller hears of them, so the owner reports them.
  struct late_refusals {
    uint64_t count = 0;
    /// The first one's reason.
    caf::error first;
  };

  late_refusals take_late_refusals() {
    return std::exchange(late_refusals_, {});
  }

  // -- observers --------------------------------------------------------------

  const counters& stats() const noexcept {
    return stats_;
  }

  size_t queued() const noexcept {
    return queue_.size() + unsent_.size();
  }

  /// Messages written that wait for Slack's ack.
  size_t awaiting_ack() const noexcept {
    return acks_.size();
  }

  bool session_up() const noexcept {
    return static_cast<bool>(write_);
  }

private:
  /// A message or ping waiting for its turn.
  struct queued_item {
    /// Compact JSON without "id"; the id is spliced in when it is sent.
    std::string body;
    send_handler on_ack;
    /// Set for a user ping instead of `on_ack`.
    ping_handler on_pong;
    /// Not written by then: fails instead.
    std::optional<time_point> deadline;
    /// Slack sends no ack: `on_ack` runs when it is handed to the
    /// connection.
    bool no_ack = false;
    /// From enqueue_standing (no_ack too).
    bool standing = false;
    /// A `ping` sent as a message: its pong is its ack.
    bool ping = false;
    /// When it was first queued (counting up): orders it among the messages
    /// handed back, however often it was sent and handed back before.
    uint64_t seq = 0;
  };

  /// A message written and not acked yet.
  struct awaiting {
    send_handler on_ack;
    uint64_t session = 0;
    time_point sent;
    time_point deadline;
    /// How far holds moved `deadline` on so far (max_hold() at most).
    caf::timespan held{0};
    /// Its session ended before the ack.
    bool orphaned = false;
    /// Kept until the ack: a message the connection could not write goes out
    /// again on the next session.
    std::string body;
    /// Its `max_wait` deadline: a message handed back unwritten still fails
    /// instead of going out after it.
    std::optional<time_point> send_by;
    /// A `ping` sent as a message: its pong is its ack.
    bool ping = false;
    /// Of its queued_item.
    uint64_t seq = 0;
  };

  /// A message handed to the connection that Slack does not ack, kept in case
  /// the connection hands it back: forgotten once its socket has it or its
  /// session ends, never by a timer (a write may stall for longer than any
  /// timeout before the dead link shows, and then the message comes back).
  struct written_unacked {
    uint64_t session = 0;
    std::string body;
    /// From enqueue_standing: not sent again when handed back.
    bool standing = false;
    /// Its `max_wait` deadline, kept for a hand-back.
    std::optional<time_point> send_by;
    /// Of its queued_item.
    uint64_t seq = 0;
  };

  struct awaiting_pong {
    ping_handler on_pong;
    time_point sent;
    time_point deadline;
    /// How far holds moved `deadline` on so far (max_hold() at most).
    caf::timespan held{0};
    /// Where it went: the pong comes on that session or never.
    uint64_t session = 0;
  };

  void pump(time_point now);

  /// Puts a message handed back unwritten into `unsent_`, in the order the
  /// messages there were first queued.
  void hand_back(queued_item item);

  /// Queues the standing statement `msg` at the front, replacing one still
  /// queued (see enqueue_standing); does not send.
  caf::error queue_standing(boost::json::object msg, send_handler done);

  /// What the deadline of an ack or pong counts for now: during a hold, it
  /// may move on by what is left of its max_hold(). Not for longer: a
  /// callback that waits for the answer to its own send keeps the reading
  /// held, and the ack it waits for may be among the frames not read. It
  /// gets ack_timeout instead of waiting for good.
  template <class Awaiting>
  time_point effective_deadline(const Awaiting& x) const noexcept {
    return replies_held_since_ ? x.deadline + (max_hold() - x.held)
                               : x.deadline;
  }

  /// Moves `x`'s deadline on by the time the hold that ends at `now` lasted
  /// since `x` went out, within what is left of its max_hold().
  template <class Awaiting>
  void extend(Awaiting& x, time_point now) const noexcept {
    auto from = std::max(*replies_held_since_, x.sent);
    if (now <= from)
      return;
    auto add = std::min<caf::timespan>(now - from, max_hold() - x.held);
    x.deadline += add;
    x.held += add;
  }

  /// Fails the user pings still queued: their session writes no more.
  void fail_queued_pings();

  caf::error check(boost::json::object& msg, std::string& body) const;

  void on_ack(const event& ev, int64_t id);

  void expire(time_point now);

  /// Counts and answers a message that missed its `max_wait`; it is never
  /// written.
  void fail_expired(const send_handler& done);

  /// Fails the messages of `xs` whose `max_wait` passed.
  void expire_queued(std::deque<queued_item>& xs, time_point now);

  limits limits_;
  token_bucket bucket_;
  int64_t next_id_;
  /// The `seq` of the next message queued.
  uint64_t next_seq_ = 1;
  uint64_t session_ = 0;
  writer write_;
  /// Set while the client reads no frames (see hold_replies).
  std::optional<time_point> replies_held_since_;
  std::deque<queued_item> queue_;
  /// Messages a connection could not write; they go out before the queue.
  std::deque<queued_item> unsent_;
  std::unordered_map<int64_t, awaiting> acks_;
  std::unordered_map<int64_t, written_unacked> unacked_;
  std::unordered_map<int64_t, awaiting_pong> pongs_;
  std::unordered_map<std::string, time_point> last_typing_;
  counters stats_;
  uint64_t expired_answered_ = 0;
  late_refusals late_refusals_;
};

} // namespace caf::rtm::detail
