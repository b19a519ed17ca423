// Smoke tests of the fake Slack itself, with real loopback sockets: Beast's
// synchronous clients where a well-behaved peer will do, raw Asio where the
// test needs to see (or send) the bytes themselves.

#include <catch2/catch.hpp>

#include "caf/rtm/testing/fake_slack.hpp"
#include "detail/base64.hpp"

#include <boost/asio/connect.hpp>                    // net::connect
#include <boost/asio/io_context.hpp>                 // net::io_context
#include <boost/asio/ip/tcp.hpp>                     // tcp::socket
#include <boost/asio/read.hpp>                       // net::read
#include <boost/asio/read_until.hpp>                 // net::read_until
#include <boost/asio/ssl.hpp>                        // ssl::context
#include <boost/asio/ssl/host_name_verification.hpp> // host_name_verification
#include <boost/asio/write.hpp>                      // net::write
#include <boost/beast/core.hpp>                      // beast::tcp_stream
#include <boost/beast/http.hpp>                      // http::read, write
#include <boost/beast/ssl.hpp>                       // beast::ssl_stream
#include <boost/beast/websocket.hpp>                 // websocket::stream
#include <boost/beast/websocket/ssl.hpp>             // TLS teardown

#include <openssl/evp.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

using namespace caf::rtm::testing;
using namespace std::chrono_literals;

namespace {

const std::string token = "xoxb-test-token";

tcp::endpoint loopback(uint16_t port) {
  return {net::ip::make_address("127.0.0.1"), port};
}

bool contains(const std::string& str, const std::string& part) {
  return str.find(part) != std::string::npos;
}

/// The raw value of `"key":` in a flat JSON text ("" if absent).
std::string field(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos)
    return {};
  pos += key.size() + 3;
  if (json[pos] == '"')
    return json.substr(pos + 1, json.find('"', pos + 1) - pos - 1);
  return json.substr(pos, json.find_first_of(",}", pos) - pos);
}

using response = http::response<http::string_body>;

/// A keep-alive HTTP/1.1 connection to the fake's Web API.
template <class Stream>
response post_on(Stream& stream, beast::flat_buffer& buf,
                 const std::string& target, const std::string& body,
                 const std::string& bearer) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  if (!bearer.empty())
    req.set(http::field::authorization, "Bearer " + bearer);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  response res;
  http::read(stream, buf, res);
  return res;
}

struct http_client {
  explicit http_client(uint16_t port) {
    stream.connect(loopback(port));
    stream.socket().set_option(tcp::no_delay(true));
  }

  response post(const std::string& target, const std::string& body = "",
                const std::string& bearer = token) {
    return post_on(stream, buf, target, body, bearer);
  }

  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buf;
};

/// Calls rtm.connect and returns the path of the WebSocket URL.
std::string ws_path(fake_slack& fake) {
  http_client client{fake.port()};
  auto res = client.post("/api/rtm.connect", "token=" + token, "");
  auto url = field(res.body(), "url");
  auto pos = url.find("/ws/");
  REQUIRE(pos != std::string::npos);
  return url.substr(pos);
}

struct ws_client {
  ws_client(uint16_t port, const std::string& path) {
    beast::get_lowest_layer(ws).connect(loopback(port));
    beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true));
    ws.handshake("127.0.0.1:" + std::to_string(port), path);
  }

  std::string read() {
    beast::flat_buffer buf;
    ws.read(buf);
    return beast::buffers_to_string(buf.data());
  }

  void write(const std::string& text) {
    ws.text(true);
    ws.write(net::buffer(text));
  }

  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
};

/// A raw TCP connection that did the WebSocket handshake by hand.
struct raw_ws {
  raw_ws(uint16_t port, const std::string& path) : socket(ioc) {
    socket.connect(loopback(port));
    socket.set_option(tcp::no_delay(true));
    std::string req = "GET " + path +
                      " HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    net::write(socket, net::buffer(req));
    auto n = net::read_until(socket, net::dynamic_buffer(pending), "\r\n\r\n");
    head = pending.substr(0, n);
    pending.erase(0, n);
  }

  /// Reads one server frame (unfragmented, unmasked): {opcode, payload}.
  std::pair<int, std::string> read_frame() {
    auto need = [this](std::size_t n) {
      if (pending.size() < n)
        net::read(socket, net::dynamic_buffer(pending),
                  net::transfer_at_least(n - pending.size()));
    };
    need(2);
    auto b0 = static_cast<unsigned char>(pending[0]);
    auto b1 = static_cast<unsigned char>(pending[1]);
    std::size_t len = b1 & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      need(4);
      len = (static_cast<unsigned char>(pending[2]) << 8) |
            static_cast<unsigned char>(pending[3]);
      header = 4;
    }
    REQUIRE(len < 65536);
    need(header + len);
    auto payload = pending.substr(header, len);
    pending.erase(0, header + len);
    return {b0 & 0x0F, payload};
  }

  net::io_context ioc;
  tcp::socket socket;
  std::string head;
  std::string pending;
};

/// Polls `pred` until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

uint16_t close_code_of(const std::string& payload) {
  REQUIRE(payload.size() >= 2);
  return static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                               static_cast<unsigned char>(payload[1]));
}

// -- Socket Mode helpers ------------------------------------------------------

const std::string app_token = "xapp-1-test-token";

/// Calls apps.connections.open and returns the answer's body.
std::string connections_open(fake_slack& fake,
                             const std::string& bearer = app_token,
                             const std::string& body = "") {
  http_client client{fake.port()};
  return client.post("/api/apps.connections.open", body, bearer).body();
}

/// Path and query of a ws:// or wss:// URL.
std::string path_of(const std::string& url) {
  auto pos = url.find('/', url.find("//") + 2);
  REQUIRE(pos != std::string::npos);
  return url.substr(pos);
}

/// A fresh Socket Mode ticket URL's path and query.
std::string link_path(fake_slack& fake) {
  auto url = field(connections_open(fake), "url");
  REQUIRE(!url.empty());
  return path_of(url);
}

/// The hello a Socket Mode session gets with default options.
std::string socket_mode_hello(std::size_t num_connections) {
  return R"({"type":"hello","num_connections":)" +
         std::to_string(num_connections) +
         R"(,"debug_info":{"host":"fake-slack","build_number":1,)"
         R"("approximate_connection_time":18060},)"
         R"("connection_info":{"app_id":"A0APP"}})";
}

std::string disconnect(const std::string& reason) {
  return R"({"type":"disconnect","reason":")" + reason +
         R"(","debug_info":{"host":"fake-slack"}})";
}

/// The HTTP status answering a WebSocket handshake on `path`.
unsigned handshake_status(uint16_t port, const std::string& path) {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::get_lowest_layer(ws).connect(loopback(port));
  websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, "127.0.0.1:" + std::to_string(port), path, ec);
  return res.result_int();
}

/// Envelopes sent so far for `event_id`.
std::vector<sent_envelope> envelopes_of(const fake_slack& fake,
                                        const std::string& event_id) {
  std::vector<sent_envelope> result;
  for (auto& env : fake.envelopes())
    if (env.event_id == event_id)
      result.push_back(env);
  return result;
}

} // namespace

// -- Web API ------------------------------------------------------------------

TEST_CASE("fake_slack: auth.test and rtm.connect are answered and recorded") {
  fake_slack fake;
  REQUIRE(fake.base_url() ==
          "http://127.0.0.1:" + std::to_string(fake.port()) + "/api/");
  http_client client{fake.port()};
  auto auth = client.post("/api/auth.test");
  CHECK(auth.result_int() == 200);
  CHECK(field(auth.body(), "ok") == "true");
  CHECK(field(auth.body(), "url") == "https://testteam.slack.com/");
  CHECK(field(auth.body(), "user_id") == "U0BOT");
  CHECK(field(auth.body(), "team_id") == "T0TEAM");
  CHECK(field(auth.body(), "bot_id") == "B0BOT");
  // Same connection (keep-alive), token in the form this time.
  auto rtm =
      client.post("/api/rtm.connect",
                  "token=" + token + "&batch_presence_aware=1&note=a+b%21", "");
  CHECK(field(rtm.body(), "ok") == "true");
  auto url = field(rtm.body(), "url");
  CHECK(url.rfind("ws://127.0.0.1:" + std::to_string(fake.port()) + "/ws/",
                  0) == 0);
  CHECK(contains(rtm.body(), R"("self":{"id":"U0BOT","name":"testbot"})"));
  CHECK(field(rtm.body(), "domain") == "testteam");
  auto again = client.post("/api/rtm.connect", "", token);
  CHECK(field(again.body(), "url") != url); // a fresh ticket each time
  REQUIRE(fake.wait_requests("rtm.connect", 2, 10s));
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].method == "auth.test");
  CHECK(reqs[0].http_method == "POST");
  CHECK(reqs[0].target == "/api/auth.test");
  CHECK(reqs[0].headers.at("authorization") == "Bearer " + token);
  CHECK_FALSE(reqs[0].tls);
  CHECK(reqs[1].form.at("token") == token);
  CHECK(reqs[1].form.at("batch_presence_aware") == "1");
  CHECK(reqs[1].form.at("note") == "a b!");
  CHECK(reqs[1].headers.at("content-type") ==
        "application/x-www-form-urlencoded");
  CHECK(fake.requests("rtm.connect").size() == 2);
}

TEST_CASE("fake_slack: the Web API rejects bad tokens and unknown methods") {
  fake_slack_options opts;
  opts.bot_id = ""; // a user token
  fake_slack fake{opts};
  http_client client{fake.port()};
  CHECK(field(client.post("/api/auth.test", "", "").body(), "error") ==
        "not_authed");
  CHECK(field(client.post("/api/rtm.connect", "", "xoxb-wrong").body(),
              "error") == "invalid_auth");
  CHECK(field(client.post("/api/chat.nope").body(), "error") ==
        "unknown_method");
  auto auth = client.post("/api/auth.test");
  CHECK(field(auth.body(), "ok") == "true");
  CHECK_FALSE(contains(auth.body(), "bot_id"));
  CHECK(client.post("/elsewhere").result_int() == 404);
}

TEST_CASE("fake_slack: common writes answer as Slack does, with its errors "
          "for missing arguments") {
  fake_slack fake;
  http_client client{fake.port()};
  auto body = [&](const std::string& method, const std::string& form) {
    return client.post("/api/" + method, form).body();
  };
  auto posted = body("chat.postMessage", "channel=C1&text=hi&thread_ts=1.0");
  CHECK(field(posted, "ok") == "true");
  auto ts = field(posted, "ts");
  CHECK_FALSE(ts.empty());
  CHECK(contains(posted, R"("thread_ts":"1.0")"));
  // Each post gets a new ts.
  CHECK(field(body("chat.postMessage", "channel=C1&text=again"), "ts") != ts);
  CHECK(field(body("chat.update", "channel=C1&ts=" + ts + "&text=new"), "ts") ==
        ts);
  CHECK(field(body("chat.delete", "channel=C1&ts=" + ts), "ok") == "true");
  CHECK(field(body("chat.postEphemeral", "channel=C1&user=U1&text=x"),
              "message_ts") != "");
  CHECK(field(body("reactions.add", "channel=C1&timestamp=1.0&name=eyes"),
              "ok") == "true");
  auto view = body("views.open", "trigger_id=tr&view=%7B%22type%22%3A%22modal"
                                 "%22%7D");
  CHECK(field(view, "ok") == "true");
  CHECK(field(view, "type") == "modal");
  CHECK(field(view, "id").rfind('V', 0) == 0);
  CHECK(field(body("views.update", "view_id=V1&view=%7B%7D"), "id") == "V1");
  CHECK(field(body("views.publish", "user_id=U1&view=%7B%7D"), "ok") == "true");
  for (auto [method, form, error] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"chat.postMessage", "text=x", "channel_not_found"},
           {"chat.postMessage", "channel=C1", "no_text"},
           {"chat.update", "channel=C1&text=x", "message_not_found"},
           {"chat.delete", "channel=C1", "message_not_found"},
           {"chat.postEphemeral", "channel=C1&text=x", "user_not_in_channel"},
           {"reactions.add", "channel=C1&timestamp=1.0", "invalid_name"},
           {"reactions.add", "channel=C1&name=eyes", "no_item_specified"},
           {"views.open", "view=%7B%7D", "invalid_arguments"},
           {"views.push", "trigger_id=tr&view=nope", "invalid_arguments"},
           {"views.update", "view=%7B%7D", "invalid_arguments"},
           {"views.publish", "view=%7B%7D", "invalid_arguments"},
           {"chat.scheduleMessage", "channel=C1&text=x", "unknown_method"}}) {
    INFO(method << " " << form);
    CHECK(field(body(method, form), "error") == error);
  }
}

TEST_CASE(
    "fake_slack: scripted answers, handlers, delays and dropped connections") {
  fake_slack fake;
  fake.script("rtm.connect", http_response::rate_limited("2"));
  fake.script("rtm.connect", http_response::error("migration_in_progress"));
  fake.on("chat.postMessage", [](const recorded_request& req) {
    return http_response::ok(R"("channel":")" + req.form.at("channel") + "\"");
  });
  http_client client{fake.port()};
  auto limited = client.post("/api/rtm.connect");
  CHECK(limited.result_int() == 429);
  CHECK(limited[http::field::retry_after] == "2");
  CHECK(field(client.post("/api/rtm.connect").body(), "error") ==
        "migration_in_progress");
  // The script is used up: defaults again.
  CHECK(field(client.post("/api/rtm.connect").body(), "ok") == "true");
  auto posted = client.post("/api/chat.postMessage", "channel=C42");
  CHECK(posted.body() == R"({"ok":true,"channel":"C42"})");

  SECTION("a delayed answer does not block other connections") {
    http_response slow = http_response::ok();
    slow.delay = 3s;
    fake.script("auth.test", slow);
    std::atomic<int64_t> slow_ms{0};
    std::thread slow_client{[&] {
      http_client other{fake.port()};
      auto start = std::chrono::steady_clock::now();
      other.post("/api/auth.test");
      slow_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    }};
    REQUIRE(fake.wait_requests("auth.test", 1, 10s));
    auto start = std::chrono::steady_clock::now();
    CHECK(field(client.post("/api/auth.test").body(), "ok") == "true");
    // Well before the slow answer, even on a slow machine.
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    slow_client.join();
    CHECK(slow_ms >= 2990);
  }

  SECTION("drop_connection closes without an answer") {
    http_response drop;
    drop.drop_connection = true;
    fake.script("auth.test", drop);
    CHECK_THROWS(client.post("/api/auth.test"));
  }
}

// -- WebSocket ----------------------------------------------------------------

TEST_CASE(
    "fake_slack: a WebSocket session says hello and records client frames") {
  fake_slack fake;
  ws_client client{fake.port(), ws_path(fake)};
  CHECK(client.read() == R"({"type":"hello"})");
  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);
  CHECK(session->index() == 0);
  CHECK(fake.session_count() == 1);
  CHECK(fake.open_sessions() == 1);

  SECTION("text frames in both directions") {
    client.write("first");
    client.write("second");
    REQUIRE(session->wait_received(2, 10s));
    CHECK(session->received() == std::vector<std::string>{"first", "second"});
    session->send("from the server");
    CHECK(client.read() == "from the server");
    session->send_goodbye();
    CHECK(client.read() == R"({"type":"goodbye"})");
  }

  SECTION("WebSocket pings get a pong with their payload") {
    std::string pong;
    client.ws.control_callback(
        [&](websocket::frame_type kind, beast::string_view payload) {
          if (kind == websocket::frame_type::pong)
            pong = std::string{payload};
        });
    client.ws.ping("p-1");
    REQUIRE(eventually([&] { return session->pings_received() == 1; }));
    session->send("marker");
    CHECK(client.read() == "marker");
    CHECK(pong == "p-1");
  }

  SECTION("RTM pings get a pong, typing gets nothing") {
    client.write(R"({"id":7,"type":"typing","channel":"C1"})");
    client.write(R"({"id":8,"type":"ping","time":123,"tag":"x","o":{}})");
    auto pong = client.read();
    CHECK(field(pong, "type") == "pong");
    CHECK(field(pong, "reply_to") == "8");
    CHECK(field(pong, "time") == "123");
    CHECK(field(pong, "tag") == "x");
    CHECK_FALSE(contains(pong, "\"o\""));
  }

  SECTION("acks follow the session's policy") {
    client.write(R"({"id":1,"type":"message","channel":"C1","text":"one"})");
    auto ack1 = client.read();
    CHECK(field(ack1, "ok") == "true");
    CHECK(field(ack1, "reply_to") == "1");
    CHECK(field(ack1, "text") == "one");
    client.write(R"({"id":2,"type":"message","channel":"C1","text":"two"})");
    auto ack2 = client.read();
    CHECK(field(ack2, "reply_to") == "2");
    CHECK(std::stod(field(ack2, "ts")) > std::stod(field(ack1, "ts")));
    session->set_ack_policy(ack_policy::error);
    client.write(R"({"id":3,"type":"message","channel":"C1"})");
    CHECK(
        client.read() ==
        R"({"ok":false,"reply_to":3,"error":{"code":2,"msg":"message text is missing"}})");
    session->set_ack_policy(ack_policy::manual);
    client.write(R"({"id":4,"type":"message","channel":"C1","text":"four"})");
    client.write(R"({"id":5,"type":"message","channel":"C1","text":"five"})");
    REQUIRE(session->wait_received(5, 10s));
    session->ack(5, "1700000099.000001"); // out of order on purpose
    session->ack_error(4, 3, "too fast");
    auto ack5 = client.read();
    CHECK(field(ack5, "reply_to") == "5");
    CHECK(field(ack5, "ts") == "1700000099.000001");
    CHECK(field(ack5, "text") == "five");
    CHECK(client.read() ==
          R"({"ok":false,"reply_to":4,"error":{"code":3,"msg":"too fast"}})");
  }

  SECTION("fragmented messages are reassembled both ways") {
    session->send_fragmented("hello fragmented world", 4);
    CHECK(client.read() == "hello fragmented world");
    client.ws.auto_fragment(true);
    client.ws.write_buffer_bytes(8);
    std::string long_text(100, 'x');
    client.write(long_text);
    REQUIRE(session->wait_received(1, 10s));
    CHECK(session->received().front() == long_text);
  }

  SECTION("flood writes every frame in order and still answers pings") {
    std::string padding(200, 'p'); // 1000 frames span several write chunks
    session->flood(1000, [&](std::size_t i, int64_t now_ns) {
      return "{\"n\":" + std::to_string(i) +
             ",\"t\":" + std::to_string(now_ns) + ",\"pad\":\"" + padding +
             "\"}";
    });
    std::string pong;
    client.ws.control_callback(
        [&](websocket::frame_type kind, beast::string_view payload) {
          if (kind == websocket::frame_type::pong)
            pong = std::string{payload};
        });
    client.ws.ping("during flood");
    for (std::size_t i = 0; i < 1000; ++i)
      REQUIRE(field(client.read(), "n") == std::to_string(i));
    REQUIRE(session->wait_written(10s));
    CHECK(session->frames_written() == 1000);
    // The flood may be out before the ping arrives.
    REQUIRE(eventually([&] { return session->pings_received() == 1; }));
    session->send("end");
    CHECK(client.read() == "end");
    CHECK(pong == "during flood");
  }

  SECTION("pace spreads frames over time") {
    auto start = std::chrono::steady_clock::now();
    session->pace(5, 100.0,
                  [](std::size_t i, int64_t) { return std::to_string(i); });
    for (int i = 0; i < 5; ++i)
      CHECK(client.read() == std::to_string(i));
    // Frame 4 is due 40 ms after frame 0.
    CHECK(std::chrono::steady_clock::now() - start >= 39ms);
    REQUIRE(session->wait_written(10s));
    CHECK(session->frames_written() == 5);
  }

  SECTION("the client's close code is recorded") {
    client.ws.close(websocket::close_code::going_away);
    REQUIRE(session->wait_ended(10s));
    CHECK(session->close_code_received() == uint16_t{1001});
    CHECK(fake.open_sessions() == 0);
  }

  SECTION("close() sends a close frame with code and reason") {
    session->close(4000, "bye");
    beast::flat_buffer buf;
    beast::error_code ec;
    client.ws.read(buf, ec);
    CHECK(ec == websocket::error::closed);
    CHECK(client.ws.reason().code == 4000);
    CHECK(client.ws.reason().reason == "bye");
    REQUIRE(session->wait_ended(10s));
    CHECK(session->close_code_received() == uint16_t{4000});
  }

  SECTION("drop() ends the TCP connection without a close frame") {
    session->drop();
    beast::flat_buffer buf;
    beast::error_code ec;
    client.ws.read(buf, ec);
    CHECK(ec);
    CHECK(ec != websocket::error::closed);
    REQUIRE(session->wait_ended(10s));
    CHECK_FALSE(session->close_code_received());
  }

  SECTION("drop_all() ends every session") {
    ws_client second{fake.port(), ws_path(fake)};
    CHECK(second.read() == R"({"type":"hello"})");
    REQUIRE(fake.session(1, 10s) != nullptr);
    CHECK(fake.open_sessions() == 2);
    fake.drop_all();
    REQUIRE(session->wait_ended(10s));
    REQUIRE(fake.session(1, 10s)->wait_ended(10s));
    CHECK(fake.open_sessions() == 0);
  }

  SECTION("a silent session records but answers nothing") {
    session->go_silent();
    client.write(R"({"id":1,"type":"ping"})");
    client.ws.ping("");
    REQUIRE(session->wait_received(1, 10s));
    CHECK(eventually([&] { return session->pings_received() == 1; }));
    session->send("never sent");
    bool got_something = false;
    beast::flat_buffer buf;
    client.ws.async_read(
        buf, [&](beast::error_code ec, std::size_t) { got_something = !ec; });
    client.ioc.run_for(300ms);
    CHECK_FALSE(got_something);
    CHECK_FALSE(session->ended());
  }
}

TEST_CASE("fake_slack: echo_messages sends the message back before the ack") {
  fake_slack_options opts;
  opts.echo_messages = true;
  opts.ack_delay = 50ms;
  fake_slack fake{opts};
  ws_client client{fake.port(), ws_path(fake)};
  CHECK(client.read() == R"({"type":"hello"})");
  auto start = std::chrono::steady_clock::now();
  client.write(R"({"id":9,"type":"message","channel":"C9","text":"hi"})");
  auto echo = client.read();
  CHECK(std::chrono::steady_clock::now() - start >= 45ms);
  auto ack = client.read();
  CHECK(field(echo, "type") == "message");
  CHECK(field(echo, "channel") == "C9");
  CHECK(field(echo, "text") == "hi");
  CHECK(field(echo, "user") == "U0BOT");
  CHECK(field(echo, "reply_to") == "9");
  CHECK_FALSE(contains(echo, "\"ok\""));
  CHECK(field(ack, "ok") == "true");
  CHECK(field(ack, "reply_to") == "9");
  CHECK(field(ack, "ts") == field(echo, "ts"));
}

TEST_CASE(
    "fake_slack: used, expired or unknown socket URLs get the error event") {
  fake_slack_options opts;
  // Long enough for a slow machine to use a fresh URL in time.
  opts.url_ttl = 1s;
  fake_slack fake{opts};
  auto check_error = [&](const std::string& path, std::size_t index) {
    ws_client client{fake.port(), path};
    CHECK(
        client.read() ==
        R"({"type":"error","error":{"code":1,"msg":"Socket URL has expired"}})");
    beast::flat_buffer buf;
    beast::error_code ec;
    client.ws.read(buf, ec);
    CHECK(ec == websocket::error::closed);
    CHECK(client.ws.reason().code == 1000);
    auto session = fake.session(index, 10s);
    REQUIRE(session != nullptr);
    CHECK(session->wait_ended(10s));
  };
  auto path = ws_path(fake);
  {
    ws_client client{fake.port(), path};
    CHECK(client.read() == R"({"type":"hello"})");
  }
  check_error(path, 1); // reused
  auto late = ws_path(fake);
  std::this_thread::sleep_for(1200ms);
  check_error(late, 2); // expired
  check_error("/ws/no-such-ticket", 3);
  CHECK(fake.session_count() == 4);
}

TEST_CASE(
    "fake_slack: protocol violations end a session with close code 1002") {
  fake_slack fake;
  auto path = ws_path(fake);

  SECTION("an unmasked client frame") {
    raw_ws client{fake.port(), path};
    CHECK(contains(client.head, "101"));
    CHECK(contains(client.head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK(client.read_frame() ==
          std::make_pair(1, std::string{R"({"type":"hello"})"}));
    net::write(client.socket, net::buffer(encode_frame(0x1, "not masked")));
    auto [op, payload] = client.read_frame();
    CHECK(op == 0x8);
    CHECK(close_code_of(payload) == 1002);
  }

  SECTION("a frame announcing more than 16 MiB") {
    raw_ws client{fake.port(), path};
    client.read_frame(); // hello
    std::string header = "\x81\xFF";
    uint64_t len = (uint64_t{16} << 20) + 1;
    for (int shift = 56; shift >= 0; shift -= 8)
      header.push_back(static_cast<char>((len >> shift) & 0xFF));
    header += "abcd"; // masking key
    net::write(client.socket, net::buffer(header));
    auto [op, payload] = client.read_frame();
    CHECK(op == 0x8);
    CHECK(close_code_of(payload) == 1002);
  }

  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);
  CHECK(session->wait_ended(10s));
}

TEST_CASE(
    "fake_slack: masked client frames are decoded, even split across writes") {
  fake_slack fake;
  raw_ws client{fake.port(), ws_path(fake)};
  client.read_frame(); // hello
  auto bytes = encode_frame(0x1, "part one ", false, true) +
               encode_frame(0x9, "in between", true, true) +
               encode_frame(0x0, "part two", true, true);
  for (auto c : bytes) // one byte at a time
    net::write(client.socket, net::buffer(&c, 1));
  auto [op, payload] = client.read_frame();
  CHECK(op == 0xA);
  CHECK(payload == "in between");
  auto session = fake.session(0, 10s);
  REQUIRE(session->wait_received(1, 10s));
  CHECK(session->received().front() == "part one part two");
}

TEST_CASE("fake_slack: garbage and hang-ups end only their own connection") {
  auto make = [](std::size_t i, int64_t) {
    return std::to_string(i);
  };
  std::optional<ws_client> last;
  ws_session_ptr survivor;
  {
    fake_slack fake;
    net::io_context ioc;
    {
      tcp::socket socket{ioc};
      socket.connect(loopback(fake.port()));
      net::write(socket,
                 net::buffer(std::string{"\x16\x03\x01 no HTTP\r\n\r\n"}));
      std::string rest;
      beast::error_code ec;
      net::read(socket, net::dynamic_buffer(rest), ec);
      CHECK((ec == net::error::eof || ec == net::error::connection_reset));
      CHECK(rest.empty());
    }
    {
      raw_ws client{fake.port(), ws_path(fake)};
      client.read_frame(); // hello
      std::mt19937 gen{42};
      std::string noise(4096, '\0');
      for (auto& c : noise)
        c = static_cast<char>(gen());
      net::write(client.socket, net::buffer(noise));
    }
    REQUIRE(fake.session(0, 10s)->wait_ended(10s));
    {
      ws_client client{fake.port(), ws_path(fake)};
      client.read();
      fake.session(1, 10s)->flood(100000, make);
      CHECK(client.read() == "0");
      beast::get_lowest_layer(client.ws).socket().close();
    }
    REQUIRE(fake.session(1, 10s)->wait_ended(10s));
    http_client client{fake.port()};
    CHECK(field(client.post("/api/auth.test").body(), "ok") == "true");
    // The fake goes away in the middle of a flood to a client that does
    // not read.
    last.emplace(fake.port(), ws_path(fake));
    survivor = fake.session(2, 10s);
    REQUIRE(survivor != nullptr);
    survivor->flood(1000000, make);
  }
  CHECK(survivor->ended());
  CHECK(survivor->index() == 2);
  survivor->send("nobody listens");
  survivor->close();
  survivor->flood(10, [](std::size_t, int64_t) { return std::string{}; });
  CHECK_FALSE(survivor->wait_written(10ms));
  CHECK(survivor->frames_written() < 1000000);
}

// -- Socket Mode --------------------------------------------------------------

TEST_CASE("fake_slack: apps.connections.open wants the app token") {
  fake_slack fake;
  auto body = connections_open(fake);
  CHECK(field(body, "ok") == "true");
  auto url = field(body, "url");
  auto prefix =
      "ws://127.0.0.1:" + std::to_string(fake.port()) + "/link/?ticket=";
  REQUIRE(url.rfind(prefix, 0) == 0);
  auto rest = url.substr(prefix.size());
  auto amp = rest.find('&');
  REQUIRE(amp != std::string::npos);
  CHECK(amp >= 16); // a random ticket
  CHECK(rest.substr(amp) == "&app_id=A0APP");
  CHECK(field(connections_open(fake), "url") != url); // fresh each time
  CHECK(field(connections_open(fake, "xapp-1-other"), "error") ==
        "invalid_auth");
  CHECK(field(connections_open(fake, token), "error") ==
        "not_allowed_token_type");
  CHECK(field(connections_open(fake, ""), "error") == "not_authed");
  // App tokens count only in the Authorization header.
  CHECK(field(connections_open(fake, "", "token=" + app_token), "error") ==
        "not_authed");
  // The app token is no bot token.
  http_client client{fake.port()};
  CHECK(field(client.post("/api/auth.test", "", app_token).body(), "error") ==
        "invalid_auth");
  REQUIRE(fake.wait_requests("apps.connections.open", 6, 10s));

  SECTION("scripted answers and handlers work for it too") {
    fake.script("apps.connections.open", http_response::rate_limited("3"));
    fake.script("apps.connections.open", http_response::ok());
    auto limited = client.post("/api/apps.connections.open", "", app_token);
    CHECK(limited.result_int() == 429);
    CHECK(limited[http::field::retry_after] == "3");
    CHECK(client.post("/api/apps.connections.open", "", app_token).body() ==
          R"({"ok":true})");
    fake.on("apps.connections.open", [](const recorded_request&) {
      return http_response::error("internal_error");
    });
    CHECK(field(connections_open(fake), "error") == "internal_error");
  }
}

TEST_CASE("fake_slack: Socket Mode hello counts sessions and ghosts") {
  fake_slack_options opts;
  opts.ghost_connections = 2;
  fake_slack fake{opts};
  ws_client first{fake.port(), link_path(fake)};
  CHECK(first.read() == socket_mode_hello(1 + 2));
  ws_client second{fake.port(), link_path(fake)};
  CHECK(second.read() == socket_mode_hello(2 + 2));
  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);
  CHECK(session->socket_mode());
  CHECK(fake.live_socket_mode_sessions() == 2);
  // RTM sessions are no Socket Mode sessions.
  ws_client rtm{fake.port(), ws_path(fake)};
  CHECK(rtm.read() == R"({"type":"hello"})");
  CHECK_FALSE(fake.session(2, 10s)->socket_mode());
  CHECK(fake.live_socket_mode_sessions() == 2);
  // A session the client closes no longer counts.
  first.ws.close(websocket::close_code::normal);
  REQUIRE(session->wait_ended(10s));
  CHECK(session->close_code_received() == uint16_t{1000});
  CHECK(fake.live_socket_mode_sessions() == 1);
  ws_client third{fake.port(), link_path(fake)};
  CHECK(third.read() == socket_mode_hello(2 + 2));
}

TEST_CASE("fake_slack: Socket Mode tickets are single-use") {
  fake_slack_options opts;
  // Long enough for a slow machine to use a fresh URL in time.
  opts.url_ttl = 1s;
  fake_slack fake{opts};
  auto path = link_path(fake);
  {
    ws_client client{fake.port(), path};
    CHECK(client.read() == socket_mode_hello(1));
  }
  CHECK(fake.rejected_handshakes() == 0);
  CHECK(handshake_status(fake.port(), path) == 401); // used
  auto late = link_path(fake);
  std::this_thread::sleep_for(1200ms);
  CHECK(handshake_status(fake.port(), late) == 401); // expired
  CHECK(handshake_status(fake.port(), "/link/?ticket=nope&app_id=A0APP") ==
        401);
  CHECK(handshake_status(fake.port(), "/link/") == 401);
  // An RTM ticket does not open Socket Mode.
  auto rtm = ws_path(fake);
  CHECK(handshake_status(fake.port(), "/link/?ticket=" + rtm.substr(4) +
                                          "&app_id=A0APP") == 401);
  CHECK(fake.rejected_handshakes() == 5);
  CHECK(fake.session_count() == 1);
  // A client that sends no upgrade gets 400, as on the RTM endpoint.
  http_client client{fake.port()};
  CHECK(client.post(link_path(fake)).result_int() == 400);
}

TEST_CASE("fake_slack: scripted handshake failures") {
  fake_slack fake;
  fake.script_handshake(409);
  fake.script_handshake(503);
  auto refused = link_path(fake);
  CHECK(handshake_status(fake.port(), refused) == 409);
  // The scripts apply to RTM handshakes as well.
  CHECK(handshake_status(fake.port(), ws_path(fake)) == 503);
  CHECK(fake.rejected_handshakes() == 2);
  // The refused handshake used its ticket up; a new one works.
  CHECK(handshake_status(fake.port(), refused) == 401);
  ws_client client{fake.port(), link_path(fake)};
  CHECK(client.read() == socket_mode_hello(1));
  CHECK(fake.rejected_handshakes() == 3);
  CHECK(fake.session_count() == 1);
}

TEST_CASE("fake_slack: envelopes, events and acks") {
  fake_slack fake;
  ws_client client{fake.port(), link_path(fake)};
  CHECK(client.read() == socket_mode_hello(1));
  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);

  SECTION("an envelope on a session, acked with a payload") {
    auto id = session->send_envelope(
        "slash_commands", R"({"command":"/hi", "text":"a \"b\""})", true);
    CHECK(id.size() == 36); // a UUID, as Slack's
    CHECK(client.read() ==
          R"({"envelope_id":")" + id +
              R"(","type":"slash_commands",)"
              R"("payload":{"command":"/hi","text":"a \"b\""},)"
              R"("accepts_response_payload":true})");
    auto ack = R"({"envelope_id":")" + id + R"(","payload":{ "text" : "ok" }})";
    client.write(ack);
    client.write("not an ack");
    client.write(R"({"envelope_id":42})");
    REQUIRE(fake.wait_acks(1, 10s));
    REQUIRE(session->wait_received(3, 10s));
    auto acks = fake.acks();
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].envelope_id == id);
    CHECK(acks[0].payload == std::string{R"({"text":"ok"})"});
    CHECK(acks[0].raw == ack);
    CHECK(acks[0].session == 0);
    CHECK(session->received().front() == ack);
    auto sent = fake.envelopes();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].envelope_id == id);
    CHECK(sent[0].type == "slash_commands");
    CHECK(sent[0].event_id.empty());
    CHECK(sent[0].retry_attempt == 0);
    CHECK(sent[0].session == 0);
    // No RTM answers on a Socket Mode session.
    client.write(R"({"id":1,"type":"ping"})");
    session->send("marker");
    CHECK(client.read() == "marker");
  }

  SECTION("an event, acked without a payload") {
    auto event_id =
        session->send_event(R"({"type":"app_mention","text":"<@U0BOT> hi"})");
    CHECK(event_id.rfind("Ev", 0) == 0);
    auto frame = client.read();
    auto envelope_id = field(frame, "envelope_id");
    CHECK(field(frame, "type") == "events_api");
    CHECK(field(frame, "accepts_response_payload") == "false");
    CHECK(field(frame, "retry_attempt") == "0");
    CHECK(field(frame, "retry_reason").empty());
    CHECK(contains(frame, R"("retry_reason":"")"));
    CHECK(contains(frame, R"("payload":{"token":"x","team_id":"T0TEAM",)"
                          R"("api_app_id":"A0APP",)"
                          R"("event":{"type":"app_mention",)"
                          R"("text":"<@U0BOT> hi"},)"
                          R"("type":"event_callback","event_id":")" +
                              event_id + R"(","event_time":)"));
    CHECK(std::stoll(field(frame, "event_time")) > 1700000000);
    client.write(R"({"envelope_id":")" + envelope_id + "\"}");
    REQUIRE(fake.wait_acks(1, 10s));
    CHECK(fake.acks()[0].envelope_id == envelope_id);
    CHECK_FALSE(fake.acks()[0].payload);
    auto sent = fake.envelopes();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].event_id == event_id);
    CHECK(sent[0].envelope_id == envelope_id);
    CHECK(session->send_event("{}") != event_id);
  }

  SECTION("server-level sends pick a live session") {
    auto id =
        fake.send_envelope("interactive", R"({"type":"block_actions"})", false);
    CHECK(field(client.read(), "envelope_id") == id);
    auto event_id = fake.send_event(R"({"type":"message"})");
    CHECK(field(client.read(), "event_id") == event_id);
    CHECK(fake.envelopes().size() == 2);
  }

  SECTION("flooded envelopes are acked and recorded") {
    session->flood(3, [](std::size_t i, int64_t) {
      return R"({"envelope_id":"pre-)" + std::to_string(i) +
             R"(","type":"events_api","payload":{}})";
    });
    for (int i = 0; i < 3; ++i)
      client.write(R"({"envelope_id":")" + field(client.read(), "envelope_id") +
                   "\"}");
    REQUIRE(fake.wait_acks(3, 10s));
    CHECK(fake.acks()[2].envelope_id == "pre-2");
    CHECK(fake.envelopes().empty()); // not sent by send_envelope
  }

  SECTION("payloads must be JSON") {
    CHECK_THROWS_AS(session->send_envelope("interactive", "{oops", false),
                    std::invalid_argument);
    CHECK_THROWS_AS(fake.send_event("nope"), std::invalid_argument);
    CHECK(fake.envelopes().empty());
  }

  SECTION("disconnect frames") {
    session->send_disconnect("warning");
    CHECK(client.read() == disconnect("warning"));
    session->send_disconnect("link_disabled");
    CHECK(client.read() == disconnect("link_disabled"));
  }
}

TEST_CASE("fake_slack: unacked events are redelivered") {
  fake_slack_options opts;
  opts.redelivery_delays = {200ms, 1500ms};
  fake_slack fake{opts};
  ws_client client{fake.port(), link_path(fake)};
  CHECK(client.read() == socket_mode_hello(1));
  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);

  SECTION("until an ack of any copy") {
    auto event_id = session->send_event(R"({"type":"message","text":"x"})");
    auto first = client.read();
    auto second = client.read(); // not acked: comes again
    CHECK(field(second, "event_id") == event_id);
    CHECK(field(second, "envelope_id") != field(first, "envelope_id"));
    CHECK(field(second, "retry_attempt") == "1");
    CHECK(field(second, "retry_reason") == "timeout");
    // Same payload, apart from the envelope's fields.
    auto payload_of = [](const std::string& frame) {
      auto begin = frame.find("\"payload\":");
      return frame.substr(begin,
                          frame.find(",\"accepts_response_payload\"") - begin);
    };
    CHECK(payload_of(second) == payload_of(first));
    // Acking the retry stops the third attempt (due 1.5 s later).
    client.write(R"({"envelope_id":")" + field(second, "envelope_id") + "\"}");
    REQUIRE(fake.wait_acks(1, 10s));
    std::this_thread::sleep_for(2s);
    auto sent = envelopes_of(fake, event_id);
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].retry_attempt == 0);
    CHECK(sent[1].retry_attempt == 1);
    CHECK(sent[1].envelope_id == field(second, "envelope_id"));
  }

  SECTION("up to the last delay") {
    auto event_id = session->send_event(R"({"type":"message"})");
    for (int attempt = 0; attempt < 3; ++attempt)
      CHECK(field(client.read(), "retry_attempt") == std::to_string(attempt));
    std::this_thread::sleep_for(2s);
    CHECK(envelopes_of(fake, event_id).size() == 3);
  }

  SECTION("slash commands are not redelivered") {
    session->send_envelope("slash_commands", R"({"command":"/x"})", true);
    client.read();
    std::this_thread::sleep_for(500ms);
    CHECK(fake.envelopes().size() == 1);
  }

  SECTION("an events_api envelope sent by hand is tracked too") {
    auto id = session->send_envelope(
        "events_api", R"({"event_id":"Ev0HAND","event":{"type":"x"}})", false);
    auto first = client.read();
    CHECK(field(first, "retry_attempt") == "0");
    auto second = client.read();
    CHECK(field(second, "event_id") == "Ev0HAND");
    CHECK(field(second, "envelope_id") != id);
    CHECK(field(second, "retry_attempt") == "1");
  }
}

TEST_CASE("fake_slack: redelivery moves to another session") {
  fake_slack_options opts;
  opts.redelivery_delays = {200ms, 1000ms, 5000ms};
  fake_slack fake{opts};

  SECTION("when the first one is gone") {
    std::string event_id;
    std::string first_id;
    {
      ws_client first{fake.port(), link_path(fake)};
      CHECK(first.read() == socket_mode_hello(1));
      event_id = fake.session(0, 10s)->send_event(R"({"type":"message"})");
      first_id = field(first.read(), "envelope_id");
      first.ws.close(websocket::close_code::normal);
    }
    REQUIRE(fake.session(0, 10s)->wait_ended(10s));
    ws_client second{fake.port(), link_path(fake)};
    CHECK(second.read() == socket_mode_hello(1));
    auto retry = second.read();
    CHECK(field(retry, "event_id") == event_id);
    CHECK(field(retry, "envelope_id") != first_id);
    CHECK(field(retry, "retry_attempt") == "1");
    auto sent = envelopes_of(fake, event_id);
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].session == 0);
    CHECK(sent[1].session == 1);
    // An ack on another session than the delivery's counts as well.
    second.write(R"({"envelope_id":")" + first_id + "\"}");
    REQUIRE(fake.wait_acks(1, 10s));
    CHECK(fake.acks()[0].session == 1);
  }

  SECTION("when there was none at first") {
    CHECK(fake.send_envelope("interactive", "{}", false).empty());
    auto event_id = fake.send_event(R"({"type":"message"})");
    CHECK_FALSE(event_id.empty());
    CHECK(fake.envelopes().empty());
    ws_client client{fake.port(), link_path(fake)};
    CHECK(client.read() == socket_mode_hello(1));
    auto frame = client.read();
    CHECK(field(frame, "event_id") == event_id);
    CHECK(field(frame, "retry_attempt") == "1");
    CHECK(field(frame, "retry_reason") == "timeout");
  }
}

TEST_CASE("fake_slack: the same seed makes the same choices") {
  auto choices = [](uint32_t seed) {
    fake_slack_options opts;
    opts.seed = seed;
    fake_slack fake{opts};
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(
          std::make_unique<ws_client>(fake.port(), link_path(fake)));
      clients.back()->read();
    }
    std::vector<std::size_t> result;
    for (int i = 0; i < 12; ++i) {
      fake.send_envelope("interactive", "{}", false);
      result.push_back(fake.envelopes().back().session);
    }
    return result;
  };
  auto first = choices(7);
  CHECK(first == choices(7));
  CHECK(std::set<std::size_t>(first.begin(), first.end()).size() > 1);
}

TEST_CASE("fake_slack: too many Socket Mode connections") {
  fake_slack_options opts;
  opts.max_socket_mode_connections = 1;
  fake_slack fake{opts};
  ws_client first{fake.port(), link_path(fake)};
  CHECK(first.read() == socket_mode_hello(1));
  {
    ws_client second{fake.port(), link_path(fake)};
    CHECK(second.read() == disconnect("too_many_websockets"));
    beast::flat_buffer buf;
    beast::error_code ec;
    second.ws.read(buf, ec);
    CHECK(ec);
    CHECK(ec != websocket::error::closed); // no close frame: 1006
    auto turned_away = fake.session(1, 10s);
    REQUIRE(turned_away != nullptr);
    CHECK(turned_away->socket_mode());
    REQUIRE(turned_away->wait_ended(10s));
    CHECK_FALSE(turned_away->close_code_received());
  }
  CHECK(fake.live_socket_mode_sessions() == 1);
  // Envelopes never go to the session that was turned away.
  for (int i = 0; i < 5; ++i)
    fake.send_envelope("interactive", "{}", false);
  for (auto& env : fake.envelopes())
    CHECK(env.session == 0);
  // Once the first one is gone, there is room again.
  fake.session(0, 10s)->drop();
  REQUIRE(fake.session(0, 10s)->wait_ended(10s));
  CHECK(fake.live_socket_mode_sessions() == 0);
  ws_client third{fake.port(), link_path(fake)};
  CHECK(third.read() == socket_mode_hello(1));
}

TEST_CASE("fake_slack: debug_reconnects asks for a refresh") {
  fake_slack_options opts;
  opts.debug_reconnect_interval = 100ms;
  fake_slack fake{opts};
  ws_client debug{fake.port(), link_path(fake) + "&debug_reconnects=true"};
  CHECK(debug.read() == socket_mode_hello(1));
  CHECK(debug.read() == disconnect("refresh_requested"));
  ws_client plain{fake.port(), link_path(fake)};
  CHECK(plain.read() == socket_mode_hello(2));
  std::this_thread::sleep_for(300ms);
  fake.session(1, 10s)->send("marker");
  CHECK(plain.read() == "marker"); // no refresh without the flag
}

TEST_CASE("fake_slack: server pings on Socket Mode sessions") {
  fake_slack_options opts;
  opts.server_ping_interval = 50ms;
  fake_slack fake{opts};
  ws_client client{fake.port(), link_path(fake)};
  CHECK(client.read() == socket_mode_hello(1));
  auto session = fake.session(0, 10s);
  REQUIRE(session != nullptr);
  std::vector<std::string> pings;
  client.ws.control_callback(
      [&](websocket::frame_type kind, beast::string_view payload) {
        if (kind == websocket::frame_type::ping)
          pings.emplace_back(payload);
      });
  // Beast answers pings while a read is pending.
  beast::flat_buffer buf;
  bool done = false;
  client.ws.async_read(buf,
                       [&](beast::error_code, std::size_t) { done = true; });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (session->pongs_received().size() < 2 &&
         std::chrono::steady_clock::now() < deadline)
    client.ioc.run_for(20ms);
  REQUIRE(session->pongs_received().size() >= 2);
  CHECK(session->pongs_received()[0] == "1");
  CHECK(session->pongs_received()[1] == "2");
  session->send("marker");
  client.ioc.run_for(5s);
  CHECK(done);
  CHECK(beast::buffers_to_string(buf.data()) == "marker");
  REQUIRE(pings.size() >= 2);
  CHECK(pings[0] == "1");
  // A silent session pings no more. Pings sent before it fell silent are
  // answered first.
  session->go_silent();
  std::this_thread::sleep_for(100ms);
  buf.clear();
  client.ws.async_read(buf, [](beast::error_code, std::size_t) {});
  client.ioc.restart();
  client.ioc.run_for(200ms);
  std::this_thread::sleep_for(500ms); // the last pongs on their way
  auto count = session->pongs_received().size();
  client.ioc.run_for(300ms);
  CHECK(session->pongs_received().size() == count);
}

// -- TLS ----------------------------------------------------------------------

TEST_CASE("fake_slack: TLS with a generated certificate") {
  std::string ca_path;
  {
    fake_slack_options opts;
    opts.tls = true;
    fake_slack fake{opts};
    CHECK(fake.base_url() ==
          "https://127.0.0.1:" + std::to_string(fake.port()) + "/api/");
    CHECK(contains(fake.ca_pem(), "BEGIN CERTIFICATE"));
    ca_path = fake.ca_file();
    CHECK(fake.ca_file() == ca_path);
    std::ifstream in{ca_path};
    std::stringstream content;
    content << in.rdbuf();
    CHECK(content.str() == fake.ca_pem());

    ssl::context ctx{ssl::context::tls_client};
    ctx.load_verify_file(ca_path);
    ctx.set_verify_mode(ssl::verify_peer);
    net::io_context ioc;

    SECTION("HTTPS and WSS verify against the CA") {
      beast::ssl_stream<beast::tcp_stream> https{ioc, ctx};
      // SNI, and the host name the certificate must match.
      REQUIRE(SSL_set_tlsext_host_name(https.native_handle(), "localhost"));
      https.set_verify_callback(ssl::host_name_verification("localhost"));
      beast::get_lowest_layer(https).connect(loopback(fake.port()));
      https.handshake(ssl::stream_base::client);
      beast::flat_buffer buf;
      auto res = post_on(https, buf, "/api/rtm.connect", "", token);
      auto url = field(res.body(), "url");
      CHECK(url.rfind("wss://127.0.0.1:", 0) == 0);
      REQUIRE(fake.requests().size() == 1);
      CHECK(fake.requests().front().tls);

      websocket::stream<beast::ssl_stream<beast::tcp_stream>> wss{ioc, ctx};
      REQUIRE(SSL_set_tlsext_host_name(wss.next_layer().native_handle(),
                                       "localhost"));
      wss.next_layer().set_verify_callback(
          ssl::host_name_verification("localhost"));
      beast::get_lowest_layer(wss).connect(loopback(fake.port()));
      wss.next_layer().handshake(ssl::stream_base::client);
      wss.handshake("localhost:" + std::to_string(fake.port()),
                    url.substr(url.find("/ws/")));
      beast::flat_buffer msg;
      wss.read(msg);
      CHECK(beast::buffers_to_string(msg.data()) == R"({"type":"hello"})");
      wss.text(true);
      wss.write(net::buffer(std::string{"over tls"}));
      auto session = fake.session(0, 10s);
      REQUIRE(session->wait_received(1, 10s));
      CHECK(session->received().front() == "over tls");
      wss.close(websocket::close_code::normal);
      CHECK(session->wait_ended(10s));
      CHECK(session->close_code_received() == uint16_t{1000});
    }

    SECTION("Socket Mode over TLS") {
      beast::ssl_stream<beast::tcp_stream> https{ioc, ctx};
      REQUIRE(SSL_set_tlsext_host_name(https.native_handle(), "localhost"));
      beast::get_lowest_layer(https).connect(loopback(fake.port()));
      https.handshake(ssl::stream_base::client);
      beast::flat_buffer buf;
      auto res =
          post_on(https, buf, "/api/apps.connections.open", "", app_token);
      auto url = field(res.body(), "url");
      CHECK(url.rfind("wss://127.0.0.1:" + std::to_string(fake.port()) +
                          "/link/?ticket=",
                      0) == 0);

      websocket::stream<beast::ssl_stream<beast::tcp_stream>> wss{ioc, ctx};
      REQUIRE(SSL_set_tlsext_host_name(wss.next_layer().native_handle(),
                                       "localhost"));
      beast::get_lowest_layer(wss).connect(loopback(fake.port()));
      wss.next_layer().handshake(ssl::stream_base::client);
      wss.handshake("localhost:" + std::to_string(fake.port()), path_of(url));
      auto read = [&] {
        beast::flat_buffer msg;
        wss.read(msg);
        return beast::buffers_to_string(msg.data());
      };
      CHECK(read() == socket_mode_hello(1));
      auto session = fake.session(0, 10s);
      REQUIRE(session != nullptr);
      auto event_id = session->send_event(R"({"type":"message"})");
      auto frame = read();
      CHECK(field(frame, "event_id") == event_id);
      wss.text(true);
      wss.write(net::buffer(R"({"envelope_id":")" +
                            field(frame, "envelope_id") + "\"}"));
      REQUIRE(fake.wait_acks(1, 10s));
      CHECK(fake.acks()[0].envelope_id == field(frame, "envelope_id"));
      session->send_disconnect("warning");
      CHECK(read() == disconnect("warning"));
      wss.close(websocket::close_code::normal);
      CHECK(session->wait_ended(10s));
      CHECK(fake.live_socket_mode_sessions() == 0);
    }

    SECTION("a client with another host name rejects the certificate") {
      beast::ssl_stream<beast::tcp_stream> https{ioc, ctx};
      https.set_verify_callback(ssl::host_name_verification("example.com"));
      beast::get_lowest_layer(https).connect(loopback(fake.port()));
      CHECK_THROWS(https.handshake(ssl::stream_base::client));
    }
  }
  // The destructor removed the CA file.
  CHECK_FALSE(std::filesystem::exists(ca_path));
}

// -- connect_proxy ------------------------------------------------------------

TEST_CASE("fake_slack: connect_proxy tunnels and checks credentials") {
  fake_slack fake;
  connect_proxy proxy{"user", "secret"};
  CHECK(proxy.url() ==
        "http://user:secret@127.0.0.1:" + std::to_string(proxy.port()));
  auto target = "127.0.0.1:" + std::to_string(fake.port());
  net::io_context ioc;
  auto open_tunnel = [&](tcp::socket& socket, const std::string& credentials) {
    socket.connect(loopback(proxy.port()));
    std::string req =
        "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
    if (!credentials.empty())
      req += "Proxy-Authorization: Basic " +
             caf::rtm::detail::base64(credentials) + "\r\n";
    req += "\r\n";
    net::write(socket, net::buffer(req));
    std::string head;
    net::read_until(socket, net::dynamic_buffer(head), "\r\n\r\n");
    return head;
  };

  tcp::socket good{ioc};
  auto head = open_tunnel(good, "user:secret");
  CHECK(head == "HTTP/1.1 200 Connection established\r\n\r\n");
  beast::flat_buffer buf;
  auto res = post_on(good, buf, "/api/auth.test", "", token);
  CHECK(field(res.body(), "user_id") == "U0BOT");

  tcp::socket bad{ioc};
  CHECK(open_tunnel(bad, "user:wrong").rfind("HTTP/1.1 407", 0) == 0);
  tcp::socket none{ioc};
  CHECK(open_tunnel(none, "").rfind("HTTP/1.1 407", 0) == 0);

  CHECK(proxy.targets() == std::vector<std::string>(3, target));
  auto auths = proxy.authorizations();
  REQUIRE(auths.size() == 3);
  CHECK(auths[0] == "Basic " + caf::rtm::detail::base64("user:secret"));
  CHECK(auths[2].empty());
  CHECK(fake.requests("auth.test").size() == 1);
}

// -- encode_frame -------------------------------------------------------------

TEST_CASE("fake_slack: encode_frame uses the shortest length encoding") {
  auto small = encode_frame(0x1, "hello");
  CHECK(small == std::string{"\x81\x05hello"});
  auto medium = encode_frame(0x2, std::string(300, 'm'), false);
  CHECK(medium.size() == 4 + 300);
  CHECK(static_cast<unsigned char>(medium[0]) == 0x02);
  CHECK(static_cast<unsigned char>(medium[1]) == 126);
  CHECK(static_cast<unsigned char>(medium[2]) == 0x01);
  CHECK(static_cast<unsigned char>(medium[3]) == 0x2C);
  auto large = encode_frame(0x1, std::string(70000, 'l'));
  CHECK(large.size() == 10 + 70000);
  CHECK(static_cast<unsigned char>(large[1]) == 127);
  CHECK(large.substr(2, 8) == std::string("\0\0\0\0\0\x01\x11\x70", 8));
  auto masked = encode_frame(0x9, "ping!", true, true);
  REQUIRE(masked.size() == 2 + 4 + 5);
  CHECK(static_cast<unsigned char>(masked[1]) == (0x80 | 5));
  std::string unmasked;
  for (std::size_t i = 0; i < 5; ++i)
    unmasked.push_back(static_cast<char>(masked[6 + i] ^ masked[2 + i % 4]));
  CHECK(unmasked == "ping!");
}
