// Opening a stream (net::transport_open) to a host with several addresses,
// over loopback: the name lookup's answer is set by the test
// (net_context::resolve), the addresses are real sockets.

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "caf/rtm/web_api.hpp"
#include "detail/interfaces.hpp"
#include "detail/internal_messages.hpp"
#include "net/io_pool.hpp"
#include "net/name_lookups.hpp"
#include "net/net_context.hpp"
#include "net/transport.hpp"
#include "net/url.hpp"
#include "net/ws_client.hpp"
#include "tcp_tap.hpp"
#include "test_support.hpp"

using namespace caf::rtm;
using namespace std::chrono_literals;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;
using tcp = boost::asio::ip::tcp;

namespace {

// A name the system cannot resolve: only the test's lookup knows it.
constexpr const char* test_host = "slack.transport.test";

struct open_result {
  caf::error err;
  bool opened = false;
};

struct transport_fixture {
  transport_fixture() {
    log = std::make_shared<logger>(log_level::debug,
                                   [this](log_level, const std::string& line) {
                                     std::lock_guard<std::mutex> guard{mtx};
                                     lines.push_back(line);
                                   });
  }

  // Opens a stream to `test_host` whose lookup answers `addresses`.
  open_result open(const fake_slack& srv, std::vector<tcp::endpoint> addresses,
                   caf::timespan connect_timeout) {
    auto cfg = test::config_for(srv, log);
    cfg.connect_timeout = connect_timeout;
    auto made = net::make_net_context(cfg, log);
    REQUIRE(made);
    auto ctx = **made;
    ctx.resolve = [addresses](const std::string&, const std::string&) {
      return addresses;
    };
    auto url =
        net::parse_endpoint(std::string{srv.options().tls ? "https" : "http"} +
                            "://" + test_host + ":1/api/");
    REQUIRE(url);
    // Shared: an open that outlives a failed wait must find it.
    auto done = std::make_shared<std::promise<open_result>>();
    auto result = done->get_future();
    auto& io = pool.context();
    boost::asio::post(io, [this, &io, ctx, url = *url, done] {
      op = net::transport_open::start(
          io.get_executor(), ctx, url,
          [done](caf::error err, net::opened_stream stream) {
            done->set_value(open_result{std::move(err), !net::empty(stream)});
          });
    });
    // Far beyond connect_timeout: an open that ignores it fails here.
    REQUIRE(result.wait_for(60s) == std::future_status::ready);
    return result.get();
  }

  bool logged(const std::string& text) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& line : lines)
      if (line.find(text) != std::string::npos)
        return true;
    return false;
  }

  static tcp::endpoint loopback(uint16_t port) {
    return {boost::asio::ip::make_address("127.0.0.1"), port};
  }

  std::mutex mtx;
  std::vector<std::string> lines;
  logger_ptr log;
  net::io_pool pool{1};
  std::shared_ptr<net::transport_open> op;
};

} // namespace

TEST_CASE_METHOD(transport_fixture,
                 "transport: an address that drops packets leaves the next "
                 "address its share of the connect timeout",
                 "[transport]") {
  fake_slack_options opts;
  opts.tls = GENERATE(false, true);
  opts.cert_names.emplace_back(test_host);
  fake_slack srv{opts};
  test::black_hole hole;
  // The kernel would wait about two minutes for the first address: each gets
  // 5 s.
  auto res = open(srv, {loopback(hole.port()), loopback(srv.port())}, 10s);
  CHECK_FALSE(res.err);
  CHECK(res.opened);
  CHECK(logged("127.0.0.1:" + std::to_string(hole.port()) +
               " failed: no answer in its share of the time"));
}

TEST_CASE_METHOD(transport_fixture,
                 "transport: a refused address is followed by the next one "
                 "at once",
                 "[transport]") {
  fake_slack srv;
  uint16_t closed_port = 0;
  {
    // A port that was just free: a connect to it is refused.
    test::black_hole scratch;
    closed_port = scratch.port();
  }
  auto res = open(srv, {loopback(closed_port), loopback(srv.port())}, 4s);
  CHECK_FALSE(res.err);
  CHECK(res.opened);
  // Refused, not waited out.
  CHECK(logged("127.0.0.1:" + std::to_string(closed_port) +
               " failed: Connection refused"));
}

TEST_CASE_METHOD(transport_fixture,
                 "transport: addresses that all drop packets end in a timeout "
                 "within connect_timeout",
                 "[transport]") {
  fake_slack srv;
  test::black_hole first;
  test::black_hole second;
  auto res = open(srv, {loopback(first.port()), loopback(second.port())}, 1s);
  CHECK(is(res.err, errc::timeout));
  CHECK_FALSE(res.opened);
  // The second address had its turn.
  CHECK(logged("127.0.0.1:" + std::to_string(first.port()) +
               " failed: no answer in its share of the time"));
}

TEST_CASE_METHOD(transport_fixture,
                 "transport: a lookup without addresses is a failed connect",
                 "[transport]") {
  fake_slack srv;
  auto res = open(srv, {}, 1s);
  CHECK(is(res.err, errc::connect_failed));
  CHECK_FALSE(res.opened);
}

// -- a WebSocket session's close ----------------------------------------------

namespace {

// What a WebSocket session reported to its owner.
struct session_reports {
  std::mutex mtx;
  size_t opened = 0;
  size_t batches = 0;
  /// The counts of acks that came back unwritten, one per message.
  std::vector<uint32_t> unsent_acks;
  std::optional<caf::error> closed;

  template <class F>
  auto with(F f) {
    std::lock_guard<std::mutex> guard{mtx};
    return f(*this);
  }
};

detail::io_sink_actor::behavior_type
recording_owner(detail::io_sink_actor::pointer,
                const std::shared_ptr<session_reports>& log) {
  return {
      [log](detail::opened_atom) { log->with([](auto& x) { ++x.opened; }); },
      [log](detail::frame_batch&) { log->with([](auto& x) { ++x.batches; }); },
      [](detail::pong_atom, std::string&) {},
      [](detail::written_atom, int64_t) {},
      [](detail::unsent_atom, std::vector<int64_t>&) {},
      [log](detail::unsent_atom, uint32_t n) {
        log->with([n](auto& x) { x.unsent_acks.push_back(n); });
      },
      [log](detail::closed_atom, caf::error& err) {
        log->with([&err](auto& x) { x.closed = std::move(err); });
      },
      [](detail::drained_atom) {},
  };
}

// The WebSocket URL rtm.connect hands out for `cfg`.
net::endpoint_url ws_url_of(test::system_fixture& fx,
                            const client_config& cfg) {
  auto api = fx.track(fx.sys->spawn(web_api, cfg));
  auto answer =
      test::request<json_object>(*fx.self, api, caf::timespan{10s}, call_atom_v,
                                 "rtm.connect", api_args{});
  REQUIRE(answer);
  auto url =
      net::parse_endpoint(std::string{answer->value.at("url").as_string()});
  REQUIRE(url);
  return *url;
}

// A WebSocket session to the fake, with a one-byte read-ahead (every batch
// pauses reading until consumed), closed by the client while `frames` (sent
// after hello in one write, behind a first message) wait in Beast's buffer.
// Returns the end it reported within `wait`, if any.
std::optional<caf::error> close_with_buffered(transport_fixture& f,
                                              const std::string& frames,
                                              caf::timespan close_timeout,
                                              caf::timespan abandon_grace,
                                              std::chrono::milliseconds wait) {
  fake_slack srv;
  test::system_fixture fx;
  auto cfg = test::config_for(srv, f.log);
  auto url = ws_url_of(fx, cfg);
  auto made = net::make_net_context(cfg, f.log);
  REQUIRE(made);
  net::ws_options opts;
  opts.max_buffered_bytes = 1;
  opts.close_timeout = close_timeout;
  opts.abandon_grace = abandon_grace;
  auto reports = std::make_shared<session_reports>();
  auto owner = fx.track(fx.sys->spawn(recording_owner, reports));
  auto ws = net::start_ws_client(**made, url, opts, owner);
  // hello: the first batch, and reading pauses.
  REQUIRE(test::eventually(
      [&] { return reports->with([](auto& r) { return r.batches == 1; }); }));
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  // One write: one read takes all of it into Beast's buffer and returns the
  // first message.
  s->send_raw(testing::encode_frame(0x1, R"({"type":"message","text":"m"})") +
              frames);
  std::this_thread::sleep_for(200ms);
  ws->consumed();
  REQUIRE(test::eventually(
      [&] { return reports->with([](auto& r) { return r.batches == 2; }); }));
  std::this_thread::sleep_for(100ms);
  ws->close(1000);
  test::eventually(
      [&] {
        return reports->with([](auto& r) { return r.closed.has_value(); });
      },
      wait);
  ws->abort(make_error(errc::closed, "test over"));
  return reports->with([](auto& r) { return r.closed; });
}

constexpr const char* given_up = "still parked after the socket closed";

} // namespace

TEST_CASE_METHOD(transport_fixture,
                 "websocket session: acks handed over after the close began "
                 "come back as one count",
                 "[transport][websocket]") {
  // A Socket Mode session that ends with much read ahead hands over the
  // acks of all of it at once: one message back, not one per ack (each
  // would be a warning and an error_event).
  fake_slack srv;
  test::system_fixture fx;
  auto cfg = test::config_for(srv, log);
  auto url = ws_url_of(fx, cfg);
  auto made = net::make_net_context(cfg, log);
  REQUIRE(made);
  auto reports = std::make_shared<session_reports>();
  auto owner = fx.track(fx.sys->spawn(recording_owner, reports));
  auto ws = net::start_ws_client(**made, url, net::ws_options{}, owner);
  REQUIRE(test::eventually(
      [&] { return reports->with([](auto& r) { return r.batches == 1; }); }));
  ws->close(1000);
  net::text_frames acks;
  for (auto id : {"e1", "e2", "e3"})
    acks.add(std::string{R"({"envelope_id":")"} + id + R"("})");
  ws->send_texts_first(std::move(acks));
  REQUIRE(test::eventually([&] {
    return reports->with([](auto& r) { return r.closed.has_value(); });
  }));
  CHECK(reports->with([](auto& r) { return r.unsent_acks; }) ==
        std::vector<uint32_t>{3});
}

TEST_CASE_METHOD(transport_fixture,
                 "websocket session: a close while the server's close frame "
                 "or a bad frame waits in the read buffer ends the session",
                 "[transport][websocket]") {
  // The read our close starts finds the frame in the buffer. Beast 1.81
  // deadlocked that read and our close against each other, and the session
  // never reported its end.
  struct variant {
    std::string frame;
    errc code;
    std::string says;
  };
  auto x = GENERATE(
      variant{testing::encode_frame(0x8, std::string{"\x03\xe8", 2} + "bye"),
              errc::connection_closed, "bye"},
      variant{testing::encode_frame(0x1, "\xff\xfe"), errc::websocket_error,
              ""});
  // A close_timeout and a last resort far beyond the wait: neither can end
  // it in time.
  auto closed = close_with_buffered(*this, x.frame, 20s, 20s, 5s);
  REQUIRE(closed);
  CHECK(closed->code() == static_cast<uint8_t>(x.code));
  CHECK(render(*closed).find(x.says) != std::string::npos);
}

TEST_CASE_METHOD(transport_fixture,
                 "websocket session: a bad frame behind a message still "
                 "ends the session, by the last resort",
                 "[transport][websocket]") {
  // Our close frame goes out while the read returns the second message;
  // the next read meets the bad frame holding the read lock: Beast parks
  // both for good. Closing the socket at close_timeout wakes neither.
  auto closed = close_with_buffered(
      *this,
      testing::encode_frame(0x1, R"({"type":"message","text":"m2"})") +
          testing::encode_frame(0x1, "\xff\xfe"),
      1s, 1s, 10s);
  REQUIRE(closed);
  CHECK(logged(given_up));
}

// -- name lookups -------------------------------------------------------------

namespace {

// A resolver that blocks until the test opens it, counting its lookups.
// Shared with the lookups' threads, which may outlive a failed test.
struct held_resolver : std::enable_shared_from_this<held_resolver> {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
  std::vector<std::string> hosts;

  net::name_lookups::resolver_type fn() {
    return [self = shared_from_this()](const std::string& host,
                                       const std::string&) {
      std::unique_lock<std::mutex> guard{self->mtx};
      self->hosts.push_back(host);
      self->cv.notify_all();
      self->cv.wait(guard, [&] { return self->open; });
      return std::make_pair(
          net::name_lookups::error_code{},
          net::name_lookups::endpoints{
              {boost::asio::ip::make_address("127.0.0.1"), 443}});
    };
  }

  size_t count() {
    std::lock_guard<std::mutex> guard{mtx};
    return hosts.size();
  }

  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    open = true;
    cv.notify_all();
  }
};

// What the lookups' handlers got, in the order they ran.
struct lookup_answers : std::enable_shared_from_this<lookup_answers> {
  std::mutex mtx;
  std::vector<std::pair<std::string, size_t>> xs; // the error, addresses

  net::name_lookups::handler_type handler() {
    return [self = shared_from_this()](net::name_lookups::error_code ec,
                                       net::name_lookups::endpoints found) {
      std::lock_guard<std::mutex> guard{self->mtx};
      self->xs.emplace_back(ec ? ec.message() : "", found.size());
    };
  }

  size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return xs.size();
  }
};

// An I/O thread, the held resolver and what the answers were. The lookups'
// threads and handlers share the last two, and may outlive a failed check.
struct lookup_fixture {
  ~lookup_fixture() {
    // A failed check leaves no thread waiting for good.
    resolver.release();
  }

  net::io_pool pool{1};
  net::name_lookups::executor_type ex = pool.context().get_executor();
  std::shared_ptr<held_resolver> resolver_ptr =
      std::make_shared<held_resolver>();
  std::shared_ptr<lookup_answers> answers_ptr =
      std::make_shared<lookup_answers>();
  held_resolver& resolver = *resolver_ptr;
  lookup_answers& answers = *answers_ptr;
};

} // namespace

TEST_CASE_METHOD(
    lookup_fixture,
    "name lookups: overlapping lookups of one host share one thread "
    "and one answer, at most max_threads run, an address needs none",
    "[transport]") {
  net::name_lookups lookups{resolver.fn(), 2, std::chrono::minutes{1}};
  for (int i = 0; i < 20; ++i)
    lookups.lookup(ex, "slack.com", "443", answers.handler());
  REQUIRE(test::eventually([&] { return resolver.count() == 1; }));
  CHECK(lookups.running() == 1);
  // A second host: the second thread; a third is refused at once, while a
  // fourth lookup of a host under way joins it.
  lookups.lookup(ex, "wss-primary.slack.com", "443", answers.handler());
  REQUIRE(test::eventually([&] { return resolver.count() == 2; }));
  lookups.lookup(ex, "files.slack.com", "443", answers.handler());
  REQUIRE(test::eventually([&] { return answers.size() == 1; }));
  {
    std::lock_guard<std::mutex> guard{answers.mtx};
    CHECK(answers.xs[0].first ==
          boost::asio::error::make_error_code(boost::asio::error::try_again)
              .message());
    CHECK(answers.xs[0].second == 0);
  }
  lookups.lookup(ex, "wss-primary.slack.com", "443", answers.handler());
  // An address is no lookup.
  lookups.lookup(ex, "127.0.0.1", "443", answers.handler());
  REQUIRE(test::eventually([&] { return answers.size() == 2; }));
  CHECK(resolver.count() == 2);
  CHECK(lookups.running() == 2);

  resolver.release();
  REQUIRE(test::eventually([&] { return answers.size() == 24; }));
  CHECK(lookups.running() == 0);
  CHECK(resolver.count() == 2);
  {
    std::lock_guard<std::mutex> guard{answers.mtx};
    for (size_t i = 1; i < answers.xs.size(); ++i) {
      CHECK(answers.xs[i].first.empty());
      CHECK(answers.xs[i].second == 1);
    }
  }
  // A lookup after the answer asks again.
  lookups.lookup(ex, "slack.com", "443", answers.handler());
  REQUIRE(test::eventually([&] { return answers.size() == 25; }));
  CHECK(resolver.count() == 3);
}

TEST_CASE_METHOD(lookup_fixture,
                 "name lookups: a lookup older than its join window takes no "
                 "more callers",
                 "[transport]") {
  // No window: every lookup is too old to join (as one that hangs in a name
  // server's timeout after the network came back).
  net::name_lookups lookups{resolver.fn(), 4, std::chrono::seconds{0}};
  lookups.lookup(ex, "slack.com", "443", answers.handler());
  lookups.lookup(ex, "slack.com", "443", answers.handler());
  REQUIRE(test::eventually([&] { return resolver.count() == 2; }));
  CHECK(lookups.running() == 2);
  resolver.release();
  REQUIRE(test::eventually([&] { return answers.size() == 2; }));
  CHECK(lookups.running() == 0);
}
