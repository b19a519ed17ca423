// The web-API caller against the fake Slack, over real loopback sockets:
// single calls, paged lists, file uploads, user agent and extra headers.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/web_api.hpp"
#include "detail/slack_answers.hpp"
#include "net/url.hpp"
#include "test_support.hpp"

// Name lookups of this test program: `slow.test` is 127.0.0.1, found after
// 1.5 s (a slow name server); every other name as usual.
extern "C" int getaddrinfo(const char* node, const char* service,
                           const addrinfo* hints, addrinfo** res) {
  using lookup_fn =
      int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static auto real =
      reinterpret_cast<lookup_fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
  if (node != nullptr && std::string_view{node} == "slow.test") {
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    return real("127.0.0.1", service, hints, res);
  }
  return real(node, service, hints, res);
}

using namespace caf::rtm;
using namespace caf::rtm::test;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;
using caf::rtm::testing::http_response;
using caf::rtm::testing::recorded_request;

namespace {

struct api_fixture : system_fixture {
  // auth.test through the public interface, converted as the client does.
  caf::expected<identity> auth_test(const web_api_actor& api) {
    auto answer = call(api, "auth.test");
    if (!answer)
      return std::move(answer.error());
    return detail::to_identity(answer->value);
  }

  caf::expected<rtm_endpoint> rtm_connect(const web_api_actor& api) {
    auto answer = call(api, "rtm.connect");
    if (!answer)
      return std::move(answer.error());
    return detail::to_rtm_endpoint(answer->value);
  }

  caf::expected<json_object> call(const web_api_actor& api, std::string method,
                                  api_args args = {}) {
    return request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                                std::move(method), std::move(args));
  }

  void close(const web_api_actor& api) {
    auto res =
        request<caf::ok_atom>(*self, api, caf::timespan{10s}, close_atom_v);
    CHECK(res);
  }

  log_capture logs;
};

fake_slack_options tls_options(std::vector<std::string> names = {"localhost",
                                                                 "127.0.0.1"}) {
  fake_slack_options opts;
  opts.tls = true;
  opts.cert_names = std::move(names);
  return opts;
}

} // namespace

TEST_CASE_METHOD(api_fixture, "auth.test over plain HTTP", "[web_api]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE(me);
  CHECK(me->user_id == "U0BOT");
  CHECK(me->bot_id == "B0BOT");
  CHECK(me->team_id == "T0TEAM");
  auto reqs = srv.requests("auth.test");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].http_method == "POST");
  CHECK(reqs[0].headers["authorization"] == "Bearer xoxb-test-token");
  CHECK(reqs[0].headers["content-type"] == "application/x-www-form-urlencoded");
  CHECK_FALSE(reqs[0].tls);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "user tokens have no bot id", "[web_api]") {
  fake_slack_options opts;
  opts.bot_id = "";
  opts.token = "xoxp-user-token";
  fake_slack srv{opts};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE(me);
  CHECK(me->bot_id.empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "rtm.connect over HTTPS with a custom CA",
                 "[web_api][tls]") {
  fake_slack srv{tls_options()};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto ep = rtm_connect(api);
  REQUIRE(ep);
  CHECK(ep->url.rfind("wss://", 0) == 0);
  CHECK(ep->self_id == "U0BOT");
  CHECK(ep->team_domain == "testteam");
  auto reqs = srv.requests("rtm.connect");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].tls);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "an unknown CA is rejected and not retried",
                 "[web_api][tls]") {
  fake_slack srv{tls_options()};
  auto cfg = config_for(srv, logs.get());
  cfg.ca_file.clear(); // only the system store: it does not know the fake's CA
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "tls_error");
  CHECK(render(me.error()).find("certificate verify failed") !=
        std::string::npos);
  CHECK(is_fatal(me.error()));
  CHECK(srv.requests().empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a certificate for another host is rejected",
                 "[web_api][tls]") {
  fake_slack srv{tls_options({"wrong.example"})};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "tls_error");
  CHECK(render(me.error()).find("mismatch") != std::string::npos);
  CHECK(srv.requests().empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "TLS is chosen by the scheme, not the port",
                 "[web_api][tls]") {
  fake_slack srv; // plain HTTP
  auto cfg = config_for(srv, logs.get());
  // https:// to a plain server: the handshake must fail, never plaintext.
  cfg.base_url = "https://127.0.0.1:" + std::to_string(srv.port()) + "/api/";
  cfg.api_retry.max_attempts = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "tls_error");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "429 with Retry-After in seconds is honoured",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  srv.script("auth.test", http_response::rate_limited("1"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE(me);
  auto reqs = srv.requests("auth.test");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].received_at - reqs[0].received_at >= 1s);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "callers refused in the same second come back spread over "
                 "the next one",
                 "[web_api][ratelimit]") {
  // Slack says Retry-After in whole seconds: the processes of one app it
  // refused together (as `apps.connections.open` does) must not all come
  // back in the same instant.
  constexpr size_t n = 6;
  fake_slack srv;
  for (size_t i = 0; i < n; ++i)
    srv.script("auth.test", http_response::rate_limited("1"));
  std::vector<web_api_actor> callers;
  for (size_t i = 0; i < n; ++i)
    callers.push_back(track(sys->spawn(web_api, config_for(srv, logs.get()))));
  auto done = std::make_shared<std::atomic<size_t>>(0);
  for (size_t i = 0; i < n; ++i)
    spawn_fn(*sys, [api = callers[i], i, done](caf::event_based_actor* a) {
      api_call x;
      x.method = "auth.test";
      x.args = {{"caller", std::to_string(i)}};
      a->request(api, caf::timespan{20s}, call_atom_v, std::move(x))
          .then([done](json_object&) { ++*done; }, [](caf::error&) {});
    });
  REQUIRE(eventually([&] { return done->load() == n; }, 15s));
  auto reqs = srv.requests("auth.test");
  REQUIRE(reqs.size() == 2 * n);
  // Each caller's wait between its refusal and its retry.
  std::map<std::string, std::vector<decltype(reqs[0].received_at)>> by_caller;
  for (auto& req : reqs)
    by_caller[req.form["caller"]].push_back(req.received_at);
  REQUIRE(by_caller.size() == n);
  std::vector<decltype(reqs[1].received_at - reqs[0].received_at)> waits;
  for (auto& [caller, times] : by_caller) {
    REQUIRE(times.size() == 2);
    waits.push_back(times[1] - times[0]);
    CHECK(waits.back() >= 1s);
  }
  auto [shortest, longest] = std::minmax_element(waits.begin(), waits.end());
  // Drawn uniformly over a second, six waits within 100 ms of each other
  // happen about once in 20,000 runs; without the spread they all were a
  // second and a few milliseconds.
  CHECK(*longest - *shortest >= 100ms);
  for (auto& api : callers)
    close(api);
}

TEST_CASE_METHOD(api_fixture, "a Retry-After of 0 waits a second all the same",
                 "[web_api][ratelimit]") {
  // Else the line's calls would go back to back into the limit.
  fake_slack srv;
  srv.script("auth.test", http_response::rate_limited("0"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  REQUIRE(auth_test(api));
  auto reqs = srv.requests("auth.test");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].received_at - reqs[0].received_at >= 1s);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call that gives up on a rate limit still holds the "
                 "method's next call for the Retry-After",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::rate_limited("2"));
  srv.on("chat.postMessage", [](const recorded_request&) {
    return http_response::ok(R"("ts":"1.0")");
  });
  auto cfg = config_for(srv, logs.get());
  cfg.max_rate_limit_waits = 0; // the first 429 ends a call
  auto api = track(sys->spawn(web_api, cfg));
  auto post = [&](std::string text) {
    return call(api, "chat.postMessage",
                api_args{{"channel", "C1"}, {"text", std::move(text)}});
  };
  auto first = post("first");
  REQUIRE_FALSE(first);
  CHECK(code_of(first.error()) == "rate_limited");
  // Slack asked for 2 s: the next post waits for them, not only a call
  // that still waits itself.
  auto second = post("second");
  REQUIRE(second);
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].form["text"] == "second");
  CHECK(reqs[1].received_at - reqs[0].received_at >= 2s);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "the caller's status counts its requests, rate limits, "
                 "retries and refusals",
                 "[web_api][status]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto status = [&] {
    auto st = request<api_status>(*self, api, caf::timespan{5s}, status_atom_v,
                                  call_atom_v);
    if (!st)
      throw std::runtime_error("no status");
    return *st;
  };
  auto fresh = status();
  CHECK(fresh.requests_open == 0);
  CHECK(fresh.requests_succeeded == 0);
  // A read repeated after a 5xx: one success, one retry.
  srv.script("auth.test", http_response::text(503, "unavailable"));
  REQUIRE(auth_test(api));
  // Slack's refusal: a failure.
  REQUIRE_FALSE(call(api, "reactions.add", {{"name", "eyes"}}));
  // A post held by a minute's rate limit, the only request there is room
  // for: the next one is refused.
  srv.script("chat.postMessage", http_response::rate_limited("60"));
  spawn_fn(*sys, [api](caf::event_based_actor* a) {
    a->request(api, caf::infinite, call_atom_v, "chat.postMessage",
               api_args{{"channel", "C1"}, {"text", "held"}})
        .then([](json_object&) {}, [](caf::error&) {});
  });
  REQUIRE(eventually([&] { return status().methods_rate_limited == 1; }));
  auto refused = call(api, "chat.postMessage", {{"channel", "C1"}});
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == "send_queue_full");
  auto st = status();
  CHECK(st.requests_open == 1);
  CHECK(st.requests_in_flight == 0);
  CHECK(st.methods_rate_limited == 1);
  CHECK(st.rate_limit_hits == 1);
  CHECK(st.retries == 1);
  CHECK(st.requests_succeeded == 1);
  CHECK(st.requests_failed == 1);
  CHECK(st.requests_refused == 1);
  // The held post ends with the caller's close: a failure.
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a rate limit holds the method's calls with the same token "
                 "only",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::rate_limited("60"));
  srv.script("chat.postMessage", http_response::ok(R"("ts":"1.0")"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  spawn_fn(*sys, [api](caf::event_based_actor* a) {
    a->request(api, caf::infinite, call_atom_v, "chat.postMessage",
               api_args{{"channel", "C1"}, {"text", "limited"}})
        .then([](json_object&) {}, [](caf::error&) {});
  });
  REQUIRE(eventually([&] { return logs.contains("rate limited"); }));
  // Another workspace's token: its own limit, not the first one's minute.
  api_call other;
  other.method = "chat.postMessage";
  other.token = "xoxb-other-workspace";
  other.args = {{"channel", "C2"}, {"text", "free"}};
  auto res = request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                                  std::move(other));
  REQUIRE(res);
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].form["text"] == "free");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "429 with Retry-After as an HTTP date",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  // Two seconds from now, at one-second resolution.
  auto at = std::chrono::system_clock::now() + 2s;
  auto secs = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[64];
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  auto not_before = std::chrono::system_clock::from_time_t(secs);
  srv.script("auth.test", http_response::rate_limited(date));
  std::vector<std::chrono::system_clock::time_point> arrivals;
  std::mutex mtx;
  srv.on("auth.test", [&](const caf::rtm::testing::recorded_request&) {
    std::lock_guard<std::mutex> guard{mtx};
    arrivals.push_back(std::chrono::system_clock::now());
    return http_response::ok(R"("user_id":"U0BOT","user":"testbot")");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE(me);
  std::lock_guard<std::mutex> guard{mtx};
  REQUIRE(arrivals.size() == 1);
  CHECK(arrivals[0] >= not_before);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "ratelimited in the body is honoured",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  auto limited = http_response::error("ratelimited");
  limited.headers.emplace_back("Retry-After", "1");
  srv.script("rtm.connect", limited);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto ep = rtm_connect(api);
  REQUIRE(ep);
  auto reqs = srv.requests("rtm.connect");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].received_at - reqs[0].received_at >= 1s);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call's max_wait: a wait past it fails the call with "
                 "send_expired and it never goes out",
                 "[web_api][ratelimit][max_wait]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::rate_limited("2"));
  srv.on("chat.postMessage", [](const recorded_request&) {
    return http_response::ok(R"("ts":"1.5")");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto post = [&](caf::timespan max_wait) {
    api_call x;
    x.method = "chat.postMessage";
    x.args = {{"channel", "C1"}, {"text", "hi"}};
    x.max_wait = max_wait;
    return request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                                std::move(x));
  };
  SECTION("a negative max_wait is refused") {
    auto res = post(caf::timespan{-1});
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "invalid_argument");
    CHECK(srv.requests("chat.postMessage").empty());
  }
  SECTION("Retry-After ends after the deadline") {
    auto res = post(caf::timespan{500ms});
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "send_expired");
    // Past the Retry-After and its jitter: the call was not repeated
    // behind the caller.
    std::this_thread::sleep_for(3500ms);
    CHECK(srv.requests("chat.postMessage").size() == 1);
  }
  SECTION("Retry-After ends in time") {
    auto res = post(caf::timespan{10s});
    REQUIRE(res);
    CHECK(srv.requests("chat.postMessage").size() == 2);
  }
  SECTION("a call waiting in the method's line") {
    // The first post runs into the limit; the second, sent meanwhile with a
    // short max_wait, waits in line and fails without going out.
    std::mutex mtx;
    std::optional<caf::expected<json_object>> first;
    auto set_first = [&](caf::expected<json_object> x) {
      std::lock_guard<std::mutex> guard{mtx};
      first = std::move(x);
    };
    spawn_fn(*sys, [&](caf::event_based_actor* a) {
      api_call x;
      x.method = "chat.postMessage";
      x.args = {{"channel", "C1"}, {"text", "first"}};
      a->request(api, caf::timespan{20s}, call_atom_v, std::move(x))
          .then([&](json_object& obj) { set_first(std::move(obj)); },
                [&](caf::error& err) { set_first(std::move(err)); });
    });
    REQUIRE(srv.wait_requests("chat.postMessage", 1, 5s));
    REQUIRE(eventually([&] {
      // The limit is known once the first call's 429 is back.
      return logs.contains("rate limited");
    }));
    auto res = post(caf::timespan{300ms});
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "send_expired");
    REQUIRE(eventually([&] {
      std::lock_guard<std::mutex> guard{mtx};
      return first.has_value();
    }));
    std::lock_guard<std::mutex> guard{mtx};
    CHECK(static_cast<bool>(*first));
    auto reqs = srv.requests("chat.postMessage");
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[1].form["text"] == "first");
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call's max_wait: after an attempt that may have reached "
                 "Slack, its own error",
                 "[web_api][retry][max_wait]") {
  // A 5xx, or Slack's own trouble (it answered: the call reached it).
  auto [answer, code] = GENERATE(
      std::make_pair(http_response{503, {}, "unavailable", "text/plain"},
                     std::string{"http_error"}),
      std::make_pair(http_response::error("internal_error"),
                     std::string{"slack_error"}));
  CAPTURE(code);
  fake_slack srv;
  // Enough that the deadline ends the retries (jittered: one may come in
  // time), not the script.
  for (int i = 0; i < 20; ++i)
    srv.script("auth.test", answer);
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry = retry_policy{2s, 2s, 0};
  auto api = track(sys->spawn(web_api, cfg));
  api_call x;
  x.method = "auth.test";
  x.max_wait = caf::timespan{200ms};
  auto res = request<json_object>(*self, api, caf::timespan{20s}, call_atom_v,
                                  std::move(x));
  REQUIRE_FALSE(res);
  // It may have done something: not reported as never sent.
  CHECK(code_of(res.error()) == code);
  CHECK(srv.requests("auth.test").size() < 20);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "after a rate limit, a method's calls go out one at a time",
                 "[web_api][ratelimit]") {
  // Slack's per-channel limit for posts: one per interval, else 429 with
  // Retry-After 1. Released together, the waiting posts would run into it
  // together, and the later ones would use up their waits.
  fake_slack srv;
  std::mutex mtx;
  std::optional<std::chrono::steady_clock::time_point> last_ok;
  size_t limited = 0;
  srv.on("chat.postMessage", [&](const recorded_request&) {
    std::lock_guard<std::mutex> guard{mtx};
    auto now = std::chrono::steady_clock::now();
    if (last_ok && now - *last_ok < 300ms) {
      ++limited;
      return http_response::rate_limited("1");
    }
    last_ok = now;
    return http_response::ok(R"("ts":"1.5")");
  });
  auto cfg = config_for(srv, logs.get());
  cfg.max_rate_limit_waits = 2;
  auto api = track(sys->spawn(web_api, cfg));
  constexpr int n = 4;
  std::vector<std::optional<caf::expected<json_object>>> results(n);
  for (int i = 0; i < n; ++i)
    spawn_fn(*sys, [&, i](caf::event_based_actor* a) {
      a->request(api, caf::timespan{30s}, call_atom_v,
                 std::string{"chat.postMessage"},
                 api_args{{"channel", "C1"}, {"text", std::to_string(i)}})
          .then(
              [&, i](json_object& obj) {
                std::lock_guard<std::mutex> guard{mtx};
                results[i] = std::move(obj);
              },
              [&, i](caf::error& err) {
                std::lock_guard<std::mutex> guard{mtx};
                results[i] = std::move(err);
              });
    });
  REQUIRE(eventually(
      [&] {
        std::lock_guard<std::mutex> guard{mtx};
        return std::all_of(results.begin(), results.end(),
                           [](auto& x) { return x.has_value(); });
      },
      30s));
  std::lock_guard<std::mutex> guard{mtx};
  for (int i = 0; i < n; ++i) {
    INFO("post " << i);
    CHECK(static_cast<bool>(*results[i]));
  }
  // At most the first burst and one per call after it.
  CHECK(limited <= 2 * n);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "5xx is retried with backoff up to the cap",
                 "[web_api][retry]") {
  fake_slack srv;
  for (int i = 0; i < 5; ++i)
    srv.script("auth.test",
               http_response{503, {}, "unavailable", "text/plain"});
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry = retry_policy{20ms, 100ms, 3};
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "http_error");
  CHECK(srv.requests("auth.test").size() == 3);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a transient failure then success",
                 "[web_api][retry]") {
  fake_slack srv;
  srv.script("auth.test", http_response{500, {}, "oops", "text/plain"});
  srv.script("auth.test", http_response::error("internal_error"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto me = auth_test(api);
  REQUIRE(me);
  CHECK(srv.requests("auth.test").size() == 3);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "fatal Slack errors are not retried",
                 "[web_api][retry]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.token = "xoxb-wrong-token";
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "slack_error");
  CHECK(slack_error_code(me.error()) == "invalid_auth");
  CHECK(is_fatal(me.error()));
  CHECK(srv.requests("auth.test").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a Slack error keeps what Slack says beyond its code",
                 "[web_api]") {
  fake_slack srv;
  srv.script("chat.postMessage",
             http_response{200,
                           {},
                           R"({"ok":false,"error":"invalid_blocks",)"
                           R"("response_metadata":{"messages":[)"
                           R"("[ERROR] must be more than 0 characters )"
                           R"([json-pointer:/blocks/0/text/text]",)"
                           R"("[ERROR] unsupported type [/blocks/1]"]}})",
                           "application/json"});
  srv.script("reactions.add", http_response{200,
                                            {},
                                            R"({"ok":false,)"
                                            R"("error":"missing_scope",)"
                                            R"("needed":"reactions:write",)"
                                            R"("provided":"chat:write"})",
                                            "application/json"});
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto post = call(api, "chat.postMessage", {{"channel", "C1"}});
  REQUIRE_FALSE(post);
  CHECK(slack_error_code(post.error()) == "invalid_blocks");
  CHECK(slack_error_detail(post.error()) ==
        "[ERROR] must be more than 0 characters "
        "[json-pointer:/blocks/0/text/text]; "
        "[ERROR] unsupported type [/blocks/1]");
  auto react = call(api, "reactions.add", {{"channel", "C1"}});
  REQUIRE_FALSE(react);
  CHECK(slack_error_code(react.error()) == "missing_scope");
  CHECK(slack_error_detail(react.error()) ==
        "needed: reactions:write; provided: chat:write");
  CHECK(render(react.error()).find("reactions:write") != std::string::npos);
  // Without more to say, the code alone, as before.
  srv.script("chat.postMessage", http_response::error("channel_not_found"));
  auto plain = call(api, "chat.postMessage", {{"channel", "C1"}});
  REQUIRE_FALSE(plain);
  CHECK(slack_error_code(plain.error()) == "channel_not_found");
  CHECK(slack_error_detail(plain.error()).empty());
  CHECK(render(plain.error()) == "caf_rtm: slack_error (channel_not_found)");
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a repeat that Slack refuses because the attempt before it "
                 "went through is a success",
                 "[web_api][retry]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto always = [](std::string method) {
    api_call x;
    x.method = std::move(method);
    x.args = {{"channel", "C1"},
              {"timestamp", "1.0"},
              {"ts", "1.0"},
              {"name", "eyes"}};
    x.retry = api_retry::always;
    return x;
  };
  auto run = [&](const api_call& x) {
    return request<json_object>(*self, api, caf::timespan{20s}, call_atom_v, x);
  };
  // The first attempt's answer is lost to a 5xx (Slack may have done it);
  // the repeat finds the reaction there.
  srv.script("reactions.add", http_response::text(503, "unavailable"));
  srv.script("reactions.add", http_response::error("already_reacted"));
  auto reacted = run(always("reactions.add"));
  REQUIRE(reacted);
  CHECK(reacted->value.at("ok") == true);
  CHECK(reacted->value.at("warning") == "already_reacted");
  CHECK(srv.requests("reactions.add").size() == 2);
  // Slack said internal_error: the deletion may have happened.
  srv.script("chat.delete", http_response::error("internal_error"));
  srv.script("chat.delete", http_response::error("message_not_found"));
  auto deleted = run(always("chat.delete"));
  REQUIRE(deleted);
  CHECK(deleted->value.at("warning") == "message_not_found");
  // On a first attempt the same code is Slack's refusal.
  srv.script("reactions.add", http_response::error("already_reacted"));
  auto first = run(always("reactions.add"));
  REQUIRE_FALSE(first);
  CHECK(slack_error_code(first.error()) == "already_reacted");
  // Slack did nothing with a 429 or a service_unavailable: the reaction was
  // there before the call.
  srv.script("reactions.add", http_response::rate_limited("1"));
  srv.script("reactions.add", http_response::error("already_reacted"));
  auto after_limit = run(always("reactions.add"));
  REQUIRE_FALSE(after_limit);
  CHECK(slack_error_code(after_limit.error()) == "already_reacted");
  srv.script("reactions.add", http_response::error("service_unavailable"));
  srv.script("reactions.add", http_response::error("already_reacted"));
  auto after_unavailable = run(always("reactions.add"));
  REQUIRE_FALSE(after_unavailable);
  CHECK(slack_error_code(after_unavailable.error()) == "already_reacted");
  // Another method's refusal after a 5xx stays a refusal.
  srv.script("chat.update", http_response::text(503, "unavailable"));
  srv.script("chat.update", http_response::error("message_not_found"));
  auto update = run(always("chat.update"));
  REQUIRE_FALSE(update);
  CHECK(slack_error_code(update.error()) == "message_not_found");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "malformed and non-JSON bodies are typed errors",
                 "[web_api]") {
  fake_slack srv;
  srv.script("auth.test",
             http_response{200, {}, "{\"ok\": tru", "application/json"});
  srv.script("auth.test",
             http_response{200, {}, "<html>maintenance</html>", "text/html"});
  srv.script("auth.test",
             http_response{200, {}, "[1,2,3]", "application/json"});
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  for (int i = 0; i < 3; ++i) {
    auto me = auth_test(api);
    REQUIRE_FALSE(me);
    CHECK(code_of(me.error()) == "malformed_response");
  }
  CHECK(srv.requests("auth.test").size() == 3);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "ok:true with another 2xx status than 200 is done",
                 "[web_api]") {
  // A post that Slack did must not read as failed because something between
  // answered 201 or 203.
  fake_slack srv;
  srv.script(
      "chat.postMessage",
      http_response{201, {}, R"({"ok":true,"ts":"1.1"})", "application/json"});
  srv.script(
      "chat.postMessage",
      http_response{203, {}, R"({"ok":true,"ts":"1.2"})", "application/json"});
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  for (auto ts : {"1.1", "1.2"}) {
    auto res = call(api, "chat.postMessage");
    REQUIRE(res);
    CHECK(res->value.at("ts").as_string() == ts);
  }
  CHECK(srv.requests("chat.postMessage").size() == 2);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "an answer with a number out of range is malformed",
                 "[web_api]") {
  // Boost.JSON reads 1e999 as inf: the answer would reach the caller with a
  // value that serializes as Infinity, which is not JSON.
  fake_slack srv;
  srv.script("auth.test", http_response::ok(R"("user_id":"U1","n":1e999)"));
  srv.script("auth.test", http_response::ok(R"("user_id":"U1","n":[0e999])"));
  srv.script("auth.test", http_response::ok(R"("user_id":"U1","n":1e308)"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  for (int i = 0; i < 2; ++i) {
    auto res = call(api, "auth.test");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "malformed_response");
  }
  auto res = call(api, "auth.test");
  REQUIRE(res);
  CHECK(res->value.at("n").as_double() == 1e308);
  CHECK(json_object_from(to_json(*res)).value == res->value);
  CHECK(srv.requests("auth.test").size() == 3);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a slow response times out", "[web_api]") {
  fake_slack srv;
  auto slow = http_response::ok(R"("user_id":"U1")");
  slow.delay = 3s;
  srv.script("auth.test", slow);
  auto cfg = config_for(srv, logs.get());
  cfg.request_timeout = 300ms;
  cfg.api_retry.max_attempts = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "timeout");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "connection refused is retried, then reported",
                 "[web_api][retry]") {
  uint16_t port = 0;
  {
    fake_slack srv; // take a port, then free it
    port = srv.port();
  }
  client_config cfg;
  cfg.token = "xoxb-test-token";
  cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/api/";
  cfg.proxy_from_environment = false;
  cfg.api_retry = retry_policy{10ms, 20ms, 2};
  cfg.log = logs.get();
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "connect_failed");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "generic calls send form-encoded arguments",
                 "[web_api]") {
  fake_slack srv;
  srv.on("chat.postMessage", [](const caf::rtm::testing::recorded_request& r) {
    auto it = r.form.find("text");
    auto text = it == r.form.end() ? std::string{} : it->second;
    return http_response::ok(R"("ts":"1.000100","echo":")" + text + "\"");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto res = call(api, "chat.postMessage",
                  {{"channel", "C1"}, {"text", "a+b & c=d ü"}});
  REQUIRE(res);
  CHECK(res->value.at("echo").as_string() == "a+b & c=d ü");
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].form["channel"] == "C1");
  CHECK(reqs[0].form["text"] == "a+b & c=d ü");
  auto bad = call(api, "../admin");
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == "invalid_argument");
  close(api);
}

namespace {

// Calls made in order from one actor (the caller gets them in this order),
// each named by its `text` argument, and what each got: "ok", or the error's
// code; "" while open. The actors share the results: they may outlive a
// failed check.
struct ordered_calls {
  struct results {
    std::mutex mtx;
    std::map<std::string, std::string> by_name;
  };

  void operator()(const std::string& method, std::vector<std::string> names) {
    spawn_fn(sys, [res = res, api = api, timeout = timeout, method,
                   names](caf::event_based_actor* a) {
      auto note = [res](const std::string& name, std::string what) {
        std::lock_guard<std::mutex> guard{res->mtx};
        res->by_name[name] = std::move(what);
      };
      for (const auto& name : names)
        a->request(api, timeout, call_atom_v, method,
                   api_args{{"channel", "C1"}, {"text", name}})
            .then([note, name](json_object&) { note(name, "ok"); },
                  [note, name](caf::error& err) { note(name, code_of(err)); });
    });
  }

  std::string result_of(const std::string& name) const {
    std::lock_guard<std::mutex> guard{res->mtx};
    auto i = res->by_name.find(name);
    return i == res->by_name.end() ? std::string{} : i->second;
  }

  caf::actor_system& sys;
  web_api_actor api;
  caf::timespan timeout;
  std::shared_ptr<results> res = std::make_shared<results>();
};

} // namespace

TEST_CASE_METHOD(api_fixture,
                 "past api_queue_size open requests a call fails at once and "
                 "calls that bring a connection back still go",
                 "[web_api][ratelimit]") {
  // Posts made faster than Slack takes them: they wait in the method's line
  // after a 429, up to the cap.
  fake_slack srv;
  srv.script("chat.postMessage", http_response::rate_limited("3"));
  srv.on("chat.postMessage", [](const recorded_request&) {
    return http_response::ok(R"("ts":"1.5")");
  });
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = 4;
  auto api = track(sys->spawn(web_api, cfg));
  ordered_calls calls{*sys, api, caf::timespan{20s}};
  auto post = [&](std::vector<std::string> texts) {
    calls("chat.postMessage", std::move(texts));
  };
  auto result_of = [&](const std::string& text) {
    return calls.result_of(text);
  };
  post({"p1"});
  REQUIRE(eventually([&] { return logs.contains("rate limited"); }));
  // Four open: the fifth is refused at once, long before the wait ends.
  post({"p2", "p3", "p4", "p5"});
  REQUIRE(eventually([&] { return !result_of("p5").empty(); }));
  CHECK(result_of("p5") == "send_queue_full");
  CHECK(result_of("p1").empty());
  // The call that tells a reconnecting client who it is goes all the same.
  CHECK(auth_test(api));
  REQUIRE(eventually(
      [&] {
        for (auto text : {"p1", "p2", "p3", "p4"})
          if (result_of(text).empty())
            return false;
        return true;
      },
      10s));
  for (auto text : {"p1", "p2", "p3", "p4"}) {
    INFO(text);
    CHECK(result_of(text) == "ok");
  }
  // The refused one never went out; once the line drained, posts go again.
  auto reqs = srv.requests("chat.postMessage");
  CHECK(reqs.size() == 5); // p1 twice (429, then ok), p2-p4
  for (auto& req : reqs)
    CHECK(req.form["text"] != "p5");
  CHECK(call(api, "chat.postMessage", {{"channel", "C1"}, {"text", "p6"}}));
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "the calls that bring a connection back have 64 requests "
                 "more than api_queue_size, and no more",
                 "[web_api][ratelimit]") {
  // auth.test calls wait in their line after a 429: each stays open.
  fake_slack srv;
  srv.script("auth.test", http_response::rate_limited("3"));
  srv.on("auth.test", [](const recorded_request&) {
    return http_response::ok(R"("user_id":"U1","user":"bot")");
  });
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = 1;
  auto api = track(sys->spawn(web_api, cfg));
  ordered_calls calls{*sys, api, caf::timespan{30s}};
  auto result_of = [&](const std::string& name) {
    return calls.result_of(name);
  };
  calls("auth.test", {"a1"});
  REQUIRE(eventually([&] { return logs.contains("rate limited"); }));
  // One request open: a post is refused at once.
  calls("chat.postMessage", {"post"});
  REQUIRE(eventually([&] { return !result_of("post").empty(); }));
  CHECK(result_of("post") == "send_queue_full");
  // auth.test goes on up to 1 + 64 open requests; the next is refused.
  std::vector<std::string> more;
  for (int i = 2; i <= 66; ++i)
    more.push_back("a" + std::to_string(i));
  calls("auth.test", more);
  REQUIRE(eventually([&] { return !result_of("a66").empty(); }));
  CHECK(result_of("a66") == "send_queue_full");
  CHECK(result_of("a65").empty());
  REQUIRE(eventually(
      [&] {
        for (int i = 1; i <= 65; ++i)
          if (result_of("a" + std::to_string(i)).empty())
            return false;
        return true;
      },
      20s));
  for (int i = 1; i <= 65; ++i) {
    INFO(i);
    CHECK(result_of("a" + std::to_string(i)) == "ok");
  }
  // a1 twice (429, then ok), a2-a65 once; the refused calls never went out.
  CHECK(srv.requests("auth.test").size() == 66);
  CHECK(srv.requests("chat.postMessage").empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call with a trigger_id goes ahead of the calls waiting "
                 "for an exchange slot, behind those that bring a connection "
                 "back",
                 "[web_api]") {
  // All 16 exchanges run slow calls, of which the last to arrive ends first,
  // once the test lets it; two posts wait for a slot, then a views.open with
  // a trigger_id, then an auth.test. The one slot that frees serves them one
  // after the other.
  fake_slack srv;
  std::atomic<int> slow_calls{0};
  std::promise<void> release;
  auto gate = release.get_future().share();
  srv.on("slow.method", [&slow_calls, gate](const recorded_request&) {
    auto res = http_response::ok();
    if (++slow_calls == 16)
      gate.wait_for(20s);
    else
      res.delay = 9000ms;
    return res;
  });
  srv.on("chat.postMessage", [](const recorded_request&) {
    return http_response::ok(R"("ts":"1.5")");
  });
  srv.on("views.open", [](const recorded_request&) {
    return http_response::ok(R"("view":{"id":"V1"})");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  // Shared: the calls' actors may outlive a failed check.
  struct results {
    std::mutex mtx;
    std::vector<std::string> order;
  };
  auto res = std::make_shared<results>();
  auto call_async = [&](std::string method, api_args args, std::string name) {
    spawn_fn(*sys, [res, api, method, args, name](caf::event_based_actor* a) {
      auto record = [res](std::string what) {
        std::lock_guard<std::mutex> guard{res->mtx};
        res->order.push_back(std::move(what));
      };
      a->request(api, caf::timespan{30s}, call_atom_v, method, args)
          .then([record, name](json_object&) { record(name); },
                [record, name](caf::error&) { record(name + " failed"); });
    });
  };
  auto order = [&] {
    std::lock_guard<std::mutex> guard{res->mtx};
    return res->order;
  };
  for (int i = 0; i < 16; ++i)
    call_async("slow.method", {}, "slow");
  // Each waits in the caller before the next comes (by the caller's count
  // of open requests), and the slot frees only once all four wait.
  auto open_requests = [&] {
    auto st = request<api_status>(*self, api, caf::timespan{5s}, status_atom_v,
                                  call_atom_v);
    return st ? st->requests_open : uint64_t{0};
  };
  REQUIRE(srv.wait_requests("slow.method", 16, 10s));
  call_async("chat.postMessage", {{"channel", "C1"}}, "post");
  REQUIRE(eventually([&] { return open_requests() == 17; }));
  call_async("chat.postMessage", {{"channel", "C1"}}, "post");
  REQUIRE(eventually([&] { return open_requests() == 18; }));
  call_async("views.open", {{"trigger_id", "13345224609.738474920.8088930"}},
             "view");
  REQUIRE(eventually([&] { return open_requests() == 19; }));
  call_async("auth.test", {}, "auth");
  REQUIRE(eventually([&] { return open_requests() == 20; }));
  release.set_value();
  // auth.test first, then the view, then the posts. The slow call's answer
  // frees the slot, but its requester may record it after auth.test's (a
  // busy machine, a sanitizer): its place among them says nothing.
  REQUIRE(eventually([&] { return order().size() >= 5; }, 10s));
  auto answered = order();
  auto slow = std::find(answered.begin(), answered.end(), "slow");
  REQUIRE(slow != answered.end());
  answered.erase(slow);
  CHECK(answered == std::vector<std::string>{"auth", "view", "post", "post"});
  auto auth = srv.requests("auth.test");
  auto view = srv.requests("views.open");
  auto posts = srv.requests("chat.postMessage");
  REQUIRE(auth.size() == 1);
  REQUIRE(view.size() == 1);
  REQUIRE(posts.size() == 2);
  CHECK(auth[0].received_at < view[0].received_at);
  for (auto& post : posts)
    CHECK(view[0].received_at < post.received_at);
  REQUIRE(eventually([&] { return order().size() == 20; }, 20s));
  close(api);
}

TEST_CASE_METHOD(api_fixture, "calls go on while another waits for a retry",
                 "[web_api][ratelimit]") {
  fake_slack srv;
  srv.script("slow.method", http_response::rate_limited("2"));
  srv.on("slow.method", [](const caf::rtm::testing::recorded_request&) {
    return http_response::ok(R"("which":"slow")");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  std::mutex mtx;
  std::vector<std::string> order;
  auto record = [&](std::string what) {
    std::lock_guard<std::mutex> guard{mtx};
    order.push_back(std::move(what));
  };
  spawn_fn(*sys, [&](caf::event_based_actor* a) {
    a->request(api, caf::timespan{20s}, call_atom_v, std::string{"slow.method"},
               api_args{})
        .then([&](json_object&) { record("slow"); },
              [&](caf::error&) { record("slow failed"); });
  });
  REQUIRE(srv.wait_requests("slow.method", 1, 5s));
  spawn_fn(*sys, [&](caf::event_based_actor* a) {
    a->request(api, caf::timespan{20s}, call_atom_v, "auth.test", api_args{})
        .then([&](json_object&) { record("auth"); },
              [&](caf::error&) { record("auth failed"); });
  });
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{mtx};
    return order.size() == 2;
  }));
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(order[0] == "auth");
  CHECK(order[1] == "slow");
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call waiting for a slot while another call of its method "
                 "gets a 429 waits out the Retry-After too",
                 "[web_api][ratelimit]") {
  // All 16 exchanges run: 15 slow calls and X; W waits for a slot. X's 429
  // frees a slot, and W must find the method's line there already.
  fake_slack srv;
  srv.on("slow.method", [](const caf::rtm::testing::recorded_request&) {
    auto res = http_response::ok();
    res.delay = std::chrono::milliseconds{9000}; // no slot frees before X's 429
    return res;
  });
  auto limited = http_response::rate_limited("1");
  limited.delay = std::chrono::milliseconds{1500}; // W waits for a slot by then
  srv.script("chat.postMessage", limited);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto answers = std::make_shared<std::atomic<int>>(0);
  auto start = [&](std::string method, api_args args) {
    spawn_fn(*sys, [api, answers, method, args](caf::event_based_actor* a) {
      a->request(api, caf::timespan{30s}, call_atom_v, method, args)
          .then([answers](json_object&) { ++*answers; },
                [answers](caf::error&) { ++*answers; });
    });
  };
  for (int i = 0; i < 15; ++i)
    start("slow.method", {});
  REQUIRE(srv.wait_requests("slow.method", 15, 10s));
  start("chat.postMessage", {{"channel", "C1"}, {"text", "X"}});
  REQUIRE(srv.wait_requests("chat.postMessage", 1, 10s));
  start("chat.postMessage", {{"channel", "C1"}, {"text", "W"}});
  REQUIRE(eventually([&] { return answers->load() == 17; }, 30s));
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 3); // X, X again, W
  // Nothing of the method went out before the Retry-After had passed: the
  // 429 left 1.5 s after X came, and asked for 1 s.
  CHECK(reqs[1].received_at - reqs[0].received_at >= 2500ms);
  CHECK(reqs[2].received_at - reqs[0].received_at >= 2500ms);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a call that opens a session goes ahead of the calls waiting "
                 "for a slot",
                 "[web_api]") {
  // All 16 exchanges run; the last to start frees its slot first. A post and
  // then rtm.connect wait for a slot: the reconnect must not wait behind the
  // backlog.
  fake_slack srv;
  auto count = std::make_shared<std::atomic<int>>(0);
  srv.on("slow.method", [count](const caf::rtm::testing::recorded_request&) {
    auto res = http_response::ok();
    res.delay = std::chrono::milliseconds{++*count == 16 ? 5000 : 15000};
    return res;
  });
  auto cfg = config_for(srv, logs.get());
  cfg.request_timeout = 30s; // the slow calls end with their answers
  auto api = track(sys->spawn(web_api, cfg));
  auto answers = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 16; ++i)
    spawn_fn(*sys, [api, answers](caf::event_based_actor* a) {
      a->request(api, caf::timespan{60s}, call_atom_v, "slow.method",
                 api_args{})
          .then([answers](json_object&) { ++*answers; },
                [answers](caf::error&) { ++*answers; });
    });
  REQUIRE(srv.wait_requests("slow.method", 16, 10s));
  // One sender: the post reaches the caller first.
  spawn_fn(*sys, [api, answers](caf::event_based_actor* a) {
    for (auto method : {"chat.postMessage", "rtm.connect"})
      a->request(api, caf::timespan{60s}, call_atom_v, method,
                 api_args{{"channel", "C1"}, {"text", "W"}})
          .then([answers](json_object&) { ++*answers; },
                [answers](caf::error&) { ++*answers; });
  });
  REQUIRE(eventually([&] { return answers->load() == 18; }, 60s));
  auto post = srv.requests("chat.postMessage");
  auto reconnect = srv.requests("rtm.connect");
  REQUIRE(post.size() == 1);
  REQUIRE(reconnect.size() == 1);
  CHECK(reconnect[0].received_at < post[0].received_at);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a close is answered when the caller is stopped while it "
                 "closes its idle connections",
                 "[web_api]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  REQUIRE(auth_test(api)); // a kept-alive connection to close
  auto closing = (*self)->request(api, caf::timespan{10s}, close_atom_v);
  caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  bool answered = false;
  closing.receive([&](caf::ok_atom) { answered = true; }, [&](caf::error&) {});
  CHECK(answered);
}

TEST_CASE_METHOD(api_fixture, "HTTP CONNECT proxy, with credentials",
                 "[web_api][proxy]") {
  fake_slack srv;
  caf::rtm::testing::connect_proxy proxy{"user", "s3cret"};
  auto cfg = config_for(srv, logs.get());
  cfg.proxy = proxy.url();
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE(me);
  auto targets = proxy.targets();
  REQUIRE(targets.size() == 1);
  CHECK(targets[0] == "127.0.0.1:" + std::to_string(srv.port()));
  REQUIRE(proxy.authorizations().size() == 1);
  CHECK(proxy.authorizations()[0] == "Basic dXNlcjpzM2NyZXQ=");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a proxy refusing credentials is a typed error",
                 "[web_api][proxy]") {
  fake_slack srv;
  caf::rtm::testing::connect_proxy proxy{"user", "s3cret"};
  auto cfg = config_for(srv, logs.get());
  cfg.proxy = "http://user:wrong@127.0.0.1:" + std::to_string(proxy.port());
  cfg.api_retry.max_attempts = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "proxy_error");
  CHECK(srv.requests().empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "HTTPS through the proxy from the environment",
                 "[web_api][proxy][tls]") {
  fake_slack srv{tls_options()};
  caf::rtm::testing::connect_proxy proxy;
  setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
  unsetenv("NO_PROXY");
  unsetenv("no_proxy");
  auto cfg = config_for(srv, logs.get());
  cfg.proxy_from_environment = true;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  unsetenv("HTTPS_PROXY");
  REQUIRE(me);
  REQUIRE(proxy.targets().size() == 1);
  CHECK(proxy.targets()[0] == "127.0.0.1:" + std::to_string(srv.port()));
  close(api);
}

TEST_CASE_METHOD(api_fixture, "NO_PROXY bypasses the proxy",
                 "[web_api][proxy]") {
  // By address, or by a CIDR range holding it.
  std::string no_proxy = GENERATE("example.com, 127.0.0.1", "127.0.0.0/8");
  CAPTURE(no_proxy);
  fake_slack srv;
  caf::rtm::testing::connect_proxy proxy;
  setenv("HTTP_PROXY", proxy.url().c_str(), 1);
  setenv("NO_PROXY", no_proxy.c_str(), 1);
  auto cfg = config_for(srv, logs.get());
  cfg.proxy_from_environment = true;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  unsetenv("HTTP_PROXY");
  unsetenv("NO_PROXY");
  REQUIRE(me);
  CHECK(proxy.targets().empty());
  CHECK(srv.requests("auth.test").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "the token appears in no log line or error",
                 "[web_api][secrets]") {
  fake_slack srv;
  srv.script("auth.test", http_response{500, {}, "oops", "text/plain"});
  srv.script("auth.test", http_response::rate_limited("0"));
  srv.script("auth.test", http_response{200, {}, "not json", "text/plain"});
  srv.script("rtm.connect", http_response::error("invalid_auth"));
  auto cfg = config_for(srv, logs.get());
  auto api = track(sys->spawn(web_api, cfg));
  std::vector<std::string> rendered;
  for (int i = 0; i < 2; ++i) {
    auto me = auth_test(api);
    if (!me)
      rendered.push_back(render(me.error()));
  }
  auto ep = rtm_connect(api);
  REQUIRE_FALSE(ep);
  rendered.push_back(render(ep.error()));
  auto bad = call(api, "method with spaces");
  REQUIRE_FALSE(bad);
  rendered.push_back(render(bad.error()));
  close(api);
  REQUIRE_FALSE(logs.lines().empty());
  for (auto& line : logs.lines())
    CHECK(line.find(cfg.token) == std::string::npos);
  for (auto& text : rendered)
    CHECK(text.find(cfg.token) == std::string::npos);
}

TEST_CASE_METHOD(api_fixture, "close cancels calls in flight", "[web_api]") {
  // A read is `closed`; a post whose request went out may have been posted.
  auto [method, expected] =
      GENERATE(std::pair<std::string, std::string>{"auth.test", "closed"},
               std::pair<std::string, std::string>{"chat.postMessage",
                                                   "delivery_unknown"});
  fake_slack srv;
  auto slow = http_response::ok(R"("user_id":"U1")");
  slow.delay = 5s;
  srv.script(method, slow);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  std::mutex mtx;
  std::optional<caf::error> outcome;
  spawn_fn(*sys, [&, method = method](caf::event_based_actor* a) {
    a->request(api, caf::timespan{20s}, call_atom_v, method, api_args{})
        .then(
            [&](json_object&) {
              std::lock_guard<std::mutex> guard{mtx};
              outcome = caf::error{};
            },
            [&](caf::error& err) {
              std::lock_guard<std::mutex> guard{mtx};
              outcome = err;
            });
  });
  REQUIRE(srv.wait_requests(method, 1, 5s));
  auto start = std::chrono::steady_clock::now();
  close(api);
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{mtx};
    return outcome.has_value();
  }));
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(code_of(*outcome) == expected);
}

TEST_CASE_METHOD(api_fixture,
                 "a caller that ends with a long rate-limit line answers every "
                 "call in it",
                 "[web_api][rate_limit]") {
  // Each call in line used to be finished from within the one before it
  // (the probe's end moved the line on): one stack frame deeper per call.
  constexpr int waiting = 20000;
  fake_slack srv;
  srv.script("chat.postMessage", http_response::rate_limited("1"));
  auto slow = http_response::ok(R"("ts":"1.0")");
  slow.delay = 10s;
  srv.script("chat.postMessage", slow);
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = waiting + 1;
  auto api = track(sys->spawn(web_api, cfg));
  std::atomic<int> answered{0};
  std::atomic<int> closed{0};
  auto post = [&](caf::event_based_actor* a) {
    a->request(api, caf::infinite, call_atom_v, "chat.postMessage",
               api_args{{"channel", "C1"}, {"text", "x"}})
        .then([&](json_object&) { ++answered; },
              [&](caf::error& err) {
                if (code_of(err) == "closed")
                  ++closed;
                ++answered;
              });
  };
  spawn_fn(*sys, post);
  REQUIRE(eventually([&] { return logs.contains("rate limited"); }));
  // All of these wait in the method's line, behind the first call.
  std::atomic<bool> all_sent{false};
  spawn_fn(*sys, [&](caf::event_based_actor* a) {
    for (int i = 0; i < waiting; ++i)
      post(a);
    all_sent = true;
  });
  REQUIRE(eventually([&] { return all_sent.load(); }));
  // The first call goes again after the wait and is held by the server.
  REQUIRE(srv.wait_requests("chat.postMessage", 2, 10s));
  caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  REQUIRE(eventually([&] { return answered == waiting + 1; }, 30s));
  CHECK(closed == waiting + 1);
}

TEST_CASE_METHOD(api_fixture, "a TLS handshake that never completes times out",
                 "[web_api][tls]") {
  // A listener that accepts in the kernel and never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  client_config cfg;
  cfg.token = "xoxb-test-token";
  cfg.base_url =
      "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/api/";
  cfg.proxy_from_environment = false;
  cfg.connect_timeout = 500ms;
  cfg.request_timeout = 2s;
  cfg.api_retry.max_attempts = 1;
  cfg.log = logs.get();
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  ::close(fd);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "timeout");
  close(api);
}

// -- keep-alive ---------------------------------------------------------------

namespace {

std::set<uint64_t> connections_of(const std::vector<recorded_request>& reqs) {
  std::set<uint64_t> result;
  for (auto& r : reqs)
    result.insert(r.connection);
  return result;
}

} // namespace

TEST_CASE_METHOD(api_fixture, "calls reuse an idle keep-alive connection",
                 "[web_api][keep-alive]") {
  auto tls = GENERATE(false, true);
  CAPTURE(tls);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  srv.script("chat.postMessage", http_response::ok(R"("ts":"1.2")"));
  auto cfg = config_for(srv, logs.get());
  auto api = track(sys->spawn(web_api, cfg));
  for (int i = 0; i < 3; ++i)
    REQUIRE(auth_test(api));
  REQUIRE(call(api, "chat.postMessage", {{"channel", "C1"}, {"text", "hi"}}));
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(connections_of(reqs).size() == 1);
  for (auto& r : reqs)
    CHECK(r.headers["connection"] != "close");
  // Kept open between calls, closed by close().
  CHECK(srv.open_connections() == 1);
  close(api);
  CHECK(eventually([&] { return srv.open_connections() == 0; }));
}

TEST_CASE_METHOD(api_fixture, "api_keep_alive 0 opens a connection per call",
                 "[web_api][keep-alive]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.api_keep_alive = caf::timespan{0};
  auto api = track(sys->spawn(web_api, cfg));
  for (int i = 0; i < 3; ++i)
    REQUIRE(auth_test(api));
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(connections_of(reqs).size() == 3);
  for (auto& r : reqs)
    CHECK(r.headers["connection"] == "close");
  CHECK(eventually([&] { return srv.open_connections() == 0; }));
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a connection the server closed while idle is not reused",
                 "[web_api][keep-alive]") {
  auto tls = GENERATE(false, true);
  // Right after the answer, or with time for the close to arrive first.
  auto pause = GENERATE(0ms, 100ms);
  CAPTURE(tls, pause);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  auto closing = http_response::ok(R"("user_id":"U0BOT")");
  closing.close_after = true;
  srv.script("auth.test", closing);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  REQUIRE(auth_test(api));
  // Without a pause the close may still be on its way when the next call
  // takes the connection: then that attempt fails and the retry succeeds.
  std::this_thread::sleep_for(pause);
  auto second = auth_test(api);
  REQUIRE(second);
  CHECK(second->user_id == "U0BOT");
  auto reqs = srv.requests("auth.test");
  // The server saw each request exactly once, the second on a new
  // connection (a request written into the closing one was never read).
  REQUIRE(reqs.size() == 2);
  CHECK(connections_of(reqs).size() == 2);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "the connection of a call that opens a session is not kept",
                 "[web_api][keep-alive]") {
  auto tls = GENERATE(false, true);
  CAPTURE(tls);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  auto cfg = config_for(srv, logs.get());
  auto api = track(sys->spawn(web_api, cfg));
  auto call = [&](const char* method) {
    return request<json_object>(*self, api, caf::timespan{10s}, call_atom_v,
                                method, api_args{});
  };
  // An idle connection serves rtm.connect, which then does not keep it: the
  // session carries the client's traffic from then on.
  REQUIRE(call("auth.test"));
  REQUIRE(call("rtm.connect"));
  REQUIRE(call("auth.test"));
  REQUIRE(call("auth.test"));
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[1].method == "rtm.connect");
  CHECK(reqs[1].connection == reqs[0].connection);
  CHECK(reqs[2].connection != reqs[1].connection);
  CHECK(reqs[3].connection == reqs[2].connection);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a kept-alive connection failing before any answer is "
                 "retried once on a new one",
                 "[web_api][keep-alive]") {
  auto tls = GENERATE(false, true);
  CAPTURE(tls);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  // The second request arrives on the kept connection, which then closes
  // without an answer: to the client, a close by the server while idle.
  http_response drop;
  drop.drop_connection = true;
  srv.script("auth.test", http_response::ok(R"("user_id":"U0BOT")"));
  srv.script("auth.test", drop);
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry.max_attempts = 1; // a counted failure would fail the call
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(auth_test(api));
  auto second = auth_test(api);
  REQUIRE(second);
  auto reqs = srv.requests("auth.test");
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].connection == reqs[1].connection);
  CHECK(reqs[2].connection != reqs[1].connection);
  CHECK(logs.contains("sending on a new one"));
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a new connection failing before any answer "
                 "counts as a failed attempt",
                 "[web_api][keep-alive]") {
  fake_slack srv;
  http_response drop;
  drop.drop_connection = true;
  srv.script("auth.test", drop);
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry.max_attempts = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "connect_failed");
  CHECK(srv.requests("auth.test").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "an idle connection is closed after its timeout",
                 "[web_api][keep-alive]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.api_keep_alive = 1s;
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(auth_test(api));
  CHECK(srv.open_connections() == 1);
  CHECK(eventually([&] { return srv.open_connections() == 0; }, 10s));
  // The next call opens a new one.
  REQUIRE(auth_test(api));
  CHECK(connections_of(srv.requests()).size() == 2);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "concurrent calls use separate connections",
                 "[web_api][keep-alive]") {
  fake_slack srv;
  auto slow = http_response::ok(R"("user_id":"U0BOT")");
  slow.delay = 1s;
  for (int i = 0; i < 3; ++i)
    srv.script("auth.test", slow);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto results = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 3; ++i)
    spawn_fn(*sys, [api, results](caf::event_based_actor* a) {
      a->request(api, caf::timespan{20s}, call_atom_v, "auth.test", api_args{})
          .then([results](json_object&) { ++*results; }, [](caf::error&) {});
    });
  REQUIRE(eventually([&] { return results->load() == 3; }));
  CHECK(connections_of(srv.requests()).size() == 3);
  // All three are kept: the next three calls open nothing new.
  for (int i = 0; i < 3; ++i)
    REQUIRE(auth_test(api));
  CHECK(connections_of(srv.requests()).size() == 3);
  close(api);
  CHECK(eventually([&] { return srv.open_connections() == 0; }));
}

// -- what is retried ----------------------------------------------------------

namespace {

caf::expected<json_object> post(api_fixture& fx, const web_api_actor& api,
                                api_retry retry = api_retry::automatic) {
  api_call x;
  x.method = "chat.postMessage";
  x.args = {{"channel", "C1"}, {"text", "once"}};
  x.retry = retry;
  return request<json_object>(*fx.self, api, caf::timespan{20s}, call_atom_v,
                              std::move(x));
}

} // namespace

TEST_CASE_METHOD(api_fixture,
                 "a post that may have reached Slack is not repeated",
                 "[web_api][retry]") {
  SECTION("5xx") {
    fake_slack srv;
    srv.script("chat.postMessage",
               http_response{500, {}, "oops", "text/plain"});
    auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
  SECTION("Slack's internal_error") {
    // Slack: "it's possible some aspect of the operation succeeded".
    fake_slack srv;
    srv.script("chat.postMessage", http_response::error("internal_error"));
    auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(render(res.error()).find("internal_error") != std::string::npos);
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
  SECTION("Slack's migration_in_progress: not done") {
    fake_slack srv;
    srv.script("chat.postMessage",
               http_response::error("migration_in_progress"));
    auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "migration_in_progress");
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
  SECTION("a timeout while waiting for the answer") {
    fake_slack srv;
    auto slow = http_response::ok(R"("ts":"1.0")");
    slow.delay = 1500ms;
    srv.script("chat.postMessage", slow);
    auto cfg = config_for(srv, logs.get());
    cfg.request_timeout = 500ms;
    auto api = track(sys->spawn(web_api, cfg));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    std::this_thread::sleep_for(1500ms);
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
  SECTION("a kept-alive connection lost after the request went out") {
    fake_slack srv;
    http_response drop;
    drop.drop_connection = true;
    srv.script("auth.test", http_response::ok(R"("user_id":"U0BOT")"));
    srv.script("chat.postMessage", drop);
    auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
    REQUIRE(auth_test(api)); // leaves a kept connection
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
  SECTION("an answer that cannot be read: not JSON, not Slack's, not HTTP, "
          "too large") {
    // The request went out and something answered: Slack may have posted
    // it. malformed_response or response_too_large would read as a failure,
    // and a bot would post again.
    fake_slack srv;
    auto cfg = config_for(srv, logs.get());
    auto answer =
        GENERATE(as<std::string>{}, "html", "neither", "not http", "too large");
    INFO(answer);
    if (answer == "html") {
      srv.script("chat.postMessage",
                 http_response{200, {}, "<html>ok</html>", "text/html"});
    } else if (answer == "neither") {
      srv.script("chat.postMessage",
                 http_response{200, {}, R"({"ts":"1.0"})", "application/json"});
    } else if (answer == "not http") {
      http_response garbage;
      garbage.raw = "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n";
      srv.script("chat.postMessage", garbage);
    } else {
      cfg.max_response_size = 1024;
      srv.script(
          "chat.postMessage",
          http_response::ok(R"("junk":")" + std::string(2048, 'x') + "\""));
    }
    auto api = track(sys->spawn(web_api, cfg));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(srv.requests("chat.postMessage").size() == 1);
    close(api);
  }
}

TEST_CASE_METHOD(api_fixture,
                 "reads are retried, a call marked always is retried",
                 "[web_api][retry]") {
  fake_slack srv;
  srv.script("users.info", http_response{500, {}, "oops", "text/plain"});
  srv.script("users.info", http_response::error("internal_error"));
  srv.script("users.info", http_response::ok(R"("user":{"id":"U1"})"));
  srv.script("chat.postMessage", http_response{502, {}, "bad", "text/plain"});
  srv.script("chat.postMessage", http_response::ok(R"("ts":"1.0")"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  CHECK(call(api, "users.info", {{"user", "U1"}}));
  CHECK(srv.requests("users.info").size() == 3);
  CHECK(post(*this, api, api_retry::always));
  CHECK(srv.requests("chat.postMessage").size() == 2);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a post that surely did not reach Slack is retried",
                 "[web_api][retry]") {
  uint16_t port = 0;
  {
    fake_slack srv; // take a port, then free it
    port = srv.port();
  }
  client_config cfg;
  cfg.token = "xoxb-test-token";
  cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/api/";
  cfg.proxy_from_environment = false;
  cfg.api_retry = retry_policy{10ms, 20ms, 3};
  cfg.log = logs.get();
  auto api = track(sys->spawn(web_api, cfg));
  auto res = post(*this, api);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "connect_failed");
  // Three attempts: two retries logged.
  size_t retries = 0;
  for (auto& line : logs.lines())
    if (line.find("chat.postMessage") != std::string::npos &&
        line.find("; retry ") != std::string::npos)
      ++retries;
  CHECK(retries == 2);
  close(api);
}

TEST_CASE("which methods are safe to repeat", "[web_api][retry]") {
  for (auto m :
       {"auth.test", "rtm.connect", "apps.connections.open", "users.info",
        "conversations.list", "conversations.history", "conversations.replies",
        "conversations.members", "users.getPresence", "users.lookupByEmail",
        "search.messages", "conversations.open", "users.conversations",
        "admin.conversations.search", "team.accessLogs", "dnd.teamInfo"})
    CHECK(safe_to_repeat(m));
  for (auto m : {"chat.postMessage", "chat.update", "reactions.add",
                 "files.completeUploadExternal", "conversations.invite",
                 "chat.delete", "nonsense"})
    CHECK_FALSE(safe_to_repeat(m));
}

TEST_CASE_METHOD(api_fixture, "JSON bodies and a token for one call",
                 "[web_api]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::ok(R"("ts":"1.0")"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  api_call x;
  x.method = "chat.postMessage";
  x.json =
      json_object_from(R"({"channel":"C1","blocks":[{"type":"section","text":)"
                       R"({"type":"mrkdwn","text":"*hi*"}}]})");
  x.token = "xoxb-another-workspace";
  auto res =
      request<json_object>(*self, api, caf::timespan{20s}, call_atom_v, x);
  REQUIRE(res);
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].headers["content-type"] == "application/json; charset=utf-8");
  CHECK(reqs[0].headers["authorization"] == "Bearer xoxb-another-workspace");
  CHECK(json_object_from(reqs[0].body).value == x.json.value);
  // The call's token is masked like the caller's own.
  x.token = "xoxb-bad\r\nX-Injected: 1";
  auto bad =
      request<json_object>(*self, api, caf::timespan{20s}, call_atom_v, x);
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == "invalid_config");
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "odd HTTP: interim answers are read past, framing without "
                 "end is cut off",
                 "[web_api][hostile]") {
  fake_slack srv;
  const std::string final_answer = "HTTP/1.1 200 OK\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: 19\r\n\r\n"
                                   R"({"ok":true,"n":42})"
                                   "\n";
  auto interim = [](int n) {
    std::string result;
    for (int i = 0; i < n; ++i)
      result += "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n";
    return result;
  };
  auto raw = [](std::string bytes) {
    http_response res;
    res.raw = std::move(bytes);
    return res;
  };
  // One attempt: a failed one of users.list is repeated, and the fake has
  // no second script.
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry.max_attempts = 1;
  auto api = track(sys->spawn(web_api, cfg));
  SECTION("100 Continue and 103 Early Hints, then the answer") {
    srv.script("users.list", raw("HTTP/1.1 100 Continue\r\n\r\n" + interim(2) +
                                 final_answer));
    auto res = call(api, "users.list");
    REQUIRE(res);
    CHECK(res->value.at("n").as_int64() == 42);
  }
  SECTION("interim answers without end") {
    srv.script("users.list", raw(interim(20) + final_answer));
    auto res = call(api, "users.list");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "malformed_response");
  }
  SECTION("a chunk-size line without end") {
    srv.script("users.list", raw("HTTP/1.1 200 OK\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n1;" +
                                 std::string(size_t{3} << 20, 'a')));
    auto res = call(api, "users.list");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "malformed_response");
  }
  SECTION("a trailer without end") {
    srv.script("users.list",
               raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\n{}\r\n0\r\nX-Trailer: " +
                   std::string(size_t{3} << 20, 'a')));
    auto res = call(api, "users.list");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "malformed_response");
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a name lookup that outlives its call, its client and the "
                 "I/O threads ends harmlessly",
                 "[web_api][hostile]") {
  // The lookup cannot be stopped: the call times out, the caller and with
  // it the process's I/O threads go, and then the lookup's result comes.
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  auto port = srv.base_url().substr(srv.base_url().rfind(':'));
  cfg.base_url = "http://slow.test" + port;
  cfg.allow_insecure = true;
  cfg.connect_timeout = 200ms;
  cfg.api_retry.max_attempts = 1;
  auto api = sys->spawn(web_api, cfg);
  auto res = call(api, "auth.test");
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "timeout");
  close(api);
  // The lookup ends meanwhile and posts to the context of its I/O thread.
  std::this_thread::sleep_for(2500ms);
  CHECK(srv.requests().empty());
}

TEST_CASE_METHOD(api_fixture, "a response body over the limit is not retried",
                 "[web_api][retry]") {
  fake_slack srv;
  srv.script("users.list", http_response::ok(R"("junk":")" +
                                             std::string(5 << 20, 'x') + "\""));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto res = call(api, "users.list");
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "response_too_large");
  CHECK(srv.requests("users.list").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "max_response_size sets how large an answer may be",
                 "[web_api][config]") {
  fake_slack srv;
  auto big = R"("junk":")" + std::string(5 << 20, 'x') + "\"";
  srv.script("users.list", http_response::ok(big));
  srv.script("users.list",
             http_response::ok(R"("junk":")" + std::string(2048, 'x') + "\""));
  auto cfg = config_for(srv, logs.get());
  SECTION("raised: the big answer arrives whole") {
    cfg.max_response_size = size_t{8} << 20;
    auto api = track(sys->spawn(web_api, cfg));
    auto res = call(api, "users.list");
    REQUIRE(res);
    CHECK(res->value.at("junk").as_string().size() == size_t{5} << 20);
    close(api);
  }
  SECTION("lowered: a 2 KiB answer is too large") {
    cfg.max_response_size = 1024;
    auto api = track(sys->spawn(web_api, cfg));
    auto res = call(api, "users.list"); // the big one
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "response_too_large");
    res = call(api, "users.list");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "response_too_large");
    close(api);
  }
  SECTION("under 1024 or over 1 GiB: refused") {
    // Beast reserves what a Content-Length announces, up to the limit: a
    // limit near SIZE_MAX let a server make that allocation throw.
    cfg.max_response_size = GENERATE(size_t{1023}, (size_t{1} << 30) + 1,
                                     std::numeric_limits<size_t>::max());
    auto api = track(sys->spawn(web_api, cfg));
    auto res = call(api, "users.list");
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "invalid_config");
    CHECK(srv.requests().empty());
    close(api);
  }
}

TEST_CASE_METHOD(api_fixture,
                 "an answer that is not HTTP is malformed and not retried",
                 "[web_api][hostile]") {
  // auth.test is safe to repeat: a failure of the connection would be
  // retried. Broken framing is the server's answer, not the connection's.
  fake_slack srv;
  auto raw = GENERATE(
      std::string{"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}"},
      std::string{"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}"},
      std::string{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                  "Content-Length: 3\r\n\r\n{}"},
      std::string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "zz\r\n{}\r\n0\r\n\r\n"});
  http_response broken;
  broken.raw = raw;
  srv.script("auth.test", broken);
  srv.script("auth.test", http_response::ok(R"("user_id":"U1")"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto res = call(api, "auth.test");
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "malformed_response");
  CHECK(srv.requests("auth.test").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a caller that ends without close answers its calls",
                 "[web_api]") {
  // Its front exits (or the client that owns it): CAF drops the promises of
  // an actor that goes, and a requester without a timeout would wait for
  // good. The calls in flight and those waiting end with `closed`.
  fake_slack srv;
  auto slow = http_response::ok(R"("user_id":"U1")");
  slow.delay = 10s;
  srv.script("auth.test", slow);
  srv.script("users.list", slow);
  auto api = sys->spawn(web_api, config_for(srv, logs.get()));
  auto outcomes = std::make_shared<std::vector<caf::error>>();
  auto mtx = std::make_shared<std::mutex>();
  for (auto method : {"auth.test", "users.list"})
    spawn_fn(*sys, [=](caf::event_based_actor* a) {
      a->request(api, caf::infinite, call_atom_v, std::string{method},
                 api_args{})
          .then(
              [=](json_object&) {
                std::lock_guard<std::mutex> guard{*mtx};
                outcomes->emplace_back();
              },
              [=](caf::error& err) {
                std::lock_guard<std::mutex> guard{*mtx};
                outcomes->push_back(err);
              });
    });
  REQUIRE(srv.wait_requests("auth.test", 1, 5s));
  REQUIRE(srv.wait_requests("users.list", 1, 5s));
  auto start = std::chrono::steady_clock::now();
  caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{*mtx};
    return outcomes->size() == 2;
  }));
  CHECK(std::chrono::steady_clock::now() - start < 8s);
  std::lock_guard<std::mutex> guard{*mtx};
  for (auto& err : *outcomes)
    CHECK(code_of(err) == "closed");
}

// -- paged lists --------------------------------------------------------------

namespace {

api_call list_call(std::string limit) {
  api_call x;
  x.method = "conversations.list";
  x.args = {{"limit", std::move(limit)}};
  return x;
}

// The channel ids of one page of conversations.list.
std::vector<std::string> channel_ids(const json_object& page) {
  std::vector<std::string> result;
  for (auto& ch : page.value.at("channels").as_array())
    result.emplace_back(ch.as_object().at("id").as_string());
  return result;
}

// What a page sink received, in order.
struct page_log {
  mutable std::mutex mtx;
  std::vector<api_page> pages;

  size_t size() const {
    std::lock_guard<std::mutex> guard{mtx};
    return pages.size();
  }
};

caf::actor spawn_page_sink(caf::actor_system& sys,
                           const std::shared_ptr<page_log>& log) {
  return spawn_fn(sys, [log](caf::event_based_actor*) -> caf::behavior {
    return {[log](api_page& x) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->pages.push_back(std::move(x));
    }};
  });
}

caf::expected<std::vector<json_object>>
all_pages(api_fixture& fx, const web_api_actor& api, api_call x) {
  return request<std::vector<json_object>>(*fx.self, api, caf::timespan{20s},
                                           call_atom_v, std::move(x),
                                           all_pages_atom_v);
}

// Answers every page of conversations.list with the same cursor.
http_response looping_page(const recorded_request&) {
  return http_response::ok(
      R"("channels":[{"id":"C1"}],"response_metadata":{"next_cursor":"again"})");
}

} // namespace

TEST_CASE_METHOD(api_fixture, "a paged list collects every page in order",
                 "[web_api][pages]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto pages = all_pages(*this, api, list_call("2"));
  REQUIRE(pages);
  REQUIRE(pages->size() == 3);
  CHECK(channel_ids((*pages)[0]) ==
        std::vector<std::string>{"C0000001", "C0000002"});
  CHECK(channel_ids((*pages)[1]) ==
        std::vector<std::string>{"C0000003", "C0000004"});
  CHECK(channel_ids((*pages)[2]) == std::vector<std::string>{"C0000005"});
  auto reqs = srv.requests("conversations.list");
  REQUIRE(reqs.size() == 3);
  // The cursor goes into the form; `limit` stays as the caller set it.
  CHECK(reqs[0].form.count("cursor") == 0);
  CHECK(reqs[1].form["cursor"] == "next:2");
  CHECK(reqs[2].form["cursor"] == "next:4");
  for (auto& r : reqs)
    CHECK(r.form["limit"] == "2");
  // A list that fits one page is one call.
  auto one = all_pages(*this, api, list_call("10"));
  REQUIRE(one);
  CHECK(one->size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a page is fetched again after a transient failure whatever "
                 "its method's name says",
                 "[web_api][pages]") {
  fake_slack srv;
  // Paged, but named as no read: only the cursor says it is one.
  const std::string method = "admin.example.pages";
  REQUIRE_FALSE(safe_to_repeat(method));
  // The second page's first try fails after its request went out.
  auto failed = std::make_shared<std::atomic<bool>>(false);
  srv.on(method, [failed](const recorded_request& req) {
    if (req.form.count("cursor") == 0)
      return http_response::ok(
          R"("items":[1],"response_metadata":{"next_cursor":"p2"})");
    if (!failed->exchange(true))
      return http_response::text(502, "bad gateway");
    return http_response::ok(
        R"("items":[2],"response_metadata":{"next_cursor":""})");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  api_call x;
  x.method = method;
  auto pages = all_pages(*this, api, x);
  REQUIRE(pages);
  CHECK(pages->size() == 2);
  CHECK(srv.requests(method).size() == 3);
  // The first page carries no cursor: the method's name decides, as for any
  // call.
  srv.script(method, http_response::text(502, "bad gateway"));
  auto first = all_pages(*this, api, x);
  REQUIRE_FALSE(first);
  CHECK(code_of(first.error()) == "delivery_unknown");
  CHECK(srv.requests(method).size() == 4);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a paged call's JSON arguments go as a form, which every "
                 "read takes",
                 "[web_api][pages]") {
  // Slack takes JSON bodies for most write methods only; the fake ignores
  // one for conversations.list, as Slack may.
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  api_call x;
  x.method = "conversations.list";
  x.json = json_object_from(
      R"({"limit":3,"types":"public_channel","exclude_archived":true})");
  auto pages = all_pages(*this, api, x);
  REQUIRE(pages);
  REQUIRE(pages->size() == 2);
  auto reqs = srv.requests("conversations.list");
  REQUIRE(reqs.size() == 2);
  for (auto& req : reqs)
    CHECK(req.headers["content-type"] == "application/x-www-form-urlencoded");
  CHECK(reqs[0].form.count("cursor") == 0);
  CHECK(reqs[1].form["cursor"] == "next:3");
  CHECK(reqs[1].form["limit"] == "3");
  CHECK(reqs[1].form["types"] == "public_channel");
  CHECK(reqs[1].form["exclude_archived"] == "true");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "pages stream to an actor in order",
                 "[web_api][pages]") {
  fake_slack_options opts;
  opts.conversation_count = 7;
  fake_slack srv{opts};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto log = std::make_shared<page_log>();
  auto sink = spawn_page_sink(*sys, log);
  auto count = request<uint64_t>(*self, api, caf::timespan{20s}, call_atom_v,
                                 list_call("2"), sink);
  REQUIRE(count);
  CHECK(*count == 4);
  REQUIRE(eventually([&] { return log->size() == 4; }));
  std::lock_guard<std::mutex> guard{log->mtx};
  std::vector<std::string> ids;
  for (uint64_t i = 0; i < 4; ++i) {
    CHECK(log->pages[i].index == i);
    CHECK(log->pages[i].method == "conversations.list");
    for (auto& id : channel_ids(log->pages[i].page))
      ids.push_back(id);
  }
  CHECK(ids == std::vector<std::string>{"C0000001", "C0000002", "C0000003",
                                        "C0000004", "C0000005", "C0000006",
                                        "C0000007"});
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  close(api);
}

namespace {

// A list of `n` one-channel pages, each answered after `delay`: long enough
// to do something while it streams.
http_response slow_page(const recorded_request& r, int n,
                        std::chrono::milliseconds delay) {
  auto i = r.form.find("cursor");
  auto at = i == r.form.end() ? 0 : std::stoi(i->second.substr(1));
  auto next = at + 1 < n ? "c" + std::to_string(at + 1) : std::string{};
  auto res = http_response::ok(
      R"("channels":[{"id":"C1"}],"response_metadata":{"next_cursor":")" +
      next + "\"}");
  res.delay = delay;
  return res;
}

} // namespace

TEST_CASE_METHOD(api_fixture, "a streamed list ends when its actor ends",
                 "[web_api][pages]") {
  // Fetched on for nobody, a list would use up its method's rate limit.
  fake_slack srv;
  srv.on("conversations.list",
         [](const recorded_request& r) { return slow_page(r, 100, 20ms); });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto log = std::make_shared<page_log>();
  auto sink = spawn_page_sink(*sys, log);
  auto fetched = [&] {
    return srv.requests("conversations.list").size();
  };
  SECTION("while it streams") {
    // Lists to the same actor that end before it, one before the long list
    // starts and one while it streams, must not take its watch with them.
    auto last = list_call("1");
    last.args["cursor"] = "c99";
    auto short_list = [&] {
      auto one = request<uint64_t>(*self, api, caf::timespan{20s}, call_atom_v,
                                   last, sink);
      REQUIRE(one);
      CHECK(*one == 1);
    };
    short_list();
    auto pending = (*self)->request(api, caf::timespan{20s}, call_atom_v,
                                    list_call("1"), sink);
    REQUIRE(eventually([&] { return log->size() >= 3; }));
    short_list();
    auto seen = log->size();
    REQUIRE(eventually([&] { return log->size() >= seen + 2; }));
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    // No test assertion inside a handler: an exception thrown through
    // receive() would keep the actor system from shutting down.
    std::optional<uint64_t> count;
    caf::error err;
    pending.receive([&](uint64_t n) { count = n; },
                    [&](caf::error& x) { err = std::move(x); });
    CHECK_FALSE(count);
    CHECK(code_of(err) == "invalid_argument");
    CHECK(render(err).find("ended") != std::string::npos);
    auto n = fetched();
    CHECK(n < 101);
    std::this_thread::sleep_for(200ms);
    CHECK(fetched() == n);
  }
  SECTION("before it starts") {
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    REQUIRE(eventually([&] {
      return caf::actor_cast<caf::abstract_actor*>(sink)->getf(
                 caf::abstract_actor::is_terminated_flag) != 0;
    }));
    auto count = request<uint64_t>(*self, api, caf::timespan{20s}, call_atom_v,
                                   list_call("1"), sink);
    REQUIRE_FALSE(count);
    CHECK(code_of(count.error()) == "invalid_argument");
    CHECK(render(count.error()).find("page 0") != std::string::npos);
    CHECK(fetched() == 1);
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a list handing out a cursor twice ends",
                 "[web_api][pages]") {
  fake_slack srv;
  srv.on("conversations.list", looping_page);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  SECTION("collected") {
    auto pages = all_pages(*this, api, list_call("1"));
    REQUIRE_FALSE(pages);
    CHECK(code_of(pages.error()) == "cursor_loop");
    CHECK(render(pages.error()).find("conversations.list") !=
          std::string::npos);
    CHECK(srv.requests("conversations.list").size() == 2);
  }
  SECTION("streamed: the pages sent stay sent") {
    auto log = std::make_shared<page_log>();
    auto sink = spawn_page_sink(*sys, log);
    auto count = request<uint64_t>(*self, api, caf::timespan{20s}, call_atom_v,
                                   list_call("1"), sink);
    REQUIRE_FALSE(count);
    CHECK(code_of(count.error()) == "cursor_loop");
    CHECK(eventually([&] { return log->size() == 2; }));
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  }
  SECTION("a cursor the caller started from counts") {
    auto x = list_call("1");
    x.args["cursor"] = "again";
    auto pages = all_pages(*this, api, x);
    REQUIRE_FALSE(pages);
    CHECK(code_of(pages.error()) == "cursor_loop");
    CHECK(srv.requests("conversations.list").size() == 1);
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a list handing out a huge cursor ends",
                 "[web_api][pages][hostile]") {
  // Every cursor is kept (to find loops) and sent back: megabytes of them
  // would grow both, page after page.
  fake_slack srv;
  srv.on("conversations.list", [](const recorded_request&) {
    return http_response::ok(R"("channels":[{"id":"C1"}],)"
                             R"("response_metadata":{"next_cursor":")" +
                             std::string(5000, 'c') + "\"}");
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto pages = all_pages(*this, api, list_call("1"));
  REQUIRE_FALSE(pages);
  CHECK(code_of(pages.error()) == "malformed_response");
  CHECK(render(pages.error()).find("cursor") != std::string::npos);
  CHECK(srv.requests("conversations.list").size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a list counts as one request against api_queue_size",
                 "[web_api][pages]") {
  // Each page follows the one before: its call is never refused for the
  // list's own.
  fake_slack_options opts;
  opts.conversation_count = 10;
  fake_slack srv{opts};
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = 1;
  auto api = track(sys->spawn(web_api, cfg));
  auto pages = all_pages(*this, api, list_call("3"));
  REQUIRE(pages);
  CHECK(pages->size() == 4);
  CHECK(srv.requests("conversations.list").size() == 4);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a list longer than max_pages ends",
                 "[web_api][pages]") {
  fake_slack_options opts;
  opts.conversation_count = 10;
  fake_slack srv{opts};
  auto cfg = config_for(srv, logs.get());
  cfg.max_pages = 3;
  auto api = track(sys->spawn(web_api, cfg));
  auto pages = all_pages(*this, api, list_call("2"));
  REQUIRE_FALSE(pages);
  CHECK(code_of(pages.error()) == "too_many_pages");
  CHECK(srv.requests("conversations.list").size() == 3);
  // Exactly max_pages pages are fine.
  auto fits = all_pages(*this, api, list_call("4"));
  REQUIRE(fits);
  CHECK(fits->size() == 3);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a 429 between pages is waited out",
                 "[web_api][pages][ratelimit]") {
  fake_slack srv;
  std::atomic<int> n{0};
  srv.on("conversations.list", [&](const recorded_request& req) {
    if (++n == 2)
      return http_response::rate_limited("0");
    return srv.default_answer(req);
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto pages = all_pages(*this, api, list_call("2"));
  REQUIRE(pages);
  REQUIRE(pages->size() == 3);
  CHECK(channel_ids((*pages)[1]) ==
        std::vector<std::string>{"C0000003", "C0000004"});
  auto reqs = srv.requests("conversations.list");
  REQUIRE(reqs.size() == 4);
  // The rate-limited page is asked for again, with the same cursor.
  CHECK(reqs[1].form["cursor"] == "next:2");
  CHECK(reqs[2].form["cursor"] == "next:2");
  CHECK(reqs[3].form["cursor"] == "next:4");
  close(api);
}

TEST_CASE_METHOD(api_fixture, "an error on a later page ends the list",
                 "[web_api][pages]") {
  fake_slack srv;
  std::atomic<int> n{0};
  srv.on("conversations.list", [&](const recorded_request& req) {
    if (++n == 2)
      return http_response::error("invalid_cursor");
    return srv.default_answer(req);
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto pages = all_pages(*this, api, list_call("2"));
  REQUIRE_FALSE(pages);
  CHECK(slack_error_code(pages.error()) == "invalid_cursor");
  CHECK(render(pages.error()).find("page 1") != std::string::npos);
  CHECK(srv.requests("conversations.list").size() == 2);
  close(api);
}

// -- file uploads -------------------------------------------------------------

namespace {

// What a progress actor received, in order.
struct progress_log {
  mutable std::mutex mtx;
  std::vector<upload_progress> reports;

  std::vector<upload_progress> get() const {
    std::lock_guard<std::mutex> guard{mtx};
    return reports;
  }

  bool done(uint64_t total) const {
    auto xs = get();
    return !xs.empty() && xs.back().sent == total;
  }
};

caf::actor spawn_progress_sink(caf::actor_system& sys,
                               const std::shared_ptr<progress_log>& log) {
  return spawn_fn(sys, [log](caf::event_based_actor*) -> caf::behavior {
    return {[log](upload_progress& x) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->reports.push_back(x);
    }};
  });
}

// Two small files ("a.txt", "b.txt") in one message to C1.
file_upload two_files() {
  file_upload x;
  x.filename = "a.txt";
  x.content = "aaa";
  x.more_files.push_back(upload_file{"b.txt", "", "", "", "bbb", ""});
  x.channel_id = "C1";
  return x;
}

caf::expected<json_object> upload(api_fixture& fx, const web_api_actor& api,
                                  file_upload x) {
  return request<json_object>(*fx.self, api, caf::timespan{20s}, upload_atom_v,
                              std::move(x));
}

std::string some_bytes(size_t n) {
  std::string result;
  result.reserve(n);
  for (size_t i = 0; i < n; ++i)
    result += static_cast<char>((i * 7 + i / 251) % 256);
  return result;
}

// A temporary file, removed at the end of its scope.
struct temp_file {
  explicit temp_file(const std::string& bytes) {
    char name[] = "/tmp/caf-rtm-upload-XXXXXX";
    auto fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    path = name;
    size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
      REQUIRE(n > 0);
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  }

  ~temp_file() {
    std::remove(path.c_str());
  }

  std::string path;
};

} // namespace

TEST_CASE_METHOD(api_fixture,
                 "an upload counts as one request against api_queue_size",
                 "[web_api][upload]") {
  // Its three steps follow one another: none is refused for the upload's
  // own; a call next to it is.
  fake_slack srv;
  srv.on("files.completeUploadExternal", [&](const recorded_request& req) {
    auto res = srv.default_answer(req);
    res.delay = 1500ms;
    return res;
  });
  auto cfg = config_for(srv, logs.get());
  cfg.api_queue_size = 1;
  auto api = track(sys->spawn(web_api, cfg));
  file_upload x;
  x.filename = "data.bin";
  x.content = some_bytes(64 * 1024 + 3);
  x.channel_id = "C1";
  auto pending = std::async(std::launch::async, [&] {
    caf::scoped_actor uploader{*sys};
    return request<json_object>(uploader, api, caf::timespan{20s},
                                upload_atom_v, x);
  });
  REQUIRE(srv.wait_requests("files.completeUploadExternal", 1, 10s));
  // Its last step is open: the one request there is room for.
  auto other = call(api, "chat.postMessage", {{"channel", "C1"}});
  REQUIRE_FALSE(other);
  CHECK(code_of(other.error()) == "send_queue_full");
  auto res = pending.get();
  REQUIRE(res);
  auto ups = srv.uploads();
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].length == x.content.size());
  auto get_url = srv.requests("files.getUploadURLExternal");
  REQUIRE(get_url.size() == 1);
  // Neither asked for: not sent.
  CHECK(get_url[0].form.count("alt_txt") == 0);
  CHECK(get_url[0].form.count("snippet_type") == 0);
  CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 1);
  CHECK(srv.requests("chat.postMessage").empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a file uploads from memory, with progress",
                 "[web_api][upload]") {
  auto tls = GENERATE(false, true);
  CAPTURE(tls);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto log = std::make_shared<progress_log>();
  auto sink = spawn_progress_sink(*sys, log);
  auto bytes = some_bytes(1024 * 1024 + 17);
  file_upload x;
  x.filename = "data.bin";
  x.content = bytes;
  x.channel_id = "C1";
  x.initial_comment = "the data";
  x.progress = sink;
  auto res = upload(*this, api, x);
  REQUIRE(res);
  auto& files = res->value.at("files").as_array();
  REQUIRE(files.size() == 1);
  CHECK(files[0].as_object().at("id").as_string() == "F1");
  // The fake got the bytes and the three steps as Slack wants them.
  auto ups = srv.uploads();
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].filename == "data.bin");
  CHECK(ups[0].length == bytes.size());
  CHECK(ups[0].bytes == bytes);
  CHECK(ups[0].posts == 1);
  CHECK(ups[0].completed);
  CHECK(ups[0].title == "data.bin"); // no title: the name
  CHECK(ups[0].channel_id == "C1");
  CHECK(ups[0].initial_comment == "the data");
  CHECK(ups[0].thread_ts.empty());
  auto get = srv.requests("files.getUploadURLExternal");
  REQUIRE(get.size() == 1);
  CHECK(get[0].form["filename"] == "data.bin");
  CHECK(get[0].form["length"] == std::to_string(bytes.size()));
  auto post = srv.requests(caf::rtm::testing::upload_method);
  REQUIRE(post.size() == 1);
  CHECK(post[0].tls == tls);
  CHECK(post[0].headers["content-type"] == "application/octet-stream");
  CHECK(post[0].headers.count("authorization") == 0); // the URL is signed
  auto done = srv.requests("files.completeUploadExternal");
  REQUIRE(done.size() == 1);
  CHECK(json_object_from(R"({"x":)" + done[0].form["files"] + "}")
            .value.at("x") == boost::json::array{boost::json::object{
                                  {"id", "F1"}, {"title", "data.bin"}}});
  CHECK(done[0].form.count("thread_ts") == 0);
  // Progress: 0 first, then slices as they were written, then the total once
  // the upload URL accepted the bytes.
  uint64_t total = bytes.size();
  REQUIRE(eventually([&] { return log->done(total); }));
  auto reports = log->get();
  CHECK(reports.front().sent == 0);
  CHECK(reports.back().sent == total);
  CHECK(reports.size() > 3); // 1 MiB goes out in 64 KiB slices
  size_t finals = 0;
  for (size_t i = 0; i < reports.size(); ++i) {
    CHECK(reports[i].total == total);
    if (i > 0)
      CHECK(reports[i].sent >= reports[i - 1].sent);
    if (reports[i].sent == total)
      ++finals;
  }
  CHECK(finals == 1);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a file uploads from a path",
                 "[web_api][upload]") {
  fake_slack srv;
  auto bytes = some_bytes(200000);
  temp_file file{bytes};
  auto cfg = config_for(srv, logs.get());
  cfg.token = "xoxb-not-this-one";
  auto api = track(sys->spawn(web_api, cfg));
  file_upload x;
  x.filename = "log.txt";
  x.title = "The log";
  x.alt_text = "What the service wrote today";
  x.snippet_type = "text";
  x.path = file.path;
  x.channel_id = "C2";
  x.thread_ts = "1700000000.000100";
  x.token = srv.options().token; // the upload's own token
  auto res = upload(*this, api, x);
  REQUIRE(res);
  auto ups = srv.uploads();
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].bytes == bytes);
  CHECK(ups[0].title == "The log");
  CHECK(ups[0].alt_text == "What the service wrote today");
  CHECK(ups[0].snippet_type == "text");
  CHECK(ups[0].thread_ts == "1700000000.000100");
  CHECK(ups[0].channel_id == "C2");
  for (auto& r : srv.requests())
    if (r.method != caf::rtm::testing::upload_method)
      CHECK(r.headers["authorization"] == "Bearer " + srv.options().token);
  SECTION("a path that cannot be read") {
    x.path = file.path + ".missing";
    auto bad = upload(*this, api, x);
    REQUIRE_FALSE(bad);
    CHECK(code_of(bad.error()) == "invalid_argument");
    x.path = "/tmp";
    bad = upload(*this, api, x);
    REQUIRE_FALSE(bad);
    CHECK(code_of(bad.error()) == "invalid_argument");
  }
  SECTION("a file over max_upload_size") {
    auto small_cfg = cfg;
    small_cfg.max_upload_size = 1000;
    auto small = track(sys->spawn(web_api, small_cfg));
    auto bad = upload(*this, small, x);
    REQUIRE_FALSE(bad);
    CHECK(code_of(bad.error()) == "invalid_argument");
    CHECK(render(bad.error()).find("max_upload_size") != std::string::npos);
    x.path.clear();
    x.content = bytes;
    bad = upload(*this, small, x);
    REQUIRE_FALSE(bad);
    CHECK(code_of(bad.error()) == "invalid_argument");
    close(small);
  }
  // Refused before any request.
  CHECK(srv.uploads().size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "an empty file reports its progress once when it arrived",
                 "[web_api][upload]") {
  fake_slack srv;
  temp_file file{""};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto log = std::make_shared<progress_log>();
  auto sink = spawn_progress_sink(*sys, log);
  file_upload x;
  x.filename = "empty.txt";
  x.path = file.path;
  x.progress = sink;
  REQUIRE(upload(*this, api, x));
  // Every report was sent before the answer: a marker sent after it comes
  // after them all.
  caf::anon_send(sink, upload_progress{7, 7});
  REQUIRE(eventually([&] { return log->done(7); }));
  auto reports = log->get();
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].sent == 0);
  CHECK(reports[0].total == 0);
  CHECK(srv.uploads().at(0).posts == 1);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "several files go in one message, one after another, with "
                 "blocks",
                 "[web_api][upload]") {
  fake_slack srv;
  auto big = some_bytes(150000);
  temp_file from_disk{big};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto log = std::make_shared<progress_log>();
  auto sink = spawn_progress_sink(*sys, log);
  file_upload x;
  x.filename = "a.csv";
  x.title = "First";
  x.content = "a,b\n1,2\n";
  x.more_files.push_back(
      upload_file{"b.log", "", "A log", "text", "", from_disk.path});
  x.more_files.push_back(upload_file{"c.txt", "Third", "", "", "ccc", ""});
  x.channel_id = "C1";
  x.thread_ts = "1700000000.000100";
  x.blocks = R"([{"type":"section","text":{"type":"mrkdwn","text":"*3*"}}])";
  x.progress = sink;
  auto res = upload(*this, api, x);
  REQUIRE(res);
  auto ups = srv.uploads();
  REQUIRE(ups.size() == 3);
  CHECK(ups[0].filename == "a.csv");
  CHECK(ups[0].bytes == "a,b\n1,2\n");
  CHECK(ups[0].title == "First");
  CHECK(ups[1].filename == "b.log");
  CHECK(ups[1].bytes == big);
  CHECK(ups[1].title == "b.log"); // no title: the name
  CHECK(ups[1].alt_text == "A log");
  CHECK(ups[1].snippet_type == "text");
  CHECK(ups[2].bytes == "ccc");
  CHECK(ups[2].title == "Third");
  for (const auto& up : ups) {
    CHECK(up.completed);
    CHECK(up.posts == 1);
    CHECK(up.length == up.bytes.size()); // each file announced its own
    CHECK(up.channel_id == "C1");
    CHECK(up.thread_ts == "1700000000.000100");
    CHECK(up.blocks == x.blocks);
  }
  // One completeUploadExternal shares them all, in order.
  auto completes = srv.requests("files.completeUploadExternal");
  REQUIRE(completes.size() == 1);
  auto files = boost::json::parse(completes[0].form["files"]).as_array();
  REQUIRE(files.size() == 3);
  for (size_t i = 0; i < files.size(); ++i)
    CHECK(files[i].at("id").as_string() == ups[i].file_id);
  CHECK(res->value.at("files").as_array().size() == 3);
  // Progress counts the bytes of all files: up to the total once, never
  // back (no attempt was retried).
  uint64_t total = 8 + big.size() + 3;
  REQUIRE(eventually([&] { return log->done(total); }));
  auto reports = log->get();
  REQUIRE(reports.size() >= 3);
  CHECK(reports.front().sent == 0);
  size_t finals = 0;
  for (size_t i = 0; i < reports.size(); ++i) {
    CHECK(reports[i].total == total);
    if (i > 0)
      CHECK(reports[i].sent >= reports[i - 1].sent);
    finals += reports[i].sent == total ? 1 : 0;
  }
  CHECK(finals == 1);
  // The third file's first report starts after the first two files.
  CHECK(std::any_of(reports.begin(), reports.end(),
                    [&](auto& r) { return r.sent == 8 + big.size(); }));
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a step of a later file that fails names the file, and "
                 "nothing is shared",
                 "[web_api][upload]") {
  // Before the fake: its handler may run until the fake is gone.
  std::atomic<int> asked{0};
  fake_slack srv;
  srv.on("files.getUploadURLExternal", [&](const recorded_request& req) {
    if (++asked == 2)
      return http_response::error("invalid_arguments");
    return srv.default_answer(req);
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto x = two_files();
  auto res = upload(*this, api, x);
  REQUIRE_FALSE(res);
  auto text = render(res.error());
  CHECK_THAT(text, Catch::Contains("invalid_arguments"));
  CHECK_THAT(text, Catch::Contains("more_files[0] (b.txt)"));
  CHECK_THAT(text, Catch::Contains("step: files.getUploadURLExternal"));
  CHECK(srv.uploads().at(0).posts == 1); // the first file's bytes went
  CHECK(srv.requests("files.completeUploadExternal").empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a later file's bytes are sent again after a 5xx, and a "
                 "failure on names the file",
                 "[web_api][upload]") {
  // Before the fake: its handler may run until the fake is gone.
  std::atomic<int> posts{0};
  std::atomic<int> failing{1};
  fake_slack srv;
  // The first file's bytes go; the second's fail `failing` times.
  srv.on(caf::rtm::testing::upload_method, [&](const recorded_request& req) {
    if (++posts >= 2 && failing > 0) {
      --failing;
      return http_response::text(500, "oops");
    }
    return srv.default_answer(req);
  });
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto x = two_files();
  SECTION("once: sent again, and both are shared") {
    auto res = upload(*this, api, x);
    REQUIRE(res);
    CHECK(posts == 3);
    auto ups = srv.uploads();
    REQUIRE(ups.size() == 2);
    CHECK(ups[0].bytes == "aaa");
    CHECK(ups[1].bytes == "bbb");
    CHECK(ups[0].completed);
    CHECK(ups[1].completed);
    CHECK(srv.requests("files.completeUploadExternal").size() == 1);
  }
  SECTION("on: its failure names the file, and nothing is shared") {
    failing = 100;
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    auto text = render(res.error());
    CHECK(code_of(res.error()) == "http_error");
    CHECK_THAT(text, Catch::Contains("more_files[0] (b.txt)"));
    CHECK_THAT(text, Catch::Contains("step: upload_url"));
    CHECK(srv.requests("files.completeUploadExternal").empty());
    for (const auto& up : srv.uploads())
      CHECK_FALSE(up.completed);
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "the files of an upload are checked, and bounded together, "
                 "before any request",
                 "[web_api][upload]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.max_upload_size = 1000;
  auto api = track(sys->spawn(web_api, cfg));
  file_upload x;
  x.filename = "a.txt";
  x.content = std::string(600, 'a');
  auto refused = [&](const file_upload& y, const std::string& says) {
    auto res = upload(*this, api, y);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "invalid_argument");
    CHECK_THAT(render(res.error()), Catch::Contains(says));
  };
  auto y = x;
  y.more_files.push_back(upload_file{"", "", "", "", "b", ""});
  refused(y, "more_files[0] without a filename");
  y.more_files[0].filename = "b.txt";
  y.more_files[0].path = "/etc/hostname";
  refused(y, "more_files[0] needs either content or a path");
  // Each under the limit, together over it.
  y.more_files[0].path.clear();
  y.more_files[0].content = std::string(600, 'b');
  refused(y, "over max_upload_size");
  y = x;
  y.blocks = R"({"type":"section"})";
  refused(y, "not a JSON array");
  y.blocks = "[";
  refused(y, "not a JSON array");
  y.blocks = "[]";
  y.initial_comment = "hi";
  refused(y, "both initial_comment and blocks");
  CHECK(srv.requests().empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "upload arguments are checked first",
                 "[web_api][upload]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  file_upload x;
  x.content = "abc";
  auto res = upload(*this, api, x); // no filename
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  x.filename = "a.txt";
  x.path = "/etc/hostname"; // and content
  res = upload(*this, api, x);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  x.path.clear();
  x.content.clear(); // neither
  res = upload(*this, api, x);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  x.content = "abc";
  x.thread_ts = "1.2"; // without a channel
  res = upload(*this, api, x);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  CHECK(srv.requests().empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "an upload to a caller that cannot send it reads no file",
                 "[web_api][upload]") {
  // A caller closing or misconfigured answers at once, before it reads up
  // to max_upload_size from disk.
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.max_response_size = 1023; // refused by validate()
  auto api = track(sys->spawn(web_api, cfg));
  file_upload x;
  x.filename = "a.txt";
  x.path = "/nonexistent/a.txt"; // read first, this would fail otherwise
  auto res = upload(*this, api, x);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_config");
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "an upload's max_wait: a step that cannot start in time "
                 "fails the upload, and the file is never shared after it",
                 "[web_api][upload][max_wait]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  file_upload x;
  x.filename = "a.txt";
  x.content = "hello";
  x.channel_id = "C1";
  SECTION("a negative max_wait is refused") {
    x.max_wait = caf::timespan{-1};
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "invalid_argument");
    CHECK(srv.requests().empty());
  }
  SECTION("the share waits out a rate limit past the deadline") {
    srv.script("files.completeUploadExternal",
               http_response::rate_limited("2"));
    x.max_wait = caf::timespan{500ms};
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "send_expired");
    CHECK(render(res.error()).find("files.completeUploadExternal") !=
          std::string::npos);
    // Past the Retry-After and its jitter: the share was not repeated
    // behind the caller.
    std::this_thread::sleep_for(3500ms);
    CHECK(srv.requests("files.completeUploadExternal").size() == 1);
  }
  SECTION("in time") {
    srv.script("files.completeUploadExternal",
               http_response::rate_limited("0"));
    x.max_wait = caf::timespan{10s};
    auto res = upload(*this, api, x);
    REQUIRE(res);
    CHECK(srv.requests("files.completeUploadExternal").size() == 2);
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "a rate limit on one upload's URL holds no other upload",
                 "[web_api][upload]") {
  // The bytes go to a URL of their own, without the token: a 429 there
  // says nothing about the other uploads' URLs.
  fake_slack srv;
  srv.script(caf::rtm::testing::upload_method,
             http_response::rate_limited("30"));
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  file_upload x;
  x.filename = "a.txt";
  x.content = "hello";
  x.channel_id = "C1";
  caf::scoped_actor first{*sys};
  first->request(api, caf::timespan{60s}, upload_atom_v, x);
  REQUIRE(eventually([&] {
    return srv.requests(caf::rtm::testing::upload_method).size() == 1;
  }));
  x.filename = "b.txt";
  auto second =
      request<json_object>(*self, api, caf::timespan{10s}, upload_atom_v, x);
  CHECK(second);
  CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 2);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "upload bytes that time out are not sent again unless asked",
                 "[web_api][upload]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.request_timeout = 300ms;
  auto api = track(sys->spawn(web_api, cfg));
  file_upload x;
  x.filename = "a.txt";
  x.content = "hello";
  x.channel_id = "C1";
  auto slow = http_response::text(200, "OK - 5");
  slow.delay = 2s;
  // As many as api_retry allows attempts.
  for (int i = 0; i < 3; ++i)
    srv.script(caf::rtm::testing::upload_method, slow);
  SECTION("automatic: the timeout is the answer") {
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "timeout");
    CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 1);
  }
  SECTION("always: sent again") {
    x.retry = api_retry::always;
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "timeout");
    CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 3);
  }
  CHECK(srv.requests("files.completeUploadExternal").empty());
  close(api);
}

TEST_CASE_METHOD(api_fixture, "each upload step's failure names the step",
                 "[web_api][upload]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  file_upload x;
  x.filename = "a.txt";
  x.content = "hello";
  x.channel_id = "C1";
  auto step_of = [](const caf::error& err) {
    auto text = render(err);
    auto pos = text.find("step: ");
    return pos == std::string::npos
               ? std::string{}
               : text.substr(pos + 6, text.size() - pos - 7);
  };
  SECTION("files.getUploadURLExternal") {
    srv.script("files.getUploadURLExternal",
               http_response::error("not_allowed_token_type"));
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "not_allowed_token_type");
    CHECK(step_of(res.error()) == "files.getUploadURLExternal");
    CHECK(srv.requests(caf::rtm::testing::upload_method).empty());
  }
  SECTION("files.getUploadURLExternal without an upload URL") {
    srv.script("files.getUploadURLExternal",
               http_response::ok(R"("file_id":"F9")"));
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "malformed_response");
    CHECK(step_of(res.error()) == "files.getUploadURLExternal");
  }
  SECTION("an upload URL elsewhere") {
    srv.script("files.getUploadURLExternal",
               http_response::ok(R"("file_id":"F9",)"
                                 R"("upload_url":"http://example.com/up/1")"));
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "untrusted_url");
    CHECK(step_of(res.error()) == "upload_url");
    CHECK(srv.requests(caf::rtm::testing::upload_method).empty());
  }
  SECTION("the bytes: a 5xx is sent again (nothing is shared before the "
          "last step)") {
    srv.script(caf::rtm::testing::upload_method,
               http_response::text(500, "oops"));
    auto res = upload(*this, api, x);
    REQUIRE(res);
    CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 2);
    CHECK(srv.requests("files.completeUploadExternal").size() == 1);
    REQUIRE(srv.uploads().size() == 1);
    CHECK(srv.uploads()[0].bytes == "hello");
    CHECK(srv.uploads()[0].completed);
  }
  SECTION("the bytes: failing on is that failure, not delivery_unknown") {
    for (int i = 0; i < 4; ++i)
      srv.script(caf::rtm::testing::upload_method,
                 http_response::text(500, "oops"));
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "http_error");
    CHECK(step_of(res.error()) == "upload_url");
    CHECK(srv.requests("files.completeUploadExternal").empty());
  }
  SECTION("the bytes: a 5xx, repeated with api_retry::always") {
    srv.script(caf::rtm::testing::upload_method,
               http_response{500, {}, "oops", "text/plain"});
    x.retry = api_retry::always;
    auto log = std::make_shared<progress_log>();
    x.progress = spawn_progress_sink(*sys, log);
    auto res = upload(*this, api, x);
    REQUIRE(res);
    REQUIRE(srv.uploads().size() == 1);
    CHECK(srv.uploads()[0].posts == 1); // the scripted answer recorded none
    CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 2);
    // Each attempt reports from 0 again.
    uint64_t total = x.content.size();
    REQUIRE(eventually([&] { return log->done(total); }));
    auto reports = log->get();
    CHECK(std::count_if(reports.begin(), reports.end(),
                        [](auto& r) { return r.sent == 0; }) == 2);
    caf::anon_send_exit(x.progress, caf::exit_reason::user_shutdown);
  }
  SECTION("the bytes: a 429 is waited out") {
    srv.script(caf::rtm::testing::upload_method,
               http_response::rate_limited("0"));
    auto res = upload(*this, api, x);
    REQUIRE(res);
    CHECK(srv.requests(caf::rtm::testing::upload_method).size() == 2);
    CHECK(srv.uploads()[0].bytes == "hello");
  }
  SECTION("the bytes: an answer that is no success") {
    srv.script(caf::rtm::testing::upload_method,
               http_response{403, {}, "expired", "text/plain"});
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "http_error");
    CHECK(step_of(res.error()) == "upload_url");
  }
  SECTION("files.completeUploadExternal") {
    srv.script("files.completeUploadExternal",
               http_response::error("channel_not_found"));
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "channel_not_found");
    CHECK(step_of(res.error()) == "files.completeUploadExternal");
    REQUIRE(srv.uploads().size() == 1);
    CHECK(srv.uploads()[0].bytes == "hello");
    CHECK_FALSE(srv.uploads()[0].completed);
  }
  SECTION("files.completeUploadExternal is not repeated blindly") {
    srv.script("files.completeUploadExternal",
               http_response{502, {}, "bad gateway", "text/plain"});
    auto res = upload(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(step_of(res.error()) == "files.completeUploadExternal");
    CHECK(srv.requests("files.completeUploadExternal").size() == 1);
  }
  close(api);
}

// -- user agent and extra headers ---------------------------------------------

TEST_CASE_METHOD(api_fixture, "the user agent and extra headers reach Slack",
                 "[web_api][headers]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.user_agent_suffix = "mybot/1.2 (+https://example.com)";
  cfg.extra_headers = {{"X-Request-Source", "mybot"},
                       {"X-Trace", "a b c"},
                       {"X-Trace", "second"}};
  auto api = track(sys->spawn(web_api, cfg));
  REQUIRE(auth_test(api));
  file_upload x;
  x.filename = "a.txt";
  x.content = "hi";
  REQUIRE(upload(*this, api, x));
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 4);
  for (auto& r : reqs) {
    INFO(r.method);
    // "caf-rtm/<version> <suffix>"
    auto& ua = r.headers["user-agent"];
    auto space = ua.find(' ');
    REQUIRE(space != std::string::npos);
    CHECK(ua.substr(0, space).rfind("caf-rtm/", 0) == 0);
    CHECK(space > std::string{"caf-rtm/"}.size());
    CHECK(ua.substr(space + 1) == cfg.user_agent_suffix);
    CHECK(r.headers["x-request-source"] == "mybot");
    CHECK(r.headers["x-trace"] == "a b c, second");
  }
  close(api);
  // Without a suffix: the library's own name and version only.
  fake_slack plain;
  auto api2 = track(sys->spawn(web_api, config_for(plain, logs.get())));
  REQUIRE(auth_test(api2));
  auto ua = plain.requests()[0].headers["user-agent"];
  CHECK(ua.rfind("caf-rtm/", 0) == 0);
  CHECK(ua.find(' ') == std::string::npos);
  CHECK(plain.requests()[0].headers.count("x-request-source") == 0);
  close(api2);
}

TEST_CASE_METHOD(api_fixture, "bad user agents and headers are refused",
                 "[web_api][headers]") {
  fake_slack srv;
  using headers = std::vector<std::pair<std::string, std::string>>;
  auto bad = GENERATE(
      as<headers>{}, headers{{"X-Bad\r\nInjected", "1"}}, headers{{"", "1"}},
      headers{{"X Space", "1"}}, headers{{"X-Colon:", "1"}},
      headers{{"X-A", "1\r\n"}}, headers{{"X-A", "a\nb"}},
      headers{{"X-A", "\x01"}}, headers{{"X-A", "\x7f"}},
      headers{{"Authorization", "x"}}, headers{{"content-length", "1"}},
      headers{{"Host", "evil"}}, headers{{"Transfer-Encoding", "chunked"}});
  auto cfg = config_for(srv, logs.get());
  if (bad.empty())
    cfg.user_agent_suffix = "app/1\r\nX-Injected: 1";
  cfg.extra_headers = bad;
  CAPTURE(bad.empty() ? cfg.user_agent_suffix : bad[0].first);
  auto err = cfg.validate();
  CHECK(code_of(err) == "invalid_config");
  auto api = track(sys->spawn(web_api, cfg));
  auto me = auth_test(api);
  REQUIRE_FALSE(me);
  CHECK(code_of(me.error()) == "invalid_config");
  CHECK(srv.requests().empty());
  close(api);
}

namespace {

struct options_config : caf::actor_system_config {
  options_config() {
    configure(*this, custom_options_);
  }
};

} // namespace

TEST_CASE("Web API options come from CAF's config", "[web_api][headers]") {
  options_config cfg;
  std::vector<std::string> args{
      "--caf-rtm.token=xoxb-cli",
      "--caf-rtm.user-agent=app/2.0",
      R"(--caf-rtm.extra-headers=["X-A: 1", "X-B:two words"])",
      "--caf-rtm.max-pages=7",
      "--caf-rtm.api-queue-size=9",
      "--caf-rtm.max-upload-size=4096",
      "--caf-rtm.max-response-size=65536"};
  REQUIRE_FALSE(cfg.parse(args));
  auto x = client_config::from(cfg);
  CHECK(x.user_agent_suffix == "app/2.0");
  using headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(x.extra_headers == headers{{"X-A", "1"}, {"X-B", "two words"}});
  CHECK(x.max_pages == 7);
  CHECK(x.api_queue_size == 9);
  CHECK(x.max_upload_size == 4096);
  CHECK(x.max_response_size == 65536);
  CHECK_FALSE(x.validate());
  options_config bad;
  REQUIRE_FALSE(bad.parse(std::vector<std::string>{
      "--caf-rtm.token=xoxb-cli",
      R"(--caf-rtm.extra-headers=["X-A: 1", "X-Key=s3cr3t"])"}));
  auto err = client_config::from(bad).validate();
  CHECK(code_of(err) == "invalid_config");
  // The entry is named by its place: its text may hold a credential, also
  // when a colon follows it.
  CHECK(render(err).find("entry 2") != std::string::npos);
  CHECK(render(err).find("s3cr3t") == std::string::npos);
  options_config colon;
  REQUIRE_FALSE(colon.parse(std::vector<std::string>{
      "--caf-rtm.token=xoxb-cli",
      R"(--caf-rtm.extra-headers=["Authorization=Bearer s3cr3t:x"])"}));
  err = client_config::from(colon).validate();
  CHECK(code_of(err) == "invalid_config");
  CHECK(render(err).find("entry 1") != std::string::npos);
  CHECK(render(err).find("s3cr3t") == std::string::npos);
  options_config zero;
  REQUIRE_FALSE(zero.parse(std::vector<std::string>{"--caf-rtm.token=xoxb-cli",
                                                    "--caf-rtm.max-pages=0"}));
  CHECK(code_of(client_config::from(zero).validate()) == "invalid_config");
  options_config no_queue;
  REQUIRE_FALSE(no_queue.parse(std::vector<std::string>{
      "--caf-rtm.token=xoxb-cli", "--caf-rtm.api-queue-size=0"}));
  CHECK(code_of(client_config::from(no_queue).validate()) == "invalid_config");
}

TEST_CASE("upload URLs from the Web API are checked",
          "[web_api][upload][security]") {
  client_config cfg;
  cfg.token = "xoxb-1";
  CHECK(net::check_post_url(cfg, "https://files.slack.com/upload/v1/abc",
                            "upload URL"));
  auto plain = net::check_post_url(cfg, "http://files.slack.com/upload/v1/a",
                                   "upload URL");
  REQUIRE_FALSE(plain);
  CHECK(code_of(plain.error()) == "untrusted_url");
  auto elsewhere =
      net::check_post_url(cfg, "https://evil.example/up/abc", "upload URL");
  REQUIRE_FALSE(elsewhere);
  CHECK(code_of(elsewhere.error()) == "untrusted_url");
  // The URL is a credential: errors name the host only.
  CHECK(render(elsewhere.error()).find("abc") == std::string::npos);
  CHECK_FALSE(
      net::check_post_url(cfg, "wss://files.slack.com/x", "upload URL"));
  cfg.ws_hosts = ".example";
  CHECK(net::check_post_url(cfg, "https://evil.example/up/abc", "upload URL"));
  cfg.base_url = "http://127.0.0.1:8080/api/";
  CHECK(net::check_post_url(cfg, "http://127.0.0.1:9090/upload/v1/x",
                            "upload URL"));
}

// -- response URLs and incoming webhooks --------------------------------------

namespace {

caf::expected<caf::ok_atom> post_to(api_fixture& fx, const web_api_actor& api,
                                    webhook_post x) {
  return request<caf::ok_atom>(*fx.self, api, caf::timespan{20s},
                               webhook_atom_v, std::move(x));
}

webhook_post hook_post(const fake_slack& srv, const std::string& name,
                       std::string message_json) {
  webhook_post x;
  x.url = srv.webhook_url(name);
  x.message = json_object_from(message_json);
  return x;
}

} // namespace

TEST_CASE_METHOD(api_fixture,
                 "a webhook post reaches its URL as JSON without the token",
                 "[web_api][webhook]") {
  auto tls = GENERATE(false, true);
  CAPTURE(tls);
  fake_slack srv{tls ? tls_options() : fake_slack_options{}};
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  auto x = hook_post(srv, "T0TEAM/1/secret",
                     R"({"text":"done","response_type":"in_channel"})");
  REQUIRE(post_to(*this, api, x));
  auto posts = srv.requests(caf::rtm::testing::webhook_method);
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].tls == tls);
  CHECK(posts[0].target == "/hooks/T0TEAM/1/secret");
  CHECK(posts[0].http_method == "POST");
  CHECK(posts[0].headers["content-type"] == "application/json; charset=utf-8");
  CHECK(posts[0].headers.count("authorization") == 0); // the URL is the key
  CHECK(json_object_from(posts[0].body).value == x.message.value);
  // Nothing went to the Web API.
  CHECK(srv.requests().size() == 1);
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "Slack's answers to webhook posts are typed errors",
                 "[web_api][webhook]") {
  fake_slack srv;
  auto cfg = config_for(srv, logs.get());
  cfg.api_retry = retry_policy{20ms, 100ms, 3};
  auto api = track(sys->spawn(web_api, cfg));
  SECTION("a message without text") {
    auto res = post_to(*this, api, hook_post(srv, "a", R"({"x":1})"));
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "slack_error");
    CHECK(slack_error_code(res.error()) == "no_text");
  }
  SECTION("a response_url used up after five posts") {
    for (int i = 0; i < 5; ++i)
      REQUIRE(post_to(*this, api, hook_post(srv, "b", R"({"text":"n"})")));
    auto res = post_to(*this, api, hook_post(srv, "b", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "used_url");
    CHECK(srv.requests(caf::rtm::testing::webhook_method).size() == 6);
  }
  SECTION("an error in JSON") {
    srv.script(
        caf::rtm::testing::webhook_method,
        http_response{200, {}, R"({"ok":false,"error":"invalid_blocks"})"});
    auto res = post_to(*this, api, hook_post(srv, "c", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "invalid_blocks");
    CHECK(slack_error_detail(res.error()).empty());
  }
  SECTION("an error in JSON with what Slack says beyond the code") {
    srv.script(caf::rtm::testing::webhook_method,
               http_response{200,
                             {},
                             R"({"ok":false,"error":"invalid_blocks",)"
                             R"("response_metadata":{"messages":[)"
                             R"("[ERROR] no more than 50 items allowed"]}})"});
    auto res = post_to(*this, api, hook_post(srv, "c", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "invalid_blocks");
    CHECK(slack_error_detail(res.error()) ==
          "[ERROR] no more than 50 items allowed");
  }
  SECTION("Slack's internal_error: the post may have gone out") {
    srv.script(
        caf::rtm::testing::webhook_method,
        http_response{200, {}, R"({"ok":false,"error":"internal_error"})"});
    auto res = post_to(*this, api, hook_post(srv, "g", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(render(res.error()).find("internal_error") != std::string::npos);
  }
  SECTION("Slack's internal_error: repeated if the caller says so") {
    srv.script(
        caf::rtm::testing::webhook_method,
        http_response{200, {}, R"({"ok":false,"error":"internal_error"})"});
    auto x = hook_post(srv, "h", R"({"text":"n","replace_original":true})");
    x.retry = api_retry::always;
    REQUIRE(post_to(*this, api, x));
    CHECK(srv.requests(caf::rtm::testing::webhook_method).size() == 2);
  }
  SECTION("a rate limit is waited out") {
    srv.script(caf::rtm::testing::webhook_method,
               http_response::rate_limited("1"));
    REQUIRE(post_to(*this, api, hook_post(srv, "d", R"({"text":"n"})")));
    auto posts = srv.requests(caf::rtm::testing::webhook_method);
    REQUIRE(posts.size() == 2);
    CHECK(posts[1].received_at - posts[0].received_at >= 900ms);
  }
  SECTION("a server error is not repeated: the post may have gone out") {
    srv.script(caf::rtm::testing::webhook_method,
               http_response{500, {}, "rollup_error", "text/plain"});
    auto res = post_to(*this, api, hook_post(srv, "e", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "delivery_unknown");
    CHECK(srv.requests(caf::rtm::testing::webhook_method).size() == 1);
  }
  SECTION("unless the caller says it is harmless") {
    srv.script(caf::rtm::testing::webhook_method,
               http_response{503, {}, "unavailable", "text/plain"});
    auto x = hook_post(srv, "f", R"({"text":"n","replace_original":true})");
    x.retry = api_retry::always;
    REQUIRE(post_to(*this, api, x));
    CHECK(srv.requests(caf::rtm::testing::webhook_method).size() == 2);
  }
  close(api);
}

TEST_CASE_METHOD(api_fixture,
                 "webhook posts are checked before anything goes out",
                 "[web_api][webhook][security]") {
  fake_slack srv;
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  // Outside Slack's domain (the fake's: 127.0.0.1), not http(s), malformed.
  for (auto url : {"http://evil.example/hooks/x", "ws://127.0.0.1:1/hooks/x",
                   "not a url"}) {
    INFO(url);
    auto x = hook_post(srv, "x", R"({"text":"n"})");
    x.url = url;
    auto res = post_to(*this, api, x);
    REQUIRE_FALSE(res);
    CHECK(code_of(res.error()) == "untrusted_url");
  }
  auto empty = hook_post(srv, "x", "{}");
  auto res = post_to(*this, api, empty);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  auto negative = hook_post(srv, "x", R"({"text":"n"})");
  negative.max_wait = -1s;
  res = post_to(*this, api, negative);
  REQUIRE_FALSE(res);
  CHECK(code_of(res.error()) == "invalid_argument");
  CHECK(srv.requests().empty());
  // An https base URL takes no plain http:// webhook (the URL is a key).
  client_config cfg;
  cfg.token = "xoxb-1";
  auto plain = net::check_post_url(cfg, "http://hooks.slack.com/commands/x",
                                   "webhook URL");
  REQUIRE_FALSE(plain);
  CHECK(code_of(plain.error()) == "untrusted_url");
  CHECK(render(plain.error()).find("commands") == std::string::npos);
  CHECK(net::check_post_url(cfg, "https://hooks.slack.com/commands/x",
                            "webhook URL"));
  close(api);
}

TEST_CASE_METHOD(api_fixture, "a webhook URL appears in no log line or error",
                 "[web_api][webhook][secrets]") {
  // The URL is the credential: a 5xx, a rate limit given up on, a bad
  // answer and a connection refused all fail without showing it.
  fake_slack srv;
  srv.script(caf::rtm::testing::webhook_method,
             http_response{503, {}, "unavailable", "text/plain"});
  srv.script(caf::rtm::testing::webhook_method,
             http_response::rate_limited("0"));
  srv.script(caf::rtm::testing::webhook_method,
             http_response{403, {}, "<html>no</html>", "text/html"});
  auto cfg = config_for(srv, logs.get());
  cfg.max_rate_limit_waits = 0;
  auto api = track(sys->spawn(web_api, cfg));
  std::vector<std::string> rendered;
  for (int i = 0; i < 3; ++i) {
    auto res =
        post_to(*this, api, hook_post(srv, "T0/1/s3cr3t", R"({"text":"n"})"));
    REQUIRE_FALSE(res);
    rendered.push_back(render(res.error()));
  }
  auto refused = hook_post(srv, "T0/1/s3cr3t", R"({"text":"n"})");
  refused.url = "http://127.0.0.1:1/hooks/T0/1/s3cr3t";
  auto res = post_to(*this, api, refused);
  REQUIRE_FALSE(res);
  rendered.push_back(render(res.error()));
  close(api);
  REQUIRE_FALSE(logs.lines().empty());
  for (auto& line : logs.lines())
    CHECK(line.find("s3cr3t") == std::string::npos);
  for (auto& text : rendered)
    CHECK(text.find("s3cr3t") == std::string::npos);
}
