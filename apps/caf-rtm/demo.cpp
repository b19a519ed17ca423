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

// Gives a human reader a moment to follow.
void pause() {
  std::this_thread::sleep_for(150ms);
}

} // namespace

void play_demo(testing::fake_slack& srv,
               const std::function<void(bool)>& done) {
  auto s0 = srv.session(0, 10s);
  if (!s0) {
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
  if (!s0->wait_received(1, 5s)) {
    say("no reply from the client");
    return done(false);
  }
  pause();
  say("Slack says goodbye: the next session opens before this one closes");
  s0->send_goodbye();
  auto s1 = srv.session(1, 10s);
  if (!s1 || !s0->wait_ended(5s)) {
    say("no new session after goodbye");
    return done(false);
  }
  say("the new session is up and the old one closed");
  pause();
  s1->send(
      R"({"type":"message","channel":"C0GENERAL","user":"U0ALICE",)"
      R"("text":"Still here after the reconnect?","ts":"1700000005.000500"})");
  pause();
  say("done");
  done(true);
}

} // namespace caf::rtm::cli
