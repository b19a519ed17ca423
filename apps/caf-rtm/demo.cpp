#include "caf-rtm/demo.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace caf::rtm::cli {

namespace {

using namespace std::chrono_literals;

void say(const char* text) {
  std::fprintf(stderr, "demo: %s\n", text);
}

// Waits for `pred` up to `timeout`, checking `stop` in between, so the
// program can end at once when the client finished first (--count).
template <class Pred>
bool wait_for(const std::atomic<bool>& stop, std::chrono::milliseconds timeout,
              Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stop) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

} // namespace

void play_demo(testing::fake_slack& srv, const std::atomic<bool>& stop,
               const std::function<void(bool)>& done) {
  // Gives a human reader a moment to follow.
  auto pause = [&stop] {
    wait_for(stop, 150ms, [] { return false; });
  };
  testing::ws_session_ptr s0;
  if (!wait_for(stop, 10s,
                [&] { return (s0 = srv.session(0, 0ms)) != nullptr; })) {
    if (!stop)
      say("the client never connected");
    return done(false);
  }
  say("connected; #general (C0GENERAL) wakes up");
  pause();
  s0->send(R"({"type":"message","channel":"C0GENERAL","user":"U0ALICE",)"
           R"("text":"Good morning, team!","ts":"1700000001.000100"})");
  pause();
  s0->send(R"({"type":"user_typing","channel":"C0GENERAL","user":"U0BOB"})");
  pause();
  s0->send(R"({"type":"message","channel":"C0GENERAL","user":"U0BOB",)"
           R"("text":"Morning! Deploy at 3pm?","ts":"1700000002.000200"})");
  pause();
  s0->send(R"({"type":"reaction_added","user":"U0ALICE","reaction":"+1",)"
           R"("item":{"type":"message","channel":"C0GENERAL",)"
           R"("ts":"1700000002.000200"},"event_ts":"1700000003.000300"})");
  pause();
  say("Bob mentions the bot; the client answers and Slack acks");
  s0->send(R"({"type":"message","channel":"C0GENERAL","user":"U0BOB",)"
           R"("text":"<@U0BOT> are you there?","ts":"1700000004.000400"})");
  if (!wait_for(stop, 5s, [&] { return s0->received().size() >= 1; })) {
    if (!stop)
      say("no reply from the client");
    return done(false);
  }
  pause();
  say("Slack says goodbye: the next session opens before this one closes");
  s0->send_goodbye();
  testing::ws_session_ptr s1;
  if (!wait_for(stop, 10s, [&] {
        return (s1 = srv.session(1, 0ms)) != nullptr && s0->ended();
      })) {
    if (!stop)
      say("no new session after goodbye");
    return done(false);
  }
  say("the new session is up and the old one closed");
  pause();
  s1->send(R"({"type":"message","channel":"C0GENERAL","user":"U0ALICE",)"
           R"("text":"<@U0BOT> still here after the reconnect?",)"
           R"("ts":"1700000005.000500"})");
  if (!wait_for(stop, 5s, [&] { return s1->received().size() >= 1; })) {
    if (!stop)
      say("no reply on the new session");
    return done(false);
  }
  say("done");
  done(true);
}

} // namespace caf::rtm::cli

namespace caf::rtm::cli {

namespace {

// A Socket Mode ack with a payload for envelope `id` arrived.
bool answered(const testing::fake_slack& srv, const std::string& id) {
  for (auto& ack : srv.acks())
    if (ack.envelope_id == id && ack.payload)
      return true;
  return false;
}

bool acked(const testing::fake_slack& srv, const std::string& id) {
  for (auto& ack : srv.acks())
    if (ack.envelope_id == id)
      return true;
  return false;
}

} // namespace

void play_socket_mode_demo(testing::fake_slack& srv,
                           const std::atomic<bool>& stop,
                           const std::function<void(bool)>& done) {
  auto pause = [&stop] {
    wait_for(stop, 150ms, [] { return false; });
  };
  auto fail = [&](const char* what) {
    if (!stop)
      say(what);
    done(false);
  };
  // The app's bot posts through the Web API.
  srv.on("chat.postMessage", [](const testing::recorded_request&) {
    return testing::http_response::ok(R"("ts":"1700000009.000900")");
  });
  testing::ws_session_ptr s0;
  if (!wait_for(stop, 10s,
                [&] { return (s0 = srv.session(0, 0ms)) != nullptr; }))
    return fail("the app never connected");
  say("the app is connected; #general (C0GENERAL) wakes up");
  pause();
  s0->send_event(R"({"type":"message","channel":"C0GENERAL","user":"U0ALICE",)"
                 R"("text":"Good morning, team!","ts":"1700000001.000100"})");
  pause();
  say("Bob mentions the app; it answers with chat.postMessage");
  s0->send_event(R"({"type":"app_mention","channel":"C0GENERAL",)"
                 R"("user":"U0BOB","text":"<@U0BOT> are you there?",)"
                 R"("ts":"1700000002.000200"})");
  if (!wait_for(stop, 5s,
                [&] { return srv.requests("chat.postMessage").size() >= 1; }))
    return fail("no chat.postMessage from the app");
  pause();
  say("Alice runs /echo; the app answers in the ack's payload");
  auto echo = s0->send_envelope(
      "slash_commands",
      R"({"command":"/echo","text":"hello","channel_id":"C0GENERAL",)"
      R"("user_id":"U0ALICE"})",
      true);
  if (!wait_for(stop, 5s, [&] { return answered(srv, echo); }))
    return fail("no answer to /echo");
  pause();
  say("Alice runs /deploy; the app acks at once and answers later through "
      "the command's response_url");
  auto deploy = s0->send_envelope(
      "slash_commands",
      R"({"command":"/deploy","text":"v1.2","channel_id":"C0GENERAL",)"
      R"("user_id":"U0ALICE","response_url":")" +
          srv.webhook_url("T0TEAM/1700000003/deploy") + R"("})",
      true);
  if (!wait_for(stop, 5s, [&] {
        return acked(srv, deploy) &&
               srv.requests(testing::webhook_method).size() >= 1;
      }))
    return fail("no later answer to /deploy");
  pause();
  say("Slack sends an event again (its ack seemed late): acked, shown once");
  auto event = R"("type":"events_api","accepts_response_payload":false,)"
               R"("payload":{"event_id":"Ev0DEMO","type":"event_callback",)"
               R"("event":{"type":"reaction_added","user":"U0BOB",)"
               R"("reaction":"+1","item":{"type":"message",)"
               R"("channel":"C0GENERAL","ts":"1700000001.000100"}}})";
  s0->send(std::string{R"({"envelope_id":"demo-1",)"} + event +
           R"(,"retry_attempt":0,"retry_reason":""})");
  s0->send(std::string{R"({"envelope_id":"demo-2",)"} + event +
           R"(,"retry_attempt":1,"retry_reason":"timeout"})");
  if (!wait_for(stop, 5s,
                [&] { return acked(srv, "demo-1") && acked(srv, "demo-2"); }))
    return fail("the retried envelope was not acked");
  pause();
  say("Slack asks for a refresh: the next connection opens before this one "
      "closes");
  s0->send_disconnect("refresh_requested");
  testing::ws_session_ptr s1;
  if (!wait_for(stop, 10s, [&] {
        return (s1 = srv.session(1, 0ms)) != nullptr && s0->ended();
      }))
    return fail("no new connection after the refresh");
  say("the new connection is up and the old one closed");
  pause();
  auto bye = s1->send_envelope(
      "slash_commands",
      R"({"command":"/echo","text":"still there?","channel_id":"C0GENERAL",)"
      R"("user_id":"U0ALICE"})",
      true);
  if (!wait_for(stop, 5s, [&] { return answered(srv, bye); }))
    return fail("no answer on the new connection");
  say("done");
  done(true);
}

} // namespace caf::rtm::cli
