// The connection actor on its own, over loopback against the fake Slack: a
// stand-in router takes its batches and holds or answers them as a test
// needs, and the test plays the supervisor.

#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/web_api.hpp"
#include "detail/connection.hpp"
#include "detail/interfaces.hpp"
#include "detail/internal_messages.hpp"
#include "detail/ping_monitor.hpp"
#include "detail/protocol.hpp"
#include "net/ws_client.hpp"
#include "tcp_tap.hpp"
#include "test_support.hpp"

using namespace caf::rtm;
using namespace caf::rtm::test;
using caf::rtm::testing::fake_slack;

namespace {

// What the stand-in router got, and the answers it still owes.
struct router_log {
  std::mutex mtx;
  std::vector<detail::inbound_batch> batches;
  std::vector<caf::typed_response_promise<caf::ok_atom>> held;
  std::vector<std::string> unsent_acks;
  std::vector<int64_t> written;
  std::vector<int64_t> unsent;
  bool drained = false;

  template <class F>
  auto with(F f) {
    std::lock_guard<std::mutex> guard{mtx};
    return f(*this);
  }

  size_t batch_count() {
    return with([](auto& x) { return x.batches.size(); });
  }

  // Takes the oldest batch held: the connection may read on.
  void release() {
    auto rp = with([](auto& x) {
      auto result = x.held.front();
      x.held.erase(x.held.begin());
      return result;
    });
    rp.deliver(caf::ok_atom_v);
  }
};

using router_log_ptr = std::shared_ptr<router_log>;

detail::batch_sink_actor::behavior_type
stand_in_router(detail::batch_sink_actor::pointer self, router_log_ptr log) {
  return {
      [self, log](detail::inbound_batch& batch)
          -> caf::typed_response_promise<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        log->with([&](auto& x) {
          x.batches.push_back(std::move(batch));
          x.held.push_back(rp);
        });
        return rp;
      },
      [log](detail::written_atom, int64_t id) {
        log->with([&](auto& x) { x.written.push_back(id); });
      },
      [log](detail::unsent_atom, int64_t id) {
        log->with([&](auto& x) { x.unsent.push_back(id); });
      },
      [log](detail::unsent_atom, std::string& id) {
        log->with([&](auto& x) { x.unsent_acks.push_back(std::move(id)); });
      },
      [](detail::unsent_atom, uint64_t, uint32_t) {},
      [log](detail::session_drained&) {
        log->with([](auto& x) { x.drained = true; });
      },
  };
}

detail::session_observer_actor::behavior_type
stand_in_observer(detail::session_observer_actor::pointer,
                  std::shared_ptr<std::atomic<bool>> hello) {
  return {
      [hello](detail::session_hello&) { *hello = true; },
      [](detail::session_goodbye&) {},
  };
}

// A Socket Mode connection whose envelopes wait for the router's ack (the
// router owes acks for what it holds).
struct connection_fixture {
  explicit connection_fixture(caf::timespan pong_timeout = {},
                              log_level level = log_level::debug)
      : logs(level) {
    cfg = socket_mode_config_for(srv, logs.get());
    cfg.ack_after_delivery = true;
    cfg.ping_interval = std::chrono::seconds{60};
    cfg.pong_timeout = pong_timeout;
    // The single-use URL, as the supervisor gets it.
    auto api_cfg = cfg;
    api_cfg.token = cfg.app_token;
    auto api = fx.track(fx.sys->spawn(web_api, api_cfg));
    auto opened =
        request<json_object>(*fx.self, api, caf::timespan{10s}, call_atom_v,
                             "apps.connections.open", api_args{});
    REQUIRE(opened);
    auto url = std::string{opened->value.at("url").as_string()};
    auto shared_cfg = std::make_shared<const client_config>(cfg);
    detail::connection_args args;
    args.session = 1;
    args.url = url;
    args.cfg = shared_cfg;
    args.proto = detail::make_socket_mode_protocol(*shared_cfg);
    args.router = fx.sys->spawn(stand_in_router, router);
    args.observer = fx.sys->spawn(stand_in_observer, hello);
    fx.track(args.router);
    fx.track(args.observer);
    conn = fx.sys->spawn(detail::connection, std::move(args));
    fx.track(conn);
    REQUIRE(eventually([&] { return hello->load(); }));
    session = srv.session(0, 10s);
    REQUIRE(session);
    // The hello came in a batch of its own: taken, the connection reads on.
    REQUIRE(eventually([&] { return router->batch_count() == 1; }));
    router->release();
  }

  fake_slack srv;
  log_capture logs;
  system_fixture fx;
  client_config cfg;
  router_log_ptr router = std::make_shared<router_log>();
  std::shared_ptr<std::atomic<bool>> hello =
      std::make_shared<std::atomic<bool>>(false);
  detail::connection_actor conn;
  testing::ws_session_ptr session;
};

std::string mention(int n) {
  return R"({"type":"app_mention","channel":"C1","user":"U1","text":"m)" +
         std::to_string(n) + R"(","ts":")" + std::to_string(n) + R"(.0"})";
}

std::string ack_of(const std::string& envelope_id) {
  return R"({"envelope_id":")" + envelope_id + R"("})";
}

} // namespace

TEST_CASE("connection: a close that names an earlier batch waits for the "
          "router, still writes its acks and reads nothing more",
          "[connection][socket_mode]") {
  connection_fixture f;
  f.session->send_event(mention(1));
  REQUIRE(eventually([&] { return f.router->batch_count() == 2; }));
  auto second = f.router->with([](auto& x) { return x.batches.back(); });
  CHECK(second.seq == 2);
  REQUIRE(second.envelopes.size() == 1);
  auto id = std::string{second.envelopes.front().id()};
  // The close names the hello's batch only, but batch 2 is on its way: the
  // connection stays open for the ack the router owes.
  caf::anon_send(f.conn, close_atom_v, uint16_t{1000}, uint64_t{1});
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(f.session->ended());
  CHECK_FALSE(f.session->close_code_received().has_value());
  caf::anon_send(f.conn, detail::ack_atom_v, id, ack_of(id));
  REQUIRE(f.srv.wait_acks(1, 10s));
  CHECK(f.srv.acks().front().envelope_id == id);
  // The I/O layer had leave to read one more batch before the close came:
  // that one still reaches the router (which then asks again).
  f.router->release();
  f.session->send_event(mention(2));
  REQUIRE(eventually([&] { return f.router->batch_count() == 3; }));
  // After it, nothing more is read: it could not be acked.
  f.router->release();
  f.session->send_event(mention(3));
  std::this_thread::sleep_for(300ms);
  CHECK(f.router->batch_count() == 3);
  CHECK_FALSE(f.session->ended());
  // Asked again with every batch seen: the close frame goes out.
  caf::anon_send(f.conn, close_atom_v, uint16_t{1000}, uint64_t{3});
  REQUIRE(f.session->wait_ended(10s));
  CHECK(f.session->close_code_received() == uint16_t{1000});
  REQUIRE(eventually(
      [&] { return f.router->with([](auto& x) { return x.drained; }); }));
  CHECK(f.srv.acks().size() == 1);
  CHECK(f.router->with([](auto& x) { return x.unsent_acks.empty(); }));
}

TEST_CASE(
    "connection: a close that names the latest batch closes at once, and an "
    "ack after it comes back unsent",
    "[connection][socket_mode]") {
  connection_fixture f;
  f.session->send_event(mention(1));
  REQUIRE(eventually([&] { return f.router->batch_count() == 2; }));
  auto id = f.router->with([](auto& x) {
    return std::string{x.batches.back().envelopes.at(0).id()};
  });
  caf::anon_send(f.conn, close_atom_v, uint16_t{1000}, uint64_t{2});
  // Too late for this ack, which comes after the close (same sender, so in
  // this order): the router learns it was not written (it counts it as
  // failed, and Slack sends the envelope again).
  caf::anon_send(f.conn, detail::ack_atom_v, id, ack_of(id));
  REQUIRE(f.session->wait_ended(10s));
  CHECK(f.session->close_code_received() == uint16_t{1000});
  REQUIRE(eventually([&] {
    return f.router->with([](auto& x) { return x.unsent_acks.size(); }) == 1;
  }));
  CHECK(f.router->with([](auto& x) { return x.unsent_acks.front(); }) == id);
  CHECK(f.srv.acks().empty());
}

TEST_CASE("connection: empty frames count against the read-ahead too",
          "[connection][socket_mode]") {
  // While the router holds a batch, the I/O layer reads ahead up to its
  // limit and cuts what it read into batches of a bounded size. Empty
  // frames (two bytes on the wire, none of payload) must reach both bounds:
  // else a flood of them grows one batch, and memory, without end.
  connection_fixture f;
  constexpr size_t flood = 150'000;
  f.session->flood(flood, [](size_t, int64_t) { return std::string{}; });
  REQUIRE(eventually([&] { return f.router->batch_count() >= 2; }));
  INFO("batches: " << f.router->batch_count());
  REQUIRE(f.session->wait_written(10s));
  std::this_thread::sleep_for(300ms); // the client reads what it may
  auto frames_of = [](const detail::inbound_batch& x) {
    return x.envelopes.size() + x.malformed + x.not_object + x.unknown +
           x.binary;
  };
  size_t seen = 0;
  size_t largest = 0;
  for (size_t i = 1; seen < flood; ++i) {
    REQUIRE(eventually([&] { return f.router->batch_count() > i; }));
    auto batch = f.router->with([i](auto& x) { return x.batches.at(i); });
    seen += frames_of(batch);
    largest = std::max(largest, frames_of(batch));
    f.router->release();
  }
  CHECK(seen == flood);
  // A batch holds about 256 KB, each frame counted with an overhead.
  CHECK(largest <= 20'000);
}

TEST_CASE("connection: a pong that came before the monitor's verdict keeps "
          "the session",
          "[connection]") {
  // The pong waits in the connection's mailbox (a busy scheduler) while the
  // monitor's timer fires: its verdict must not end a live link.
  connection_fixture f{5s, log_level::trace};
  auto payload = detail::ping_payload(1, 7);
  caf::anon_send(f.conn, ping_atom_v, payload);
  REQUIRE(eventually([&] { return f.logs.contains("<- pong " + payload); }));
  caf::anon_send(f.conn, detail::dead_link_atom_v, payload);
  CHECK_FALSE(f.session->wait_ended(1s));
  CHECK_FALSE(f.router->with([](auto& x) { return x.drained; }));
  // A new monitor numbers on from the ping.
  auto next = detail::ping_payload(1, 8);
  CHECK(eventually([&] {
    auto xs = f.session->ping_payloads();
    return std::find(xs.begin(), xs.end(), next) != xs.end();
  }));
  // A verdict on a ping newer than any pong still ends it.
  caf::anon_send(f.conn, detail::dead_link_atom_v, detail::ping_payload(1, 9));
  CHECK(f.session->wait_ended(10s));
}

TEST_CASE("connection: no pong in time while reading was paused for much of "
          "the wait is a slow consumer, not a dead link",
          "[connection]") {
  // The router held batches, so reading paused; once it resumes, a pong
  // still waits behind the backlog the pause left in the socket. Found dead
  // then, the link would be cut under a consumer that is merely slow, and
  // what Slack still had for the session lost. A pause that took little of
  // the wait excuses nothing: reading went on, and a pong would have come.
  connection_fixture f{5s};
  // Event `n` arrives in a batch of its own, which the fake then counts as
  // acked (it sends nothing again meanwhile); the stand-in router holds it.
  size_t acked = 0;
  auto deliver = [&](int n) {
    auto batches = f.router->batch_count();
    f.session->send_event(mention(n));
    REQUIRE(eventually([&] { return f.router->batch_count() == batches + 1; }));
    auto id = f.router->with([](auto& x) {
      return std::string{x.batches.back().envelopes.at(0).id()};
    });
    caf::anon_send(f.conn, detail::ack_atom_v, id, ack_of(id));
    REQUIRE(f.srv.wait_acks(++acked, 10s));
  };
  // The test plays the monitor, which sends pings and gives up on one.
  auto ping = [&](const char* payload) {
    caf::anon_send(f.conn, ping_atom_v, std::string{payload});
  };
  auto give_up = [&](const char* payload) {
    caf::anon_send(f.conn, detail::dead_link_atom_v, std::string{payload});
  };
  // The router holds event 1's batch when event 2 comes: reading pauses for
  // `d`, then resumes. A ping named goes out once the pause began.
  auto pause_reading_for = [&](caf::timespan d, const char* ping_in_pause) {
    deliver(1);
    deliver(2);
    if (ping_in_pause != nullptr)
      ping(ping_in_pause);
    std::this_thread::sleep_for(d);
    f.router->release();
    f.router->release();
  };
  auto check_ended = [&] {
    REQUIRE(f.session->wait_ended(10s));
    REQUIRE(eventually(
        [&] { return f.router->with([](auto& x) { return x.drained; }); }));
  };
  auto check_alive = [&] {
    CHECK_FALSE(f.session->wait_ended(1s));
    CHECK_FALSE(f.router->with([](auto& x) { return x.drained; }));
  };
  SECTION("paused for most of the wait") {
    // A ping as the monitor names them: the monitor started after the
    // excuse numbers on from it, so that a late pong to this ping cannot
    // count for a ping of its own.
    auto payload = detail::ping_payload(1, 7);
    pause_reading_for(3s, payload.c_str());
    deliver(3); // read: the connection took the answers by now
    give_up(payload.c_str());
    check_alive();
    auto next = detail::ping_payload(1, 8);
    CHECK(eventually([&] {
      auto xs = f.session->ping_payloads();
      return std::find(xs.begin(), xs.end(), next) != xs.end();
    }));
    auto xs = f.session->ping_payloads();
    // The first monitor's one ping, the test's, the new monitor's first.
    CHECK(xs ==
          std::vector<std::string>{detail::ping_payload(1, 1), payload, next});
  }
  SECTION("paused for a little of the wait, just before the end") {
    ping("test-ping-1");
    pause_reading_for(500ms, nullptr);
    deliver(3);
    give_up("test-ping-1");
    check_ended();
  }
  SECTION("paused for long before the ping went out") {
    pause_reading_for(3s, nullptr);
    ping("test-ping-1");
    deliver(3);
    give_up("test-ping-1");
    check_ended();
  }
  SECTION("the pause counts for the ping given up on, not for a later one") {
    // The monitor's word can come late (a starved core): the ping it gave
    // up on is then older than a pong timeout, and a later ping went out
    // since, after the pause.
    ping("test-ping-1");
    pause_reading_for(3s, nullptr);
    deliver(3); // the router holds it, but reading goes on
    std::this_thread::sleep_for(4s);
    ping("test-ping-2");
    give_up("test-ping-1");
    check_alive();
  }
}

TEST_CASE("connection: a message is reported written once its socket has it, "
          "and one never written comes back unsent instead",
          "[connection]") {
  // A message Slack does not ack is forgotten by the router only when it is
  // reported written: a write that stalls for long and then fails must hand
  // it back, however long it stalled.
  connection_fixture f;
  caf::anon_send(f.conn, send_atom_v, int64_t{1},
                 std::string{R"({"id":1,"type":"typing","channel":"C1"})"});
  REQUIRE(f.session->wait_received(1, 10s));
  REQUIRE(eventually([&] {
    return f.router->with([](auto& x) { return x.written.size(); }) == 1;
  }));
  CHECK(f.router->with([](auto& x) { return x.written.front(); }) == 1);
  // The server stops reading: writes stall once the socket buffers are full
  // (16 MB is more than loopback buffers hold), then the server drops.
  f.session->pause_reading();
  constexpr int64_t n = 64;
  auto filler = std::string(256 * 1024, 'x');
  for (int64_t id = 2; id < 2 + n; ++id)
    caf::anon_send(f.conn, send_atom_v, id,
                   R"({"id":)" + std::to_string(id) +
                       R"(,"type":"message","channel":"C1","text":")" + filler +
                       R"("})");
  REQUIRE(eventually([&] {
    return f.router->with([](auto& x) { return x.written.size(); }) > 1;
  }));
  std::this_thread::sleep_for(300ms); // the writes stall
  // The server drops the connection, or the ping monitor finds the link
  // dead and the client cuts it: then the pending read ends before the
  // write in flight, whose frame must still come back.
  auto dead_link = GENERATE(false, true);
  if (dead_link)
    caf::anon_send(f.conn, detail::dead_link_atom_v,
                   std::string{"no-such-ping"});
  else
    f.session->drop();
  REQUIRE(eventually(
      [&] { return f.router->with([](auto& x) { return x.drained; }); }));
  auto [written, unsent] = f.router->with(
      [](auto& x) { return std::make_pair(x.written, x.unsent); });
  INFO("written " << written.size() << ", unsent " << unsent.size());
  // The writes stalled: some never reached the socket and came back.
  CHECK_FALSE(unsent.empty());
  // Each message is one or the other, never both, never neither (the one
  // whose write the end cut off included).
  std::sort(written.begin(), written.end());
  std::sort(unsent.begin(), unsent.end());
  std::vector<int64_t> both;
  std::set_intersection(written.begin(), written.end(), unsent.begin(),
                        unsent.end(), std::back_inserter(both));
  CHECK(both.empty());
  CHECK(written.size() + unsent.size() == static_cast<size_t>(n) + 1);
  CHECK(std::adjacent_find(unsent.begin(), unsent.end()) == unsent.end());
}

TEST_CASE("connection: a server that floods instead of answering the close "
          "frame costs no memory while the router lags behind",
          "[connection]") {
  // What the client read ahead waits for the router, which holds a batch;
  // after the close frame, Beast reads on for the server's close frame and
  // discards what comes before it, until close_timeout ends the session.
  connection_fixture f;
  f.session->ignore_close();
  constexpr size_t flood = 100'000;
  constexpr size_t frame_size = 1000;
  f.session->flood(
      flood, [](size_t, int64_t) { return std::string(frame_size, 'x'); });
  REQUIRE(eventually([&] { return f.router->batch_count() >= 2; }));
  std::this_thread::sleep_for(200ms); // the read-ahead fills
  caf::anon_send(f.conn, close_atom_v, uint16_t{1000});
  REQUIRE(eventually(
      [&] { return f.router->with([](auto& x) { return x.drained; }); }));
  // Every frame read reached the router as the session ended.
  auto frames = f.router->with([](auto& x) {
    size_t n = 0;
    for (auto i = size_t{1}; i < x.batches.size(); ++i)
      n += x.batches[i].malformed;
    return n;
  });
  INFO("frames read: " << frames << " of " << flood);
  CHECK(frames > 0);
  // The read-ahead of an open session (2 MB), and the frame that went over
  // it; twice that leaves room for a close that starts a read.
  CHECK(frames * (frame_size + net::frame_overhead) <=
        4 * 1024 * 1024 + frame_size + net::frame_overhead);
}

TEST_CASE("connection: a server that ends the connection during the "
          "WebSocket handshake is a lost connection, not a refusal",
          "[connection]") {
  fake_slack srv;
  log_capture logs;
  system_fixture fx;
  // Accepts, then closes at once: no HTTP answer to the upgrade at all.
  tcp_tap tap{srv.port()};
  tap.refuse(true);
  auto shared_cfg = std::make_shared<const client_config>(
      socket_mode_config_for(srv, logs.get()));
  detail::connection_args args;
  args.session = 1;
  args.url =
      "ws://127.0.0.1:" + std::to_string(tap.port()) + "/link/?ticket=t1";
  args.cfg = shared_cfg;
  args.proto = detail::make_socket_mode_protocol(*shared_cfg);
  auto hello = std::make_shared<std::atomic<bool>>(false);
  args.router =
      fx.track(fx.sys->spawn(stand_in_router, std::make_shared<router_log>()));
  args.observer = fx.track(fx.sys->spawn(stand_in_observer, hello));
  auto conn = fx.sys->spawn(detail::connection, std::move(args));
  (*fx.self)->monitor(conn);
  std::optional<caf::error> reason;
  (*fx.self)->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                      caf::after(std::chrono::seconds{20}) >> [] {});
  REQUIRE(reason);
  CAPTURE(caf::to_string(*reason));
  // Beast's untouched answer reads 200: no "handshake rejected with HTTP
  // status 200".
  CHECK(code_of(*reason) == "connection_lost");
  CHECK(caf::to_string(*reason).find("HTTP status") == std::string::npos);
  CHECK_FALSE(hello->load());
}
