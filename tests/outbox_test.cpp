// The RTM send pipeline and the subscription table as plain classes: time is
// passed in, the writer records, so every rule is checked exactly.

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/message_ids.hpp"
#include "detail/outbox.hpp"
#include "detail/subscription_table.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;
using namespace std::chrono_literals;

namespace {

using time_point = outbox::time_point;

struct written {
  int64_t id;
  boost::json::object json;
};

// An outbox with a recording writer and recording handlers.
struct outbox_fixture {
  outbox_fixture() : out(limits(), t0) {
    // nop
  }

  static outbox::limits limits() {
    outbox::limits lim;
    lim.rate = 1.0;
    lim.burst = 2;
    lim.queue_size = 4;
    lim.max_message_size = 1024;
    lim.ack_timeout = 10s;
    return lim;
  }

  outbox::writer writer() {
    return [this](int64_t id, const std::string& frame) {
      auto value = boost::json::parse(frame);
      frames.push_back({id, value.as_object()});
    };
  }

  // Queues a frame of `type` in channel C1 (with `text`, if any), to be
  // written by `deadline` if set; its outcome lands in results[n].
  caf::error send_frame(int n, const std::string& type, time_point now,
                        const std::string& text = "",
                        std::optional<time_point> deadline = std::nullopt) {
    boost::json::object msg;
    msg["type"] = type;
    msg["channel"] = "C1";
    if (!text.empty())
      msg["text"] = text;
    return out.enqueue(
        std::move(msg),
        [this, n](caf::expected<send_ack> x) {
          results.insert_or_assign(n, std::move(x));
        },
        now, deadline);
  }

  // Queues a message; its outcome lands in results[n].
  caf::error send(int n, time_point now, const std::string& text = "hi") {
    return send_frame(n, "message", now, text);
  }

  // Queues message "n<n>", to be written by `deadline` (its max_wait).
  caf::error send_by(int n, time_point now, time_point deadline) {
    return send_frame(n, "message", now, "n" + std::to_string(n), deadline);
  }

  // Slack's ack of message `id`.
  static event ack(int64_t id, bool ok = true) {
    std::string text = R"({"ok":)" + std::string{ok ? "true" : "false"} +
                       R"(,"reply_to":)" + std::to_string(id) +
                       R"(,"ts":"1.5","text":"hi")";
    if (!ok)
      text += R"(,"error":{"code":2,"msg":"no text"})";
    text += "}";
    return event::parse(text);
  }

  std::string outcome(int n) {
    auto i = results.find(n);
    if (i == results.end())
      return "pending";
    if (i->second)
      return "acked";
    return to_string(static_cast<errc>(i->second.error().code()));
  }

  time_point t0 = time_point{} + 1h;
  outbox out;
  std::vector<written> frames;
  std::map<int, caf::expected<send_ack>> results;
};

} // namespace

TEST_CASE_METHOD(outbox_fixture, "outbox: messages wait for a session",
                 "[outbox]") {
  REQUIRE_FALSE(send(1, t0));
  CHECK(frames.empty());
  CHECK(out.queued() == 1);
  CHECK_FALSE(out.next_wakeup(t0)); // nothing to do without a session
  out.session_up(1, writer(), t0);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].id == message_ids::first_router_id);
  CHECK(frames[0].json.at("id").as_int64() == frames[0].id);
  CHECK(frames[0].json.at("text").as_string() == "hi");
  CHECK(out.awaiting_ack() == 1);
  CHECK(out.stats().sent == 1);
}

TEST_CASE_METHOD(outbox_fixture, "outbox: burst, then the sustained rate",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  for (int i = 1; i <= 3; ++i)
    REQUIRE_FALSE(send(i, t0));
  CHECK(frames.size() == 2); // the burst
  auto wake = out.next_wakeup(t0);
  REQUIRE(wake);
  CHECK(*wake > t0 + 999ms);
  CHECK(*wake < t0 + 1001ms);
  out.on_wakeup(t0 + 500ms);
  CHECK(frames.size() == 2);
  out.on_wakeup(*wake);
  REQUIRE(frames.size() == 3);
  // Ids are increasing and unique.
  CHECK(frames[0].id < frames[1].id);
  CHECK(frames[1].id < frames[2].id);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a send with max_wait either goes out in time or "
                 "fails with send_expired and is never written",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0)); // the burst is spent
  // The next token comes at t0 + 1 s: too late for 3, in time for 4.
  REQUIRE_FALSE(send_by(3, t0, t0 + 500ms));
  REQUIRE_FALSE(send_by(4, t0, t0 + 5s));
  CHECK(frames.size() == 2);
  // The deadline wakes the outbox: the caller hears of it in time.
  auto wake = out.next_wakeup(t0);
  REQUIRE(wake);
  CHECK(*wake <= t0 + 500ms);
  out.on_wakeup(*wake);
  CHECK(outcome(3) == "send_expired");
  CHECK(outcome(4) == "pending");
  out.on_wakeup(t0 + 1s);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("text") == "n4");
  // 3 never goes out, not even later or on another session.
  out.on_wakeup(t0 + 10s);
  out.session_down(1);
  out.session_up(2, writer(), t0 + 11s);
  out.on_wakeup(t0 + 12s);
  for (auto& f : frames)
    CHECK(f.json.at("text") != "n3");
  CHECK(out.stats().failed >= 1);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a send handed back unwritten keeps its max_wait",
                 "[outbox]") {
  SECTION("the deadline passes while it waits for the next session") {
    out.session_up(1, writer(), t0);
    REQUIRE_FALSE(send_by(1, t0, t0 + 5s));
    REQUIRE(frames.size() == 1);
    out.unsent(frames[0].id, t0 + 1s);
    out.session_down(1);
    // Its deadline wakes the outbox even without a session.
    auto wake = out.next_wakeup(t0 + 1s);
    REQUIRE(wake);
    CHECK(*wake <= t0 + 5s);
    out.on_wakeup(t0 + 5s);
    CHECK(outcome(1) == "send_expired");
    out.session_up(2, writer(), t0 + 30s);
    CHECK(frames.size() == 1);
    CHECK(out.queued() == 0);
  }
  SECTION("the next session comes before the wakeup that fails it") {
    out.session_up(1, writer(), t0);
    REQUIRE_FALSE(send_by(1, t0, t0 + 5s));
    REQUIRE_FALSE(send_by(2, t0, t0 + 60s));
    REQUIRE(frames.size() == 2);
    out.unsent_after(1, 0, t0 + 1s);
    out.session_down(1);
    out.session_up(2, writer(), t0 + 30s);
    CHECK(outcome(1) == "send_expired");
    REQUIRE(frames.size() == 3);
    CHECK(frames[2].json.at("text") == "n2");
  }
  SECTION("in time, it goes out again") {
    out.session_up(1, writer(), t0);
    REQUIRE_FALSE(send_by(1, t0, t0 + 5s));
    out.unsent(frames[0].id, t0 + 1s);
    out.session_down(1);
    out.session_up(2, writer(), t0 + 2s);
    REQUIRE(frames.size() == 2);
    CHECK(frames[1].json.at("text") == "n1");
    CHECK(outcome(1) == "pending");
  }
}

TEST_CASE_METHOD(outbox_fixture, "outbox: acks, rejections and timeouts",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0));
  REQUIRE(frames.size() == 2);
  CHECK(out.on_reply(ack(frames[1].id, false), t0));
  CHECK(outcome(2) == "send_rejected");
  CHECK(slack_error_code(results.at(2).error()) == "2");
  CHECK(out.on_reply(ack(frames[0].id), t0));
  REQUIRE(outcome(1) == "acked");
  CHECK(results.at(1)->ts == "1.5");
  CHECK(results.at(1)->text == "hi");
  // An ack of nothing we wait for is consumed (not an event) and ignored.
  CHECK(out.on_reply(ack(999), t0));
  // An echoed message carries reply_to without ok: an event.
  CHECK_FALSE(
      out.on_reply(event::parse(R"({"type":"message","reply_to":1})"), t0));
  REQUIRE_FALSE(send(3, t0 + 2s));
  out.on_wakeup(t0 + 2s + 9999ms);
  CHECK(outcome(3) == "pending");
  auto wake = out.next_wakeup(t0 + 2s + 9999ms);
  REQUIRE(wake);
  out.on_wakeup(*wake);
  CHECK(outcome(3) == "ack_timeout");
  CHECK(out.stats().acked == 1);
  CHECK(out.stats().failed == 2);
}

TEST_CASE_METHOD(outbox_fixture, "outbox: refusals before sending",
                 "[outbox]") {
  boost::json::object no_type;
  no_type["text"] = "x";
  auto never = [](const caf::expected<send_ack>&) {
    FAIL("handler called");
  };
  CHECK(is(out.enqueue(no_type, never, t0), errc::invalid_argument));
  CHECK(is(send(1, t0, std::string(4001, 'x')), errc::text_too_long));
  // 4,000 characters are fine, counted as UTF-8 characters, not bytes.
  std::string umlauts;
  for (int i = 0; i < 300; ++i)
    umlauts += "\xc3\xa4";
  CHECK_FALSE(send(2, t0, umlauts));
  CHECK(is(send(3, t0, std::string(1100, 'x')), errc::message_too_large));
  for (int i = 4; i < 7; ++i)
    REQUIRE_FALSE(send(i, t0));
  CHECK(is(send(7, t0), errc::send_queue_full));
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a message the connection could not write goes out "
                 "again, first, with a new id",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  auto first_id = frames.at(0).id;
  out.session_down(1);
  REQUIRE_FALSE(send(2, t0));
  out.unsent(first_id, t0);
  CHECK(out.stats().sent == 0);
  CHECK(out.queued() == 2);
  out.session_up(2, writer(), t0 + 1s);
  REQUIRE(frames.size() == 3);
  CHECK(frames[1].json.at("text") == frames[0].json.at("text"));
  CHECK(frames[1].id > first_id);
  CHECK(out.stats().sent == 2);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: the session that hands a message back gets no more",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0));
  REQUIRE(frames.size() == 2);
  // Message 1 came back before the router learned that session 1 ended:
  // sending it (or message 3) there again would lose it with the session.
  out.unsent(frames[0].id, t0);
  REQUIRE_FALSE(send(3, t0 + 2s));
  CHECK(frames.size() == 2);
  CHECK_FALSE(out.session_up());
  out.session_down(1);
  out.session_up(2, writer(), t0 + 3s);
  REQUIRE(frames.size() == 4);
  CHECK(frames[2].json.at("text") == frames[0].json.at("text"));
  CHECK(outcome(1) == "pending");
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: messages after the last one a connection handed to "
                 "its socket go out again, in order",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  for (int i = 1; i <= 4; ++i)
    REQUIRE_FALSE(
        send(i, t0 + std::chrono::seconds{i}, "m" + std::to_string(i)));
  REQUIRE(frames.size() == 4);
  // The connection handed messages 1 and 2 to its socket; 3 and 4 were still
  // in its mailbox when it ended. Message 1 is acked meanwhile.
  CHECK(out.on_reply(ack(frames[0].id), t0 + 5s));
  out.unsent_after(1, frames[1].id, t0 + 5s);
  CHECK_FALSE(out.session_up());
  CHECK(out.queued() == 2);
  out.session_down(1);
  out.session_up(2, writer(), t0 + 10s);
  REQUIRE(frames.size() == 6);
  CHECK(frames[4].json.at("text") == "m3");
  CHECK(frames[5].json.at("text") == "m4");
  // Message 2 reached the socket: its ack may still come; never sent twice.
  CHECK(outcome(1) == "acked");
  CHECK(outcome(2) == "pending");
  // The same report again changes nothing.
  out.unsent_after(1, frames[1].id, t0 + 10s);
  CHECK(out.session_up());
  CHECK(out.queued() == 0);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: an ack lost with its session comes from the next "
                 "one or the message is reported as delivery_unknown",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0));
  auto id1 = frames.at(0).id;
  out.session_down(1);
  CHECK(outcome(1) == "pending");
  out.session_up(2, writer(), t0 + 1s);
  // The next session acks message 1 right after hello, never message 2.
  CHECK(out.on_reply(ack(id1), t0 + 1s));
  CHECK(outcome(1) == "acked");
  auto wake = out.next_wakeup(t0 + 1s);
  REQUIRE(wake);
  CHECK(*wake <= t0 + 3s); // a short grace, not the whole ack timeout
  out.on_wakeup(*wake);
  CHECK(outcome(2) == "delivery_unknown");
}

TEST_CASE_METHOD(outbox_fixture, "outbox: after goodbye new sends wait",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  out.session_ending(1);
  REQUIRE_FALSE(send(1, t0));
  CHECK(frames.empty());
  out.session_up(2, writer(), t0);
  CHECK(frames.size() == 1);
}

TEST_CASE_METHOD(outbox_fixture, "outbox: typing indicators never wait",
                 "[outbox]") {
  CHECK_FALSE(out.typing("C1", t0)); // no session
  out.session_up(1, writer(), t0);
  CHECK(out.typing("C1", t0));
  CHECK_FALSE(out.typing("C1", t0 + 2s)); // < 3 s for that channel
  CHECK_FALSE(out.typing("", t0 + 2s));
  CHECK(out.typing("C2", t0 + 2s));
  CHECK(out.typing("C3", t0 + 2s));
  CHECK_FALSE(out.typing("C4", t0 + 2s)); // the burst of 2 is used up
  CHECK(out.typing("C1", t0 + 3s));
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].json.at("type") == "typing");
  CHECK(frames[0].json.at("channel") == "C1");
  // Typing never waits for an ack either.
  CHECK(out.awaiting_ack() == 0);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: user pings count against the rate and get the RTT",
                 "[outbox]") {
  std::optional<caf::expected<caf::timespan>> rtt;
  auto on_pong = [&](caf::expected<caf::timespan> x) {
    rtt = std::move(x);
  };
  CHECK(is(out.ping(on_pong, t0), errc::not_connected));
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0));
  REQUIRE_FALSE(out.ping(on_pong, t0));
  CHECK(frames.size() == 2); // the ping waits for a token like a message
  auto sent_at = *out.next_wakeup(t0);
  out.on_wakeup(sent_at);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("type") == "ping");
  auto pong = event::parse(R"({"type":"pong","reply_to":)" +
                           std::to_string(frames[2].id) + "}");
  CHECK(out.on_reply(pong, sent_at + 40ms));
  REQUIRE(rtt);
  REQUIRE(*rtt);
  CHECK(**rtt == caf::timespan{40ms});
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a ping fails when its session ends, although the "
                 "next one is up",
                 "[outbox]") {
  std::optional<caf::expected<caf::timespan>> rtt;
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(out.ping(
      [&](caf::expected<caf::timespan> x) { rtt = std::move(x); }, t0));
  REQUIRE(frames.size() == 1);
  // A goodbye: the next session comes up before the old one ends.
  out.session_ending(1);
  out.session_up(2, writer(), t0 + 1s);
  out.session_down(1);
  REQUIRE(rtt);
  REQUIRE_FALSE(*rtt);
  CHECK(is(rtt->error(), errc::not_connected));
  CHECK_FALSE(out.next_wakeup(t0 + 1s)); // nothing left to time out
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a ping still waiting for a token fails when its "
                 "session stops writing",
                 "[outbox]") {
  std::optional<caf::expected<caf::timespan>> rtt;
  auto on_pong = [&](caf::expected<caf::timespan> x) {
    rtt = std::move(x);
  };
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(send(2, t0));
  REQUIRE_FALSE(out.ping(on_pong, t0));
  REQUIRE_FALSE(send(3, t0));
  REQUIRE(frames.size() == 2); // the ping and message 3 wait for tokens
  SECTION("a goodbye") {
    out.session_ending(1);
  }
  SECTION("a drop") {
    out.session_down(1);
  }
  REQUIRE(rtt);
  REQUIRE_FALSE(*rtt);
  CHECK(is(rtt->error(), errc::not_connected));
  // The message waits for the next session; the ping does not go with it.
  CHECK(out.queued() == 1);
  out.session_up(2, writer(), t0 + 5s);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("type") == "message");
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: while the client reads nothing, the acks and pongs "
                 "it waits for do not time out, for six ack_timeouts at most",
                 "[outbox]") {
  // Slow callbacks hold the reading back: the ack may be among the frames
  // not read. A message Slack accepted must not fail with ack_timeout.
  std::optional<caf::expected<caf::timespan>> rtt;
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(1, t0));
  REQUIRE_FALSE(out.ping(
      [&](caf::expected<caf::timespan> x) { rtt = std::move(x); }, t0));
  REQUIRE(frames.size() == 2);
  out.hold_replies(t0 + 1s);
  out.on_wakeup(t0 + 30s);
  CHECK(results.count(1) == 0);
  CHECK_FALSE(rtt);
  SECTION("reading again after 40 s: the 10 s each had left remain") {
    out.release_replies(t0 + 41s);
    REQUIRE(out.next_wakeup(t0 + 41s));
    CHECK(*out.next_wakeup(t0 + 41s) == t0 + 50s);
    CHECK(out.on_reply(ack(frames[0].id), t0 + 42s));
    CHECK(outcome(1) == "acked");
    // The pong does not come: it times out 10 s after its hold-free wait.
    out.on_wakeup(t0 + 49s);
    CHECK_FALSE(rtt);
    out.on_wakeup(t0 + 50s);
    REQUIRE(rtt);
    CHECK(is(rtt->error(), errc::ack_timeout));
  }
  SECTION("held for good: ack_timeout after 10 s plus 60 s held") {
    // A callback that waits for the answer to its own send holds the
    // reading for as long as it waits, and its ack may be among the frames
    // not read: the send must end instead of waiting for good.
    REQUIRE(out.next_wakeup(t0 + 30s));
    CHECK(*out.next_wakeup(t0 + 30s) == t0 + 70s);
    out.on_wakeup(t0 + 69s);
    CHECK(results.count(1) == 0);
    CHECK_FALSE(rtt);
    out.on_wakeup(t0 + 70s);
    CHECK(outcome(1) == "ack_timeout");
    REQUIRE(rtt);
    CHECK(is(rtt->error(), errc::ack_timeout));
  }
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: holds stop an ack's clock for six ack_timeouts in "
                 "all, and only from when it went out",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  SECTION("two holds share one allowance") {
    REQUIRE_FALSE(send(1, t0));
    out.hold_replies(t0 + 1s);
    out.release_replies(t0 + 51s); // 50 s of the 60 s used
    out.hold_replies(t0 + 52s);
    REQUIRE(out.next_wakeup(t0 + 52s));
    CHECK(*out.next_wakeup(t0 + 52s) == t0 + 70s);
    out.on_wakeup(t0 + 69s);
    CHECK(outcome(1) == "pending");
    out.on_wakeup(t0 + 70s);
    CHECK(outcome(1) == "ack_timeout");
  }
  SECTION("sent during a hold") {
    out.hold_replies(t0);
    REQUIRE_FALSE(send(1, t0 + 30s));
    REQUIRE(frames.size() == 1);
    out.release_replies(t0 + 40s); // held for 10 s of its wait
    REQUIRE(out.next_wakeup(t0 + 40s));
    CHECK(*out.next_wakeup(t0 + 40s) == t0 + 50s);
    out.on_wakeup(t0 + 50s);
    CHECK(outcome(1) == "ack_timeout");
  }
}

TEST_CASE_METHOD(outbox_fixture, "outbox: failing what waits", "[outbox]") {
  REQUIRE_FALSE(send(1, t0));
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(2, t0));
  REQUIRE_FALSE(send(3, t0));
  CHECK(out.fail_queued(make_error(errc::closed)) == 0);
  CHECK(outcome(3) == "closed");
  CHECK(outcome(1) == "pending");
  out.fail_awaiting(make_error(errc::closed));
  CHECK(outcome(1) == "delivery_unknown");
  CHECK(outcome(2) == "delivery_unknown");
  CHECK(out.queued() == 0);
  CHECK(out.awaiting_ack() == 0);
  CHECK_FALSE(out.next_wakeup(t0));
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: messages without acks are answered when written, "
                 "never time out, and go out again if never written",
                 "[outbox]") {
  auto sub = [this](int n, time_point now) {
    boost::json::object msg;
    msg["type"] = "custom_signal";
    msg["ids"] = boost::json::array{"U1"};
    return out.enqueue_unacked(
        std::move(msg),
        [this, n](caf::expected<send_ack> x) {
          results.insert_or_assign(n, std::move(x));
        },
        now);
  };
  REQUIRE_FALSE(sub(1, t0));
  CHECK(outcome(1) == "pending"); // no session yet
  out.session_up(1, writer(), t0);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].json.at("type") == "custom_signal");
  CHECK(outcome(1) == "acked"); // written
  CHECK(results.at(1)->id == frames[0].id);
  CHECK(out.awaiting_ack() == 0);
  // Nothing ever fails for want of an ack.
  out.on_wakeup(t0 + 1min);
  CHECK(out.stats().failed == 0);
  // Reported written to its socket: forgotten, it cannot come back.
  out.written(frames[0].id);
  out.unsent(frames[0].id, t0 + 1min);
  CHECK(out.queued() == 0);
  // Handed to the connection, whose write stalls for half an hour before
  // the socket fails and hands it back: it goes out on the next session,
  // without a second answer. No timer forgets it meanwhile.
  REQUIRE_FALSE(sub(2, t0 + 1min));
  REQUIRE(frames.size() == 2);
  CHECK_FALSE(out.next_wakeup(t0 + 1min));
  out.on_wakeup(t0 + 31min);
  out.unsent(frames[1].id, t0 + 31min);
  CHECK(out.queued() == 1);
  out.session_down(1);
  out.session_up(2, writer(), t0 + 32min);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("type") == "custom_signal");
  CHECK(frames[2].id > frames[1].id);
  CHECK(out.stats().sent == 2);
  // Written ones of an ended session are done; an ack, if any, is ignored.
  out.session_down(2);
  CHECK(out.on_reply(ack(frames[2].id), t0 + 32min));
  CHECK_FALSE(out.next_wakeup(t0 + 32min));
  // Handed back, then failed with no session to come: answered already, so
  // the count tells the client to report it.
  out.session_up(3, writer(), t0 + 33min);
  REQUIRE_FALSE(sub(3, t0 + 33min));
  REQUIRE(frames.size() == 4);
  out.unsent(frames[3].id, t0 + 33min);
  out.session_down(3);
  CHECK(out.fail_queued(make_error(errc::not_connected)) == 1);
  CHECK(out.queued() == 0);
  // The same refusals as any message, and presence_sub: the client's list
  // (enqueue_standing) would be replaced by it until the next hello.
  boost::json::object no_type;
  CHECK(is(out.enqueue_unacked(no_type, nullptr, t0), errc::invalid_argument));
  boost::json::object presence;
  presence["type"] = "presence_sub";
  presence["ids"] = boost::json::array{"U1"};
  CHECK(is(out.enqueue_unacked(presence, nullptr, t0), errc::invalid_argument));
}

TEST_CASE_METHOD(
    outbox_fixture,
    "outbox: a standing request goes out as last stated and is not "
    "sent again when handed back and fails as no user message",
    "[outbox][presence]") {
  auto state = [this](int n, const char* user, time_point now) {
    boost::json::object msg;
    msg["type"] = "presence_sub";
    msg["ids"] = boost::json::array{user};
    return out.enqueue_standing(
        std::move(msg),
        [this, n](caf::expected<send_ack> x) {
          results.insert_or_assign(n, std::move(x));
        },
        now);
  };
  // Stated twice while the rate limiter holds it back: only the latest goes
  // out.
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send(10, t0));
  REQUIRE_FALSE(send(11, t0)); // the burst is used up
  REQUIRE_FALSE(state(1, "U1", t0));
  REQUIRE_FALSE(state(2, "U2", t0));
  CHECK(out.queued() == 1);
  out.on_wakeup(t0 + 1s);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("ids") == boost::json::array{"U2"});
  CHECK(outcome(2) == "acked");
  CHECK(outcome(1) == "pending"); // replaced, never written
  CHECK(out.stats().sent == 3);
  // Handed back unwritten: dropped, the next hello states the list anew.
  out.unsent(frames[2].id, t0 + 1s);
  CHECK(out.queued() == 0);
  CHECK(out.stats().sent == 2);
  out.session_down(1);
  // A statement still queued is dropped when the request changes.
  REQUIRE_FALSE(state(3, "U3", t0 + 2s));
  out.drop_standing();
  CHECK(out.queued() == 0);
  // One that fails is no user message: not counted, nothing to report.
  REQUIRE_FALSE(state(4, "U4", t0 + 3s));
  CHECK(out.fail_queued(make_error(errc::not_connected)) == 0);
  CHECK(outcome(4) == "not_connected");
  CHECK(out.stats().failed == 0);
  boost::json::object quiet;
  quiet["type"] = "presence_sub";
  REQUIRE_FALSE(out.enqueue_standing(quiet, nullptr, t0 + 3s));
  CHECK(out.fail_queued(make_error(errc::closed)) == 0);
  // Still queued when a session comes up: said for an older one, dropped
  // (its owner states the request anew for the new session).
  REQUIRE_FALSE(state(5, "U5", t0 + 4s));
  out.session_up(2, writer(), t0 + 10s);
  CHECK(frames.size() == 3);
  CHECK(out.queued() == 0);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a message without an ack handed back after the "
                 "waiting ones failed is still failed with a word",
                 "[outbox]") {
  // A fatal error fails what waits for an answer while the connections
  // still close: one may hand back a message without an ack it never wrote.
  boost::json::object msg;
  msg["type"] = "custom_signal";
  msg["ids"] = boost::json::array{"U1"};
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(out.enqueue_unacked(
      std::move(msg),
      [this](caf::expected<send_ack> x) {
        results.insert_or_assign(1, std::move(x));
      },
      t0));
  REQUIRE(frames.size() == 1);
  CHECK(outcome(1) == "acked"); // answered once handed over
  out.fail_awaiting(make_error(errc::slack_error, "invalid_auth"));
  out.unsent(frames[0].id, t0 + 1s);
  CHECK(out.queued() == 1);
  out.session_down(1);
  // The client reports each one it had answered already.
  CHECK(out.fail_queued(make_error(errc::slack_error, "invalid_auth")) == 1);
  CHECK(out.stats().failed == 1);
  CHECK(out.queued() == 0);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a ping waits for its pong while an older session "
                 "ends and no session takes new sends",
                 "[outbox]") {
  std::optional<caf::expected<caf::timespan>> rtt;
  out.session_up(1, writer(), t0);
  out.session_ending(1); // a goodbye
  out.session_up(2, writer(), t0 + 1s);
  REQUIRE_FALSE(out.ping(
      [&](caf::expected<caf::timespan> x) { rtt = std::move(x); }, t0 + 1s));
  REQUIRE(frames.size() == 1);
  out.session_ending(2); // its own goodbye: it writes no more, but reads on
  out.session_down(1);
  CHECK_FALSE(rtt); // its pong may still come on session 2
  SECTION("the pong comes") {
    auto pong = event::parse(R"({"type":"pong","reply_to":)" +
                             std::to_string(frames[0].id) + "}");
    CHECK(out.on_reply(pong, t0 + 2s));
    REQUIRE(rtt);
    CHECK(*rtt);
  }
  SECTION("its own session ends") {
    out.session_down(2);
    REQUIRE(rtt);
    REQUIRE_FALSE(*rtt);
    CHECK(is(rtt->error(), errc::not_connected));
  }
}

// -- subscription table -------------------------------------------------------

namespace {

// An actor that only has to exist (a subscriber nothing is sent to). With an
// argument: CAF 0.17 spawns a function without arguments by dereferencing a
// null argument tuple.
caf::actor spawn_idle(caf::actor_system& sys) {
  return sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](int) {
        }};
      },
      0);
}

} // namespace

TEST_CASE("subscription table: types, lifecycle, callbacks",
          "[subscriptions]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = spawn_idle(sys);
  auto b = spawn_idle(sys);
  subscription_table subs;
  CHECK(subs.add_actor(a, {"message"}));
  CHECK_FALSE(subs.add_actor(a, {"message", "reaction_added"}));
  REQUIRE(subs.actors().size() == 1);
  CHECK(subs.actors()[0].types.size() == 2); // idempotent per type
  CHECK(subs.add_lifecycle(b));
  CHECK_FALSE(subs.add_lifecycle(b));
  CHECK_FALSE(subs.add_actor(b, {"*"})); // b is known already
  std::vector<caf::actor> got;
  subs.for_each_actor("message", "",
                      [&](const auto& x, size_t) { got.push_back(x.hdl); });
  CHECK(got.size() == 2);
  got.clear();
  subs.for_each_actor("hello", "",
                      [&](const auto& x, size_t) { got.push_back(x.hdl); });
  REQUIRE(got.size() == 1);
  CHECK(got[0] == b);
  auto id = subs.add_callback({"reaction_added"});
  CHECK(subs.callback_wants("reaction_added"));
  CHECK_FALSE(subs.callback_wants("message"));
  subs.remove_callback(id);
  CHECK_FALSE(subs.callback_wants("reaction_added"));
  subs.remove_actor(b.address());
  CHECK(subs.lifecycle().empty());
  CHECK(subs.actors().size() == 1);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("subscription table: subtypes and per-type unsubscribe",
          "[subscriptions]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = spawn_idle(sys);
  auto b = spawn_idle(sys);
  subscription_table subs;
  subs.add_actor(a, {"message::bot_message", "reaction_added"});
  subs.add_actor(b, {"message"});
  auto who = [&](std::string_view type, std::string_view subtype) {
    std::vector<caf::actor> got;
    subs.for_each_actor(type, subtype,
                        [&](const auto& x, size_t) { got.push_back(x.hdl); });
    return got;
  };
  // Plain "message" takes every subtype; the pattern only its own.
  CHECK(who("message", "") == std::vector<caf::actor>{b});
  CHECK(who("message", "bot_message") == std::vector<caf::actor>{a, b});
  CHECK(who("message", "message_changed") == std::vector<caf::actor>{b});
  // Taking off one pattern keeps the others...
  CHECK_FALSE(subs.remove_types(a, {"reaction_added", "never_subscribed"}));
  CHECK(who("reaction_added", "").empty());
  CHECK(who("message", "bot_message") == std::vector<caf::actor>{a, b});
  // ... and the last one ends the subscription.
  CHECK(subs.remove_types(a, {"message::bot_message"}));
  CHECK(subs.actors().size() == 1);
  // An actor with a lifecycle subscription stays known.
  subs.add_lifecycle(b);
  CHECK_FALSE(subs.remove_types(b, {"message"}));
  CHECK(subs.actors().empty());
  CHECK(subs.lifecycle().size() == 1);
  auto id = subs.add_callback({"message::message_changed"});
  CHECK(subs.callback_wants("message", "message_changed"));
  CHECK_FALSE(subs.callback_wants("message", ""));
  subs.remove_callback(id);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("subscription table: batched subscriptions are their own entries",
          "[subscriptions]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = spawn_idle(sys);
  subscription_table subs;
  CHECK_FALSE(subs.has_batched());
  CHECK(subs.add_actor(a, {"message"}));
  CHECK_FALSE(subs.add_actor(a, {"message", "reaction_added"}, true));
  CHECK(subs.has_batched());
  REQUIRE(subs.actors().size() == 2);
  // Each match names its entry and index, so a router can tell them apart.
  std::vector<std::pair<size_t, bool>> got;
  subs.for_each_actor("message", "", [&](const auto& x, size_t i) {
    CHECK(&subs.actors()[i] == &x);
    got.emplace_back(i, x.batched);
  });
  CHECK(got == std::vector<std::pair<size_t, bool>>{{0, false}, {1, true}});
  got.clear();
  subs.for_each_actor("reaction_added", "", [&](const auto& x, size_t i) {
    got.emplace_back(i, x.batched);
  });
  CHECK(got == std::vector<std::pair<size_t, bool>>{{1, true}});
  // Per-type unsubscribe works on both; an entry left without types goes.
  CHECK_FALSE(subs.remove_types(a, {"message"}));
  REQUIRE(subs.actors().size() == 1);
  CHECK(subs.actors()[0].batched);
  CHECK(subs.actors()[0].types == std::vector<std::string>{"reaction_added"});
  CHECK(subs.remove_types(a, {"reaction_added"}));
  CHECK(subs.actors().empty());
  CHECK_FALSE(subs.has_batched());
  // Unsubscribing the actor ends both kinds at once.
  subs.add_actor(a, {"*"});
  subs.add_actor(a, {"*"}, true);
  subs.remove_actor(a.address());
  CHECK(subs.actors().empty());
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: messages Slack never acks are answered once written",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  int n = 0;
  for (auto type : {"typing", "presence_query", "typing"}) {
    INFO(type);
    ++n;
    REQUIRE_FALSE(send_frame(n, type, t0 + std::chrono::seconds{n}));
    CHECK(outcome(n) == "acked");
  }
  CHECK(frames.size() == 3);
  CHECK(out.awaiting_ack() == 0);
  // Nothing times out later.
  out.on_wakeup(t0 + 1min);
  CHECK(out.stats().failed == 0);
  // A list of the user's own would last only until the next hello.
  CHECK(is(send_frame(4, "presence_sub", t0 + 1min), errc::invalid_argument));
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: one Slack never acks keeps its max_wait when handed "
                 "back",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send_frame(1, "typing", t0, "", t0 + 2s));
  REQUIRE(frames.size() == 1);
  CHECK(outcome(1) == "acked");
  // The connection could not write it; no session comes before its time.
  out.session_ending(1);
  out.unsent(frames[0].id, t0 + 1s);
  out.session_down(1);
  SECTION("its time runs out first") {
    out.on_wakeup(t0 + 3s);
  }
  SECTION("the next session comes first") {
    // Nothing left to answer: dropped, counted.
  }
  out.session_up(2, writer(), t0 + 4s);
  CHECK(frames.size() == 1); // never written after its max_wait
  CHECK(out.stats().failed == 1);
  CHECK(out.queued() == 0);
  // Its caller had its answer: the owner hears of it, once.
  CHECK(out.take_expired_answered() == 1);
  CHECK(out.take_expired_answered() == 0);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: Slack's refusal of a message answered already is "
                 "reported once",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send_frame(1, "typing", t0));
  REQUIRE_FALSE(send(2, t0));
  REQUIRE(frames.size() == 2);
  CHECK(outcome(1) == "acked"); // answered when handed over
  out.on_wakeup(t0 + 11s);
  CHECK(outcome(2) == "ack_timeout");
  // Slack's ok:true to either is news to no one.
  CHECK(out.on_reply(ack(frames[0].id), t0 + 12s));
  CHECK(out.take_late_refusals().count == 0);
  // Its refusals come too late for their callers: the owner hears of them.
  CHECK(out.on_reply(ack(frames[0].id, false), t0 + 12s));
  CHECK(out.on_reply(ack(frames[1].id, false), t0 + 12s));
  // The ping monitor's own pings are none of the user's business.
  CHECK(out.on_reply(ack(message_ids::first_monitor_ping_id, false), t0 + 12s));
  auto late = out.take_late_refusals();
  CHECK(late.count == 2);
  CHECK(is(late.first, errc::send_rejected));
  CHECK(out.take_late_refusals().count == 0);
  CHECK(out.stats().failed == 1); // the timeout; a refusal adds none
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a ping sent as a message is acked by its pong",
                 "[outbox]") {
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send_frame(1, "ping", t0));
  REQUIRE(frames.size() == 1);
  auto pong = event::parse(R"({"type":"pong","reply_to":)" +
                           std::to_string(frames[0].id) + "}");
  CHECK(out.on_reply(pong, t0 + 40ms)); // consumed: no event
  CHECK(outcome(1) == "acked");
  CHECK(out.awaiting_ack() == 0);
  // A pong acks no other message.
  REQUIRE_FALSE(send(2, t0 + 1s));
  REQUIRE(frames.size() == 2);
  auto stray = event::parse(R"({"type":"pong","reply_to":)" +
                            std::to_string(frames[1].id) + "}");
  CHECK_FALSE(out.on_reply(stray, t0 + 1s));
  CHECK(outcome(2) == "pending");
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a ping Slack refuses fails with its error",
                 "[outbox]") {
  std::optional<caf::expected<caf::timespan>> rtt;
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(out.ping(
      [&](caf::expected<caf::timespan> x) { rtt = std::move(x); }, t0));
  REQUIRE(frames.size() == 1);
  CHECK(out.on_reply(ack(frames[0].id, false), t0 + 10ms));
  REQUIRE(rtt);
  REQUIRE_FALSE(*rtt);
  CHECK(is(rtt->error(), errc::send_rejected));
  CHECK_FALSE(out.next_wakeup(t0 + 10ms)); // nothing left to time out
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: the standing request goes first, even past a full "
                 "queue",
                 "[outbox][presence]") {
  // A backlog at hello (the queue full, no token left): the session's
  // presence_sub must not be refused until the next hello, nor wait behind
  // the backlog.
  out.session_up(1, writer(), t0);
  for (int n = 1; n <= 6; ++n)
    REQUIRE_FALSE(send(n, t0));
  REQUIRE(frames.size() == 2);
  REQUIRE(is(send(7, t0), errc::send_queue_full));
  boost::json::object msg;
  msg["type"] = "presence_sub";
  msg["ids"] = boost::json::array{"U1"};
  REQUIRE_FALSE(out.enqueue_standing(msg, nullptr, t0));
  // Still one at most: stated again, it replaces the queued one.
  REQUIRE_FALSE(out.enqueue_standing(msg, nullptr, t0));
  CHECK(out.queued() == 5);
  out.on_wakeup(t0 + 1s);
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].json.at("type") == "presence_sub");
  out.on_wakeup(t0 + 2s);
  REQUIRE(frames.size() == 4);
  CHECK(frames[3].json.at("type") == "message");
  CHECK(out.queued() == 3);
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a session's standing statement goes before the "
                 "backlog takes the burst, and before what came back",
                 "[outbox][presence]") {
  // A backlog waits for the session (the queue full), and a message came
  // back unwritten from the session before.
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send_frame(1, "message", t0, "back"));
  out.unsent(frames[0].id, t0);
  out.session_down(1);
  for (int n = 2; n <= 4; ++n)
    REQUIRE_FALSE(send(n, t0));
  REQUIRE(is(send(5, t0), errc::send_queue_full));
  boost::json::object msg;
  msg["type"] = "presence_sub";
  msg["ids"] = boost::json::array{"U1"};
  REQUIRE_FALSE(out.session_up(2, writer(), t0 + 10s, msg, nullptr));
  REQUIRE(frames.size() == 3);
  CHECK(frames[1].json.at("type") == "presence_sub");
  CHECK(frames[2].json.at("text") == "back");
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: messages handed back go out again in the order they "
                 "were first handed on, however they come back",
                 "[outbox]") {
  // A and B wait in the I/O layer of a session that ends; C, handed to its
  // connection just after, is bounced at once and comes back first.
  out.session_up(1, writer(), t0);
  REQUIRE_FALSE(send_frame(1, "message", t0, "A"));
  REQUIRE_FALSE(send_frame(2, "message", t0, "B"));
  REQUIRE_FALSE(send_frame(3, "message", t0, "C"));
  out.on_wakeup(t0 + 1s);
  REQUIRE(frames.size() == 3);
  out.unsent(frames[2].id, t0 + 1s);
  out.unsent(frames[0].id, t0 + 1s);
  out.unsent(frames[1].id, t0 + 1s);
  out.session_down(1);
  // Session 2 gets A out again (with a new id), then ends before writing
  // it: A comes back last, and still goes first.
  out.session_up(2, writer(), t0 + 10s);
  REQUIRE(frames.size() == 5);
  CHECK(frames[3].json.at("text") == "A");
  CHECK(frames[4].json.at("text") == "B");
  out.unsent(frames[4].id, t0 + 10s);
  out.unsent(frames[3].id, t0 + 10s);
  out.session_down(2);
  out.session_up(3, writer(), t0 + 20s);
  out.on_wakeup(t0 + 21s);
  REQUIRE(frames.size() == 8);
  CHECK(frames[5].json.at("text") == "A");
  CHECK(frames[6].json.at("text") == "B");
  CHECK(frames[7].json.at("text") == "C");
}

TEST_CASE_METHOD(outbox_fixture,
                 "outbox: a typing indicator over the size limit is not sent",
                 "[outbox]") {
  // Slack ends the session of a client that sends too large a frame.
  out.session_up(1, writer(), t0);
  CHECK_FALSE(out.typing(std::string(2000, 'C'), t0));
  CHECK(frames.empty());
  // It took no token: the burst of 2 is still there.
  CHECK(out.typing("C1", t0));
  CHECK(out.typing("C2", t0));
  CHECK(frames.size() == 2);
}
