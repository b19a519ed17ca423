// Token rotation over loopback against the fake Slack: the web-API caller
// exchanges its refresh token before the first call, when the token is due
// and when Slack answers `token_expired`; the clients rotate through it.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/web_api.hpp"
#include "test_support.hpp"

using namespace caf::rtm;
using namespace caf::rtm::test;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;
using caf::rtm::testing::http_response;
using caf::rtm::testing::recorded_request;

namespace {

// What a rotation listener got.
struct rotations {
  std::mutex mtx;
  std::vector<token_rotated> got;

  std::vector<token_rotated> all() {
    std::lock_guard<std::mutex> guard{mtx};
    return got;
  }
};

struct rotation_fixture : system_fixture {
  log_capture logs;
  std::shared_ptr<rotations> seen = std::make_shared<rotations>();

  caf::actor listener() {
    return track(spawn_fn(*sys, [seen = seen](caf::event_based_actor*) {
      return caf::behavior{[seen](token_rotated& x) {
        std::lock_guard<std::mutex> guard{seen->mtx};
        seen->got.push_back(std::move(x));
      }};
    }));
  }

  // A config for `srv` whose token rotates with the fake's credentials.
  client_config rotating(const fake_slack& srv, std::string token,
                         int64_t expires_at = 0) {
    auto cfg = config_for(srv, logs.get());
    cfg.token = std::move(token);
    cfg.rotation.client_id = srv.options().client_id;
    cfg.rotation.client_secret = srv.options().client_secret;
    cfg.rotation.refresh_token = srv.options().refresh_token;
    cfg.rotation.expires_at = expires_at;
    cfg.rotation.listener = listener();
    return cfg;
  }

  // A Socket Mode config for `srv` whose bot token rotates.
  client_config rotating_socket_mode(const fake_slack& srv,
                                     std::string bot_token) {
    auto cfg = socket_mode_config_for(srv, logs.get());
    cfg.bot_token = std::move(bot_token);
    cfg.rotation = rotating(srv, "unused").rotation;
    return cfg;
  }

  caf::expected<json_object> call(const web_api_actor& api, std::string method,
                                  api_args args = {}) {
    return request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                                std::move(method), std::move(args));
  }

  // Calls `method` `n` times at once, each from a thread of its own.
  std::vector<caf::expected<json_object>>
  call_at_once(const web_api_actor& api, const std::string& method, int n) {
    std::vector<std::future<caf::expected<json_object>>> futures;
    for (int i = 0; i < n; ++i)
      futures.push_back(std::async(std::launch::async, [&] {
        caf::scoped_actor s{*sys};
        return request<json_object>(s, api, caf::timespan{20s}, call_atom_v,
                                    method, api_args{});
      }));
    std::vector<caf::expected<json_object>> result;
    for (auto& f : futures)
      result.push_back(f.get());
    return result;
  }

  // Holds the fake's answers to refreshes until the promise is set (10 s at
  // most), then answers as the fake does.
  static std::promise<void> hold_refreshes(fake_slack& srv) {
    std::promise<void> release;
    srv.on("oauth.v2.access", [&srv, gate = release.get_future().share()](
                                  const recorded_request& req) {
      gate.wait_for(std::chrono::seconds{10});
      return srv.default_answer(req);
    });
    return release;
  }

  void close(const web_api_actor& api) {
    CHECK(request<caf::ok_atom>(*self, api, caf::timespan{10s}, close_atom_v));
  }
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

TEST_CASE_METHOD(rotation_fixture,
                 "a token of unknown age is refreshed once before the first "
                 "calls, and the listener gets the new pair",
                 "[rotation]") {
  fake_slack srv;
  // The fake would refuse this one: only the rotated token may go out.
  auto api = track(sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale")));
  auto before = unix_now();
  auto results = call_at_once(api, "auth.test", 4);
  for (auto& res : results) {
    REQUIRE(res);
    CHECK(res->value.at("user_id") == "U0BOT");
  }
  auto refreshes = srv.requests("oauth.v2.access");
  REQUIRE(refreshes.size() == 1);
  CHECK(refreshes[0].form["grant_type"] == "refresh_token");
  CHECK(refreshes[0].form["refresh_token"] == "xoxe-1-test-refresh");
  CHECK(refreshes[0].form["client_id"] == srv.options().client_id);
  CHECK(refreshes[0].form["client_secret"] == srv.options().client_secret);
  CHECK(refreshes[0].headers.count("authorization") == 0);
  auto calls = srv.requests("auth.test");
  REQUIRE(calls.size() == 4);
  for (auto& req : calls)
    CHECK(req.headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  auto got = seen->all().front();
  CHECK(got.access_token == "xoxe.xoxb-1-rotated-1");
  CHECK(got.refresh_token == "xoxe-1-refresh-1");
  CHECK(got.team_id == "T0TEAM");
  CHECK(got.expires_at >= before + 43200);
  CHECK(got.expires_at <= unix_now() + 43200);
  // A valid token is not refreshed again.
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  // The refresh token it used is spent: a second process started with it
  // cannot refresh.
  auto other = track(sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale")));
  auto refused = call(other, "auth.test");
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == "slack_error");
  CHECK(render(refused.error()).find("invalid_refresh_token") !=
        std::string::npos);
  CHECK(render(refused.error()).find("token rotation") != std::string::npos);
  close(other);
  close(api);
  for (auto& line : logs.lines()) {
    CHECK(line.find(srv.options().client_secret) == std::string::npos);
    CHECK(line.find("rotated-1") == std::string::npos);
  }
}

TEST_CASE_METHOD(rotation_fixture, "a token that is not due goes out as it is",
                 "[rotation]") {
  fake_slack srv;
  auto api = track(sys->spawn(
      web_api, rotating(srv, srv.options().token, unix_now() + 43200)));
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("oauth.v2.access").empty());
  CHECK(srv.requests("auth.test").at(0).headers["authorization"] ==
        "Bearer " + srv.options().token);
  close(api);
  CHECK(seen->all().empty());
}

TEST_CASE_METHOD(rotation_fixture,
                 "a token within refresh_before of its expiry is refreshed "
                 "while calls go on with it",
                 "[rotation]") {
  fake_slack srv;
  auto cfg = rotating(srv, srv.options().token, unix_now() + 3600);
  cfg.rotation.refresh_before = std::chrono::hours{2};
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  // It did not wait for the refresh: the token is good for an hour.
  CHECK(srv.requests("auth.test").at(0).headers["authorization"] ==
        "Bearer " + srv.options().token);
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("auth.test").at(1).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  close(api);
}

TEST_CASE_METHOD(rotation_fixture,
                 "token_expired refreshes and repeats the call once, even a "
                 "post",
                 "[rotation]") {
  fake_slack srv;
  auto api = track(sys->spawn(
      web_api, rotating(srv, srv.options().token, unix_now() + 43200)));
  // Slack did nothing with a call it refused so: a post goes again.
  srv.script("chat.postMessage", http_response::error("token_expired"));
  auto posted =
      call(api, "chat.postMessage", {{"channel", "C1"}, {"text", "hi"}});
  REQUIRE(posted);
  auto posts = srv.requests("chat.postMessage");
  REQUIRE(posts.size() == 2);
  CHECK(posts[0].headers["authorization"] == "Bearer " + srv.options().token);
  CHECK(posts[1].headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  // Refused again with the new token: once is enough, Slack's answer stands.
  srv.script("chat.postMessage", http_response::error("token_expired"));
  srv.script("chat.postMessage", http_response::error("token_expired"));
  auto refused =
      call(api, "chat.postMessage", {{"channel", "C1"}, {"text", "again"}});
  REQUIRE_FALSE(refused);
  CHECK(render(refused.error()).find("token_expired") != std::string::npos);
  CHECK(srv.requests("chat.postMessage").size() == 4);
  CHECK(srv.requests("oauth.v2.access").size() == 2);
  close(api);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a rotated token that expires early is replaced when Slack "
                 "says so",
                 "[rotation]") {
  fake_slack_options opts;
  // Slack's answer says 12 hours, the fake ends the token after 4 s (as
  // one revoked).
  opts.rotated_token_ttl = std::chrono::milliseconds{4000};
  opts.rotated_expires_in = std::chrono::hours{12};
  fake_slack srv{opts};
  auto api = track(sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale")));
  REQUIRE(call(api, "auth.test"));
  std::this_thread::sleep_for(std::chrono::milliseconds{4200});
  REQUIRE(call(api, "auth.test"));
  auto calls = srv.requests("auth.test");
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(calls[2].headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-2");
  auto refreshes = srv.requests("oauth.v2.access");
  REQUIRE(refreshes.size() == 2);
  CHECK(refreshes[1].form["refresh_token"] == "xoxe-1-refresh-1");
  REQUIRE(eventually([&] { return seen->all().size() == 2; }));
  CHECK(seen->all().back().refresh_token == "xoxe-1-refresh-2");
  close(api);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a failed refresh fails the calls that waited, and the next "
                 "ones for a while without asking again",
                 "[rotation]") {
  fake_slack srv;
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.client_secret = "wrong-secret";
  auto api = track(sys->spawn(web_api, cfg));
  auto results = call_at_once(api, "auth.test", 3);
  for (auto& res : results) {
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "slack_error");
    CHECK(render(res.error()).find("bad_client_secret") != std::string::npos);
  }
  auto later = call(api, "auth.test");
  REQUIRE_FALSE(later);
  CHECK(render(later.error()).find("bad_client_secret") != std::string::npos);
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  CHECK(srv.requests("auth.test").empty());
  // A call with a token of its own does not need the rotated one.
  api_call own;
  own.method = "auth.test";
  own.token = srv.options().token;
  CHECK(request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                             std::move(own)));
  CHECK(logs.contains("token rotation failed"));
  close(api);
  CHECK(seen->all().empty());
}

TEST_CASE_METHOD(rotation_fixture,
                 "a refresh answered with a 429 waits out its Retry-After, "
                 "and the calls that waited go with the new token",
                 "[rotation]") {
  fake_slack srv;
  srv.script("oauth.v2.access", http_response::rate_limited("1"));
  auto api = track(sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale")));
  auto results = call_at_once(api, "auth.test", 2);
  for (auto& res : results)
    REQUIRE(res);
  // The refused refresh spent nothing: the same refresh token went again.
  auto refreshes = srv.requests("oauth.v2.access");
  REQUIRE(refreshes.size() == 2);
  CHECK(refreshes[1].form["refresh_token"] == "xoxe-1-test-refresh");
  for (auto& req : srv.requests("auth.test"))
    CHECK(req.headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  close(api);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a refresh that failed while the token was good is tried "
                 "again after the hold, the calls going on meanwhile",
                 "[rotation]") {
  fake_slack srv;
  // Due (refreshed two hours ahead), but good for another hour.
  auto cfg = rotating(srv, srv.options().token, unix_now() + 3600);
  cfg.api_retry.max_attempts = 1;
  srv.script("oauth.v2.access", http_response::text(503, "busy"));
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  REQUIRE(eventually([&] { return logs.contains("token rotation failed"); }));
  // Held: the next calls go with the current token and ask for nothing.
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds{10500});
  REQUIRE(call(api, "auth.test"));
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  CHECK(srv.requests("oauth.v2.access").size() == 2);
  for (auto& req : srv.requests("auth.test"))
    CHECK(req.headers["authorization"] == "Bearer " + srv.options().token);
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("auth.test").back().headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  close(api);
}

TEST_CASE_METHOD(rotation_fixture,
                 "close ends the calls that wait for a refresh, but lets the "
                 "refresh end and reports its tokens",
                 "[rotation]") {
  fake_slack srv;
  // Answered once the test says so: close comes first. Slack spends the
  // refresh token it was given, so the new one must not be lost.
  auto release = hold_refreshes(srv);
  auto api = track(sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale")));
  auto pending = std::async(std::launch::async, [&] {
    caf::scoped_actor s{*sys};
    return request<json_object>(s, api, caf::timespan{20s}, call_atom_v,
                                std::string{"auth.test"}, api_args{});
  });
  REQUIRE(srv.wait_requests("oauth.v2.access", 1, std::chrono::seconds{5}));
  auto closing = std::async(std::launch::async, [&] {
    caf::scoped_actor s{*sys};
    return request<caf::ok_atom>(s, api, caf::timespan{20s}, close_atom_v);
  });
  auto res = pending.get();
  release.set_value();
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "closed");
  CHECK(closing.get());
  CHECK(srv.requests("auth.test").empty());
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  CHECK(seen->all().front().refresh_token == "xoxe-1-refresh-1");
  CHECK_FALSE(logs.contains("token rotation failed"));
}

TEST_CASE_METHOD(rotation_fixture,
                 "a caller that ends while a refresh is out still reports "
                 "its tokens",
                 "[rotation]") {
  // A kill runs no exit handler; a shutdown does.
  auto reason =
      GENERATE(caf::exit_reason::kill, caf::exit_reason::user_shutdown);
  fake_slack srv;
  auto release = hold_refreshes(srv);
  // Another caller of the process keeps the I/O threads (the last user of
  // the pool ends every exchange with it).
  auto other = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto api = sys->spawn(web_api, rotating(srv, "xoxe.xoxb-1-stale"));
  // A killed actor answers nobody: this call just ends at its timeout.
  caf::anon_send(api, call_atom_v, std::string{"auth.test"}, api_args{});
  REQUIRE(srv.wait_requests("oauth.v2.access", 1, std::chrono::seconds{5}));
  (*self)->monitor(api);
  caf::anon_send_exit(api, reason);
  bool down = false;
  (*self)->receive([&](caf::down_msg&) { down = true; },
                   caf::after(std::chrono::seconds{10}) >> [] {});
  REQUIRE(down);
  release.set_value();
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  CHECK(seen->all().front().refresh_token == "xoxe-1-refresh-1");
  CHECK(srv.requests("auth.test").empty());
  close(other);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a failed early refresh leaves the current token in use "
                 "until it expires",
                 "[rotation]") {
  fake_slack srv;
  auto cfg = rotating(srv, srv.options().token, unix_now() + 3600);
  cfg.rotation.refresh_before = std::chrono::hours{2};
  cfg.rotation.client_secret = "wrong-secret";
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  REQUIRE(call(api, "auth.test"));
  // Refused for good: not asked again before the token expires, which
  // still works meanwhile.
  REQUIRE(eventually([&] { return logs.contains("token rotation refused"); }));
  REQUIRE(call(api, "auth.test"));
  // Nor after the hold of a failure that may pass.
  std::this_thread::sleep_for(std::chrono::milliseconds{10500});
  REQUIRE(call(api, "auth.test"));
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  auto calls = srv.requests("auth.test");
  REQUIRE(calls.size() == 4);
  for (auto& req : calls)
    CHECK(req.headers["authorization"] == "Bearer " + srv.options().token);
  close(api);
  CHECK(seen->all().empty());
}

TEST_CASE_METHOD(rotation_fixture,
                 "a client whose refresh is refused for good stops",
                 "[rotation][client]") {
  fake_slack srv;
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.refresh_token = "xoxe-1-spent";
  auto hdl = track(sys->spawn(rtm_client, cfg));
  auto up = request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v);
  REQUIRE_FALSE(up);
  CHECK(render(up.error()).find("invalid_refresh_token") != std::string::npos);
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  CHECK(srv.requests("rtm.connect").empty());
}

TEST_CASE_METHOD(rotation_fixture,
                 "an RTM client connects with the rotated token",
                 "[rotation][client]") {
  fake_slack srv;
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  auto c = connect_client(*this, cfg, {"*"});
  auto connects = srv.requests("rtm.connect");
  REQUIRE(connects.size() == 1);
  CHECK(connects[0].headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  auto posted =
      request<json_object>(*self, c.hdl, caf::timespan{20s}, call_atom_v,
                           std::string{"chat.postMessage"},
                           api_args{{"channel", "C1"}, {"text", "hi"}});
  REQUIRE(posted);
  CHECK(srv.requests("chat.postMessage").at(0).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  close_client(*this, c.hdl);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a Socket Mode client rotates its bot token, not its app "
                 "token",
                 "[rotation][socket_mode]") {
  fake_slack srv;
  auto cfg = rotating_socket_mode(srv, "xoxe.xoxb-1-stale");
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  auto opens = srv.requests("apps.connections.open");
  REQUIRE(opens.size() == 1);
  CHECK(opens[0].headers["authorization"] ==
        "Bearer " + srv.options().app_token);
  auto auth = srv.requests("auth.test");
  REQUIRE(auth.size() == 1);
  CHECK(auth[0].headers["authorization"] == "Bearer xoxe.xoxb-1-rotated-1");
  auto posted =
      request<json_object>(*self, hdl, caf::timespan{20s}, call_atom_v,
                           std::string{"chat.postMessage"},
                           api_args{{"channel", "C1"}, {"text", "hi"}});
  REQUIRE(posted);
  CHECK(srv.requests("chat.postMessage").at(0).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  CHECK(request<caf::ok_atom>(*self, hdl, caf::timespan{20s}, close_atom_v));
}

namespace {

// The tokens a token file holds now (empty fields when it is not there).
token_rotated stored(const std::string& file) {
  token_rotated result;
  std::ifstream in{file};
  std::stringstream text;
  text << in.rdbuf();
  // Empty when the text is no JSON object.
  auto obj = json_object_from(text.str());
  if (auto* x = obj.value.if_contains("access_token"); x && x->is_string())
    result.access_token = std::string{x->get_string()};
  if (auto* x = obj.value.if_contains("refresh_token"); x && x->is_string())
    result.refresh_token = std::string{x->get_string()};
  if (auto* x = obj.value.if_contains("expires_at"); x && x->is_int64())
    result.expires_at = x->get_int64();
  return result;
}

} // namespace

TEST_CASE_METHOD(rotation_fixture,
                 "a token file carries the newest tokens to the next start",
                 "[rotation][file]") {
  fake_slack srv;
  temp_dir dir;
  auto file = dir.path + "/tokens.json";
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  // No listener: the file is where the tokens go.
  cfg.rotation.listener = caf::actor{};
  cfg.rotation.file = file;
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  // Written before the caller used the new token.
  auto first = stored(file);
  CHECK(first.access_token == "xoxe.xoxb-1-rotated-1");
  CHECK(first.refresh_token == "xoxe-1-refresh-1");
  CHECK(first.expires_at > unix_now());
  close(api);
  // A restart with the same configuration: its refresh token is spent, and
  // the fake refuses its token. The file's tokens go out instead.
  auto again = track(sys->spawn(web_api, cfg));
  REQUIRE(call(again, "auth.test"));
  CHECK(srv.requests("auth.test").back().headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1); // not due
  close(again);
  // The next refresh spends the file's refresh token, and the file gets the
  // new pair: due at once when refreshed 12 hours ahead of the expiry.
  cfg.rotation.refresh_before = std::chrono::hours{12};
  auto later = track(sys->spawn(web_api, cfg));
  REQUIRE(call(later, "auth.test"));
  REQUIRE(eventually(
      [&] { return stored(file).refresh_token == "xoxe-1-refresh-2"; }));
  auto refreshes = srv.requests("oauth.v2.access");
  REQUIRE(refreshes.size() == 2);
  CHECK(refreshes[1].form["refresh_token"] == "xoxe-1-refresh-1");
  CHECK(stored(file).access_token == "xoxe.xoxb-1-rotated-2");
  close(later);
  // An RTM client reads the file too: it connects with the newest token.
  cfg.rotation.refresh_before = std::chrono::hours{2};
  auto c = connect_client(*this, cfg, {"*"});
  CHECK(srv.requests("rtm.connect").at(0).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-2");
  close_client(*this, c.hdl);
  CHECK(srv.requests("oauth.v2.access").size() == 2);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a client whose token file cannot be used does not start",
                 "[rotation][file]") {
  fake_slack srv;
  temp_dir dir;
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.file = dir.path + "/tokens.json";
  std::ofstream{cfg.rotation.file} << "{not json";
  auto hdl = track(sys->spawn(rtm_client, cfg));
  auto up = request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v);
  REQUIRE_FALSE(up);
  CHECK(is(up.error(), errc::invalid_config));
  CHECK_THAT(render(up.error()), Catch::Contains(cfg.rotation.file));
  auto api = track(sys->spawn(web_api, cfg));
  auto res = call(api, "auth.test");
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::invalid_config));
  CHECK(srv.requests("oauth.v2.access").empty());
  CHECK(srv.requests("rtm.connect").empty());
}

TEST_CASE_METHOD(rotation_fixture,
                 "a client's failed refresh is told to its lifecycle "
                 "subscribers once, while the client goes on",
                 "[rotation][client]") {
  fake_slack srv;
  // Due (two hours ahead of its expiry), good for another hour.
  auto cfg = rotating(srv, srv.options().token, unix_now() + 3600);
  cfg.api_retry.max_attempts = 1;
  srv.script("oauth.v2.access", http_response::text(503, "busy"));
  srv.script("oauth.v2.access", http_response::text(503, "busy"));
  auto c = connect_client(*this, cfg, {"*"});
  REQUIRE(c.rec->wait_lifecycle("error:", 1, 10s));
  auto post = [&] {
    return request<json_object>(*self, c.hdl, caf::timespan{20s}, call_atom_v,
                                std::string{"chat.postMessage"},
                                api_args{{"channel", "C1"}, {"text", "hi"}});
  };
  // Its token works on: posts go, and the client stays up.
  REQUIRE(post());
  // After the hold, the next call tries again, and it fails again: told
  // once is enough (the log has each).
  std::this_thread::sleep_for(std::chrono::milliseconds{10500});
  REQUIRE(post());
  REQUIRE(eventually([&] {
    auto st = request<api_status>(*self, c.hdl, caf::timespan{5s},
                                  status_atom_v, call_atom_v);
    return st && st->requests_failed == 2 && st->token_refreshes_failed == 2;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  CHECK(c.rec->lifecycle_count("error:") == 1);
  CHECK(srv.requests("oauth.v2.access").size() == 2);
  // The third works.
  std::this_thread::sleep_for(std::chrono::milliseconds{10500});
  REQUIRE(post());
  REQUIRE(eventually([&] { return seen->all().size() == 1; }));
  CHECK(c.rec->lifecycle_count("disconnected") == 0);
  CHECK(c.rec->lifecycle_count("fatal") == 0);
  close_client(*this, c.hdl);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a client hears again when a refused refresh makes its "
                 "calls fail at the expiry",
                 "[rotation][client]") {
  fake_slack srv;
  // Due at once, and it expires in 3 s.
  auto cfg = rotating(srv, srv.options().token, unix_now() + 3);
  cfg.rotation.client_secret = "wrong-secret";
  auto c = connect_client(*this, cfg, {"*"});
  // Refused for good: the current token goes on, and it is not asked again
  // before the expiry.
  REQUIRE(c.rec->wait_lifecycle("error:", 1, 10s));
  std::this_thread::sleep_for(std::chrono::milliseconds{4000});
  auto posted =
      request<json_object>(*self, c.hdl, caf::timespan{20s}, call_atom_v,
                           std::string{"chat.postMessage"},
                           api_args{{"channel", "C1"}, {"text", "hi"}});
  REQUIRE_FALSE(posted);
  CHECK_THAT(render(posted.error()), Catch::Contains("bad_client_secret"));
  // Calls now fail: that is news.
  REQUIRE(c.rec->wait_lifecycle("error:", 2, 10s));
  CHECK(srv.requests("oauth.v2.access").size() == 2);
  close_client(*this, c.hdl);
}

TEST_CASE_METHOD(rotation_fixture,
                 "tokens the token file does not take are told and written "
                 "again until it takes them",
                 "[rotation][file][socket_mode]") {
  fake_slack srv;
  temp_dir dir;
  auto file = dir.path + "/tokens.json";
  // At the refresh, a directory takes the file's place: the new version
  // cannot be renamed over it (for root neither).
  srv.on("oauth.v2.access", [&srv, file](const recorded_request& req) {
    std::filesystem::create_directories(file + "/in_the_way");
    return srv.default_answer(req);
  });
  auto cfg = rotating_socket_mode(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.listener = caf::actor{};
  cfg.rotation.file = file;
  auto rec = std::make_shared<recorder>();
  auto hdl = track(sys->spawn(socket_mode_client, cfg));
  auto listener = track(spawn_recorder(*sys, rec));
  REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{5s}, subscribe_atom_v,
                                lifecycle_atom_v, listener));
  REQUIRE(request<connected>(*self, hdl, caf::timespan{20s}, connect_atom_v));
  // The client hears of it, and goes on with the new token.
  REQUIRE(rec->wait_lifecycle("error:invalid_config", 1, 10s));
  CHECK(srv.requests("auth.test").at(0).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(stored(file).refresh_token.empty());
  // Once the place is free, the file takes them.
  std::filesystem::remove_all(file);
  REQUIRE(eventually(
      [&] { return stored(file).refresh_token == "xoxe-1-refresh-1"; }, 40s));
  CHECK(stored(file).access_token == "xoxe.xoxb-1-rotated-1");
  CHECK(rec->lifecycle_count("error:") == 1);
  auto st = request<api_status>(*self, hdl, caf::timespan{5s}, status_atom_v,
                                call_atom_v);
  REQUIRE(st);
  CHECK(st->tokens_rotated == 1);
  CHECK(st->token_refreshes_failed == 0);
  REQUIRE(request<caf::ok_atom>(*self, hdl, caf::timespan{20s}, close_atom_v));
  // A restart with the spent configuration uses the file's tokens.
  auto again = track(sys->spawn(socket_mode_client, cfg));
  REQUIRE(request<connected>(*self, again, caf::timespan{20s}, connect_atom_v));
  CHECK(srv.requests("auth.test").back().headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  REQUIRE(
      request<caf::ok_atom>(*self, again, caf::timespan{20s}, close_atom_v));
}

TEST_CASE_METHOD(rotation_fixture,
                 "two callers of one token file do not both refresh",
                 "[rotation][file]") {
  fake_slack srv;
  temp_dir dir;
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.listener = caf::actor{};
  cfg.rotation.file = dir.path + "/tokens.json";
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  // A second caller (or a second process) with the file: refused before
  // it spends the refresh token the first one holds.
  auto other = track(sys->spawn(web_api, cfg));
  auto res = call(other, "auth.test");
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::invalid_config));
  CHECK_THAT(render(res.error()), Catch::Contains("in use"));
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  // A client with it cannot connect.
  auto c = connect_client(*this, cfg, {"*"}, false);
  CHECK(srv.requests("rtm.connect").empty());
  close_client(*this, c.hdl);
  // Once the first closed, the next one takes over.
  close(api);
  auto next = track(sys->spawn(web_api, cfg));
  REQUIRE(call(next, "auth.test"));
  CHECK(srv.requests("auth.test").back().headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  close(next);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a refresh answered without a new refresh token keeps the "
                 "one it spent, in the file too",
                 "[rotation][file]") {
  fake_slack srv;
  temp_dir dir;
  srv.on("oauth.v2.access", [&srv](const recorded_request& req) {
    auto res = srv.default_answer(req);
    res.body = std::regex_replace(
        res.body, std::regex{R"("refresh_token":"[^"]*",?)"}, "");
    return res;
  });
  auto cfg = rotating(srv, "xoxe.xoxb-1-stale");
  cfg.rotation.listener = caf::actor{};
  cfg.rotation.file = dir.path + "/tokens.json";
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(call(api, "auth.test"));
  auto kept = stored(cfg.rotation.file);
  CHECK(kept.access_token == "xoxe.xoxb-1-rotated-1");
  CHECK(kept.refresh_token == srv.options().refresh_token);
  CHECK(srv.requests("oauth.v2.access").at(0).form["refresh_token"] ==
        srv.options().refresh_token);
  close(api);
}
