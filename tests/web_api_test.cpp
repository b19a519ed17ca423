// The web-API caller against the fake Slack, over real loopback sockets.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "caf/rtm/web_api.hpp"
#include "detail/slack_answers.hpp"
#include "test_support.hpp"

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
  fake_slack srv;
  auto slow = http_response::ok(R"("user_id":"U1")");
  slow.delay = 5s;
  srv.script("auth.test", slow);
  auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
  std::mutex mtx;
  std::optional<caf::error> outcome;
  spawn_fn(*sys, [&](caf::event_based_actor* a) {
    a->request(api, caf::timespan{20s}, call_atom_v, "auth.test", api_args{})
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
  REQUIRE(srv.wait_requests("auth.test", 1, 5s));
  auto start = std::chrono::steady_clock::now();
  close(api);
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{mtx};
    return outcome.has_value();
  }));
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(code_of(*outcome) == "closed");
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
    fake_slack srv;
    srv.script("chat.postMessage", http_response::error("internal_error"));
    auto api = track(sys->spawn(web_api, config_for(srv, logs.get())));
    auto res = post(*this, api);
    REQUIRE_FALSE(res);
    CHECK(slack_error_code(res.error()) == "internal_error");
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
}

TEST_CASE_METHOD(api_fixture,
                 "reads are retried; a call marked always is retried",
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
        "search.messages", "conversations.open"})
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
