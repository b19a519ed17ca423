// The Socket Mode client end to end: the client's actors against the fake
// Slack over real loopback sockets (plain and TLS).

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/reply.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "test_support.hpp"

using namespace caf::rtm;
using namespace caf::rtm::test;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;
using caf::rtm::testing::http_response;
using caf::rtm::testing::ws_session_ptr;

namespace json = boost::json;

namespace {

struct sm_client {
  socket_mode_client_actor hdl;
  recorder_ptr rec;
  caf::actor listener;
};

struct sm_fixture : system_fixture {
  log_capture logs;

  client_config config(const fake_slack& srv) {
    return socket_mode_config_for(srv, logs.get());
  }

  ws_session_ptr session(const fake_slack& srv, size_t i) {
    auto s = srv.session(i, 10s);
    if (!s)
      throw std::runtime_error("no session " + std::to_string(i));
    return s;
  }

  // Spawns a client, subscribes a recorder to `types` and to the lifecycle,
  // and connects.
  sm_client connect(const client_config& cfg,
                    std::vector<std::string> types = {"*"},
                    bool expect_success = true) {
    sm_client result;
    result.rec = std::make_shared<recorder>();
    result.hdl = track(sys->spawn(socket_mode_client, cfg));
    result.listener = track(spawn_recorder(*sys, result.rec));
    // Outside REQUIRE, whose expansion names its expression twice.
    auto subscribed = request<caf::ok_atom>(*self, result.hdl,
                                            caf::timespan{5s}, subscribe_atom_v,
                                            result.listener, std::move(types));
    REQUIRE(subscribed);
    REQUIRE(request<caf::ok_atom>(*self, result.hdl, caf::timespan{5s},
                                  subscribe_atom_v, lifecycle_atom_v,
                                  result.listener));
    auto up = request<connected>(*self, result.hdl, caf::timespan{20s},
                                 connect_atom_v);
    if (expect_success)
      REQUIRE(up);
    return result;
  }

  client_status status(const socket_mode_client_actor& hdl) {
    auto st =
        request<client_status>(*self, hdl, caf::timespan{5s}, status_atom_v);
    if (!st)
      throw std::runtime_error("status failed");
    return *st;
  }

  void close(const socket_mode_client_actor& hdl) {
    REQUIRE(
        request<caf::ok_atom>(*self, hdl, caf::timespan{20s}, close_atom_v));
  }
};

std::string app_mention(int n, const std::string& channel = "C1") {
  return R"({"type":"app_mention","channel":")" + channel +
         R"(","user":"U1","text":"<@U0BOT> m)" + std::to_string(n) +
         R"(","ts":")" + std::to_string(n) + R"(.0"})";
}

// An events_api envelope as raw text, for duplicates the fake would not make.
std::string raw_event_envelope(const std::string& envelope_id,
                               const std::string& event_id, int n,
                               int retry_attempt = 0) {
  return R"({"envelope_id":")" + envelope_id +
         R"(","type":"events_api","accepts_response_payload":false,)" +
         R"("retry_attempt":)" + std::to_string(retry_attempt) +
         R"(,"retry_reason":")" + (retry_attempt > 0 ? "timeout" : "") +
         R"(","payload":{"event_id":")" + event_id +
         R"(","type":"event_callback","event":)" + app_mention(n) + "}}";
}

// The number in "m<N>" of an envelope's inner event text.
int number_of(const envelope& env) {
  auto* text = env.event().if_contains("text");
  if (text == nullptr || !text->is_string())
    return -1;
  std::string str{text->get_string()};
  auto pos = str.rfind('m');
  return pos == std::string::npos ? -1 : std::stoi(str.substr(pos + 1));
}

std::optional<json::object> payload_of(const testing::recorded_ack& ack) {
  if (!ack.payload)
    return std::nullopt;
  return json::parse(*ack.payload).as_object();
}

// An actor that answers envelopes with `payload` (nothing if null).
caf::actor spawn_responder(caf::actor_system& sys,
                           const std::optional<json::object>& payload) {
  return spawn_fn(sys, [payload](caf::event_based_actor*) -> caf::behavior {
    return {
        [payload](const envelope&) -> caf::result<json_object> {
          if (payload)
            return json_object{*payload};
          return make_error(errc::invalid_argument, "no answer");
        },
    };
  });
}

// An actor that takes envelopes as requests and never answers them.
caf::actor spawn_silent_subscriber(caf::actor_system& sys) {
  return spawn_fn(sys, [](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self](const envelope&) {
          // Keeps the request open without ever delivering it.
          auto rp = self->make_response_promise();
          return rp;
        },
    };
  });
}

// An actor that holds the envelopes it gets as requests until it receives
// `ok_atom`, then answers them all with a payload.
caf::actor spawn_gated_responder(caf::actor_system& sys) {
  return spawn_fn(sys, [](caf::event_based_actor* self) -> caf::behavior {
    auto held = std::make_shared<
        std::vector<caf::typed_response_promise<json_object>>>();
    return {
        [self, held](const envelope&) {
          held->push_back(self->make_response_promise<json_object>());
          return held->back();
        },
        [held](caf::ok_atom) {
          json_object answer;
          answer.value["text"] = "taken";
          for (auto& rp : *held)
            rp.deliver(answer);
          held->clear();
        },
    };
  });
}

} // namespace

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: acks still queued when the connection drops "
                 "are counted as failed, not as acked",
                 "[socket_mode][hostile]") {
  // The server stops reading: the acks fill the socket's buffers and then
  // wait in the client's queue, where the drop finds them.
  fake_slack srv;
  auto cfg = config(srv);
  cfg.auto_reconnect = false;
  cfg.ping_interval = 60s; // the silent server is not to be found dead first
  auto c = connect(cfg, {"nothing"});
  auto s0 = session(srv, 0);
  s0->pause_reading();
  constexpr size_t n = 300000;
  s0->flood(n, [](size_t i, int64_t) {
    return raw_event_envelope("E" + std::to_string(i), "Ev" + std::to_string(i),
                              static_cast<int>(i));
  });
  REQUIRE(eventually([&] { return status(c.hdl).events_received == n; }, 60s));
  s0->drop();
  REQUIRE(c.rec->wait_lifecycle("disconnected", 1, 10s));
  REQUIRE(eventually([&] { return status(c.hdl).acks_failed > 0; }, 10s));
  auto st = status(c.hdl);
  CHECK(st.envelopes_acked + st.acks_failed == n);
  CHECK(st.envelopes_acked < n);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a server that sends and reads nothing ends its "
                 "session once 16 MB of acks wait, not at the client's memory",
                 "[socket_mode][hostile]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.auto_reconnect = false;
  cfg.ping_interval = 60s; // not found dead by the ping monitor first
  auto c = connect(cfg, {"nothing"});
  auto s0 = session(srv, 0);
  s0->pause_reading();
  // Acks of about 230 bytes: 34 MB of them, more than the client's queue
  // and the kernel's buffers hold.
  constexpr size_t n = 150000;
  s0->flood(n, [](size_t i, int64_t) {
    return raw_event_envelope("E" + std::string(200, 'x') + std::to_string(i),
                              "Ev" + std::to_string(i), static_cast<int>(i));
  });
  REQUIRE(c.rec->wait_lifecycle("disconnected", 1, 60s));
  CHECK(logs.contains("the server reads nothing"));
  // The acks that never went out are counted as failed.
  REQUIRE(eventually(
      [&] {
        auto st = status(c.hdl);
        return st.acks_failed > 0 &&
               st.envelopes_acked + st.acks_failed == st.events_received;
      },
      10s));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: with ack_after_delivery an event is acked once "
                 "its subscriber answered, without a payload",
                 "[socket_mode][respond]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.ack_after_delivery = true;
  cfg.ack_deadline = 2500ms;
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  auto gated = track(spawn_gated_responder(*sys));
  REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s}, subscribe_atom_v,
                                gated, std::vector<std::string>{"*"}));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  srv.send_event(app_mention(1));
  // Not on receipt: the subscriber holds it.
  std::this_thread::sleep_for(500ms);
  CHECK(srv.acks().empty());
  caf::anon_send(gated, caf::ok_atom_v);
  REQUIRE(srv.wait_acks(1, 10s));
  // events_api acks carry no payload, whatever the subscriber said.
  CHECK_FALSE(srv.acks().at(0).payload);
  CHECK(status(hdl).acks_late == 0);
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: batched subscriptions get envelopes in order, "
                 "those that wait for an answer one by one",
                 "[socket_mode][subscribe]") {
  fake_slack srv;
  auto c = connect(config(srv), {"hello"});
  struct seen {
    std::mutex mtx;
    std::vector<int> numbers;
    size_t batches = 0;
    size_t empty_batches = 0;
    std::vector<std::string> requests;
  };
  auto data = std::make_shared<seen>();
  auto batched =
      track(spawn_fn(*sys, [data](caf::event_based_actor*) -> caf::behavior {
        return {
            [data](const envelope_batch& batch) {
              std::lock_guard<std::mutex> guard{data->mtx};
              ++data->batches;
              if (batch.envelopes.empty())
                ++data->empty_batches;
              for (const auto& env : batch.envelopes)
                data->numbers.push_back(number_of(env));
            },
            [data](const envelope& env) -> caf::result<json_object> {
              std::lock_guard<std::mutex> guard{data->mtx};
              data->requests.emplace_back(env.id());
              json_object answer;
              answer.value["text"] = "from the batched subscriber";
              return answer;
            },
        };
      }));
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{5s},
                                subscribe_atom_v, batched,
                                std::vector<std::string>{"*"}, batch_atom_v));
  constexpr size_t n = 5000;
  constexpr size_t slash_at = 2500;
  session(srv, 0)->flood(n, [](size_t i, int64_t) {
    if (i == slash_at)
      return std::string{
          R"({"envelope_id":"S1","type":"slash_commands",)"
          R"("accepts_response_payload":true,"payload":{"command":"/echo",)"
          R"("text":"hi","channel_id":"C2","user_id":"U2"}})"};
    return raw_event_envelope("E" + std::to_string(i), "Ev" + std::to_string(i),
                              static_cast<int>(i));
  });
  REQUIRE(srv.wait_acks(n, 20s));
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{data->mtx};
    return data->numbers.size() >= n - 1;
  }));
  {
    std::lock_guard<std::mutex> guard{data->mtx};
    std::vector<int> expected;
    for (size_t i = 0; i < n; ++i)
      if (i != slash_at)
        expected.push_back(static_cast<int>(i));
    CHECK(data->numbers == expected);
    CHECK(data->empty_batches == 0);
    CHECK(data->batches < n / 10);
    // The slash command came alone, as a request, and its answer went into
    // the ack.
    CHECK(data->requests == std::vector<std::string>{"S1"});
  }
  auto acks = srv.acks();
  auto slash = std::find_if(acks.begin(), acks.end(), [](const auto& ack) {
    return ack.envelope_id == "S1";
  });
  REQUIRE(slash != acks.end());
  auto payload = payload_of(*slash);
  REQUIRE(payload);
  CHECK(payload->at("text") == "from the batched subscriber");
  CHECK(status(c.hdl).events_received == n);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: apps.connections.open with the app token, then "
                 "hello",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.bot_token = srv.options().token;
  auto c = connect(cfg);
  auto opens = srv.requests("apps.connections.open");
  REQUIRE(opens.size() == 1);
  CHECK(opens[0].headers["authorization"] ==
        "Bearer " + srv.options().app_token);
  CHECK(opens[0].form.empty()); // the token never travels in the body
  // The bot token identifies the client (own bot id, team).
  auto auth = srv.requests("auth.test");
  REQUIRE(auth.size() == 1);
  CHECK(auth[0].headers["authorization"] == "Bearer " + srv.options().token);
  REQUIRE(c.rec->wait_lifecycle("connected:1", 1));
  auto up = request<connected>(*self, c.hdl, caf::timespan{5s}, connect_atom_v);
  REQUIRE(up);
  CHECK(up->num_connections == 1);
  CHECK(up->approximate_connection_time == caf::timespan{18060s});
  CHECK(up->app_id == "A0APP");
  auto st = status(c.hdl);
  CHECK(st.state == "connected");
  CHECK(st.connections == 1);
  CHECK(st.num_connections == 1);
  CHECK(st.app_id == "A0APP");
  close(c.hdl);
  REQUIRE_FALSE(logs.lines().empty());
  for (auto& line : logs.lines()) {
    CHECK(line.find(srv.options().app_token) == std::string::npos);
    CHECK(line.find(srv.options().token) == std::string::npos);
  }
}

// Sends an `events_api` envelope with a message in workspace `team` (its
// `team_id` and `authorizations`, as Slack sends them), from `sender`:
// `"user":"U2"` or `"bot_id":"B0"`.
void send_message_from(const ws_session_ptr& s, const std::string& team,
                       const std::string& event_id, const std::string& sender,
                       const std::string& text, const std::string& ts) {
  s->send_envelope(
      "events_api",
      R"({"team_id":")" + team +
          R"(","api_app_id":"A0APP","type":"event_callback","event_id":")" +
          event_id + R"(","authorizations":[{"team_id":")" + team +
          R"(","is_bot":true}],"event":{"type":"message",)" + sender +
          R"(,"channel":"C1","text":")" + text + R"(","ts":")" + ts + R"("}})",
      false);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: an app in several workspaces answers each "
                 "with its own token and skips its own bot in each",
                 "[socket_mode][team_tokens]") {
  fake_slack_options opts;
  opts.workspaces = {{"T0TWO", "xoxb-two", "U0BOT2", "B0BOT2"},
                     {"T0GONE", "xoxb-uninstalled", "U0BOT3", "B0BOT3"}};
  fake_slack srv{opts};
  // The app was uninstalled from one workspace: its token no longer works.
  srv.on("auth.test", [&srv](const testing::recorded_request& req) {
    if (req.headers.at("authorization") == "Bearer xoxb-uninstalled")
      return http_response::error("account_inactive");
    return srv.default_answer(req);
  });
  auto cfg = config(srv);
  auto with_bot_token = false;
  SECTION("with a bot token for the other workspaces") {
    cfg.bot_token = srv.options().token;
    with_bot_token = true;
  }
  SECTION("with the workspaces' tokens alone") {
    // nop
  }
  cfg.team_tokens["T0TWO"] = "  xoxb-two\n"; // trimmed as bot_token is
  cfg.team_tokens["T0GONE"] = "xoxb-uninstalled";
  auto c = connect(cfg);
  // The bots of both tokens were asked for before the client connected; the
  // one that failed was reported and did not keep the client from working.
  CHECK(srv.requests("auth.test").size() == (with_bot_token ? 3 : 2));
  REQUIRE(c.rec->wait_lifecycle("error:slack_error", 1));
  auto s0 = session(srv, 0);
  // Its own bot in the second workspace (learned with auth.test) is
  // skipped there as in its first.
  send_message_from(s0, "T0TWO", "Ev1", R"("bot_id":"B0BOT2")", "mine", "1.0");
  send_message_from(s0, "T0TWO", "Ev2", R"("user":"U2")", "two", "2.0");
  send_message_from(s0, srv.options().team_id, "Ev3", R"("user":"U1")", "one",
                    "3.0");
  REQUIRE(c.rec->wait_envelopes(2));
  REQUIRE(srv.wait_acks(3, 10s));
  auto envs = c.rec->envelopes();
  REQUIRE(envs.size() == 2);
  CHECK(envs[0].event().at("text") == "two");
  CHECK(envs[1].event().at("text") == "one");
  CHECK(status(c.hdl).events_own_skipped == 1);
  auto post = [&](const api_call& call) {
    return request<json_object>(*self, c.hdl, caf::timespan{10s}, call_atom_v,
                                call);
  };
  // A reply goes to its workspace with that workspace's token.
  auto to_two = reply_call(envs[0], "hi two");
  CHECK(to_two.team_id == "T0TWO");
  REQUIRE(post(to_two));
  auto ephemeral = reply_ephemeral(envs[0], "only you");
  REQUIRE(ephemeral);
  REQUIRE(post(*ephemeral));
  // A call's own token wins over its team's.
  auto own = to_two;
  own.token = srv.options().token;
  REQUIRE(post(own));
  // The workspace of the bot token, or a call without a team: the bot
  // token, or an error that says which token is missing.
  auto to_one = reply_call(envs[1], "hi one");
  CHECK(to_one.team_id == srv.options().team_id);
  api_call no_team;
  no_team.method = "chat.postMessage";
  no_team.args = {{"channel", "C1"}, {"text", "x"}};
  file_upload file;
  file.filename = "a.txt";
  file.content = "a";
  file.channel_id = "C2";
  file.team_id = "T0TWO";
  auto uploaded = request<json_object>(*self, c.hdl, caf::timespan{10s},
                                       upload_atom_v, file);
  REQUIRE(uploaded);
  auto bearer = [](const testing::recorded_request& req) {
    return req.headers.at("authorization");
  };
  auto bot = "Bearer " + srv.options().token;
  if (with_bot_token) {
    REQUIRE(post(to_one));
    REQUIRE(post(no_team));
  } else {
    auto failed = post(to_one);
    REQUIRE_FALSE(failed);
    CHECK(code_of(failed.error()) == "invalid_config");
    CHECK(caf::to_string(failed.error()).find("no token for team T0TEAM") !=
          std::string::npos);
    failed = post(no_team);
    REQUIRE_FALSE(failed);
    CHECK(code_of(failed.error()) == "invalid_config");
  }
  auto posts = srv.requests("chat.postMessage");
  REQUIRE(posts.size() == (with_bot_token ? 4 : 2));
  CHECK(bearer(posts[0]) == "Bearer xoxb-two");
  CHECK(bearer(posts[1]) == bot);
  if (with_bot_token) {
    CHECK(bearer(posts[2]) == bot);
    CHECK(bearer(posts[3]) == bot);
  }
  auto ephemerals = srv.requests("chat.postEphemeral");
  REQUIRE(ephemerals.size() == 1);
  CHECK(bearer(ephemerals[0]) == "Bearer xoxb-two");
  for (const auto& step :
       {"files.getUploadURLExternal", "files.completeUploadExternal"}) {
    auto reqs = srv.requests(step);
    REQUIRE(reqs.size() == 1);
    CHECK(bearer(reqs[0]) == "Bearer xoxb-two");
  }
  // No log line shows a workspace's token.
  for (const auto& line : logs.lines())
    CHECK(line.find("xoxb-two") == std::string::npos);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: the workspaces' bots are asked for again after "
                 "a passing failure and connects wait for the first lookup "
                 "or end with close",
                 "[socket_mode][team_tokens]") {
  fake_slack_options opts;
  opts.workspaces = {{"T0TWO", "xoxb-two", "U0BOT2", "B0BOT2"}};
  fake_slack srv{opts};
  auto cfg = config(srv);
  cfg.bot_token = srv.options().token;
  cfg.team_tokens["T0TWO"] = "xoxb-two";
  auto for_two = [](const testing::recorded_request& req) {
    return req.headers.at("authorization") == "Bearer xoxb-two";
  };
  // The second workspace's bot's message and one of a user after it.
  auto send_own_and_marker = [](const ws_session_ptr& s, int n) {
    auto k = std::to_string(n);
    send_message_from(s, "T0TWO", "EvOwn" + k, R"("bot_id":"B0BOT2")", "mine",
                      k + ".0");
    send_message_from(s, "T0TWO", "EvUser" + k, R"("user":"U2")", "user",
                      k + ".5");
  };
  SECTION("a 5xx: asked again with the next connection") {
    cfg.api_retry.max_attempts = 1;
    // The first lookup and the one with the first connection fail: the one
    // with the next connection finds the bot.
    auto failures = std::make_shared<std::atomic<int>>(0);
    srv.on("auth.test",
           [&srv, for_two, failures](const testing::recorded_request& req) {
             if (for_two(req) && failures->fetch_add(1) < 2)
               return http_response::text(500, "down for a moment");
             return srv.default_answer(req);
           });
    auto c = connect(cfg);
    REQUIRE(c.rec->wait_lifecycle("error:", 2));
    REQUIRE(srv.wait_requests("auth.test", 3, 10s)); // the bot token's too
    session(srv, 0)->drop();
    REQUIRE(c.rec->wait_lifecycle("connected:", 2));
    auto s1 = session(srv, 1);
    // The third ask's answer and the events race: its bot's messages are
    // skipped from the answer on (each round waits for its user event).
    size_t users = 0;
    for (int n = 1; n <= 40 && status(c.hdl).events_own_skipped == 0; ++n) {
      send_own_and_marker(s1, n);
      users += 1;
      std::vector<envelope> envs;
      for (int i = 0; i < 200; ++i) {
        envs = c.rec->envelopes();
        auto user_events =
            std::count_if(envs.begin(), envs.end(), [](const envelope& e) {
              return e.event().at("text") == "user";
            });
        if (static_cast<size_t>(user_events) == users)
          break;
        std::this_thread::sleep_for(10ms);
      }
    }
    CHECK(status(c.hdl).events_own_skipped == 1);
    auto asked = srv.requests("auth.test");
    CHECK(std::count_if(asked.begin(), asked.end(), for_two) == 3);
    CHECK(c.rec->lifecycle_count("error:") == 2);
    close(c.hdl);
  }
  SECTION("a second connect waits for the lookup too") {
    srv.on("auth.test", [&srv, for_two](const testing::recorded_request& req) {
      auto answer = srv.default_answer(req);
      if (for_two(req))
        answer.delay = 500ms;
      return answer;
    });
    auto rec = std::make_shared<recorder>();
    auto hdl = track(sys->spawn(socket_mode_client, cfg));
    auto listener = track(spawn_recorder(*sys, rec));
    REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s},
                                  subscribe_atom_v, listener,
                                  std::vector<std::string>{"*"}));
    auto started = std::chrono::steady_clock::now();
    auto connect_in_own_actor = [this, hdl] {
      caf::scoped_actor other{*sys};
      return request<connected>(other, hdl, caf::timespan{20s}, connect_atom_v);
    };
    auto first = std::async(std::launch::async, connect_in_own_actor);
    // The second workspace's lookup is out (the bot token's comes once the
    // supervisor has the connect).
    REQUIRE(srv.wait_requests("auth.test", 1, 10s));
    auto second = std::async(std::launch::async, connect_in_own_actor);
    REQUIRE(second.get());
    // Not sooner than the lookup's answer: a lower bound, whatever the
    // machine's speed.
    CHECK(std::chrono::steady_clock::now() - started >= 500ms);
    REQUIRE(first.get());
    auto s0 = session(srv, 0);
    send_own_and_marker(s0, 1);
    REQUIRE(rec->wait_envelopes(1));
    REQUIRE(srv.wait_acks(2, 10s));
    CHECK(rec->envelopes().size() == 1);
    CHECK(status(hdl).events_own_skipped == 1);
    close(hdl);
  }
  SECTION("close answers a connect that waits (a shared caller's lookup "
          "outlives the client)") {
    srv.on("auth.test", [&srv, for_two](const testing::recorded_request& req) {
      auto answer = srv.default_answer(req);
      if (for_two(req))
        answer.delay = 1s;
      return answer;
    });
    auto api_cfg = cfg;
    api_cfg.token = cfg.bot_token;
    api_cfg.team_tokens.clear();
    cfg.api = track(sys->spawn(web_api, api_cfg));
    cfg.bot_token.clear();
    auto hdl = track(sys->spawn(socket_mode_client, cfg));
    auto waiting = std::async(std::launch::async, [this, hdl] {
      caf::scoped_actor other{*sys};
      return request<connected>(other, hdl, caf::timespan{20s}, connect_atom_v);
    });
    REQUIRE(srv.wait_requests("auth.test", 1, 10s));
    close(hdl);
    auto answer = waiting.get();
    REQUIRE_FALSE(answer);
    CHECK(code_of(answer.error()) == "closed");
    // The lookup's late answer opens no connection.
    std::this_thread::sleep_for(1500ms);
    CHECK(srv.requests("apps.connections.open").empty());
    CHECK(srv.session_count() == 0);
  }
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: the bot's own events are skipped, also when "
                 "a shared caller makes the Web API calls",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  SECTION("the client's own caller, with the bot token") {
    cfg.bot_token = srv.options().token;
  }
  SECTION("a shared caller, without a bot token") {
    auto api_cfg = cfg;
    api_cfg.token = srv.options().token;
    cfg.api = track(sys->spawn(web_api, api_cfg));
  }
  auto c = connect(cfg);
  CHECK(srv.requests("auth.test").size() == 1);
  auto s0 = session(srv, 0);
  s0->send_event(R"({"type":"message","bot_id":")" + srv.options().bot_id +
                 R"(","channel":"C1","text":"mine","ts":"1.0"})");
  s0->send_event(R"({"type":"message","bot_id":"BOTHER","channel":"C1",)"
                 R"("text":"theirs","ts":"2.0"})");
  REQUIRE(c.rec->wait_envelopes(1));
  // The client's own is acked (Slack must not send it again) but not
  // delivered; status is read after both arrived, so both are counted.
  REQUIRE(srv.wait_acks(2, 10s));
  auto envs = c.rec->envelopes();
  REQUIRE(envs.size() == 1);
  CHECK(envs[0].event().at("text") == "theirs");
  CHECK(status(c.hdl).events_own_skipped == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: interactions go to the subscribers of their "
                 "action_id or callback_id",
                 "[socket_mode]") {
  fake_slack srv;
  // One module per button and per modal, and one that takes every click.
  auto c = connect(config(srv), {"block_actions::approve"});
  auto forms = std::make_shared<recorder>();
  auto clicks = std::make_shared<recorder>();
  auto forms_hdl = track(spawn_recorder(*sys, forms));
  auto clicks_hdl = track(spawn_recorder(*sys, clicks));
  REQUIRE(request<caf::ok_atom>(
      *self, c.hdl, caf::timespan{5s}, subscribe_atom_v, forms_hdl,
      std::vector<std::string>{"view_submission::deploy_form"}));
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{5s},
                                subscribe_atom_v, clicks_hdl,
                                std::vector<std::string>{"block_actions"}));
  auto s0 = session(srv, 0);
  auto approve = s0->send_envelope(
      "interactive",
      R"({"type":"block_actions","trigger_id":"tr1","team":{"id":"T1"},)"
      R"("actions":[{"action_id":"approve","value":"42"}]})",
      false);
  auto reject = s0->send_envelope(
      "interactive",
      R"({"type":"block_actions","actions":[{"action_id":"reject"}]})", false);
  auto other_form = s0->send_envelope(
      "interactive",
      R"({"type":"view_submission","view":{"callback_id":"other_form"}})",
      true);
  auto form = s0->send_envelope(
      "interactive",
      R"({"type":"view_submission","view":{"callback_id":"deploy_form",)"
      R"("private_metadata":"C9"}})",
      true);
  // Last: once it arrived, whatever came before it to the same subscriber
  // has too.
  auto approve_again = s0->send_envelope(
      "interactive",
      R"({"type":"block_actions","actions":[{"action_id":"approve"}]})", false);
  REQUIRE(srv.wait_acks(5, 10s));
  REQUIRE(c.rec->wait_envelopes(2));
  REQUIRE(forms->wait_envelopes(1));
  REQUIRE(clicks->wait_envelopes(3));
  auto mine = c.rec->envelopes();
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].id() == approve);
  CHECK(mine[1].id() == approve_again);
  CHECK(mine[0].action_id() == "approve");
  CHECK(mine[0].action().at("value") == "42");
  CHECK(mine[0].trigger_id() == "tr1");
  CHECK(mine[0].team_id() == "T1");
  auto submitted = forms->envelopes();
  REQUIRE(submitted.size() == 1);
  CHECK(submitted[0].id() == form);
  CHECK(submitted[0].private_metadata() == "C9");
  auto all_clicks = clicks->envelopes();
  REQUIRE(all_clicks.size() == 3);
  CHECK(all_clicks[0].id() == approve);
  CHECK(all_clicks[1].id() == reject);
  CHECK(all_clicks[2].id() == approve_again);
  // The modal nobody subscribed to went to no one and was acked all the
  // same.
  std::set<std::string> acked;
  for (auto& ack : srv.acks())
    acked.insert(ack.envelope_id);
  CHECK(acked.count(other_form) == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: the client tells the status of its caller, the "
                 "app token's without a bot token",
                 "[socket_mode][status]") {
  fake_slack srv;
  auto c = connect(config(srv), {"nothing"});
  // apps.connections.open went through the app token's caller.
  auto st = request<api_status>(*self, c.hdl, caf::timespan{5s}, status_atom_v,
                                call_atom_v);
  REQUIRE(st);
  CHECK(st->requests_succeeded >= 1);
  CHECK(st->requests_open == 0);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a bot answers a click with the reply helpers "
                 "against the fake's default answers",
                 "[socket_mode][reply]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.bot_token = srv.options().token;
  auto c = connect(cfg, {"block_actions::deploy"});
  auto s0 = session(srv, 0);
  s0->send_envelope(
      "interactive",
      R"({"type":"block_actions","trigger_id":"tr1","user":{"id":"U7"},)"
      R"("channel":{"id":"C7"},"message":{"ts":"7.0"},)"
      R"("actions":[{"action_id":"deploy","value":"v1.2"}]})",
      false);
  REQUIRE(c.rec->wait_envelopes(1));
  auto click = c.rec->envelopes().at(0);
  auto call = [&](const api_call& x) {
    return request<json_object>(*self, c.hdl, caf::timespan{10s}, call_atom_v,
                                x);
  };
  // Only the user who clicked sees the note.
  auto note = reply_ephemeral(
      click,
      "deploying " + std::string{click.action().at("value").as_string()});
  REQUIRE(note);
  auto noted = call(*note);
  REQUIRE(noted);
  CHECK(noted->value.contains("message_ts"));
  // A modal on the click's trigger.
  api_call open;
  open.method = "views.open";
  open.json.value = {{"trigger_id", click.trigger_id()},
                     {"view", {{"type", "modal"}, {"callback_id", "form"}}}};
  auto opened = call(open);
  REQUIRE(opened);
  CHECK(opened->value.at("view").at("callback_id") == "form");
  // A post with blocks, then its update and its deletion.
  auto blocks = boost::json::array{
      {{"type", "section"},
       {"text", {{"type", "mrkdwn"}, {"text", "*Deploying*"}}}}};
  auto posted = call(with_blocks(reply_call(click, "Deploying"), blocks));
  REQUIRE(posted);
  CHECK(posted->value.at("channel") == "C7");
  auto update = update_call(*posted, "Deployed");
  REQUIRE(update);
  auto updated = call(with_blocks(*update, blocks));
  REQUIRE(updated);
  CHECK(updated->value.at("ts") == posted->value.at("ts"));
  auto remove = delete_call(*updated);
  REQUIRE(remove);
  REQUIRE(call(*remove));
  // What reached Slack: a form for the note, JSON for blocks and the view.
  auto notes = srv.requests("chat.postEphemeral");
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].form["user"] == "U7");
  CHECK(notes[0].form["channel"] == "C7");
  CHECK(notes[0].form["text"] == "deploying v1.2");
  auto opens = srv.requests("views.open");
  REQUIRE(opens.size() == 1);
  CHECK(json::parse(opens[0].body).at("trigger_id") == "tr1");
  auto posts = srv.requests("chat.postMessage");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].headers["content-type"].rfind("application/json", 0) == 0);
  auto body = json::parse(posts[0].body);
  CHECK(body.at("blocks") == blocks);
  CHECK(body.at("channel") == "C7");
  auto updates = srv.requests("chat.update");
  REQUIRE(updates.size() == 1);
  CHECK(json::parse(updates[0].body).at("text") == "Deployed");
  auto deletes = srv.requests("chat.delete");
  REQUIRE(deletes.size() == 1);
  CHECK(deletes[0].form["ts"] == posted->value.at("ts").as_string().c_str());
  // Slack's errors for what is missing.
  api_call bare;
  bare.method = "chat.postMessage";
  bare.args = {{"channel", "C7"}};
  auto no_text = call(bare);
  REQUIRE_FALSE(no_text);
  CHECK(slack_error_code(no_text.error()) == "no_text");
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: envelopes of every type are delivered with "
                 "their views and acked on their connection",
                 "[socket_mode]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto s0 = session(srv, 0);
  // The ack latencies count from the read of each frame, which came after
  // this (a latency from no read time at all would be the clock's age).
  auto sent_at = std::chrono::steady_clock::now();
  auto event_id = s0->send_event(app_mention(1));
  auto slash = s0->send_envelope(
      "slash_commands",
      R"({"command":"/echo","text":"hi","channel_id":"C2","user_id":"U2"})",
      true);
  auto click = s0->send_envelope(
      "interactive",
      R"({"type":"block_actions","user":{"id":"U3"},"channel":{"id":"C3"}})",
      false);
  auto unknown = s0->send_envelope("future_type", R"({"x":1})", false);
  REQUIRE(c.rec->wait_envelopes(4));
  auto envs = c.rec->envelopes();
  CHECK(envs[0].type() == "events_api");
  CHECK(envs[0].event_type() == "app_mention");
  CHECK(envs[0].event_id() == event_id);
  CHECK(envs[0].channel() == "C1");
  CHECK(envs[0].user() == "U1");
  CHECK(envs[0].retry_attempt() == 0);
  CHECK_FALSE(envs[0].accepts_response_payload());
  CHECK(envs[0].connection() == 1);
  CHECK(envs[1].id() == slash);
  CHECK(envs[1].type() == "slash_commands");
  CHECK(envs[1].event_type() == "/echo");
  CHECK(envs[1].channel() == "C2");
  CHECK(envs[1].user() == "U2");
  CHECK(envs[1].accepts_response_payload());
  CHECK(envs[2].id() == click);
  CHECK(envs[2].event_type() == "block_actions");
  CHECK(envs[2].channel() == "C3");
  CHECK(envs[2].user() == "U3");
  CHECK(envs[3].id() == unknown);
  CHECK(envs[3].type() == "future_type");
  // Every envelope acked, on the connection it came on.
  REQUIRE(srv.wait_acks(4, 10s));
  std::set<std::string> acked;
  for (auto& ack : srv.acks()) {
    acked.insert(ack.envelope_id);
    CHECK(ack.session == 0);
  }
  CHECK(acked ==
        std::set<std::string>{envs[0].id().data(), slash, click, unknown});
  auto st = status(c.hdl);
  CHECK(st.events_received == 4);
  CHECK(st.envelopes_acked == 4);
  CHECK(st.ack_latency_max > caf::timespan{0});
  CHECK(st.ack_latency_max < std::chrono::steady_clock::now() - sent_at);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: an envelope id with quotes and backslashes "
                 "comes back intact in its ack",
                 "[socket_mode]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto s0 = session(srv, 0);
  // As JSON: "E\"1\\x\u00e9", that is E"1\xé.
  s0->send(raw_event_envelope(R"(E\"1\\x\u00e9)", "Ev1", 1));
  REQUIRE(srv.wait_acks(1, 10s));
  CHECK(srv.acks().at(0).envelope_id == "E\"1\\x\xc3\xa9");
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: subscriptions match the envelope type or the "
                 "inner event type",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  auto mentions = std::make_shared<recorder>();
  auto clicks = std::make_shared<recorder>();
  auto all_events = std::make_shared<recorder>();
  for (auto [rec, types] :
       {std::pair{mentions, std::vector<std::string>{"app_mention"}},
        std::pair{clicks, std::vector<std::string>{"interactive"}},
        std::pair{all_events, std::vector<std::string>{"events_api"}}}) {
    auto listener = track(spawn_recorder(*sys, rec));
    REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s},
                                  subscribe_atom_v, listener, types));
  }
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  auto s0 = session(srv, 0);
  s0->send_event(app_mention(1));
  s0->send_event(R"({"type":"message","channel":"C1","text":"x","ts":"2"})");
  s0->send_envelope("interactive", R"({"type":"block_actions"})", false);
  REQUIRE(all_events->wait_envelopes(2));
  REQUIRE(clicks->wait_envelopes(1));
  REQUIRE(mentions->wait_envelopes(1));
  REQUIRE(srv.wait_acks(3, 10s));
  CHECK(mentions->envelope_count() == 1);
  CHECK(clicks->envelope_count() == 1);
  CHECK(all_events->envelope_count() == 2);
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a subscriber's answer becomes the ack's payload",
                 "[socket_mode][respond]") {
  fake_slack srv;
  auto cfg = config(srv);
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  json::object answer;
  answer["text"] = "pong";
  auto responder = track(spawn_responder(*sys, answer));
  // A subscriber without an answer does not hold up the one with it.
  auto quiet = track(spawn_responder(*sys, std::nullopt));
  for (auto& x : {responder, quiet})
    REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s},
                                  subscribe_atom_v, x,
                                  std::vector<std::string>{"/ping"}));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  auto id = session(srv, 0)->send_envelope(
      "slash_commands", R"({"command":"/ping","channel_id":"C1"})", true);
  REQUIRE(srv.wait_acks(1, 10s));
  auto ack = srv.acks().at(0);
  CHECK(ack.envelope_id == id);
  REQUIRE(payload_of(ack));
  CHECK(*payload_of(ack) == answer);
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a command acked at once is answered later "
                 "through its response_url",
                 "[socket_mode][respond][webhook]") {
  fake_slack srv;
  auto hdl = track(sys->spawn(socket_mode_client, config(srv)));
  auto answered = std::make_shared<std::atomic<int>>(0);
  socket_mode_client_actor client = hdl;
  // Acks without a payload, then answers through the client.
  auto worker =
      track(spawn_fn(*sys, [client, answered](caf::event_based_actor* self) {
        return caf::behavior{
            [self, client, answered](const envelope& cmd) -> response {
              auto post = respond(cmd, "deployed", respond_as::in_channel);
              if (!post) {
                answered->store(-1);
                return no_payload();
              }
              self->request(client, caf::timespan{20s}, webhook_atom_v, *post)
                  .then([answered](caf::ok_atom) { answered->store(1); },
                        [answered](caf::error&) { answered->store(-2); });
              return no_payload();
            },
        };
      }));
  REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s}, subscribe_atom_v,
                                worker, std::vector<std::string>{"/deploy"}));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  auto url = srv.webhook_url("T0TEAM/42/key");
  session(srv, 0)->send_envelope(
      "slash_commands",
      R"({"command":"/deploy","channel_id":"C1","response_url":")" + url +
          R"("})",
      true);
  REQUIRE(srv.wait_acks(1, 10s));
  CHECK_FALSE(srv.acks().at(0).payload);
  REQUIRE(eventually([&] { return answered->load() != 0; }));
  CHECK(answered->load() == 1);
  auto posts = srv.requests(caf::rtm::testing::webhook_method);
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].target == "/hooks/T0TEAM/42/key");
  auto body = json_object_from(posts[0].body).value;
  CHECK(body.at("text") == "deployed");
  CHECK(body.at("response_type") == "in_channel");
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: the fake's slash command, click, modal and "
                 "shortcut reach their subscribers in Slack's shape",
                 "[socket_mode][fake]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.bot_token = srv.options().token;
  auto c =
      connect(cfg, {"/deploy", "block_actions::approve",
                    "view_submission::deploy_form", "shortcut::new_ticket"});
  // Sent one after another: each on a random live session, of which there
  // is one, so they arrive in this order.
  auto cmd = srv.send_slash_command("/deploy", "prod now", "U7", "C7");
  auto click = srv.send_block_action("approve", "42", "U8", "C8", "5.000200");
  auto form =
      srv.send_view_submission("deploy_form",
                               R"({"env":{"pick":{"type":"static_select",)"
                               R"("selected_option":{"value":"prod"}}}})",
                               "C9");
  auto shortcut = srv.send_shortcut("new_ticket", "U9");
  srv.send_block_action("reject", "0"); // nobody's
  for (const auto& id : {cmd, click, form, shortcut})
    CHECK_FALSE(id.empty());
  REQUIRE(c.rec->wait_envelopes(4));
  REQUIRE(srv.wait_acks(5, 10s));
  auto envs = c.rec->envelopes();
  REQUIRE(envs.size() == 4);
  // The slash command.
  CHECK(envs[0].id() == cmd);
  CHECK(envs[0].type() == "slash_commands");
  CHECK(envs[0].accepts_response_payload());
  CHECK(envs[0].event_type() == "/deploy");
  CHECK(envs[0].text() == "prod now");
  CHECK(envs[0].user() == "U7");
  CHECK(envs[0].channel() == "C7");
  CHECK(envs[0].team_id() == "T0TEAM");
  CHECK_FALSE(envs[0].trigger_id().empty());
  CHECK(envs[0].response_url().rfind(srv.webhook_url("commands-"), 0) == 0);
  // The click.
  CHECK(envs[1].id() == click);
  CHECK(envs[1].event_type() == "block_actions");
  CHECK(envs[1].action_id() == "approve");
  CHECK(envs[1].action().at("value") == "42");
  CHECK(envs[1].user() == "U8");
  CHECK(envs[1].channel() == "C8");
  CHECK(envs[1].payload().at("container").at("message_ts") == "5.000200");
  // The clicked message shows its button.
  const auto& blocks = envs[1].payload().at("message").at("blocks");
  REQUIRE(blocks.is_array());
  CHECK(blocks.at(0).at("elements").at(0).at("action_id") == "approve");
  CHECK(envs[1].response_url().rfind(srv.webhook_url("actions-"), 0) == 0);
  CHECK_FALSE(envs[1].accepts_response_payload());
  // The modal.
  CHECK(envs[2].id() == form);
  CHECK(envs[2].callback_id() == "deploy_form");
  CHECK(envs[2].private_metadata() == "C9");
  CHECK(envs[2]
            .view()
            .at("state")
            .at("values")
            .at("env")
            .at("pick")
            .at("selected_option")
            .at("value") == "prod");
  // The modal's inputs as blocks, and its place in a stack of views.
  CHECK(envs[2].view().at("blocks").at(0).at("block_id") == "env");
  CHECK(envs[2].view().at("blocks").at(0).at("element").at("action_id") ==
        "pick");
  CHECK(envs[2].view().at("blocks").at(0).at("element").at("type") ==
        "static_select");
  CHECK(envs[2].view().at("root_view_id") == envs[2].view().at("id"));
  CHECK(envs[2].view().at("previous_view_id").is_null());
  CHECK(envs[2].accepts_response_payload());
  CHECK(envs[2].response_url().empty());
  // The shortcut.
  CHECK(envs[3].id() == shortcut);
  CHECK(envs[3].callback_id() == "new_ticket");
  CHECK(envs[3].user() == "U9");
  CHECK_FALSE(envs[3].trigger_id().empty());
  // The command's response_url takes a reply on the fake.
  auto post = respond(envs[0], "deployed", respond_as::in_channel);
  REQUIRE(post);
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{10s},
                                webhook_atom_v, *post));
  auto posts = srv.requests(caf::rtm::testing::webhook_method);
  REQUIRE(posts.size() == 1);
  CHECK(json_object_from(posts[0].body).value.at("text") == "deployed");
  CHECK_THROWS_AS(srv.send_view_submission("f", "[1]"), std::invalid_argument);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: without an answer by ack_deadline the envelope "
                 "is acked empty and reported",
                 "[socket_mode][respond]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.ack_deadline = 300ms;
  auto c = connect(cfg, {"events_api"});
  auto silent = track(spawn_silent_subscriber(*sys));
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{5s},
                                subscribe_atom_v, silent,
                                std::vector<std::string>{"slash_commands"}));
  auto id = session(srv, 0)->send_envelope(
      "slash_commands", R"({"command":"/slow","channel_id":"C1"})", true);
  REQUIRE(srv.wait_acks(1, 10s));
  CHECK(srv.acks().at(0).envelope_id == id);
  CHECK_FALSE(srv.acks().at(0).payload);
  REQUIRE(c.rec->wait_lifecycle("error:no_response", 1));
  CHECK(status(c.hdl).acks_late == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: nobody to answer, or an answer without payload: "
                 "acked empty at once",
                 "[socket_mode][respond]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.ack_deadline = 2500ms;
  // The recorder answers envelopes without a payload.
  auto c = connect(cfg);
  auto s0 = session(srv, 0);
  s0->send_envelope("slash_commands", R"({"command":"/a"})", true);
  REQUIRE(srv.wait_acks(1, 10s));
  CHECK_FALSE(srv.acks().at(0).payload);
  CHECK(c.rec->lifecycle_count("error:no_response") == 0);
  CHECK(status(c.hdl).acks_late == 0);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a response payload over 20 KB is refused",
                 "[socket_mode][respond]") {
  fake_slack srv;
  auto c = connect(config(srv), {"events_api"});
  json::object huge;
  huge["text"] = std::string(size_t{21} * 1024, 'x');
  auto responder = track(spawn_responder(*sys, huge));
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{5s},
                                subscribe_atom_v, responder,
                                std::vector<std::string>{"/big"}));
  session(srv, 0)->send_envelope("slash_commands", R"({"command":"/big"})",
                                 true);
  REQUIRE(srv.wait_acks(1, 10s));
  CHECK_FALSE(srv.acks().at(0).payload);
  REQUIRE(c.rec->wait_lifecycle("error:message_too_large", 1));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: acks go out on receipt, not behind slow "
                 "listeners",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.concurrency = 1;
  // The router holds the connection's batches while more than one envelope
  // waits for callbacks: the connection must read on and ack anyway.
  cfg.callback_backlog = 1;
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  // The first callback blocks until every ack has reached Slack: if acks
  // waited for listeners, it would wait for ever (or 20 s).
  std::atomic<bool> acks_first{false};
  std::atomic<int> done{0};
  envelope_listener slow{{"*"}, [&](const envelope&) {
                           if (done == 0)
                             acks_first = srv.wait_acks(5, 20s);
                           ++done;
                         }};
  REQUIRE(
      request<uint64_t>(*self, hdl, caf::timespan{5s}, subscribe_atom_v, slow));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  auto s0 = session(srv, 0);
  for (int i = 1; i <= 5; ++i) {
    s0->send_event(app_mention(i));
    // Separate batches, most of them arriving while the callback blocks.
    std::this_thread::sleep_for(30ms);
  }
  REQUIRE(eventually([&] { return done == 5; }, 30s));
  CHECK(acks_first);
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: every copy is acked, each event delivered once",
                 "[socket_mode][dedupe]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto s0 = session(srv, 0);
  s0->send(raw_event_envelope("E1", "Ev1", 1));
  // Slack's retry of the same event: a new envelope id.
  s0->send(raw_event_envelope("E2", "Ev1", 1, 1));
  // The same envelope again (seen with retry_attempt 0 too).
  s0->send(raw_event_envelope("E1", "Ev1", 1));
  // A retry of an event never seen: the first copy never reached us.
  s0->send(raw_event_envelope("E3", "Ev2", 2, 2));
  REQUIRE(srv.wait_acks(4, 10s));
  REQUIRE(c.rec->wait_envelopes(2));
  std::this_thread::sleep_for(100ms); // room for a wrong third delivery
  auto envs = c.rec->envelopes();
  REQUIRE(envs.size() == 2);
  CHECK(envs[0].event_id() == "Ev1");
  CHECK(envs[1].event_id() == "Ev2");
  CHECK(envs[1].retry_attempt() == 2);
  CHECK(envs[1].retry_reason() == "timeout");
  std::multiset<std::string> acked;
  for (auto& ack : srv.acks())
    acked.insert(ack.envelope_id);
  CHECK(acked == std::multiset<std::string>{"E1", "E1", "E2", "E3"});
  CHECK(status(c.hdl).events_duplicate == 2);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a retry on another connection is acked there "
                 "and delivered once",
                 "[socket_mode][dedupe]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.connections = 2;
  auto c = connect(cfg);
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 2; }));
  REQUIRE(eventually([&] { return status(c.hdl).connections == 2; }));
  session(srv, 0)->send(raw_event_envelope("E1", "Ev7", 7));
  session(srv, 1)->send(raw_event_envelope("E2", "Ev7", 7, 1));
  REQUIRE(srv.wait_acks(2, 10s));
  std::map<std::string, size_t> ack_session;
  for (auto& ack : srv.acks())
    ack_session[ack.envelope_id] = ack.session;
  CHECK(ack_session["E1"] == 0);
  CHECK(ack_session["E2"] == 1);
  REQUIRE(c.rec->wait_envelopes(1));
  std::this_thread::sleep_for(100ms);
  CHECK(c.rec->envelope_count() == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: refresh_requested makes the next connection "
                 "before the old one breaks, nothing lost or doubled",
                 "[socket_mode][refresh]") {
  // The test says hello itself: had the new connection's hello come first,
  // the client would close the old one before reading what it still sent.
  fake_slack_options opts;
  opts.send_hello = false;
  fake_slack srv{opts};
  constexpr auto hello = R"({"type":"hello","num_connections":1})";
  auto hello0 = std::async(std::launch::async, [&] {
    if (auto s = srv.session(0, 10s))
      s->send(hello);
  });
  auto c = connect(config(srv));
  hello0.get();
  auto s0 = session(srv, 0);
  for (int i = 1; i <= 3; ++i)
    s0->send_event(app_mention(i));
  s0->send_disconnect("refresh_requested");
  // The old connection keeps delivering (and acking) until the new one is up.
  for (int i = 4; i <= 6; ++i)
    s0->send_event(app_mention(i));
  REQUIRE(c.rec->wait_envelopes(6));
  auto s1 = session(srv, 1);
  s1->send(hello);
  REQUIRE(c.rec->wait_lifecycle("connected:2", 1));
  REQUIRE(s0->wait_ended(10s));
  CHECK(s0->close_code_received() == std::optional<uint16_t>{1000});
  for (int i = 7; i <= 9; ++i)
    s1->send_event(app_mention(i));
  REQUIRE(c.rec->wait_envelopes(9));
  std::this_thread::sleep_for(100ms);
  std::vector<int> numbers;
  for (auto& env : c.rec->envelopes())
    numbers.push_back(number_of(env));
  CHECK(numbers == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  REQUIRE(srv.wait_acks(9, 10s));
  CHECK(srv.requests("apps.connections.open").size() == 2);
  // No lost events means no redelivery either.
  CHECK(srv.envelopes().size() == 9);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a connection a refresh or a disconnect closes "
                 "closes only once the answers it owes are acked on it",
                 "[socket_mode][refresh][respond]") {
  // With reconnecting on, the refresh makes a new connection first; with it
  // off, the user's disconnect closes the only one.
  auto refresh = GENERATE(true, false);
  INFO((refresh ? "refresh" : "disconnect, reconnecting off"));
  fake_slack srv;
  auto cfg = config(srv);
  cfg.auto_reconnect = refresh;
  cfg.ack_deadline = 2500ms;
  // The recorder takes only the lifecycle; the gated responder the command.
  auto c = connect(cfg, {"hello"});
  auto& hdl = c.hdl;
  auto gated = track(spawn_gated_responder(*sys));
  REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s}, subscribe_atom_v,
                                gated, std::vector<std::string>{"/deploy"}));
  auto s0 = session(srv, 0);
  // A slash command (never redelivered) whose answer is still being made
  // when the connection is to close.
  auto slash = s0->send_envelope(
      "slash_commands",
      R"({"command":"/deploy","text":"v2","channel_id":"C2","user_id":"U2"})",
      true);
  REQUIRE(eventually([&] { return status(hdl).events_received == 1; }));
  if (refresh) {
    s0->send_disconnect("refresh_requested");
    REQUIRE(c.rec->wait_lifecycle("connected:2", 1));
  } else {
    REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s},
                                  disconnect_atom_v));
  }
  // The old connection waits for the answer.
  CHECK_FALSE(s0->wait_ended(300ms));
  caf::anon_send(gated, caf::ok_atom_v);
  REQUIRE(srv.wait_acks(1, 10s));
  auto ack = srv.acks().at(0);
  CHECK(ack.envelope_id == slash);
  CHECK(ack.session == 0);
  REQUIRE(ack.payload);
  CHECK(ack.payload->find("taken") != std::string::npos);
  REQUIRE(s0->wait_ended(10s));
  CHECK(s0->close_code_received() == std::optional<uint16_t>{1000});
  auto st = status(hdl);
  CHECK(st.envelopes_acked == 1);
  CHECK(st.acks_failed == 0);
  CHECK(srv.session_count() == (refresh ? 2u : 1u));
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a successor refused for good still lets the "
                 "old connection write a command's answer before it closes",
                 "[socket_mode][refresh]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.ack_deadline = 2500ms;
  auto c = connect(cfg, {"hello"});
  auto gated = track(spawn_gated_responder(*sys));
  REQUIRE(request<caf::ok_atom>(*self, c.hdl, caf::timespan{5s},
                                subscribe_atom_v, gated,
                                std::vector<std::string>{"/deploy"}));
  auto s0 = session(srv, 0);
  auto slash = s0->send_envelope(
      "slash_commands",
      R"({"command":"/deploy","text":"v2","channel_id":"C2","user_id":"U2"})",
      true);
  REQUIRE(eventually([&] { return status(c.hdl).events_received == 1; }));
  // The refresh's successor: Slack refuses it for good.
  srv.script("apps.connections.open", http_response::error("invalid_auth"));
  s0->send_disconnect("warning");
  REQUIRE(c.rec->wait_lifecycle("fatal:slack_error", 1));
  // The old connection waits for the answer it owes.
  CHECK_FALSE(s0->wait_ended(150ms));
  caf::anon_send(gated, caf::ok_atom_v);
  REQUIRE(srv.wait_acks(1, 10s));
  auto ack = srv.acks().at(0);
  CHECK(ack.envelope_id == slash);
  REQUIRE(ack.payload);
  CHECK(ack.payload->find("taken") != std::string::npos);
  REQUIRE(s0->wait_ended(10s));
  CHECK(s0->close_code_received() == std::optional<uint16_t>{1000});
  CHECK(status(c.hdl).acks_failed == 0);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a warning starts the next connection early",
                 "[socket_mode][refresh]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto s0 = session(srv, 0);
  s0->send_disconnect("warning");
  REQUIRE(c.rec->wait_lifecycle("connected:2", 1));
  REQUIRE(s0->wait_ended(10s));
  // The refresh that would have followed finds the old one gone already.
  session(srv, 1)->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  CHECK(status(c.hdl).connections == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture, "socket mode: link_disabled is fatal",
                 "[socket_mode]") {
  fake_slack srv;
  auto c = connect(config(srv));
  session(srv, 0)->send_disconnect("link_disabled");
  REQUIRE(c.rec->wait_lifecycle("fatal:slack_error", 1));
  CHECK(status(c.hdl).state == "failed");
  std::this_thread::sleep_for(200ms);
  CHECK(srv.requests("apps.connections.open").size() == 1);
  auto again =
      request<connected>(*self, c.hdl, caf::timespan{5s}, connect_atom_v);
  REQUIRE_FALSE(again);
  CHECK(slack_error_code(again.error()) == "link_disabled");
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: too_many_websockets closes the surplus "
                 "connection and backs off without a storm",
                 "[socket_mode]") {
  fake_slack_options opts;
  opts.max_socket_mode_connections = 1;
  fake_slack srv{opts};
  auto cfg = config(srv);
  cfg.connections = 2;
  cfg.reconnect = retry_policy{200ms, 2s, 0};
  auto c = connect(cfg);
  std::this_thread::sleep_for(3s);
  // Without backoff this would be hundreds of attempts.
  auto opens = srv.requests("apps.connections.open").size();
  CHECK(opens >= 3);
  CHECK(opens <= 12);
  auto st = status(c.hdl);
  CHECK(st.connections == 1);
  CHECK(st.state == "connected");
  // The live connection still delivers.
  session(srv, 0)->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: too_many_websockets on a connection that "
                 "worked: the next attempt at once, a refusal of it backs "
                 "off",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.healthy_session = 50ms;
  cfg.reconnect = retry_policy{100ms, 200ms, 0};
  auto c = connect(cfg);
  std::this_thread::sleep_for(200ms); // healthy by now
  srv.script("apps.connections.open",
             http_response::error("too_many_websockets"));
  session(srv, 0)->send_disconnect("too_many_websockets");
  REQUIRE(c.rec->wait_lifecycle("connected:", 2, 10s));
  CHECK(srv.requests("apps.connections.open").size() == 3);
  // A refused attempt always waits, which a reconnecting message
  // announces.
  CHECK(c.rec->lifecycle_count("reconnecting:") >= 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: at the app's connection limit a refresh closes "
                 "the old connection before it opens the next",
                 "[socket_mode]") {
  fake_slack_options opts;
  opts.max_socket_mode_connections = 1;
  fake_slack srv{opts};
  auto cfg = config(srv);
  cfg.reconnect = retry_policy{100ms, 500ms, 3};
  auto c = connect(cfg);
  auto s0 = session(srv, 0);
  s0->send_disconnect("warning");
  // The successor is refused (too_many_websockets): the old connection
  // goes first, with its acks, and the next attempt has room.
  REQUIRE(s0->wait_ended(10s));
  CHECK(s0->close_code_received() == std::optional<uint16_t>{1000});
  REQUIRE(c.rec->wait_lifecycle("connected:", 2));
  CHECK(c.rec->lifecycle_count("fatal") == 0);
  // An expected refusal: no error to report.
  CHECK(c.rec->lifecycle_count("error") == 0);
  CHECK(status(c.hdl).state == "connected");
  auto s2 = session(srv, 2);
  s2->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: max_attempts does not close a working "
                 "connection because a further one cannot be added",
                 "[socket_mode]") {
  fake_slack_options opts;
  opts.max_socket_mode_connections = 1;
  fake_slack srv{opts};
  auto cfg = config(srv);
  cfg.connections = 2;
  cfg.reconnect = retry_policy{100ms, 500ms, 3};
  auto c = connect(cfg);
  // Well past three failed attempts for the second connection.
  REQUIRE(eventually(
      [&] { return srv.requests("apps.connections.open").size() >= 6; }, 20s));
  CHECK(c.rec->lifecycle_count("fatal:gave_up") == 0);
  auto st = status(c.hdl);
  CHECK(st.connections == 1);
  CHECK(st.state == "connected");
  session(srv, 0)->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: handshakes answered 409 or 503 are retried with "
                 "a fresh URL",
                 "[socket_mode]") {
  fake_slack srv;
  srv.script_handshake(409);
  srv.script_handshake(503);
  auto c = connect(config(srv));
  CHECK(srv.rejected_handshakes() == 2);
  CHECK(srv.requests("apps.connections.open").size() == 3);
  CHECK(c.rec->lifecycle_count("error:websocket_error") == 2);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: an upgrade answer without end fails its "
                 "handshake at 1 MB, and the next attempt connects",
                 "[socket_mode][hostile]") {
  fake_slack srv;
  // A refusal whose chunk-size line never ends: Beast's parser would wait
  // for its end, and its buffer would grow, until hello_timeout.
  srv.script_handshake_raw("HTTP/1.1 500 Internal Server Error\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n1;" +
                           std::string(size_t{3} << 20, 'a'));
  auto c = connect(config(srv));
  CHECK(srv.rejected_handshakes() == 1);
  CHECK(c.rec->lifecycle_count("error:websocket_error") == 1);
  CHECK(logs.contains("the answer exceeds 1048576 bytes"));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a handshake refused with 429 waits for its "
                 "Retry-After",
                 "[socket_mode]") {
  fake_slack srv;
  srv.script_handshake(429, "1");
  auto cfg = config(srv);
  cfg.reconnect = retry_policy{20ms, 100ms, 0};
  auto c = connect(cfg);
  CHECK(srv.rejected_handshakes() == 1);
  auto opens = srv.requests("apps.connections.open");
  REQUIRE(opens.size() == 2);
  // The backoff alone would wait at most 100 ms.
  CHECK(opens[1].received_at - opens[0].received_at >= 1s);
  CHECK(c.rec->lifecycle_count("error:rate_limited") == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: apps.connections.open honours Retry-After and "
                 "retries 5xx and answers without url",
                 "[socket_mode]") {
  fake_slack srv;
  srv.script("apps.connections.open", http_response::rate_limited("1"));
  srv.script("apps.connections.open", http_response::ok());
  srv.script("apps.connections.open",
             http_response{503, {}, "down", "text/plain"});
  auto c = connect(config(srv));
  auto opens = srv.requests("apps.connections.open");
  REQUIRE(opens.size() == 4);
  CHECK(opens[1].received_at - opens[0].received_at >= 1s);
  CHECK(c.rec->lifecycle_count("error:malformed_response") == 1);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: fatal codes of apps.connections.open stop the "
                 "client",
                 "[socket_mode]") {
  for (auto code : {"invalid_auth", "not_authed", "account_inactive",
                    "token_revoked", "token_expired", "not_allowed_token_type",
                    "missing_scope", "team_disabled"}) {
    INFO(code);
    fake_slack srv;
    srv.script("apps.connections.open", http_response::error(code));
    auto hdl = track(sys->spawn(socket_mode_client, config(srv)));
    auto up =
        request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v);
    REQUIRE_FALSE(up);
    CHECK(slack_error_code(up.error()) == code);
    CHECK(srv.requests("apps.connections.open").size() == 1);
    close(hdl);
  }
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: frames that are no envelopes are counted, the "
                 "connection stays",
                 "[socket_mode]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto s0 = session(srv, 0);
  s0->send("UNAUTHENTICATED: cache_error"); // plain text: not JSON at all
  s0->send("{\"broken");
  s0->send("[1,2]");
  s0->send_binary("\x01\x02");
  s0->send(R"({"type":"something_new"})");
  s0->send(R"({"envelope_id":"E9","type":"events_api","payload":7})");
  // An id of 300 bytes (Slack's are about 36): neither delivered nor acked.
  s0->send(R"({"envelope_id":")" + std::string(300, 'x') +
           R"(","type":"events_api","payload":{"event":{"type":"x"}}})");
  s0->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(2));
  auto st = status(c.hdl);
  CHECK(st.frames_not_object == 1);
  CHECK(st.frames_malformed == 3);
  CHECK(st.frames_binary == 1);
  CHECK(st.frames_unknown == 1);
  CHECK(st.connections == 1);
  CHECK(st.sessions == 1);
  // The envelope with an odd payload is acked and delivered like any other.
  REQUIRE(srv.wait_acks(2, 10s));
  CHECK(c.rec->envelope_count() == 2);
  for (auto& ack : srv.acks())
    CHECK(ack.envelope_id.size() < 300);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: N connections, envelopes spread at random, "
                 "each delivered once and in order per connection",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.connections = 3;
  auto c = connect(cfg);
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 3; }));
  REQUIRE(eventually([&] { return status(c.hdl).connections == 3; }));
  constexpr int n = 90;
  std::set<std::string> ids;
  for (int i = 1; i <= n; ++i)
    ids.insert(srv.send_event(app_mention(i)));
  REQUIRE(c.rec->wait_envelopes(n));
  std::this_thread::sleep_for(100ms);
  auto envs = c.rec->envelopes();
  REQUIRE(envs.size() == static_cast<size_t>(n));
  std::set<std::string> got;
  std::map<uint64_t, std::vector<int>> per_connection;
  for (auto& env : envs) {
    got.insert(std::string{env.event_id()});
    per_connection[env.connection()].push_back(number_of(env));
  }
  CHECK(got == ids);
  CHECK(per_connection.size() == 3); // spread over all of them
  for (auto& [conn, numbers] : per_connection)
    CHECK(std::is_sorted(numbers.begin(), numbers.end()));
  REQUIRE(srv.wait_acks(n, 10s));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: more connections counted by Slack than held "
                 "are reported",
                 "[socket_mode]") {
  fake_slack_options opts;
  opts.ghost_connections = 2;
  fake_slack srv{opts};
  auto c = connect(config(srv));
  REQUIRE(c.rec->wait_lifecycle("error:stale_connections", 1));
  CHECK(status(c.hdl).num_connections == 3);
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: with app_connections, the connections of the "
                 "app's other processes are no stale ones",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.app_connections = 2;
  auto bad = cfg;
  bad.connections = 3;
  CHECK(bad.validate());
  bad.app_connections = 11;
  CHECK(bad.validate());
  // Two processes of one app, one connection each: Slack counts both.
  auto first = connect(cfg);
  auto second = connect(cfg);
  CHECK(status(second.hdl).num_connections == 2);
  // A refresh: at the new connection's hello Slack counts the old one too.
  session(srv, 0)->send_disconnect("refresh_requested");
  REQUIRE(first.rec->wait_lifecycle("connected:", 2));
  // Without the option, a third process reports the other two.
  auto third = connect(config(srv));
  REQUIRE(third.rec->wait_lifecycle("error:stale_connections", 1));
  CHECK(first.rec->lifecycle_count("error:stale_connections") == 0);
  CHECK(second.rec->lifecycle_count("error:stale_connections") == 0);
  close(first.hdl);
  close(second.hdl);
  close(third.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: server pings answered, a silent link detected "
                 "and replaced",
                 "[socket_mode]") {
  fake_slack_options opts;
  opts.server_ping_interval = 50ms;
  fake_slack srv{opts};
  auto cfg = config(srv);
  cfg.ping_interval = 200ms;
  cfg.pong_timeout = 200ms;
  auto c = connect(cfg);
  auto s0 = session(srv, 0);
  REQUIRE(eventually([&] { return !s0->pongs_received().empty(); }));
  s0->go_silent();
  REQUIRE(c.rec->wait_lifecycle("disconnected:1:dead_link", 1));
  REQUIRE(c.rec->wait_lifecycle("connected:2", 1));
  session(srv, 1)->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: a close frame Slack never answers does not "
                 "hold up close",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  cfg.close_timeout = 200ms;
  auto c = connect(cfg);
  session(srv, 0)->go_silent();
  auto t0 = std::chrono::steady_clock::now();
  close(c.hdl);
  // Bounded by close_timeout (200 ms), not by the ping monitor or TCP
  // timeouts (the silent fake never ends the session); the bound here
  // leaves room for a loaded machine.
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE_METHOD(sm_fixture, "socket mode: over TLS", "[socket_mode][tls]") {
  fake_slack_options opts;
  opts.tls = true;
  fake_slack srv{opts};
  auto c = connect(config(srv));
  auto opens = srv.requests("apps.connections.open");
  REQUIRE(opens.size() == 1);
  CHECK(opens[0].tls);
  session(srv, 0)->send_event(app_mention(1));
  REQUIRE(c.rec->wait_envelopes(1));
  REQUIRE(srv.wait_acks(1, 10s));
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: Web API calls use the bot token, never the app "
                 "token",
                 "[socket_mode]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::ok(R"("ts":"1.5")"));
  auto cfg = config(srv);
  auto without = track(sys->spawn(socket_mode_client, cfg));
  auto refused =
      request<json_object>(*self, without, caf::timespan{10s}, call_atom_v,
                           "chat.postMessage", api_args{{"channel", "C1"}});
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == "invalid_config");
  close(without);
  cfg.bot_token = srv.options().token;
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  auto posted =
      request<json_object>(*self, hdl, caf::timespan{10s}, call_atom_v,
                           "chat.postMessage", api_args{{"channel", "C1"}});
  REQUIRE(posted);
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].headers["authorization"] == "Bearer " + srv.options().token);
  close(hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: the public handle rejects internal messages",
                 "[socket_mode][interface]") {
  fake_slack srv;
  auto c = connect(config(srv));
  auto untyped = caf::actor_cast<caf::actor>(c.hdl);
  auto rejected = [&](auto... xs) {
    caf::error err;
    (*self)
        ->request(untyped, caf::timespan{5s}, xs...)
        .receive([](caf::ok_atom) {}, [&](caf::error& x) { err = x; });
    return err == caf::sec::unexpected_message;
  };
  CHECK(rejected(fatal_event{make_error(errc::slack_error, "link_disabled")}));
  CHECK(rejected(caf::atom("timeout"), std::string{"E1"}));
  CHECK(rejected(caf::atom("progress"), uint64_t{1}));
  CHECK(status(c.hdl).state == "connected");
  close(c.hdl);
}

TEST_CASE_METHOD(sm_fixture,
                 "socket mode: configuration that cannot work fails connect",
                 "[socket_mode]") {
  fake_slack srv;
  auto cfg = config(srv);
  for (auto [field, value, what] :
       {std::tuple{"app_token", "", "app_token is empty"},
        std::tuple{"app_token", "xoxb-bot", "app-level token"},
        std::tuple{"connections", "11", "connections must be 1 to 10"},
        std::tuple{"ack_deadline", "3000", "under 3 s"},
        std::tuple{"redeliver_unclaimed", "true",
                   "redeliver_unclaimed needs ack_after_delivery"}}) {
    INFO(field);
    auto bad = cfg;
    if (std::string{field} == "app_token")
      bad.app_token = value;
    else if (std::string{field} == "connections")
      bad.connections = 11;
    else if (std::string{field} == "redeliver_unclaimed")
      bad.redeliver_unclaimed = true;
    else
      bad.ack_deadline = 3s;
    auto hdl = track(sys->spawn(socket_mode_client, bad));
    auto up = request<connected>(*self, hdl, caf::timespan{5s}, connect_atom_v);
    REQUIRE_FALSE(up);
    CHECK(render(up.error()).find(what) != std::string::npos);
    close(hdl);
  }
}
