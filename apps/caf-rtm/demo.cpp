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
