// Pure building blocks: backoff, Retry-After, the token bucket, URLs and
// NO_PROXY, event parsing, the overlap filter, errors, configuration and the
// serialization of every message type.

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/pattern.hpp"
#include "caf/rtm/reply.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/web_api.hpp"
#include "detail/backoff.hpp"
#include "detail/envelope_filter.hpp"
#include "detail/frame_data.hpp"
#include "detail/frame_parser.hpp"
#include "detail/internal_messages.hpp"
#include "detail/overlap_filter.hpp"
#include "detail/ping_monitor.hpp"
#include "detail/protocol.hpp"
#include "detail/slack_answers.hpp"
#include "detail/token_bucket.hpp"
#include "detail/token_file.hpp"
#include "detail/token_refresh.hpp"
#include "detail/webhook_poster.hpp"
#include "detail/worker_watch.hpp"
#include "net/io_pool.hpp"
#include "net/text_frames.hpp"
#include "net/url.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles up to the cap", "[units][backoff]") {
  retry_policy p{100ms, 1s, 0};
  CHECK(backoff_ceiling(p, 1) == caf::timespan{100ms});
  CHECK(backoff_ceiling(p, 2) == caf::timespan{200ms});
  CHECK(backoff_ceiling(p, 4) == caf::timespan{800ms});
  CHECK(backoff_ceiling(p, 5) == caf::timespan{1s});
  CHECK(backoff_ceiling(p, 1000) == caf::timespan{1s});
}

TEST_CASE("backoff saturates at max_delay for any delay and attempt",
          "[units][backoff]") {
  constexpr auto top = caf::timespan::max();
  constexpr auto last_attempt = std::numeric_limits<uint32_t>::max();
  // Delays validate() would once accept: doubling them overflowed.
  retry_policy huge{top / 3, top, 0};
  CHECK(backoff_ceiling(huge, 1) == top / 3);
  CHECK(backoff_ceiling(huge, 2) == (top / 3) * 2);
  for (uint32_t attempt : {3u, 4u, 63u, 64u, 65u, last_attempt})
    CHECK(backoff_ceiling(huge, attempt) == top);
  // The smallest delay doubles 62 times before it reaches the largest.
  retry_policy tiny{caf::timespan{1}, top, 0};
  CHECK(backoff_ceiling(tiny, 63) == caf::timespan{int64_t{1} << 62});
  CHECK(backoff_ceiling(tiny, 64) == top);
  CHECK(backoff_ceiling(tiny, last_attempt) == top);
  // 25 days in hours, as in a config file: capped, not wrapped.
  retry_policy days{1392000h, 2544000h, 0};
  for (uint32_t attempt = 1; attempt < 100; ++attempt) {
    auto ceiling = backoff_ceiling(days, attempt);
    REQUIRE(ceiling >= days.initial_delay);
    REQUIRE(ceiling <= days.max_delay);
    REQUIRE(backoff_ceiling(days, attempt + 1) >= ceiling);
  }
  std::minstd_rand rng{7};
  CHECK(backoff_delay(huge, last_attempt, rng) >= caf::timespan{0});
}

TEST_CASE("backoff of delays validate() refuses is harmless",
          "[units][backoff]") {
  constexpr auto last_attempt = std::numeric_limits<uint32_t>::max();
  std::minstd_rand rng{7};
  // A zero initial delay stays zero: no loop of 2^32 doublings.
  retry_policy zero{caf::timespan{0}, 1s, 0};
  CHECK(backoff_ceiling(zero, last_attempt) == caf::timespan{0});
  CHECK(backoff_delay(zero, last_attempt, rng) == caf::timespan{0});
  retry_policy negative{caf::timespan{-1'000'000'000}, 1s, 0};
  CHECK(backoff_ceiling(negative, 1) == caf::timespan{0});
  CHECK(backoff_ceiling(negative, last_attempt) == caf::timespan{0});
  // max < initial, and a negative max: never above max, never a negative
  // delay.
  retry_policy inverted{2s, 1s, 0};
  CHECK(backoff_ceiling(inverted, 1) == caf::timespan{1s});
  retry_policy below_zero{caf::timespan{-5}, caf::timespan{-1}, 0};
  CHECK(backoff_ceiling(below_zero, 3) <= below_zero.max_delay);
  CHECK(backoff_delay(below_zero, 3, rng) == caf::timespan{0});
}

TEST_CASE("full jitter stays within [0, ceiling] and spreads",
          "[units][backoff]") {
  retry_policy p{100ms, 1s, 0};
  std::minstd_rand rng{42};
  for (uint32_t attempt = 1; attempt < 8; ++attempt) {
    std::set<int64_t> seen;
    for (int i = 0; i < 200; ++i) {
      auto d = backoff_delay(p, attempt, rng);
      REQUIRE(d >= caf::timespan{0});
      REQUIRE(d <= backoff_ceiling(p, attempt));
      seen.insert(d.count());
    }
    CHECK(seen.size() > 150); // jitter, not a fixed delay
  }
}

TEST_CASE("a Retry-After wait is lengthened by up to a second, drawn at "
          "random",
          "[units][backoff]") {
  std::minstd_rand rng{42};
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    auto d = retry_after_jitter(rng);
    REQUIRE(d >= caf::timespan{0});
    REQUIRE(d <= retry_after_spread);
    seen.insert(d.count());
  }
  CHECK(seen.size() > 150);
  CHECK(retry_after_spread == caf::timespan{1s});
}

TEST_CASE("Retry-After as seconds or HTTP date", "[units][backoff]") {
  CHECK(parse_retry_after("5") == caf::timespan{5s});
  CHECK(parse_retry_after(" 0 ") == caf::timespan{0});
  CHECK_FALSE(parse_retry_after(""));
  CHECK_FALSE(parse_retry_after("soon"));
  CHECK_FALSE(parse_retry_after("-3"));
  auto now =
      std::chrono::system_clock::from_time_t(784111777); // 1994-11-06 08:49:37
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now) ==
        caf::timespan{3s});
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now) ==
        caf::timespan{0});
  // The wait reads as one in a rate limit's text, whichever form it came in.
  CHECK(render(rate_limited_error(
            "refused",
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now + 250ms))) ==
        "caf_rtm: rate_limited (refused, 1min)");
  CHECK(render(rate_limited_error("refused", parse_retry_after("5"))) ==
        "caf_rtm: rate_limited (refused, 5s)");
  // Far in the future (past what a timespan holds): capped, no overflow.
  auto far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now);
  REQUIRE(far);
  CHECK(*far > caf::timespan{0});
  CHECK(*far <= caf::timespan{std::chrono::hours{24 * 365}});
}

TEST_CASE("token bucket: burst, then the sustained rate", "[units][rate]") {
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  token_bucket bucket{2.0, 3, t0};
  CHECK(bucket.try_take(t0));
  CHECK(bucket.try_take(t0));
  CHECK(bucket.try_take(t0));
  CHECK_FALSE(bucket.try_take(t0));
  auto wait = bucket.time_to_next(t0);
  CHECK(wait > caf::timespan{490ms});
  CHECK(wait < caf::timespan{510ms});
  CHECK_FALSE(bucket.try_take(t0 + 400ms));
  CHECK(bucket.try_take(t0 + 510ms));
  // Never more than the burst, however long the pause.
  CHECK(bucket.tokens(t0 + 1h) == Approx(3.0));
}

TEST_CASE("token bucket: after the wait it names, the token is there",
          "[units][rate]") {
  // Rates whose token time is a fraction of a nanosecond short of a whole
  // one (1e9/1008 per second): the wait must not be rounded down.
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (double ns : {1008.0, 3.0, 7.0, 1000.0, 123457.0}) {
    CAPTURE(ns);
    token_bucket bucket{1e9 / ns, 1, t0};
    REQUIRE(bucket.try_take(t0));
    auto wait = bucket.time_to_next(t0);
    CHECK(bucket.try_take(t0 + wait));
  }
}

TEST_CASE("token bucket: a tiny or broken rate waits a bounded time",
          "[units][rate]") {
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  // 1e-11/s: the next token in 3,000 years, which no timespan holds.
  for (double rate :
       {1e-11, 1e-300, 0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(rate);
    token_bucket bucket{rate, 1, t0};
    CHECK(bucket.try_take(t0));
    auto wait = bucket.time_to_next(t0);
    CHECK(wait == token_bucket::max_wait);
    CHECK_FALSE(bucket.try_take(t0 + wait / 2));
  }
  // The slowest rate validate() accepts is not capped.
  token_bucket slow{client_config::min_send_rate, 1, t0};
  CHECK(slow.try_take(t0));
  auto wait = slow.time_to_next(t0);
  CHECK(wait > caf::timespan{99s});
  CHECK(wait < caf::timespan{101s});
  CHECK(slow.try_take(t0 + wait));
}

TEST_CASE("URLs: a port runs into no path, ports are numbers", "[units][url]") {
  // Boost.URL reads these as port 443 and a path without its '/', or as an
  // empty port and a path.
  for (auto bad : {"https://slack.com:443api/chat.postMessage",
                   "wss://wss-primary.slack.com:443link/?ticket=1",
                   "http://h:x", "http://h:80x/", "http://h:0/",
                   "http://h:65536/", "http://h:99999999999999999999/"}) {
    CAPTURE(bad);
    auto url = net::parse_endpoint(bad);
    REQUIRE_FALSE(url);
    CHECK(is(url.error(), errc::invalid_url));
  }
  // An empty port is the default; leading zeros are dropped.
  auto a = net::parse_endpoint("http://h:/p");
  REQUIRE(a);
  CHECK(a->port == "80");
  CHECK(a->target == "/p");
  auto b = net::parse_endpoint("https://h:/");
  REQUIRE(b);
  CHECK(b->port == "443");
  auto c = net::parse_endpoint("http://h:0080");
  REQUIRE(c);
  CHECK(c->port == "80");
  CHECK(c->target == "/");
  CHECK(c->host_header() == "h");
  auto d = net::parse_endpoint("https://h:65535/x?y=1");
  REQUIRE(d);
  CHECK(d->port == "65535");
  CHECK(d->target == "/x?y=1");
  client_config cfg;
  cfg.token = "xoxb-1";
  cfg.base_url = "https://slack.com:443api/";
  CHECK(is(cfg.validate(), errc::invalid_url));
}

TEST_CASE("URLs: TLS by scheme, ports, targets", "[units][url]") {
  auto a = net::parse_endpoint("https://slack.com/api/");
  REQUIRE(a);
  CHECK(a->tls);
  CHECK(a->port == "443");
  CHECK(a->target == "/api/");
  CHECK(a->host_header() == "slack.com");
  auto b = net::parse_endpoint("wss://127.0.0.1:8080/ws/abc?x=1");
  REQUIRE(b);
  CHECK(b->tls);
  CHECK(b->websocket);
  CHECK(b->port == "8080");
  CHECK(b->target == "/ws/abc?x=1");
  CHECK(b->host_is_ip());
  CHECK(b->host_header() == "127.0.0.1:8080");
  auto c = net::parse_endpoint("ws://[::1]:443/");
  REQUIRE(c);
  CHECK_FALSE(c->tls); // port 443 does not make it TLS
  CHECK(c->host == "::1");
  CHECK(c->host_is_ip());
  CHECK(c->host_header() == "[::1]:443");
  CHECK_FALSE(net::parse_endpoint("ftp://x/"));
  CHECK_FALSE(net::parse_endpoint("not a url"));
  CHECK(net::join_url("http://h/api", "auth.test") == "http://h/api/auth.test");
  CHECK(net::join_url("http://h/api/", "auth.test") ==
        "http://h/api/auth.test");
}

TEST_CASE("form encoding", "[units][url]") {
  auto body = net::form_encode({{"text", "a+b c&d=e"}, {"channel", "C1"}});
  CHECK(body.find("a%2Bb") != std::string::npos);
  CHECK(body.find('&') != std::string::npos);
  CHECK(body.find("channel=C1") != std::string::npos);
  CHECK(body.find(' ') == std::string::npos);
}

TEST_CASE("NO_PROXY matching", "[units][proxy]") {
  net::proxy_settings p;
  p.host = "proxy";
  p.port = "3128";
  net::parse_no_proxy("localhost, .internal.example ,10.0.0.1:8080 *.corp", p);
  CHECK_FALSE(p.applies_to("localhost"));
  CHECK_FALSE(p.applies_to("a.internal.example"));
  CHECK_FALSE(p.applies_to("internal.example"));
  CHECK_FALSE(p.applies_to("10.0.0.1"));
  CHECK_FALSE(p.applies_to("x.corp"));
  CHECK_FALSE(p.applies_to("LOCALHOST"));
  CHECK(p.applies_to("slack.com"));
  CHECK(p.applies_to("notinternal.example"));
  net::proxy_settings all = p;
  net::parse_no_proxy("*", all);
  CHECK_FALSE(all.applies_to("slack.com"));
  // CIDR ranges match hosts given as IP addresses (not names).
  net::proxy_settings ranges;
  ranges.host = "proxy";
  net::parse_no_proxy("10.0.0.0/8, 192.168.1.7/32,fd00::/8", ranges);
  CHECK_FALSE(ranges.applies_to("10.1.2.3"));
  CHECK_FALSE(ranges.applies_to("192.168.1.7"));
  CHECK(ranges.applies_to("192.168.1.8"));
  CHECK(ranges.applies_to("11.0.0.1"));
  CHECK_FALSE(ranges.applies_to("fd12::1"));
  CHECK_FALSE(ranges.applies_to("[fd12::1]"));
  CHECK(ranges.applies_to("fe80::1"));
  CHECK(ranges.applies_to("ten.example")); // names are not resolved
  net::proxy_settings broken;
  broken.host = "proxy";
  net::parse_no_proxy("10.0.0.0/99,/8,x/8", broken);
  CHECK(broken.applies_to("10.1.2.3"));
}

TEST_CASE("NO_PROXY entries keep no brackets", "[units][proxy]") {
  // Hosts are compared without one pair of brackets; an entry with more
  // (found by fuzz_url) would be kept but match nothing, not even itself.
  net::proxy_settings p;
  p.host = "proxy";
  net::parse_no_proxy("[[$[$]],[::1],[[::2]],[x", p);
  CHECK(p.no_proxy == std::vector<std::string>{"::1"});
  CHECK_FALSE(p.applies_to("[::1]"));
  CHECK_FALSE(p.applies_to("::1"));
  CHECK(p.applies_to("::2"));
  for (const auto& entry : p.no_proxy)
    CHECK_FALSE(p.applies_to(entry));
}

TEST_CASE("proxy settings from config and environment", "[units][proxy]") {
  client_config cfg;
  cfg.proxy = "http://user:p%40ss@proxy.example:3128";
  auto p = net::make_proxy_settings(cfg);
  REQUIRE(p);
  CHECK(p->host == "proxy.example");
  CHECK(p->port == "3128");
  CHECK(p->authorization == "Basic dXNlcjpwQHNz"); // user:p@ss
  cfg.proxy = "socks5://proxy:1080";
  CHECK_FALSE(net::make_proxy_settings(cfg));
  cfg.proxy.clear();
  setenv("https_proxy", "proxy2:8080", 1);
  auto q = net::make_proxy_settings(cfg);
  unsetenv("https_proxy");
  REQUIRE(q);
  CHECK(q->host == "proxy2");
  cfg.proxy_from_environment = false;
  setenv("HTTPS_PROXY", "proxy2:8080", 1);
  auto r = net::make_proxy_settings(cfg);
  unsetenv("HTTPS_PROXY");
  REQUIRE(r);
  CHECK_FALSE(r->enabled());
}

TEST_CASE("proxy URLs: host and port checked like endpoints",
          "[units][proxy][security]") {
  client_config cfg;
  cfg.token = "xoxb-1";
  cfg.proxy_from_environment = false;
  // A CR LF in the host would split the CONNECT request.
  for (auto bad : {"http://%0d%0aproxy.example:3128", "http://a%20b:3128",
                   "proxy%0a:3128", "http://proxy:3128x", "http://proxy:x",
                   "http://proxy:70000", "http://:3128", "socks5://proxy:1080",
                   "http://user:secret@proxy:3128api"}) {
    CAPTURE(bad);
    cfg.proxy = bad;
    auto p = net::make_proxy_settings(cfg);
    REQUIRE_FALSE(p);
    CHECK(is(p.error(), errc::invalid_config));
    CHECK(render(p.error()).find("secret") == std::string::npos);
    CHECK(is(cfg.validate(), errc::invalid_config));
  }
  // Also from the environment, where the client reads it at connect time.
  cfg.proxy.clear();
  cfg.proxy_from_environment = true;
  setenv("https_proxy", "http://%0d%0aproxy.example:3128", 1);
  auto env = net::make_proxy_settings(cfg);
  unsetenv("https_proxy");
  REQUIRE_FALSE(env);
  CHECK(is(env.error(), errc::invalid_config));
  cfg.proxy = "http://proxy:/";
  auto q = net::make_proxy_settings(cfg);
  REQUIRE(q);
  CHECK(q->host == "proxy");
  CHECK(q->port == "80");
  cfg.proxy = "http://[::1]:3128/";
  auto r = net::make_proxy_settings(cfg);
  REQUIRE(r);
  CHECK(r->host == "::1");
  CHECK(r->port == "3128");
  CHECK_FALSE(cfg.validate());
}

TEST_CASE("events: fields, nested ids, acks", "[units][event]") {
  auto ev = event::parse(
      R"({"type":"message","subtype":"bot_message","channel":"C1","user":"U1",)"
      R"("bot_id":"B1","ts":"1.000200","text":"hi"})",
      7);
  REQUIRE(ev);
  CHECK(ev.type() == "message");
  CHECK(ev.subtype() == "bot_message");
  CHECK(ev.channel() == "C1");
  CHECK(ev.user() == "U1");
  CHECK(ev.bot_id() == "B1");
  CHECK(ev.ts() == "1.000200");
  CHECK(ev.session() == 7);
  CHECK_FALSE(ev.reply_to());
  CHECK(ev.json().at("text").as_string() == "hi");
  CHECK(ev.text() == "hi");
  auto copy = ev;
  CHECK(&copy.json() == &ev.json()); // shared, not copied

  auto created = event::parse(
      R"({"type":"channel_created","channel":{"id":"C9","name":"x"},)"
      R"("event_ts":"5.5","user":{"id":"U9"}})");
  CHECK(created.channel() == "C9");
  CHECK(created.user() == "U9");
  CHECK(created.ts() == "5.5");

  auto reaction = event::parse(
      R"({"type":"reaction_added","item":{"type":"message","channel":"C3"}})");
  CHECK(reaction.channel() == "C3");
  // Events API events about files, pins and calls: `channel_id`, so that
  // callbacks take them in their channel's order.
  auto shared = event::parse(
      R"({"type":"file_shared","channel_id":"C4","file_id":"F1"})");
  CHECK(shared.channel() == "C4");

  auto ack = event::parse(R"({"ok":true,"reply_to":12,"ts":"1.1"})");
  REQUIRE(ack.reply_to());
  CHECK(*ack.reply_to() == 12);
  REQUIRE(ack.ok());
  CHECK(*ack.ok());
  CHECK(ack.type().empty());
  auto echo = event::parse(R"({"type":"message","reply_to":12})");
  CHECK(echo.reply_to());
  CHECK_FALSE(echo.ok());
}

TEST_CASE("subscription patterns: types, subtypes, malformed ones",
          "[units][pattern]") {
  auto bot = event::parse(
      R"({"type":"message","subtype":"bot_message","channel":"C1"})");
  auto plain = event::parse(R"({"type":"message","channel":"C1"})");
  CHECK(matches({"message"}, bot));
  CHECK(matches({"message"}, plain));
  CHECK(matches({"message::bot_message"}, bot));
  CHECK_FALSE(matches({"message::bot_message"}, plain));
  CHECK_FALSE(matches({"message::message_changed"}, bot));
  CHECK_FALSE(matches({"message::bot"}, bot));
  CHECK_FALSE(matches({"mess::bot_message"}, bot));
  CHECK(matches({"*"}, bot));
  CHECK_FALSE(matches({}, bot));
  // Envelopes: by envelope type, inner type, or inner type::subtype.
  auto env = envelope::parse(
      R"({"envelope_id":"E1","type":"events_api","payload":{"event":)"
      R"({"type":"message","subtype":"bot_message","channel":"C1"}}})");
  CHECK(matches({"events_api"}, env));
  CHECK(matches({"message"}, env));
  CHECK(matches({"message::bot_message"}, env));
  CHECK_FALSE(matches({"message::file_share"}, env));
  CHECK(env.event_subtype() == "bot_message");
  for (auto good :
       {"*", "message", "message::bot_message", "/deploy", "block_actions",
        "events_api", "block_actions::vote:yes", "block_actions::a::b",
        "view_submission::\xc3\xbc",
        // Two, three and four bytes at the edges of their ranges.
        "a::\xc2\x80\xdf\xbf", "a::\xe0\xa0\x80\xed\x9f\xbf",
        "a::\xee\x80\x80\xef\xbf\xbf", "a::\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"})
    CHECK_FALSE(check_pattern(good));
  for (auto bad :
       {"", " ", "message ", "message:bot_message", "::x", "x::", "a:b::c",
        "mes*", "*::bot_message", "a\nb", "block_actions::a b",
        "block_actions::a*", "block_actions::a\x7f", "message:::bot_message",
        // Not UTF-8: Latin-1, a stray continuation byte, a cut-off sequence,
        // overlong forms, a surrogate, past U+10FFFF.
        "a::\xfc", "a::\x80", "a::x\xc3", "a::\xe2\x82", "a::\xc0\xaf",
        "a::\xe0\x80\xaf", "a::\xed\xa0\x80", "a::\xf4\x90\x80\x80",
        "a::\xf8\x88\x80\x80\x80"}) {
    INFO(bad);
    auto err = check_pattern(bad);
    REQUIRE(err);
    CHECK(err.code() == static_cast<uint8_t>(errc::invalid_argument));
  }
  CHECK(check_patterns({}));
  CHECK(check_patterns({"message", ""}));
  CHECK_FALSE(check_patterns({"message", "reaction_added"}));
  // Every event is matched against every pattern: both are bounded.
  CHECK_FALSE(check_pattern(std::string(max_pattern_size, 'x')));
  CHECK(check_pattern(std::string(max_pattern_size + 1, 'x')));
  CHECK_FALSE(check_patterns(std::vector<std::string>(max_patterns, "x")));
  CHECK(check_patterns(std::vector<std::string>(max_patterns + 1, "x")));
}

TEST_CASE("replies go where the message was said", "[units][reply]") {
  auto top = event::parse(
      R"({"type":"message","channel":"C1","ts":"1.1","text":"hi"})");
  auto threaded = event::parse(R"({"type":"message","channel":"C1",)"
                               R"("ts":"2.2","thread_ts":"1.1"})");
  auto msg = reply_message(top, "pong").value;
  CHECK(msg.at("type") == "message");
  CHECK(msg.at("channel") == "C1");
  CHECK(msg.at("text") == "pong");
  CHECK_FALSE(msg.contains("thread_ts"));
  // In a thread, the reply stays there; asked for, a thread starts.
  CHECK(reply_message(threaded, "x").value.at("thread_ts") == "1.1");
  CHECK(reply_message(top, "x", reply_in::thread).value.at("thread_ts") ==
        "1.1");
  auto both = reply_message(top, "x", reply_in::thread_and_channel).value;
  CHECK(both.at("reply_broadcast") == true);
  auto call = reply_call(threaded, "x");
  CHECK(call.method == "chat.postMessage");
  CHECK(call.args.at("channel") == "C1");
  CHECK(call.args.at("thread_ts") == "1.1");
  CHECK(call.args.count("reply_broadcast") == 0);
  // Envelopes: the inner event, or the message an interaction came from.
  auto mention = envelope::parse(
      R"({"envelope_id":"E","type":"events_api","payload":{"event":)"
      R"({"type":"app_mention","channel":"C2","ts":"3.3","text":"hi"}}})");
  auto in_thread = reply_call(mention, "yes", reply_in::thread);
  CHECK(in_thread.args.at("channel") == "C2");
  CHECK(in_thread.args.at("thread_ts") == "3.3");
  CHECK(reply_call(mention, "yes").args.count("thread_ts") == 0);
  auto click =
      envelope::parse(R"({"envelope_id":"E","type":"interactive","payload":)"
                      R"({"type":"block_actions","channel":{"id":"C3"},)"
                      R"("message":{"ts":"4.4","thread_ts":"4.0"}}})");
  CHECK(reply_call(click, "ok").args.at("thread_ts") == "4.0");
  CHECK(reply_call(click, "ok").args.at("channel") == "C3");
  // A message not in a thread starts one at its `ts`, else its `event_ts`.
  auto top_click =
      envelope::parse(R"({"envelope_id":"E","type":"interactive","payload":)"
                      R"({"type":"block_actions","channel":{"id":"C3"},)"
                      R"("message":{"event_ts":"5.0","ts":"5.5"}}})");
  CHECK(reply_call(top_click, "ok").args.count("thread_ts") == 0);
  CHECK(reply_call(top_click, "ok", reply_in::thread).args.at("thread_ts") ==
        "5.5");
  // A thread's first message names itself as its thread once it has
  // replies: it is in the channel all the same.
  auto parent_click =
      envelope::parse(R"({"envelope_id":"E","type":"interactive","payload":)"
                      R"({"type":"block_actions","channel":{"id":"C3"},)"
                      R"("message":{"ts":"6.0","thread_ts":"6.0"}}})");
  CHECK(reply_call(parent_click, "ok").args.count("thread_ts") == 0);
  CHECK(reply_call(parent_click, "ok", reply_in::thread).args.at("thread_ts") ==
        "6.0");
  auto event_ts_click =
      envelope::parse(R"({"envelope_id":"E","type":"interactive","payload":)"
                      R"({"type":"block_actions","channel":{"id":"C3"},)"
                      R"("message":{"event_ts":"6.0"}}})");
  CHECK(
      reply_call(event_ts_click, "ok", reply_in::thread).args.at("thread_ts") ==
      "6.0");
  auto command =
      envelope::parse(R"({"envelope_id":"E","type":"slash_commands","payload":)"
                      R"({"command":"/x","channel_id":"C4"}})");
  CHECK(reply_call(command, "ok", reply_in::thread).args.count("thread_ts") ==
        0);
  CHECK(reply_call(command, "ok").args.at("channel") == "C4");
}

TEST_CASE("ephemeral replies, updates, deletions and blocks",
          "[units][reply]") {
  auto threaded =
      event::parse(R"({"type":"message","channel":"C1","user":"U1","ts":"1.5",)"
                   R"("thread_ts":"1.0"})");
  auto note = reply_ephemeral(threaded, "only you");
  REQUIRE(note);
  CHECK(note->method == "chat.postEphemeral");
  CHECK(note->args == api_args{{"channel", "C1"},
                               {"user", "U1"},
                               {"text", "only you"},
                               {"thread_ts", "1.0"}});
  // A click: the clicking user, the channel of the message it was on.
  auto click =
      envelope::parse(R"({"envelope_id":"E","type":"interactive","payload":)"
                      R"({"type":"block_actions","user":{"id":"U2"},)"
                      R"("container":{"channel_id":"C2"}}})");
  auto clicked = reply_ephemeral(click, "noted");
  REQUIRE(clicked);
  CHECK(clicked->args.at("user") == "U2");
  CHECK(clicked->args.at("channel") == "C2");
  CHECK(clicked->args.count("thread_ts") == 0);
  // A bot's message names no user; a user-less event no channel either.
  auto bot = event::parse(R"({"type":"message","channel":"C1","bot_id":"B"})");
  auto no_user = reply_ephemeral(bot, "x");
  REQUIRE_FALSE(no_user);
  CHECK(no_user.error().code() == static_cast<uint8_t>(errc::invalid_argument));
  CHECK_FALSE(reply_ephemeral(event::parse(R"({"user":"U1"})"), "x"));
  // Slack's answer to a post names the message to update or delete.
  json_object answer{{{"ok", true}, {"channel", "C3"}, {"ts", "3.0"}}};
  auto update = update_call(answer, "done");
  REQUIRE(update);
  CHECK(update->method == "chat.update");
  // Text alone: the blocks go (Slack would keep them).
  CHECK(update->args == api_args{{"channel", "C3"},
                                 {"ts", "3.0"},
                                 {"text", "done"},
                                 {"blocks", "[]"}});
  CHECK(with_blocks(*update, {{{"type", "divider"}}})
            .json.value.at("blocks")
            .as_array()
            .size() == 1);
  auto gone = delete_call(answer);
  REQUIRE(gone);
  CHECK(gone->method == "chat.delete");
  CHECK(gone->args == api_args{{"channel", "C3"}, {"ts", "3.0"}});
  // An ephemeral post's answer (message_ts only) names no message to change.
  json_object ephemeral_answer{{{"ok", true}, {"message_ts", "4.0"}}};
  auto refused = update_call(ephemeral_answer, "x");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == static_cast<uint8_t>(errc::invalid_argument));
  CHECK_FALSE(delete_call(json_object{}));
  // Blocks: the arguments move into a JSON body, flags as booleans.
  auto blocks = boost::json::array{{{"type", "divider"}}};
  auto with = with_blocks(
      reply_call(threaded, "fallback", reply_in::thread_and_channel), blocks);
  CHECK(with.method == "chat.postMessage");
  CHECK(with.args.empty());
  CHECK(with.json.value.at("channel") == "C1");
  CHECK(with.json.value.at("text") == "fallback");
  CHECK(with.json.value.at("thread_ts") == "1.0");
  CHECK(with.json.value.at("reply_broadcast") == true);
  CHECK(with.json.value.at("blocks") == blocks);
  // Only Slack's flags become booleans, only its nested arguments JSON.
  api_call odd;
  odd.method = "chat.postMessage";
  odd.args = {{"text", "true"},
              {"unfurl_links", "false"},
              {"metadata", R"({"event_type":"deployed"})"},
              {"attachments", "not json"}};
  auto mixed = with_blocks(odd, blocks);
  CHECK(mixed.json.value.at("text") == "true");
  CHECK(mixed.json.value.at("unfurl_links") == false);
  CHECK(mixed.json.value.at("metadata").at("event_type") == "deployed");
  CHECK(mixed.json.value.at("attachments") == "not json");
  // A number JSON cannot carry back (1e999 would serialize as Infinity)
  // leaves the argument a string.
  odd.args = {{"metadata", R"({"n":1e999})"}};
  CHECK(with_blocks(odd, blocks).json.value.at("metadata") == R"({"n":1e999})");
  // A call with a JSON body already keeps it.
  api_call open;
  open.method = "views.open";
  open.json.value["trigger_id"] = "tr1";
  auto opened = with_blocks(open, blocks);
  CHECK(opened.json.value.at("trigger_id") == "tr1");
  CHECK(opened.json.value.at("blocks") == blocks);
  webhook_post post;
  post.url = "https://hooks/1";
  post.message.value["text"] = "t";
  auto hooked = with_blocks(post, blocks);
  CHECK(hooked.url == "https://hooks/1");
  CHECK(hooked.message.value.at("text") == "t");
  CHECK(hooked.message.value.at("blocks") == blocks);
}

TEST_CASE("replies to edits and deletions and to reactions go to their message",
          "[units][reply]") {
  // The event's own ts is the edit's; the message is in a thread.
  auto edit = event::parse(
      R"({"type":"message","subtype":"message_changed","channel":"C1",)"
      R"("message":{"ts":"1.5","thread_ts":"1.0","text":"new"},)"
      R"("ts":"2.0","event_ts":"2.0"})");
  CHECK(reply_call(edit, "x").args.at("thread_ts") == "1.0");
  auto top_edit = event::parse(
      R"({"type":"message","subtype":"message_changed","channel":"C1",)"
      R"("message":{"ts":"1.5"},"ts":"2.0"})");
  CHECK(reply_call(top_edit, "x").args.count("thread_ts") == 0);
  CHECK(reply_call(top_edit, "x", reply_in::thread).args.at("thread_ts") ==
        "1.5");
  // An edit of a thread's first message (it names itself as its thread),
  // and a new reply under it: the message is in the channel.
  for (auto subtype : {"message_changed", "message_replied"}) {
    INFO(subtype);
    auto parent = event::parse(
        std::string{R"({"type":"message","subtype":")"} + subtype +
        R"(","channel":"C1","message":{"ts":"1.0","thread_ts":"1.0",)"
        R"("reply_count":2},"ts":"3.0","event_ts":"3.0"})");
    CHECK(reply_call(parent, "x").args.count("thread_ts") == 0);
    CHECK(reply_call(parent, "x", reply_in::thread).args.at("thread_ts") ==
          "1.0");
  }
  auto deletion = event::parse(
      R"({"type":"message","subtype":"message_deleted","channel":"C1",)"
      R"("previous_message":{"ts":"1.6","thread_ts":"1.0"},"ts":"2.1"})");
  CHECK(reply_message(deletion, "x").value.at("thread_ts") == "1.0");
  // A reaction: under the message it is on, never under its event_ts.
  auto reaction =
      event::parse(R"({"type":"reaction_added","reaction":"eyes",)"
                   R"("item":{"type":"message","channel":"C2","ts":"3.3"},)"
                   R"("event_ts":"9.9"})");
  auto call = reply_call(reaction, "thanks", reply_in::thread);
  CHECK(call.args.at("channel") == "C2");
  CHECK(call.args.at("thread_ts") == "3.3");
  CHECK(reply_call(reaction, "x").args.count("thread_ts") == 0);
  auto wrapped = envelope::parse(
      R"({"envelope_id":"E","type":"events_api","payload":{"event":)"
      R"({"type":"reaction_added","item":{"type":"message","channel":"C2",)"
      R"("ts":"3.3"},"event_ts":"9.9"}}})");
  CHECK(reply_call(wrapped, "x", reply_in::thread).args.at("thread_ts") ==
        "3.3");
  // An event that names no message starts no thread.
  auto join = event::parse(R"({"type":"member_joined_channel","channel":"C3",)"
                           R"("user":"U1","event_ts":"7.7"})");
  CHECK(reply_call(join, "welcome", reply_in::thread).args.count("thread_ts") ==
        0);
  // A pin or a star carries its message; a message about an item is the
  // message.
  auto pin = event::parse(
      R"({"type":"pin_added","channel_id":"C1","item":{"type":"message",)"
      R"("channel":"C1","message":{"ts":"3.3","thread_ts":"3.0"}},)"
      R"("event_ts":"9"})");
  CHECK(reply_call(pin, "x", reply_in::thread).args.at("thread_ts") == "3.0");
  auto pinned = event::parse(
      R"({"type":"message","subtype":"pinned_item","channel":"C1",)"
      R"("ts":"5.5","item":{}})");
  CHECK(reply_call(pinned, "x", reply_in::thread).args.at("thread_ts") ==
        "5.5");
  auto file_reaction =
      event::parse(R"({"type":"reaction_added","item":{"type":"file",)"
                   R"("file":"F1"},"event_ts":"9.9"})");
  CHECK(reply_message(file_reaction, "x", reply_in::thread)
            .value.count("thread_ts") == 0);
}

TEST_CASE("respond() posts to a command's or interaction's response_url",
          "[units][reply][webhook]") {
  auto command = envelope::parse(
      R"({"envelope_id":"E","type":"slash_commands","payload":)"
      R"({"command":"/x","channel_id":"C4",)"
      R"("response_url":"https://hooks.slack.com/commands/T/1/a"}})");
  auto post = respond(command, "done");
  REQUIRE(post);
  CHECK(post->url == "https://hooks.slack.com/commands/T/1/a");
  CHECK(post->message.value.at("text") == "done");
  CHECK(post->message.value.at("response_type") == "ephemeral");
  CHECK(post->retry == api_retry::automatic);
  CHECK(respond(command, "x", respond_as::in_channel)
            ->message.value.at("response_type") == "in_channel");
  auto replaced = respond(command, "x", respond_as::replacement);
  CHECK(replaced->message.value.at("replace_original") == true);
  CHECK_FALSE(replaced->message.value.contains("response_type"));
  // A view submission's first response_url.
  auto submit = envelope::parse(
      R"({"envelope_id":"E","type":"interactive","payload":)"
      R"({"type":"view_submission","response_urls":[{"channel_id":"C1",)"
      R"("response_url":"https://hooks.slack.com/app/T/2/b"}]}})");
  CHECK(respond(submit, "x")->url == "https://hooks.slack.com/app/T/2/b");
  auto mention = envelope::parse(
      R"({"envelope_id":"E","type":"events_api","payload":{"event":)"
      R"({"type":"app_mention","channel":"C2","ts":"3.3"}}})");
  auto none = respond(mention, "x");
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), errc::invalid_argument));
}

TEST_CASE("answers of response URLs and webhooks", "[units][webhook]") {
  using detail::read_webhook_answer;
  CHECK(read_webhook_answer(200, "ok"));
  CHECK(read_webhook_answer(200, R"({"ok":true})"));
  CHECK(read_webhook_answer(204, ""));
  auto code_of_answer = [](unsigned status, std::string_view body) {
    auto res = read_webhook_answer(status, body);
    REQUIRE_FALSE(res);
    return render(res.error());
  };
  // Slack's codes, in text or in JSON, whatever the status.
  CHECK(code_of_answer(404, "used_url\n") == "caf_rtm: slack_error (used_url)");
  CHECK(code_of_answer(400, " no_text\n") == "caf_rtm: slack_error (no_text)");
  CHECK(code_of_answer(200, R"({"ok":false,"error":"invalid_blocks"})") ==
        "caf_rtm: slack_error (invalid_blocks)");
  CHECK(code_of_answer(403, R"({"ok":false,"error":"action_prohibited"})") ==
        "caf_rtm: slack_error (action_prohibited)");
  // An error code without `ok` refuses as well.
  CHECK(code_of_answer(200, R"({"error":"expired_url"})") ==
        "caf_rtm: slack_error (expired_url)");
  CHECK(read_webhook_answer(200, R"({"ok":true,"error":"none"})"));
  // Anything else is the HTTP status.
  auto http_error = [](std::string_view text) {
    return text.rfind("caf_rtm: http_error", 0) == 0;
  };
  CHECK(http_error(code_of_answer(403, "<html>Forbidden</html>")));
  CHECK(http_error(code_of_answer(302, "")));
  CHECK(http_error(code_of_answer(200, R"({"ok":false})")));
  // The status is a uint16_t, as for the Web API's http_error.
  auto forbidden = read_webhook_answer(403, "<html>Forbidden</html>");
  REQUIRE_FALSE(forbidden);
  const auto& ctx = forbidden.error().context();
  REQUIRE_FALSE(ctx.empty());
  REQUIRE(ctx.match_element<uint16_t>(0));
  CHECK(ctx.get_as<uint16_t>(0) == 403);
}

TEST_CASE("envelopes: every indexed field, in any order, odd types absent",
          "[units][envelope]") {
  // events_api, payload before the envelope's own fields, event before its
  // id; the channel of a reaction is its item's, the user an object's id.
  auto a = envelope::parse(
      R"({"payload":{"event":{"item":{"channel":"C2"},"user":{"id":"U1"},)"
      R"("subtype":"bot_message","bot_id":"B1","type":"message","ts":"1.5",)"
      R"("text":"hi \u00fc","thread_ts":"1.0"},)"
      R"("event_id":"Ev1"},"retry_reason":"timeout","retry_attempt":2,)"
      R"("accepts_response_payload":true,"type":"events_api",)"
      R"("envelope_id":"E1"})");
  REQUIRE(a);
  CHECK(a.id() == "E1");
  CHECK(a.type() == "events_api");
  CHECK(a.event_id() == "Ev1");
  CHECK(a.event_type() == "message");
  CHECK(a.event_subtype() == "bot_message");
  CHECK(a.bot_id() == "B1");
  CHECK(a.channel() == "C2");
  CHECK(a.user() == "U1");
  CHECK(a.retry_attempt() == 2);
  CHECK(a.retry_reason() == "timeout");
  CHECK(a.accepts_response_payload());
  CHECK(a.ts() == "1.5");
  CHECK(a.text() == "hi \xc3\xbc");
  CHECK(a.thread_ts() == "1.0");
  // The inner event itself, the same object the payload holds.
  CHECK(&a.event() == &a.payload().at("event").as_object());
  CHECK(a.event().at("bot_id").as_string() == "B1");
  // The event's own channel wins over its item's; no ts: its event_ts.
  auto b = envelope::parse(
      R"({"envelope_id":"E2","payload":{"event":{"channel":"C1",)"
      R"("item":{"channel":"C2"},"type":"reaction_added","event_ts":"2.5"}}})");
  CHECK(b.channel() == "C1");
  CHECK(b.ts() == "2.5");
  // slash_commands: the form post's fields.
  auto c = envelope::parse(
      R"({"envelope_id":"E3","type":"slash_commands","payload":)"
      R"({"user_id":"U3","channel_id":"C3","command":"/deploy"}})");
  CHECK(c.event_type() == "/deploy");
  CHECK(c.channel() == "C3");
  CHECK(c.user() == "U3");
  CHECK(c.event().empty()); // no inner event
  CHECK(c.ts().empty());
  CHECK(c.text().empty()); // the command came without text
  // interactive: the container's channel when there is no channel.
  auto d =
      envelope::parse(R"({"envelope_id":"E4","type":"interactive","payload":)"
                      R"({"user":{"id":"U4"},"container":{"channel_id":"C4"},)"
                      R"("type":"block_actions"}})");
  CHECK(d.event_type() == "block_actions");
  CHECK(d.channel() == "C4");
  CHECK(d.user() == "U4");
  // Fields of the wrong type read as absent.
  auto e = envelope::parse(
      R"({"envelope_id":5,"type":null,"retry_attempt":-1,)"
      R"("accepts_response_payload":"yes","payload":{"event_id":7,)"
      R"("event":{"type":["message"],"channel":3,"bot_id":{}}}})");
  REQUIRE(e);
  CHECK(e.id().empty());
  CHECK(e.type().empty());
  CHECK(e.retry_attempt() == 0);
  CHECK_FALSE(e.accepts_response_payload());
  CHECK(e.event_id().empty());
  CHECK(e.event_type().empty());
  CHECK(e.channel().empty());
  CHECK(e.bot_id().empty());
  // An event that is not an object: the payload reads as an interaction.
  auto f = envelope::parse(
      R"({"envelope_id":"E6","payload":{"event":"x","type":"shortcut"}})");
  CHECK(f.event_type() == "shortcut");
  CHECK(f.event().empty());
  CHECK(envelope{}.event().empty());
  CHECK(envelope{}.ts().empty());
}

TEST_CASE("envelopes: what commands and interactions carry, and their "
          "action_id or callback_id as subtype",
          "[units][envelope]") {
  auto click = envelope::parse(
      R"({"envelope_id":"E1","type":"interactive","payload":)"
      R"({"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},)"
      R"("trigger_id":"tr1","response_url":"https://hooks/1",)"
      R"("view":{"callback_id":"form","private_metadata":"{\"k\":1}"},)"
      R"("actions":[{"action_id":"approve","value":"v1"},)"
      R"({"action_id":"other"}]}})");
  REQUIRE(click);
  CHECK(click.team_id() == "T1");
  CHECK(click.trigger_id() == "tr1");
  CHECK(click.response_url() == "https://hooks/1");
  // The first action; the click was in a modal, whose callback is known too.
  CHECK(click.action_id() == "approve");
  CHECK(click.action().at("value") == "v1");
  CHECK(click.callback_id() == "form");
  CHECK(click.private_metadata() == R"({"k":1})");
  CHECK(click.view().at("callback_id") == "form");
  CHECK(click.event_subtype() == "approve");
  CHECK(matches({"block_actions::approve"}, click));
  CHECK(matches({"block_actions"}, click));
  CHECK_FALSE(matches({"block_actions::other"}, click));
  CHECK_FALSE(matches({"block_actions::form"}, click));
  // A submission: its view's callback; the first of its response_urls.
  auto submit = envelope::parse(
      R"({"envelope_id":"E2","type":"interactive","payload":)"
      R"({"type":"view_submission","team":{"id":"T1"},)"
      R"("response_urls":[{"response_url":"https://hooks/2"},)"
      R"({"response_url":"https://hooks/3"}],)"
      R"("view":{"callback_id":"deploy_form","state":{"values":{}}}}})");
  CHECK(submit.callback_id() == "deploy_form");
  CHECK(submit.action_id().empty());
  CHECK(submit.action().empty());
  CHECK(submit.response_url() == "https://hooks/2");
  CHECK(submit.view().contains("state"));
  CHECK(matches({"view_submission::deploy_form"}, submit));
  CHECK_FALSE(matches({"view_submission::other_form"}, submit));
  // A shortcut's own callback; a suggestion request's own action_id.
  auto shortcut = envelope::parse(
      R"({"envelope_id":"E3","type":"interactive","payload":)"
      R"({"type":"shortcut","callback_id":"new_ticket","trigger_id":"tr3"}})");
  CHECK(shortcut.callback_id() == "new_ticket");
  CHECK(matches({"shortcut::new_ticket"}, shortcut));
  auto suggest = envelope::parse(
      R"({"envelope_id":"E4","type":"interactive","payload":)"
      R"({"type":"block_suggestion","action_id":"pick:user","value":"al"}})");
  CHECK(suggest.action_id() == "pick:user");
  CHECK(matches({"block_suggestion::pick:user"}, suggest));
  // A message action and a closed modal: their callbacks.
  auto action =
      envelope::parse(R"({"envelope_id":"E8","type":"interactive","payload":)"
                      R"({"type":"message_action","callback_id":"file_bug",)"
                      R"("message":{"ts":"1.0"}}})");
  CHECK(matches({"message_action::file_bug"}, action));
  auto closed = envelope::parse(
      R"({"envelope_id":"E9","type":"interactive","payload":)"
      R"({"type":"view_closed","view":{"callback_id":"deploy_form"}}})");
  CHECK(matches({"view_closed::deploy_form"}, closed));
  CHECK_FALSE(matches({"view_submission::deploy_form"}, closed));
  // A legacy attachment button: actions without action_id, the callback.
  auto legacy = envelope::parse(
      R"({"envelope_id":"E10","type":"interactive","payload":)"
      R"({"type":"interactive_message","callback_id":"old_poll",)"
      R"("actions":[{"name":"vote","value":"yes"}]}})");
  CHECK(legacy.action_id().empty());
  CHECK(legacy.action().at("value") == "yes");
  CHECK(legacy.event_subtype() == "old_poll");
  // The workspace: a whole-organisation install sends `team: null`, then the
  // user's; a modal in a shared channel names the installing workspace.
  auto org =
      envelope::parse(R"({"envelope_id":"E11","type":"interactive","payload":)"
                      R"({"type":"block_actions","team":null,)"
                      R"("user":{"id":"U1","team_id":"T5"}}})");
  CHECK(org.team_id() == "T5");
  auto shared = envelope::parse(
      R"({"envelope_id":"E12","type":"interactive","payload":)"
      R"({"type":"view_submission","team":{"id":"T6"},)"
      R"("view":{"team_id":"T6","app_installed_team_id":"T7"}}})");
  CHECK(shared.team_id() == "T7");
  auto only_view = envelope::parse(
      R"({"envelope_id":"E13","type":"interactive","payload":)"
      R"({"type":"view_closed","team":null,"view":{"team_id":"T8"}}})");
  CHECK(only_view.team_id() == "T8");
  // An event in a channel shared with another organisation: the installing
  // workspace is the authorization's.
  auto connect = envelope::parse(
      R"({"envelope_id":"E14","type":"events_api","payload":)"
      R"({"team_id":"T_OTHER","authorizations":[{"team_id":"T_MINE"}],)"
      R"("event":{"type":"message"}}})");
  CHECK(connect.team_id() == "T_MINE");
  // A slash command: its text, team, trigger and response_url.
  auto command = envelope::parse(
      R"({"envelope_id":"E5","type":"slash_commands","payload":)"
      R"({"command":"/deploy","text":"v1.2 now","team_id":"T2",)"
      R"("trigger_id":"tr5","response_url":"https://hooks/5"}})");
  CHECK(command.text() == "v1.2 now");
  CHECK(command.team_id() == "T2");
  CHECK(command.trigger_id() == "tr5");
  CHECK(command.response_url() == "https://hooks/5");
  CHECK(command.event_subtype().empty());
  // An event: its team; what only commands and interactions carry is empty,
  // even if the event has fields of those names.
  auto mention = envelope::parse(
      R"({"envelope_id":"E6","type":"events_api","payload":{"team_id":"T3",)"
      R"("event":{"type":"app_mention","text":"hi"},)"
      R"("response_url":"x","trigger_id":"y"}})");
  CHECK(mention.team_id() == "T3");
  CHECK(mention.trigger_id().empty());
  CHECK(mention.response_url().empty());
  CHECK(mention.text() == "hi");
  // Fields of the wrong type read as absent.
  auto odd = envelope::parse(
      R"({"envelope_id":"E7","type":"interactive","payload":)"
      R"({"type":"block_actions","team":"T9","trigger_id":1,"actions":{},)"
      R"("view":[],"response_urls":[1],"callback_id":{}}})");
  REQUIRE(odd);
  CHECK(odd.team_id() == "T9");
  CHECK(odd.trigger_id().empty());
  CHECK(odd.action().empty());
  CHECK(odd.view().empty());
  CHECK(odd.response_url().empty());
  CHECK(odd.callback_id().empty());
  CHECK(odd.event_subtype().empty());
  CHECK(envelope{}.action_id().empty());
  CHECK(envelope{}.view().empty());
}

TEST_CASE("events: field precedence and odd field types", "[units][event]") {
  // ts wins over event_ts, channel over item.channel, whatever the order.
  auto a = event::parse(
      R"({"event_ts":"2.0","item":{"channel":"C2"},"ts":"1.0","channel":"C1"})");
  CHECK(a.ts() == "1.0");
  CHECK(a.channel() == "C1");
  CHECK(a.text().empty());
  CHECK(a.thread_ts().empty());
  // An empty ts falls back to event_ts; an empty channel to item.channel.
  auto b = event::parse(
      R"({"ts":"","event_ts":"2.0","channel":"","item":{"channel":"C2"}})");
  CHECK(b.ts() == "2.0");
  CHECK(b.channel() == "C2");
  // The channel: `channel` (a string, or an object's id), else `channel_id`
  // (events about files, pins and calls), else `item.channel`.
  CHECK(event::parse(R"({"item":{"channel":"C2"},"channel_id":"C3",)"
                     R"("channel":"C1"})")
            .channel() == "C1");
  CHECK(
      event::parse(R"({"channel":{"id":"C4"},"channel_id":"C3"})").channel() ==
      "C4");
  CHECK(event::parse(R"({"item":{"channel":"C2"},"channel_id":"C3"})")
            .channel() == "C3");
  CHECK(
      event::parse(R"({"channel_id":"","item":{"channel":"C2"}})").channel() ==
      "C2");
  // The same inside an envelope.
  CHECK(envelope::parse(R"({"envelope_id":"E1","type":"events_api",)"
                        R"("payload":{"event":{"item":{"channel":"C2"},)"
                        R"("channel_id":"C3"}}})")
            .channel() == "C3");
  // Fields of the wrong type read as absent.
  auto c = event::parse(
      R"({"type":1,"channel":["C1"],"user":{"name":"x"},"bot_id":null,"text":2,)"
      R"("ok":"yes","reply_to":"3"})");
  REQUIRE(c);
  CHECK(c.type().empty());
  CHECK(c.channel().empty());
  CHECK(c.user().empty());
  CHECK(c.bot_id().empty());
  CHECK_FALSE(c.ok());
  CHECK(c.text().empty());
  CHECK_FALSE(c.reply_to());
  // reply_to beyond int64 is not an id; a nested "type" is not the type.
  auto d = event::parse(
      R"({"reply_to":18446744073709551615,"message":{"type":"inner"}})");
  CHECK_FALSE(d.reply_to());
  CHECK(d.type().empty());
  auto e = event::parse(R"({"reply_to":9223372036854775807})");
  REQUIRE(e.reply_to());
  CHECK(*e.reply_to() == INT64_MAX);
}

TEST_CASE("events: malformed and non-object frames", "[units][event]") {
  std::string why;
  CHECK_FALSE(event::parse("{\"type\":", 0, &why));
  CHECK(why.find("malformed") != std::string::npos);
  CHECK_FALSE(event::parse("[1,2]", 0, &why));
  CHECK(why.find("not a JSON object") != std::string::npos);
  CHECK_FALSE(event::parse("", 0, &why));
  std::string deep(1000, '[');
  CHECK_FALSE(event::parse(deep, 0, &why)); // depth limit, no stack overflow
  auto ev = event::parse(R"({"type":"message","text":"a\u00fc"})");
  REQUIRE(ev);
  auto round = boost::json::parse(ev.to_json());
  CHECK(round.as_object().at("text").as_string() == "aü");
}

TEST_CASE("frames with numbers that are not finite doubles are malformed",
          "[units][event]") {
  // Boost.JSON reads these as inf or NaN, which to_json() would write as
  // Infinity or NaN: not JSON.
  std::string digits(400, '9');
  for (const auto& number :
       std::vector<std::string>{"1e999", "-1e999", "0e999", "1E400", digits}) {
    CAPTURE(number);
    auto frame = R"({"type":"message","channel":"C1","score":)" + number + "}";
    std::string why;
    CHECK_FALSE(event::parse(frame, 0, &why));
    CHECK(why == "malformed JSON: a number out of range");
    frame_parser parser;
    CHECK_FALSE(parser.parse_event(frame, 1));
    CHECK(parser.last_failure() == frame_parser::failure::malformed);
    auto env = R"({"envelope_id":"e9","type":"events_api","payload":)"
               R"({"event":{"type":"message","n":[)" +
               number + "]}}}";
    CHECK_FALSE(parser.parse_envelope(env, 1));
    CHECK(parser.last_failure() == frame_parser::failure::malformed);
    CHECK_FALSE(envelope::parse(env, 0, &why));
    // Text that reaches users by other ways gets the same check.
    CHECK(json_object_from(frame).value.empty());
    boost::json::error_code ec;
    parse_json(frame, ec);
    CHECK(ec == boost::json::error::exponent_overflow);
  }
  // Large and small finite numbers, and -0, still parse and round-trip; the
  // parser goes on after a refused frame.
  frame_parser parser;
  auto ev = parser.parse_event(
      R"({"type":"x","big":1e308,"small":4.9e-324,"zero":-0.0,"tiny":1e-999})",
      1);
  REQUIRE(ev);
  CHECK(parser.last_failure() == frame_parser::failure::none);
  auto again = event::parse(ev.to_json());
  REQUIRE(again);
  CHECK(again.json() == ev.json());
  CHECK(ev.json().at("big").as_double() == 1e308);
  CHECK(ev.json().at("tiny").as_double() == 0.0);
}

TEST_CASE("copies of an event's JSON are the copier's own", "[units][event]") {
  // Boost.JSON gives a copy its source's storage: a copy of an event's JSON
  // must not live in the event's arena, which the next frame reuses once
  // the event is gone and which threads sharing the event must not fill.
  frame_parser parser;
  auto frame = [](int n) {
    return R"({"type":"message","channel":"C1","text":"a text too long )"
           R"(to fit in place, number )" +
           std::to_string(n) + R"(","blocks":[{"type":"section","n":)" +
           std::to_string(n) + "}]}";
  };
  auto ev = parser.parse_event(frame(1), 1);
  REQUIRE(ev);
  boost::json::value text = ev.json().at("text");
  boost::json::object whole = ev.json();
  json_object message{ev.json()};
  auto expected = boost::json::serialize(whole);
  ev = event{};
  // The pooled block of the first event carries the next ones.
  for (int i = 2; i < 10; ++i)
    REQUIRE(parser.parse_event(frame(i), 1));
  CHECK(text.as_string() == "a text too long to fit in place, number 1");
  CHECK(boost::json::serialize(whole) == expected);
  CHECK(to_json(message) == expected);
  // Threads that share an event copy from it at once.
  auto shared = parser.parse_event(frame(42), 1);
  REQUIRE(shared);
  auto copies = [&shared] {
    size_t good = 0;
    for (int i = 0; i < 2000; ++i) {
      boost::json::object x = shared.json();
      x["text"] = "changed " + std::to_string(i);
      good += x.at("blocks").at(0).at("n") == 42 ? 1 : 0;
    }
    return good;
  };
  auto other = std::async(std::launch::async, copies);
  CHECK(copies() == 2000);
  CHECK(other.get() == 2000);
  CHECK(shared.json().at("text") ==
        "a text too long to fit in place, number 42");
}

TEST_CASE("a frame parser sizes its arenas after the frames it saw",
          "[units][event]") {
  frame_parser parser;
  // Small RTM events fit the smallest arenas.
  auto event_text =
      R"({"type":"message","channel":"C0123456789","user":"U0123456789",)"
      R"("text":"hello world","ts":"1700000000.000100","team":"T0TEAM"})";
  auto before = arena_overflow::count();
  for (int i = 0; i < 100; ++i)
    REQUIRE(parser.parse_event(event_text, 1));
  CHECK(arena_overflow::count() == before);
  CHECK(parser.arena_factor() == 2);
  // An envelope whose DOM outgrows the smallest arena (many small members:
  // each takes a DOM entry several times its text): the first few spill to
  // the heap, then the arenas grow and none does.
  std::string reactions;
  for (int i = 0; i < 6; ++i)
    reactions += (i == 0 ? "" : ",") + std::string{R"({"a":1,"b":2,"c":3})"};
  std::string envelope_text =
      R"({"envelope_id":"e-123456-1700000000000000000","type":"events_api",)"
      R"("accepts_response_payload":false,"retry_attempt":0,)"
      R"("retry_reason":"","payload":{"token":"x","team_id":"T0TEAM",)"
      R"("api_app_id":"A0APP","event":{"type":"message","reactions":[)" +
      reactions +
      R"(]},"type":"event_callback","event_id":"Ev123456",)"
      R"("event_time":1700000000}})";
  for (int i = 0; i < 10; ++i)
    REQUIRE(parser.parse_envelope(envelope_text, 1));
  auto grown = parser.arena_factor();
  CHECK(grown > 2);
  before = arena_overflow::count();
  std::vector<envelope> kept;
  for (int i = 0; i < 100; ++i) {
    kept.push_back(parser.parse_envelope(envelope_text, 1));
    REQUIRE(kept.back());
    CHECK(kept.back().id() == "e-123456-1700000000000000000");
  }
  CHECK(arena_overflow::count() == before);
  // A long run of small events shrinks the arenas again, a step at a time.
  for (int i = 0; i < 1024; ++i)
    REQUIRE(parser.parse_event(event_text, 1));
  CHECK(parser.arena_factor() == grown - 1);
  // A DOM far beyond any arena still parses (the rest is on the heap).
  std::string big = R"({"type":"x","a":[)";
  for (int i = 0; i < 1000; ++i)
    big += (i == 0 ? "" : ",") + std::string{R"({"k":1})"};
  big += "]}";
  before = arena_overflow::count();
  auto ev = parser.parse_event(big, 1);
  REQUIRE(ev);
  CHECK(ev.json().at("a").as_array().size() == 1000);
  CHECK(arena_overflow::count() > before);
}

TEST_CASE("overlap filter drops copies from the other session only",
          "[units][overlap]") {
  overlap_filter f{100ms};
  auto t0 = std::chrono::steady_clock::now();
  auto a1 = event::parse(R"({"type":"message","ts":"1"})", 1);
  auto a1_again = event::parse(R"({"type":"message","ts":"1"})", 1);
  auto b1 = event::parse(R"({"type":"message","ts":"1"})", 2);
  auto b2 = event::parse(R"({"type":"message","ts":"2"})", 2);
  CHECK_FALSE(f.duplicate(a1, t0)); // not active yet
  f.begin(1);
  CHECK_FALSE(f.duplicate(a1, t0));
  CHECK_FALSE(f.duplicate(a1_again, t0)); // same session: not a copy
  CHECK(f.duplicate(b1, t0));
  CHECK_FALSE(f.duplicate(b2, t0));
  f.session_ended(1, t0);
  CHECK(f.duplicate(b1, t0 + 50ms));
  CHECK_FALSE(f.duplicate(b1, t0 + 150ms)); // grace over
  CHECK_FALSE(f.active());
}

TEST_CASE("overlap filter: a later overlap starts with nothing seen",
          "[units][overlap]") {
  // Events without a ts (presence changes, typing) repeat byte for byte: one
  // seen in an earlier overlap must not make both copies of it in the next
  // one look like duplicates, however long no event came in between.
  overlap_filter f{100ms};
  auto t0 = std::chrono::steady_clock::now();
  auto text = std::string{R"({"type":"presence_change","user":"U1"})"};
  f.begin(1);
  CHECK_FALSE(f.duplicate(event::parse(text, 1), t0));
  f.session_ended(1, t0);
  f.begin(2);
  CHECK_FALSE(f.duplicate(event::parse(text, 2), t0 + 1h));
  CHECK(f.duplicate(event::parse(text, 3), t0 + 1h)); // a copy in this one
}

TEST_CASE("errors: what Slack says beyond the code of a refusal",
          "[units][errc]") {
  namespace json = boost::json;
  // Nothing more: an empty detail, rendered as the code alone.
  json::object plain{{"ok", false}, {"error", "channel_not_found"}};
  auto err = detail::slack_refusal(plain, "channel_not_found");
  CHECK(slack_error_code(err) == "channel_not_found");
  CHECK(slack_error_detail(err).empty());
  CHECK(render(err) == "caf_rtm: slack_error (channel_not_found)");
  // Messages and scopes, joined; control characters escaped.
  json::object more{{"ok", false},
                    {"error", "missing_scope"},
                    {"needed", "chat:write"},
                    {"provided", "channels:read"},
                    {"response_metadata",
                     json::object{{"messages", json::array{"bad\x1b[2Jone"}}}}};
  err = detail::slack_refusal(more, "missing_scope");
  CHECK(slack_error_detail(err) ==
        "bad\\x1b[2Jone; needed: chat:write; provided: channels:read");
  CHECK(render(err) == "caf_rtm: slack_error (missing_scope, "
                       "bad\\x1b[2Jone; needed: chat:write; provided: "
                       "channels:read)");
  // At most 2 KB, cut where a character starts.
  std::string long_text;
  for (int i = 0; i < 1500; ++i)
    long_text += "\xc3\xa9"; // é
  json::object huge{{"response_metadata",
                     json::object{{"messages", json::array{long_text}}}}};
  auto detail_text = slack_error_detail(detail::slack_refusal(huge, "x"));
  CHECK(detail_text.size() <= 2048);
  REQUIRE(detail_text.size() > 3);
  CHECK(detail_text.substr(detail_text.size() - 3) == "...");
  auto body = detail_text.substr(0, detail_text.size() - 3);
  CHECK(body.size() % 2 == 0); // whole characters only
  CHECK(body == long_text.substr(0, body.size()));
  // Other errors have no detail; an empty string elsewhere still shows.
  CHECK(slack_error_detail(make_error(errc::timeout, "x", "y")).empty());
  CHECK(render(make_error(errc::send_rejected, std::string{}, "m")) ==
        "caf_rtm: send_rejected (, m)");
}

TEST_CASE("errors: classification and rendering", "[units][errc]") {
  auto fatal = make_error(errc::slack_error, std::string{"invalid_auth"});
  CHECK(is_fatal(fatal));
  CHECK(slack_error_code(fatal) == "invalid_auth");
  CHECK(render(fatal) == "caf_rtm: slack_error (invalid_auth)");
  CHECK_FALSE(
      is_fatal(make_error(errc::slack_error, std::string{"ratelimited"})));
  CHECK(is_transient_slack_error("migration_in_progress"));
  CHECK_FALSE(is_fatal(make_error(errc::connect_failed, std::string{"x"})));
  CHECK(is_fatal(make_error(errc::tls_error,
                            std::string{"certificate verify failed: x"})));
  CHECK_FALSE(is_fatal(
      make_error(errc::tls_error, std::string{"handshake: short read"})));
  // The peer's alert names a certificate; the client's check did not fail.
  CHECK_FALSE(is_fatal(make_error(
      errc::tls_error,
      std::string{
          "TLS handshake: sslv3 alert bad certificate (SSL routines)"})));
  CHECK(is_fatal(make_error(
      errc::tls_error,
      std::string{"cannot check the certificate for host example.com"})));
  auto closed =
      make_error(errc::connection_closed, uint16_t{4000}, std::string{"bye"});
  CHECK(close_code(closed) == 4000);
  CHECK(close_code(fatal) == 0);
  CHECK(render(closed) == "caf_rtm: connection_closed (4000, bye)");
  CHECK(is(closed, errc::connection_closed));
  CHECK_FALSE(is(caf::error{}, errc::connection_closed));
  // An error's subject, whatever its code; "" where there is no string.
  CHECK(context_string(closed, 1) == "bye");
  CHECK(context_string(closed).empty());
  CHECK(context_string(closed, 2).empty());
  CHECK(context_string(make_error(errc::no_response, std::string{"env-1"})) ==
        "env-1");
  CHECK(context_string(make_error(errc::timeout)).empty());
  CHECK(context_string(caf::error{}).empty());
  CHECK(context_string(
            caf::make_error(caf::sec::runtime_error, std::string{"not ours"}))
            .empty());
}

TEST_CASE("ping payloads", "[units][ping]") {
  uint64_t session = 0;
  uint64_t n = 0;
  REQUIRE(parse_ping_payload(ping_payload(3, 17), session, n));
  CHECK(session == 3);
  CHECK(n == 17);
  CHECK_FALSE(parse_ping_payload("3:17", session, n));
  CHECK_FALSE(parse_ping_payload("caf-rtm:3:", session, n));
  CHECK_FALSE(parse_ping_payload("caf-rtm:x:1", session, n));
}

TEST_CASE("config validation", "[units][config]") {
  client_config cfg;
  CHECK(cfg.validate()); // no token
  cfg.token = "xoxb-1";
  CHECK_FALSE(cfg.validate());
  cfg.base_url = "ftp://x/";
  CHECK(is(cfg.validate(), errc::invalid_url));
  // Method names are appended to the base URL: nothing may follow its path,
  // and user info would be dropped.
  for (auto bad : {"https://slack.com/api/?tenant=x", "https://slack.com/api/#",
                   "https://user:secret@slack.com/api/"}) {
    cfg.base_url = bad;
    auto err = cfg.validate();
    CHECK(is(err, errc::invalid_url));
    CHECK(render(err).find("secret") == std::string::npos);
  }
  cfg.base_url = "http://127.0.0.1:1/api/";
  // Frame sizes travel as 32 bits: a limit beyond 1 GiB is refused.
  cfg.max_message_size = (size_t{1} << 32) + 1;
  CHECK(is(cfg.validate(), errc::invalid_config));
  cfg.max_message_size = size_t{1} << 30;
  CHECK_FALSE(cfg.validate());
  cfg.max_message_size = client_config{}.max_message_size;
  cfg.ping_interval = caf::timespan{0};
  CHECK(is(cfg.validate(), errc::invalid_config));
  cfg.ping_interval = 5s;
  CHECK(cfg.effective_pong_timeout() == caf::timespan{5s});
  cfg.pong_timeout = 2s;
  CHECK(cfg.effective_pong_timeout() == caf::timespan{2s});
  cfg.api_keep_alive = caf::timespan{0}; // off
  CHECK_FALSE(cfg.validate());
  cfg.api_keep_alive = caf::timespan{-1};
  CHECK(is(cfg.validate(), errc::invalid_config));
}

TEST_CASE("config validation: retry delays and send_rate in range",
          "[units][config]") {
  client_config cfg;
  cfg.token = "xoxb-1";
  REQUIRE_FALSE(cfg.validate());
  auto refused = [](const client_config& x) {
    return is(x.validate(), errc::invalid_config);
  };
  SECTION("reconnect delays: positive, at most a day") {
    cfg.reconnect = retry_policy{1s, 24h, 0};
    CHECK_FALSE(cfg.validate());
    cfg.reconnect = retry_policy{1s, 25h, 0};
    CHECK(refused(cfg));
    cfg.reconnect = retry_policy{1392000h, 2544000h, 0};
    CHECK(refused(cfg));
    cfg.reconnect = retry_policy{caf::timespan{0}, 1s, 0};
    CHECK(refused(cfg));
    cfg.reconnect = retry_policy{caf::timespan{-1}, 1s, 0};
    CHECK(refused(cfg));
    cfg.reconnect = retry_policy{2s, 1s, 0};
    CHECK(refused(cfg));
  }
  SECTION("Web API retry delays: positive, at most an hour") {
    cfg.api_retry = retry_policy{1s, 1h, 4};
    CHECK_FALSE(cfg.validate());
    cfg.api_retry = retry_policy{1s, 2h, 4};
    CHECK(refused(cfg));
    cfg.api_retry = retry_policy{caf::timespan{0}, 1s, 4};
    CHECK(refused(cfg));
  }
  SECTION("send_rate: 0.01 to 1e6 per second") {
    for (double ok : {0.01, 1.0, 1e6}) {
      cfg.send_rate = ok;
      CHECK_FALSE(cfg.validate());
    }
    for (double bad : {1e-11, 0.0099, 0.0, -1.0, 1.1e6,
                       std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
      CAPTURE(bad);
      cfg.send_rate = bad;
      CHECK(refused(cfg));
    }
    cfg.send_rate = 1.0;
    cfg.send_burst = 0;
    CHECK(refused(cfg));
  }
  SECTION("timeouts and intervals: 1 ms to a day") {
    cfg.ack_timeout = 24h;
    cfg.ping_interval = 24h;
    CHECK_FALSE(cfg.validate());
    cfg.ack_timeout = caf::timespan::max(); // deadlines would overflow
    CHECK(refused(cfg));
    cfg.ack_timeout = 10s;
    cfg.healthy_session = 25h;
    CHECK(refused(cfg));
    cfg.healthy_session = 0s;
    cfg.ping_interval = 1ms;
    cfg.hello_timeout = 1ms;
    CHECK_FALSE(cfg.validate());
    // A unit off: every session would fail its first check.
    cfg.hello_timeout = 999us;
    CHECK(refused(cfg));
    cfg.hello_timeout = 1s;
    // Progress comes every quarter of it, on a clock of kernel ticks.
    cfg.listener_stall_timeout = 99ms;
    CHECK(refused(cfg));
    cfg.listener_stall_timeout = 100ms;
    CHECK_FALSE(cfg.validate());
    cfg.ping_interval = 1ns;
    CHECK(refused(cfg));
    cfg.ping_interval = 1s;
    cfg.pong_timeout = 1ns;
    CHECK(refused(cfg));
    cfg.pong_timeout = 0s; // the ping interval
    CHECK_FALSE(cfg.validate());
  }
  SECTION("max_send_size: at least 1024") {
    cfg.max_send_size = 1024;
    CHECK_FALSE(cfg.validate());
    cfg.max_send_size = 0;
    CHECK(refused(cfg));
  }
  SECTION("listener actors and I/O threads: bounded") {
    cfg.concurrency = 1024;
    cfg.io_threads = 256;
    CHECK_FALSE(cfg.validate());
    cfg.concurrency = 1025;
    CHECK(refused(cfg));
    cfg.concurrency = 10;
    cfg.io_threads = 257;
    CHECK(refused(cfg));
  }
}

namespace {

struct options_config : caf::actor_system_config {
  options_config() {
    configure(*this, custom_options_);
  }
};

} // namespace

TEST_CASE("options come from CAF's config (command line)", "[units][config]") {
  options_config cfg;
  std::vector<std::string> args{
      "--caf-rtm.token=xoxb-cli",   "--caf-rtm.ping-interval=250ms",
      "--caf-rtm.rtm-pings",        "--caf-rtm.concurrency=3",
      "--caf-rtm.send-rate=2.5",    "--caf-rtm.reconnect-max-attempts=7",
      "--caf-rtm.api-keep-alive=5s"};
  auto err = cfg.parse(args);
  REQUIRE_FALSE(err);
  auto x = client_config::from(cfg);
  CHECK(x.token == "xoxb-cli");
  CHECK(x.ping_interval == caf::timespan{250ms});
  CHECK(x.pings == ping_mode::rtm);
  CHECK(x.auto_reconnect); // untouched default
  CHECK(x.concurrency == 3);
  CHECK(x.send_rate == Approx(2.5));
  CHECK(x.reconnect.max_attempts == 7);
  CHECK(x.api_keep_alive == caf::timespan{5s});
  CHECK(x.base_url == "https://slack.com/api/"); // untouched default
}

TEST_CASE("absurd delays and rates from a config file are refused",
          "[units][config]") {
  // The inputs the fuzzer found (tests/fuzz/corpus/fuzz_config).
  for (auto ini : {"[caf-rtm]\ntoken=\"xoxb-1-2-3\"\n"
                   "reconnect-initial-delay=1392000h\n"
                   "reconnect-max-delay=2544000h\n",
                   "[caf-rtm]\ntoken=\"xoxb-1-2-3\"\nsend-rate=1e-11\n"}) {
    CAPTURE(ini);
    options_config cfg;
    std::istringstream in{ini};
    REQUIRE_FALSE(cfg.parse(caf::actor_system_config::string_list{}, in));
    auto x = client_config::from(cfg);
    CHECK(x.token == "xoxb-1-2-3");
    CHECK(is(x.validate(), errc::invalid_config));
  }
}

TEST_CASE("options come from a CAF config file", "[units][config]") {
  options_config cfg;
  auto path = std::string{"caf-rtm-units-test.conf"};
  {
    std::ofstream out{path};
    out << "caf-rtm {\n  auto-reconnect = false\n  base-url = \"http://x/\"\n"
        << "  ack-timeout = 3s\n}\n";
  }
  auto err = cfg.parse(std::vector<std::string>{"--config-file=" + path});
  std::remove(path.c_str());
  REQUIRE_FALSE(err);
  auto x = client_config::from(cfg);
  CHECK_FALSE(x.auto_reconnect);
  CHECK(x.base_url == "http://x/");
  CHECK(x.ack_timeout == caf::timespan{3s});
}

namespace {

using bytes = std::vector<char>;

template <class T>
bytes serialize(caf::actor_system& sys, const T& x) {
  bytes buf;
  caf::binary_serializer sink{sys, buf};
  auto copy = x;
  REQUIRE_FALSE(sink(copy));
  return buf;
}

template <class T>
T deserialize(caf::actor_system& sys, const bytes& buf) {
  T result;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(result));
  return result;
}

template <class T>
struct tag {};

// A value of each registered type with every field set. A type added to the
// type-ID block without a sample here does not compile.
json_object sample(tag<json_object>) {
  json_object x;
  x.value["type"] = "message";
  x.value["n"] = 3;
  return x;
}

event sample(tag<event>) {
  return event::parse(R"({"type":"message","channel":"C1"})", 4);
}

api_call sample(tag<api_call>) {
  api_call x;
  x.method = "chat.postMessage";
  x.args = {{"channel", "C1"}};
  x.json.value["blocks"] = boost::json::array{};
  x.token = "xoxb-other";
  x.retry = api_retry::always;
  return x;
}

envelope sample(tag<envelope>) {
  return envelope::parse(
      R"({"envelope_id":"E1","type":"events_api","payload":{"event":)"
      R"({"type":"app_mention","channel":"C1"},"event_id":"Ev1"}})",
      2);
}

identity sample(tag<identity>) {
  return {"U1", "u", "T1", "t", "B1", "https://x.slack.com/", "E1"};
}

rtm_endpoint sample(tag<rtm_endpoint>) {
  return {"wss://x/", "U1", "bot", "T1", "team", "domain"};
}

send_ack sample(tag<send_ack>) {
  return {5, "1.1", "hi"};
}

connecting sample(tag<connecting>) {
  return {3};
}

connected sample(tag<connected>) {
  return {7,       sample(tag<rtm_endpoint>{}), 2, std::chrono::seconds{18060},
          "A0APP", sample(tag<identity>{})};
}

disconnected sample(tag<disconnected>) {
  return {3, make_error(errc::connection_closed, uint16_t{1001}, "bye"), 1001};
}

reconnecting sample(tag<reconnecting>) {
  return {2, std::chrono::milliseconds{250}};
}

error_event sample(tag<error_event>) {
  return {make_error(errc::slack_error, "ratelimited"), "attempt 2"};
}

fatal_event sample(tag<fatal_event>) {
  return {make_error(errc::slack_error, "invalid_auth")};
}

client_status sample(tag<client_status>) {
  client_status x;
  x.state = "connected";
  x.session = 2;
  x.sessions = 2;
  x.events_received = 42;
  x.events_delivered = 41;
  x.events_own_skipped = 1;
  x.events_duplicate = 1;
  x.frames_malformed = 1;
  x.frames_not_object = 1;
  x.frames_binary = 1;
  x.messages_sent = 3;
  x.messages_acked = 2;
  x.messages_failed = 1;
  x.send_queue = 4;
  x.awaiting_ack = 1;
  x.listener_errors = 1;
  x.callback_backlog = 7;
  x.batches_held = 1;
  x.listener_stalls = 1;
  x.last_rtt = std::chrono::milliseconds{3};
  x.connections = 2;
  x.frames_unknown = 1;
  x.envelopes_acked = 5;
  x.acks_late = 1;
  x.acks_failed = 1;
  x.envelopes_unclaimed = 2;
  x.duplicate_ids_evicted = 3;
  x.ack_latency_mean = std::chrono::microseconds{40};
  x.ack_latency_max = std::chrono::microseconds{90};
  x.num_connections = 3;
  x.app_id = "A0APP";
  return x;
}

std::vector<json_object> sample(tag<std::vector<json_object>>) {
  return {sample(tag<json_object>{}), sample(tag<json_object>{})};
}

api_page sample(tag<api_page>) {
  return {"conversations.list", 2, sample(tag<json_object>{})};
}

file_upload sample(tag<file_upload>) {
  file_upload x;
  x.filename = "report.csv";
  x.title = "Report";
  x.alt_text = "Sales per region";
  x.snippet_type = "csv";
  x.content = "a,b\n1,2\n";
  x.path = "/tmp/report.csv";
  x.channel_id = "C1";
  x.thread_ts = "1.2";
  x.initial_comment = "here";
  x.blocks = R"([{"type":"divider"}])";
  x.more_files.push_back(
      upload_file{"b.txt", "B", "alt", "text", "bbb", "/tmp/b.txt"});
  x.token = "xoxb-other";
  x.retry = api_retry::always;
  // `progress` stays null: an actor handle needs a live actor to serialize.
  return x;
}

upload_progress sample(tag<upload_progress>) {
  return {65536, 100000};
}

webhook_post sample(tag<webhook_post>) {
  webhook_post x;
  x.url = "https://hooks.slack.com/commands/T1/2/abc";
  x.message = sample(tag<json_object>{});
  x.retry = api_retry::always;
  x.max_wait = std::chrono::seconds{5};
  return x;
}

api_status sample(tag<api_status>) {
  return {3, 1, 1, 100, 4, 2, 7, 9, 5, 6};
}

token_rotated sample(tag<token_rotated>) {
  return {"xoxe.xoxb-1-abc", "xoxe-1-def", 1800000000, "T1"};
}

event_batch sample(tag<event_batch>) {
  return {{sample(tag<event>{}),
           event::parse(R"({"type":"reaction_added","item":{}})", 4)}};
}

envelope_batch sample(tag<envelope_batch>) {
  return {{sample(tag<envelope>{})}};
}

template <caf::type_id_t I>
void check_registered_type(caf::actor_system& sys) {
  using type = typename caf::type_by_id<I>::type;
  const char* name = caf::type_name_by_id<I>::value;
  INFO(name);
  // Registered under its type-ID name, so it can cross the network.
  CHECK(sys.types().make_value(name) != nullptr);
  auto x = sample(tag<type>{});
  auto buf = serialize(sys, x);
  CHECK(buf != serialize(sys, type{})); // the sample sets every field
  auto y = deserialize<type>(sys, buf);
  CHECK(serialize(sys, y) == buf);
}

template <caf::type_id_t... Is>
void check_registered_types(caf::actor_system& sys,
                            std::integer_sequence<caf::type_id_t, Is...>) {
  (check_registered_type<caf::id_block::caf_rtm::begin + Is>(sys), ...);
}

} // namespace

TEST_CASE("a json_object loads as deep as a frame may be, or fails",
          "[units][serialize]") {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  std::string deep = R"({"a":1})";
  for (int i = 0; i < 40; ++i)
    deep = R"({"x":)" + deep + "}";
  auto x = json_object_from(deep);
  REQUIRE_FALSE(x.value.empty());
  CHECK(deserialize<json_object>(sys, serialize(sys, x)).value == x.value);
  json_object y;
  CHECK(load_json_object("[1]", y));
  CHECK(load_json_object("{\"a\":", y));
  CHECK_FALSE(load_json_object(deep, y));
  CHECK(y.value == x.value);
}

TEST_CASE("every registered message type survives serialization",
          "[units][serialize]") {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  using block = caf::id_block::caf_rtm;
  check_registered_types(
      sys,
      std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
  // Spot checks of the values themselves.
  auto ev = deserialize<event>(sys, serialize(sys, sample(tag<event>{})));
  REQUIRE(ev);
  CHECK(ev.channel() == "C1");
  CHECK(ev.session() == 4);
  auto d = deserialize<disconnected>(
      sys, serialize(sys, sample(tag<disconnected>{})));
  CHECK(close_code(d.cause) == 1001);
  auto env =
      deserialize<envelope>(sys, serialize(sys, sample(tag<envelope>{})));
  CHECK(env.event_type() == "app_mention");
  CHECK(env.connection() == 2);
  auto batch =
      deserialize<event_batch>(sys, serialize(sys, sample(tag<event_batch>{})));
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].channel() == "C1");
  CHECK(batch.events[1].type() == "reaction_added");
  CHECK(batch.events[1].session() == 4);
  // The public actor handles are registered too.
  CHECK(sys.types().make_value("caf::rtm::rtm_client_actor") != nullptr);
  CHECK(sys.types().make_value("caf::rtm::web_api_actor") != nullptr);
  CHECK(sys.types().make_value("caf::rtm::socket_mode_client_actor") !=
        nullptr);
}

TEST_CASE("WebSocket URLs from the Web API are checked",
          "[units][url][security]") {
  client_config cfg;
  cfg.token = "xoxb-x";
  cfg.base_url = "https://slack.com/api/";
  CHECK_FALSE(net::check_ws_url(cfg, "wss://wss-primary.slack.com/link/?t=1"));
  CHECK_FALSE(net::check_ws_url(cfg, "wss://slack.com/x"));
  for (auto bad : {"ws://wss-primary.slack.com/link", "wss://evil.example/x",
                   "wss://slack.com.evil.example/x", "wss://notslack.com/x",
                   "https://wss-primary.slack.com/x", "not a url"})
    CHECK(is(net::check_ws_url(cfg, bad), errc::untrusted_url));
  cfg.ws_hosts = "gateway.example, .corp.example";
  CHECK_FALSE(net::check_ws_url(cfg, "wss://gateway.example/x"));
  CHECK_FALSE(net::check_ws_url(cfg, "wss://a.corp.example/x"));
  CHECK(net::check_ws_url(cfg, "wss://other.example/x"));
  // Plain ws:// only on loopback with a plain base URL, or when allowed.
  cfg.base_url = "http://127.0.0.1:8080/api/";
  CHECK_FALSE(net::check_ws_url(cfg, "ws://127.0.0.1:8080/ws/1"));
  CHECK(net::check_ws_url(cfg, "ws://10.0.0.1:8080/ws/1"));
  cfg.base_url = "https://api.example.co.uk/";
  CHECK(net::check_ws_url(cfg, "ws://ws.example.co.uk/x"));
  cfg.allow_insecure = true;
  CHECK_FALSE(net::check_ws_url(cfg, "ws://ws.example.co.uk/x"));
}

TEST_CASE("hosts that cannot be host names are refused",
          "[units][url][security]") {
  CHECK(net::parse_endpoint("https://slack.com/api/"));
  CHECK(net::parse_endpoint("https://[::1]:8443/x"));
  for (auto bad : {"https://evil%0d%0aHost:%20x/", "https://a%20b/",
                   "https://a%00b/", "http://ex%09ample.com/"})
    CHECK(is(net::parse_endpoint(bad).error(), errc::invalid_url));
}

TEST_CASE("a plain http:// base URL needs loopback or allow_insecure",
          "[units][config][security]") {
  client_config cfg;
  cfg.token = "xoxb-x";
  cfg.base_url = "http://slack.example/api/";
  CHECK(is(cfg.validate(), errc::invalid_config));
  cfg.allow_insecure = true;
  CHECK_FALSE(cfg.validate());
  cfg.allow_insecure = false;
  for (auto ok : {"http://127.0.0.1:1/api/", "http://localhost/api/",
                  "http://[::1]/api/", "https://slack.example/api/"}) {
    cfg.base_url = ok;
    CHECK_FALSE(cfg.validate());
  }
}

TEST_CASE("tokens with whitespace or control characters are refused",
          "[units][config][security]") {
  CHECK(trim_token(" xoxb-1\r\n") == "xoxb-1");
  client_config cfg;
  cfg.token = "xoxb-1\r\nX-Evil: 1";
  CHECK(is(cfg.validate(), errc::invalid_config));
  cfg.token = "xoxb 1";
  CHECK(is(cfg.validate(), errc::invalid_config));
  cfg.token = "xoxb-1";
  CHECK_FALSE(cfg.validate());
}

TEST_CASE("option values that do not fit their field, or name no log level, "
          "are errors",
          "[units][config]") {
  struct config : caf::actor_system_config {
    config() {
      add_options(custom_options_);
    }
  } cfg;
  cfg.set("caf-rtm.token", "xoxb-1");
  SECTION("counts out of range") {
    cfg.set("caf-rtm.reconnect-max-attempts", int64_t{4294967296});
    cfg.set("caf-rtm.concurrency", int64_t{-3});
    auto x = client_config::from(cfg);
    CHECK(x.reconnect.max_attempts == 0); // untouched, not wrapped
    REQUIRE(x.option_error);
    CHECK(render(x.validate()).find("reconnect-max-attempts") !=
          std::string::npos);
  }
  SECTION("a log level that is none is not the default") {
    cfg.set("caf-rtm.log-level", "verbos");
    auto x = client_config::from(cfg);
    CHECK(render(x.validate()).find("log-level") != std::string::npos);
    cfg.set("caf-rtm.log-level", "trace");
    auto y = client_config::from(cfg);
    CHECK_FALSE(y.validate());
    REQUIRE(y.log);
    CHECK(y.log->enabled(log_level::trace));
  }
}

TEST_CASE("log lines mask tokens and WebSocket tickets", "[units][log]") {
  std::vector<std::string> lines;
  auto log = make_logger(
      std::make_shared<logger>(
          log_level::trace,
          [&](log_level, const std::string& line) { lines.push_back(line); }),
      {"xoxb-secret-token"});
  log->log(log_level::trace, "connection",
           "wss://wss.slack.com/link/?ticket=abc-123&app_id=A1 with "
           "xoxb-secret-token");
  log->log(log_level::trace, "connection", R"({"url":"wss://x/?ticket=t9"})");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "connection: wss://wss.slack.com/link/?ticket=<redacted>&app_id=A1 "
        "with <redacted>");
  CHECK(lines[1] == R"(connection: {"url":"wss://x/?ticket=<redacted>"})");
  CHECK(parse_log_level("trace") == log_level::trace);
  CHECK_FALSE(log->enabled(log_level::quiet));
  // A secret that is part of the mask itself is masked once, not again in
  // the mask (which never ended).
  log->add_secret("reda");
  log->log(log_level::trace, "x", "reda and reda");
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] == "x: <redacted> and <redacted>");
  // A frame logged at trace: an envelope's response URL is a credential as
  // it stands, an Events API payload carries the verification token.
  log->log(log_level::trace, "connection",
           R"({"payload":{"token":"verif-1","response_url":)"
           R"("https:\/\/hooks.slack.com\/commands\/T1\/2\/s3"},)"
           R"("response_urls":[{"response_url" : "https://h/x\"y"}],)"
           R"("response_url":1,"token"})");
  REQUIRE(lines.size() == 4);
  CHECK(lines[3] == R"(connection: {"payload":{"token":"<redacted>",)"
                    R"("response_url":"<redacted>"},"response_urls":)"
                    R"([{"response_url" : "<redacted>"}],"response_url":1,)"
                    R"("token"})");
  // Found before control characters are escaped.
  log->log(log_level::trace, "connection",
           "{\"token\":\t\"verif-2\",\"response_url\" :\r\n\"https://h/3\"}");
  REQUIRE(lines.size() == 5);
  CHECK(lines[4] == R"(connection: {"token":\x09"<redacted>","response_url" )"
                    R"(:\x0d\x0a"<redacted>"})");
  // A ticket ends at a control character.
  log->log(log_level::trace, "x", "GET /?ticket=t1\r\nHost: h");
  REQUIRE(lines.size() == 6);
  CHECK(lines[5] == R"(x: GET /?ticket=<redacted>\x0d\x0aHost: h)");
}

TEST_CASE("log lines mask Slack tokens by their shape", "[units][log]") {
  std::vector<std::string> lines;
  auto log = std::make_shared<logger>(
      log_level::trace,
      [&](log_level, const std::string& line) { lines.push_back(line); });
  // A bot of many workspaces passes a token with each call: each is masked
  // without being kept.
  for (int i = 0; i < 100000; ++i)
    log->add_secret("xoxb-" + std::to_string(i) + "-workspace");
  log->log(log_level::trace, "x",
           "bot xoxb-1-2-abc user xoxp-9 app xapp-1-A1-xyz rotating "
           "xoxe.xoxp-1-abc refresh xoxe-1-def glued id_xoxb-7 "
           R"(json {"token":"xoxa-2-q"} last xoxb-99999-workspace)");
  // Not tokens: prefixes alone, other words.
  log->log(log_level::trace, "x", "xoxb- xox xapp xoxo-? box-1 xylophone");
  // Registered secrets that are no token's shape are masked whole, also
  // where they overlap one.
  log->add_secret("xoxb-1/a%2F");
  log->add_secret("a/xoxb-2");
  log->log(log_level::trace, "x", "odd xoxb-1/a%2F! glued a/xoxb-2-3-secret");
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "x: bot <redacted> user <redacted> app <redacted> "
                    "rotating <redacted> refresh <redacted> glued "
                    R"(id_<redacted> json {"token":"<redacted>"} last )"
                    "<redacted>");
  CHECK(lines[1] == "x: xoxb- xox xapp xoxo-? box-1 xylophone");
  CHECK(lines[2] == "x: odd <redacted>! glued <redacted>");
}

TEST_CASE("a logger keeps the last max_transient_secrets secrets of "
          "requests, and every configured one",
          "[units][log]") {
  // Every line is searched for each: calls that bring ever new tokens of no
  // Slack shape must not make every line slower without a bound, nor push
  // out the configured secrets.
  std::vector<std::string> lines;
  auto log = std::make_shared<logger>(
      log_level::trace,
      [&](log_level, const std::string& line) { lines.push_back(line); });
  log->add_secret("configured-secret");
  auto n = logger::max_transient_secrets;
  for (size_t i = 0; i < n + 10; ++i)
    log->add_transient_secret("call-" + std::to_string(i) + "-end");
  auto oldest_kept = "call-" + std::to_string(10) + "-end";
  auto newest = "call-" + std::to_string(n + 9) + "-end";
  log->log(log_level::trace, "x",
           "configured-secret call-9-end " + oldest_kept + " " + newest);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "x: <redacted> call-9-end <redacted> <redacted>");
  CHECK(logger::max_transient_secrets == 256);
}

TEST_CASE("an I/O handler that throws does not end its I/O thread",
          "[units][io]") {
  caf::rtm::net::io_pool pool{1};
  boost::asio::post(pool.context(),
                    [] { throw std::runtime_error("a handler failed"); });
  std::promise<void> ran;
  boost::asio::post(pool.context(), [&ran] { ran.set_value(); });
  CHECK(ran.get_future().wait_for(std::chrono::seconds{10}) ==
        std::future_status::ready);
}

TEST_CASE("the default log sink survives a stderr pipe nobody reads",
          "[units][log]") {
  // `bot 2>&1 | tee x`, and tee is gone: a warning must not kill a program
  // that does not ignore SIGPIPE (a library must not need that). In a child
  // process: no other thread of the tests may meet that stderr.
  auto child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGPIPE, SIG_DFL);
    int fds[2];
    if (pipe(fds) != 0)
      _exit(3);
    close(fds[0]);
    if (dup2(fds[1], 2) != 2)
      _exit(3);
    logger log{log_level::warn};
    log.log(log_level::warn, "test", "nobody reads this");
    // The write's SIGPIPE was taken back, not left pending.
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    _exit(sigismember(&pending, SIGPIPE) == 0 ? 0 : 4);
  }
  // A child stuck on a lock some other thread held at the fork is killed
  // rather than waited for.
  int status = 0;
  auto waited = pid_t{0};
  for (int i = 0; i < 1000 && waited == 0; ++i) {
    waited = waitpid(child, &status, WNOHANG);
    if (waited == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (waited == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL("the child did not end within 10 s");
  }
  REQUIRE(waited == child);
  CHECK_FALSE(WIFSIGNALED(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the log sink runs without the logger's lock", "[units][log]") {
  // A sink that blocks (a slow terminal, a full pipe) must not block the
  // lines of other threads: an I/O thread must never wait for it.
  std::mutex mtx;
  std::vector<std::string> lines;
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> first{true};
  auto log = std::make_shared<logger>(
      log_level::info, [&](log_level, const std::string& line) {
        {
          std::lock_guard<std::mutex> guard{mtx};
          lines.push_back(line);
        }
        if (first.exchange(false)) {
          entered.set_value();
          released.wait();
        }
      });
  std::thread slow{[&] {
    log->log(log_level::info, "a", "first");
  }};
  entered.get_future().wait();
  auto other = std::async(std::launch::async, [&] {
    log->add_secret("xoxb-while-blocked");
    log->log(log_level::info, "b", "second xoxb-while-blocked");
  });
  CHECK(other.wait_for(std::chrono::seconds{10}) == std::future_status::ready);
  release.set_value();
  slow.join();
  other.wait();
  std::lock_guard<std::mutex> guard{mtx};
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "b: second <redacted>");
}

TEST_CASE("server text in errors and log lines shows control characters",
          "[units][errc][security]") {
  auto err =
      make_error(errc::connection_closed, uint16_t{1000},
                 std::string{"bye\r\n12:00:00.000 error fake line\x1b[2J"});
  auto text = render(err);
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("\\x0d\\x0a") != std::string::npos);
  std::vector<std::string> lines;
  logger log{log_level::debug, [&](log_level, const std::string& line) {
               lines.push_back(line);
             }};
  log.log(log_level::warn, "test", "a\nb");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "test: a\\x0ab");
  // C1 controls in UTF-8 (CSI, U+009B, is C2 9B); other text as it is.
  log.log(log_level::warn, "test",
          "a\xc2\x9b"
          "2Jb \xc2\xa0\xc3\xa9");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "test: a\\xc2\\x9b2Jb \xc2\xa0\xc3\xa9");
}

// -- envelope filter ----------------------------------------------------------

TEST_CASE("the envelope filter catches a repeat by envelope id or event id",
          "[units][envelope_filter]") {
  using caf::rtm::detail::envelope_filter;
  envelope_filter filter;
  auto now = std::chrono::steady_clock::now();
  CHECK_FALSE(filter.seen("e1", "Ev1", now));
  CHECK(filter.seen("e1", "", now));    // the same envelope again
  CHECK(filter.seen("e2", "Ev1", now)); // a retry: new envelope, same event
  CHECK(filter.seen("e2", "", now));    // the retry's id is remembered too
  CHECK_FALSE(filter.seen("Ev1", "e1", now)); // kinds of ids stay apart
  CHECK_FALSE(filter.seen("e3", "Ev3", now));
  CHECK(filter.size() ==
        7); // e1, Ev1, e2, Ev1 and e1 in the other kind, e3, Ev3
}

TEST_CASE("the worker watch reports a stuck worker once, whatever the "
          "others do",
          "[units][worker_watch]") {
  using caf::rtm::detail::worker_watch;
  using namespace std::chrono_literals;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](int) {
        }};
      },
      1);
  auto b = sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](int) {
        }};
      },
      2);
  worker_watch w;
  caf::timespan limit = 30s;
  worker_watch::time_point t0{};
  CHECK_FALSE(w.next_check(limit));
  w.assigned(a.address(), 5, t0);
  w.assigned(b.address(), 5, t0 + 1s);
  REQUIRE(w.next_check(limit));
  CHECK(*w.next_check(limit) == t0 + 30s);
  // b makes progress all along; a finishes nothing.
  w.done(b.address(), 1, t0 + 20s);
  w.done(b.address(), 1, t0 + 40s);
  CHECK(w.newly_stalled(t0 + 29s, limit).empty());
  auto stuck = w.newly_stalled(t0 + 30s, limit);
  REQUIRE(stuck.size() == 1);
  CHECK(stuck[0].worker == a.address());
  CHECK(stuck[0].owed == 5);
  // Told once; b is next, from its latest progress.
  CHECK(w.newly_stalled(t0 + 60s, limit).empty());
  CHECK(*w.next_check(limit) == t0 + 70s);
  // a makes progress: a new stall of it is told again.
  w.done(a.address(), 1, t0 + 61s);
  CHECK(*w.next_check(limit) == t0 + 70s);
  CHECK(w.newly_stalled(t0 + 91s, limit).size() == 2);
  // An idle worker owes nothing: new work starts its time anew.
  w.done(b.address(), 3, t0 + 100s);
  w.assigned(b.address(), 1, t0 + 200s);
  w.forget(a.address());
  CHECK(*w.next_check(limit) == t0 + 230s);
  w.done(b.address(), 1, t0 + 201s);
  CHECK_FALSE(w.next_check(limit));
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("the envelope filter forgets ids after its window",
          "[units][envelope_filter]") {
  using caf::rtm::detail::envelope_filter;
  envelope_filter filter{std::chrono::milliseconds{1000}, 100};
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(filter.seen("e1", "Ev1", t0));
  CHECK(filter.seen("e1", "Ev1", t0 + std::chrono::milliseconds{999}));
  CHECK_FALSE(filter.seen("e1", "Ev1", t0 + std::chrono::milliseconds{1000}));
  CHECK(filter.size() == 2);
}

TEST_CASE("the envelope filter forgets an envelope it is told to forget, "
          "and only that one",
          "[units][envelope_filter]") {
  // An envelope left to Slack: its copy (a new envelope id, the same event
  // id) must be new again; other ids stay remembered, and the forgotten
  // one's old entry expiring later harms nothing.
  using caf::rtm::detail::envelope_filter;
  envelope_filter filter{std::chrono::milliseconds{1000}, 100};
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(filter.seen("e1", "Ev1", t0));
  CHECK_FALSE(filter.seen("e2", "Ev2", t0));
  filter.forget(envelope_filter::keys_of("e1", "Ev1"));
  CHECK(filter.size() == 2);
  CHECK(filter.seen("e2", "", t0));
  auto t1 = t0 + std::chrono::milliseconds{500};
  CHECK_FALSE(filter.seen("e1b", "Ev1", t1)); // the copy is new
  CHECK(filter.seen("e1c", "Ev1", t1));       // and remembered
  // The first entries of e1 and Ev1 expire at t0 + 1 s and take Ev1 along:
  // Slack's retries count from the first delivery, as the window does.
  CHECK_FALSE(filter.seen("e3", "", t0 + std::chrono::milliseconds{1000}));
  CHECK(filter.seen("e1b", "", t0 + std::chrono::milliseconds{1000}));
  filter.forget(envelope_filter::keys_of("never", "seen")); // no harm
  CHECK(filter.seen("e3", "", t1 + std::chrono::milliseconds{600}));
}

TEST_CASE("the envelope filter drops its oldest ids beyond its capacity",
          "[units][envelope_filter]") {
  using caf::rtm::detail::envelope_filter;
  envelope_filter filter{std::chrono::minutes{15}, 3};
  auto now = std::chrono::steady_clock::now();
  for (auto id : {"e1", "e2", "e3", "e4"})
    CHECK_FALSE(filter.seen(id, "", now));
  CHECK(filter.size() == 3);
  CHECK(filter.evicted() == 1);
  CHECK_FALSE(filter.seen("e1", "", now)); // dropped: new again (drops e2)
  CHECK(filter.seen("e4", "", now));
  CHECK(filter.size() == 3);
  CHECK(filter.evicted() == 2);
  // An entry whose id was forgotten drops nothing when it goes.
  filter.forget(envelope_filter::keys_of("e3", ""));
  CHECK_FALSE(filter.seen("e5", "", now)); // its entry goes: e3's
  CHECK(filter.evicted() == 2);
  // Expired ids are no evictions.
  CHECK_FALSE(filter.seen("e6", "", now + std::chrono::minutes{15}));
  CHECK(filter.evicted() == 2);
}

TEST_CASE("the envelope filter agrees with a plain set under heavy churn",
          "[units][envelope_filter]") {
  // Many ids from a small space, a small capacity and a short window: keys
  // collide in the table, runs wrap around its end and removals shift keys
  // back. A model with a std::set and a queue must answer alike throughout.
  using caf::rtm::detail::envelope_filter;
  using namespace std::chrono_literals;
  constexpr size_t capacity = 700;
  envelope_filter filter{std::chrono::milliseconds{5000}, capacity};
  std::set<std::string> model;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>>
      order;
  std::mt19937_64 rng{42};
  auto t = std::chrono::steady_clock::now();
  auto remember = [&](const std::string& key) {
    if (!model.insert(key).second)
      return true;
    order.emplace_back(t, key);
    if (order.size() > capacity) {
      model.erase(order.front().second);
      order.pop_front();
    }
    return false;
  };
  size_t repeats = 0;
  for (size_t i = 0; i < 200000; ++i) {
    t += std::chrono::microseconds{rng() % 200};
    while (!order.empty() && t - order.front().first >= 5000ms) {
      model.erase(order.front().second);
      order.pop_front();
    }
    auto env = "e" + std::to_string(rng() % 3000);
    auto evt = rng() % 2 == 0 ? "v" + std::to_string(rng() % 3000) : "";
    auto expected = remember("e:" + env);
    if (!evt.empty())
      expected = remember("v:" + evt) || expected;
    // Half the steps as the router checks a batch: keys first, prefetched
    // (a hint only: it must change nothing, at the capacity too).
    bool got;
    if (i % 2 == 0) {
      got = filter.seen(env, evt, t);
    } else {
      auto keys = envelope_filter::keys_of(env, evt);
      filter.prefetch(keys);
      filter.prefetch(envelope_filter::keys_of("e" + std::to_string(i), ""));
      got = filter.seen(keys, t);
    }
    if (got != expected)
      FAIL("step " << i << ": filter " << got << ", model " << expected);
    repeats += got ? 1 : 0;
    if (filter.size() != model.size())
      FAIL("step " << i << ": size " << filter.size() << ", model "
                   << model.size());
  }
  CHECK(repeats > 10000); // the run did exercise both answers
  CHECK(repeats < 190000);
}

TEST_CASE("text frames: packed in one buffer, each read back as added",
          "[units][net]") {
  net::text_frames frames;
  CHECK(frames.empty());
  frames.add(R"({"envelope_id":"E1"})");
  frames.add("");
  frames.add(R"({"envelope_id":"E\\"2"})");
  REQUIRE(frames.size() == 3);
  CHECK(frames[0] == R"({"envelope_id":"E1"})");
  CHECK(frames[1].empty());
  CHECK(frames[2] == R"({"envelope_id":"E\\"2"})");
  // Moving keeps every view's text (the I/O thread takes them this way).
  auto moved = std::move(frames);
  CHECK(moved[2] == R"({"envelope_id":"E\\"2"})");
}

namespace {

// A session that writes every ack (for the protocol tests).
class acking_session final : public session_context {
public:
  uint64_t session() const noexcept override {
    return 1;
  }
  frame_parser& parser() noexcept override {
    return parser_;
  }
  const logger_ptr& log() const noexcept override {
    return log_;
  }
  void hello(hello_info) override {
    // Not sent here.
  }
  void goodbye(std::string) override {
    // Not sent here.
  }
  void end(caf::error, bool) override {
    // Not sent here.
  }
  void monitor_pong(std::string) override {
    // Socket Mode has none.
  }
  bool write_first(std::string_view text) override {
    acks.emplace_back(text);
    return true;
  }

  std::vector<std::string> acks;

private:
  frame_parser parser_;
  logger_ptr log_ = std::make_shared<logger>(log_level::quiet, nullptr);
};

} // namespace

TEST_CASE("socket mode: each envelope keeps when its frame was read, and "
          "each ack's latency counts from there",
          "[units][envelope]") {
  // A batch gathers frames for as long as the one before it waits: its
  // first frame's time is not the others'.
  client_config cfg;
  cfg.app_token = "xapp-1-A1-test";
  auto proto = make_socket_mode_protocol(cfg);
  auto now = std::chrono::steady_clock::now();
  frame_batch in;
  auto add = [&in](std::string_view frame,
                   std::chrono::steady_clock::time_point read_at) {
    in.bytes.append(frame.data(), frame.size());
    in.sizes.push_back(static_cast<uint32_t>(frame.size()));
    in.read_at.push_back(read_at);
  };
  add(R"({"envelope_id":"E1","type":"events_api","payload":{}})", now - 3s);
  add(R"({"envelope_id":"E2","type":"slash_commands",)"
      R"("accepts_response_payload":true,"payload":{}})",
      now - 2s);
  add(R"({"envelope_id":"E3","type":"events_api","payload":{}})", now - 1s);
  acking_session ctx;
  inbound_batch out;
  proto->on_frames(in, out, ctx);
  REQUIRE(out.envelopes.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(frame_parser::read_at(out.envelopes[i]) == in.read_at[i]);
  // E1 and E3 were acked on receipt (E2 waits for its answer): 3 s and 1 s
  // after they were read, plus the time this test took since `now`.
  CHECK(ctx.acks.size() == 2);
  REQUIRE(out.acked == 2);
  auto later = std::chrono::duration_cast<caf::timespan>(
      std::chrono::steady_clock::now() - now);
  CHECK(out.ack_latency_max >= 3s);
  CHECK(out.ack_latency_max <= 3s + later);
  CHECK(out.ack_latency_sum >= 4s);
  CHECK(out.ack_latency_sum <= 4s + 2 * later);
  // An envelope parsed from text has no read time.
  CHECK(frame_parser::read_at(envelope::parse(R"({"envelope_id":"E4"})")) ==
        std::chrono::steady_clock::time_point{});
}

// -- token rotation
// -------------------------------------------------------------

TEST_CASE("a refresh asks with the newest refresh token and the app's "
          "credentials",
          "[units][rotation]") {
  token_rotation rot;
  rot.client_id = "12.34";
  rot.client_secret = "s&cret";
  rot.refresh_token = "xoxe-1-old";
  auto body = detail::refresh_request_body(rot, "xoxe-1-newest");
  CHECK(body == "grant_type=refresh_token&refresh_token=xoxe-1-newest&"
                "client_id=12.34&client_secret=s%26cret");
}

TEST_CASE("a refresh answer gives the new tokens and their expiry",
          "[units][rotation]") {
  using std::chrono::system_clock;
  auto now = system_clock::time_point{std::chrono::seconds{1000000}};
  auto answer = json_object_from(
      R"({"ok":true,"access_token":"xoxe.xoxb-1-new","token_type":"bot",)"
      R"("refresh_token":"xoxe-1-next","expires_in":43200,)"
      R"("team":{"id":"T9","name":"x"},"enterprise":null})");
  auto x = detail::read_refresh_answer(answer, now);
  REQUIRE(x);
  CHECK(x->access_token == "xoxe.xoxb-1-new");
  CHECK(x->refresh_token == "xoxe-1-next");
  CHECK(x->expires_at == 1000000 + 43200);
  CHECK(x->team_id == "T9");
  // No expiry, no refresh token: still a token.
  auto bare = detail::read_refresh_answer(
      json_object_from(R"({"ok":true,"access_token":"xoxb-2",)"
                       R"("expires_in":"soon","team":"T1"})"),
      now);
  REQUIRE(bare);
  CHECK(bare->expires_at == 0);
  CHECK(bare->refresh_token.empty());
  CHECK(bare->team_id.empty());
  for (auto odd : {-5.0, 0.0, 1e12})
    CHECK(detail::read_refresh_answer(
              json_object_from(R"({"access_token":"xoxb-3","expires_in":)" +
                               std::to_string(static_cast<int64_t>(odd)) + "}"),
              now)
              ->expires_at == 0);
}

TEST_CASE("a refresh answer without a token that fits a header is refused",
          "[units][rotation]") {
  auto now = std::chrono::system_clock::now();
  for (const char* text :
       {R"({"ok":true})", R"({"ok":true,"access_token":""})",
        R"({"ok":true,"access_token":42})",
        R"({"ok":true,"access_token":"xoxb-1\r\nX-Evil: 1"})",
        R"({"ok":true,"access_token":"xoxb-1","refresh_token":"a b"})",
        R"([1])"}) {
    INFO(text);
    auto x = detail::read_refresh_answer(json_object_from(text), now);
    CHECK(is(x.error(), errc::malformed_response));
  }
}

TEST_CASE("a rotated token is refreshed before its expiry, not before half "
          "its lifetime",
          "[units][rotation]") {
  using namespace std::chrono;
  auto now = system_clock::time_point{seconds{1000000}};
  auto at = [&](int64_t expires_in, caf::timespan before) {
    return duration_cast<seconds>(
               detail::next_refresh(1000000 + expires_in, now, before) - now)
        .count();
  };
  CHECK(at(43200, hours{2}) == 43200 - 7200);
  CHECK(at(43200, hours{0}) == 43200);
  // Two hours before a one-hour token would be now: half its lifetime.
  CHECK(at(3600, hours{2}) == 1800);
  CHECK(at(1, hours{2}) == 0); // half a second, cut to whole seconds
  CHECK(detail::next_refresh(0, now, hours{2}) ==
        system_clock::time_point::max());
  // Already expired: now.
  CHECK(detail::next_refresh(999000, now, hours{2}) == now);
}

TEST_CASE("a rotation needs credentials and a token of the client's own",
          "[units][rotation][config]") {
  client_config cfg;
  cfg.token = "xoxe.xoxb-1-current";
  cfg.rotation.refresh_token = "xoxe-1-r";
  CHECK(is(cfg.validate(), errc::invalid_config)); // no credentials
  cfg.rotation.client_id = "1.2";
  cfg.rotation.client_secret = "secret";
  // Without a listener the new refresh token would be lost.
  CHECK(is(cfg.validate(), errc::invalid_config));
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  // Spawned with an argument: CAF 0.17 dereferences a null argument tuple
  // for a function spawned without any (undefined behaviour).
  cfg.rotation.listener = sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](token_rotated&) {
        }};
      },
      0);
  CHECK_FALSE(cfg.validate());
  auto with = [&](auto change) {
    auto copy = cfg;
    change(copy);
    return copy.validate();
  };
  CHECK(with([](client_config& c) { c.rotation.client_secret = "a\nb"; }));
  CHECK(with([](client_config& c) { c.rotation.client_id.clear(); }));
  CHECK(with([](client_config& c) { c.rotation.refresh_token = "x y"; }));
  CHECK(with([](client_config& c) { c.rotation.expires_at = -1; }));
  // Milliseconds by mistake.
  CHECK(with([](client_config& c) { c.rotation.expires_at = 1700000000000; }));
  CHECK_FALSE(
      with([](client_config& c) { c.rotation.expires_at = 1700000000; }));
  CHECK(with([](client_config& c) {
    c.rotation.refresh_before = std::chrono::hours{13};
  }));
  CHECK(with([](client_config& c) {
    c.rotation.refresh_before = std::chrono::seconds{-1};
  }));
  CHECK_FALSE(with(
      [](client_config& c) { c.rotation.refresh_before = caf::timespan{0}; }));
  // Socket Mode rotates the bot token: without one there is nothing to
  // rotate.
  cfg.app_token = "xapp-1-x";
  CHECK(is(cfg.validate(client_kind::socket_mode), errc::invalid_config));
  cfg.bot_token = "xoxe.xoxb-1-current";
  CHECK_FALSE(cfg.validate(client_kind::socket_mode));
  caf::anon_send_exit(cfg.rotation.listener, caf::exit_reason::kill);
}

TEST_CASE("a rotation may keep its tokens in a file instead of a listener",
          "[units][rotation][config]") {
  client_config cfg;
  cfg.token = "xoxe.xoxb-1-current";
  cfg.rotation.client_id = "1.2";
  cfg.rotation.client_secret = "secret";
  cfg.rotation.file = "/var/lib/bot/tokens.json";
  // The refresh token may be in the file: it is read when the client starts.
  CHECK_FALSE(cfg.validate());
  cfg.rotation.refresh_token = "xoxe-1-r";
  CHECK_FALSE(cfg.validate());
  cfg.rotation.client_secret.clear();
  CHECK(is(cfg.validate(), errc::invalid_config));
}

namespace {

// A directory of its own for token files, removed at the end.
struct token_dir {
  std::string path;

  token_dir() {
    char tmpl[] = "/tmp/caf-rtm-token-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }

  ~token_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  std::string write(const std::string& name, const std::string& text) const {
    auto file = path + "/" + name;
    std::ofstream{file} << text;
    return file;
  }
};

std::string read_text(const std::string& file) {
  std::ifstream in{file};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace

TEST_CASE("a token file keeps the newest tokens across restarts",
          "[units][rotation]") {
  token_dir dir;
  auto file = dir.path + "/tokens.json";
  token_rotation rot;
  rot.refresh_token = "xoxe-1-configured";
  rot.file = file;
  std::string token = "xoxe.xoxb-1-configured";
  // The first start: no file yet, the configured tokens go on.
  auto loaded = detail::load_token_file(rot, token);
  REQUIRE(loaded);
  CHECK_FALSE(*loaded);
  CHECK(token == "xoxe.xoxb-1-configured");
  CHECK(rot.refresh_token == "xoxe-1-configured");
  token_rotated got{"xoxe.xoxb-1-new", "xoxe-1-next", 1700043200, "T9"};
  REQUIRE_FALSE(detail::save_token_file(file, got));
  // Live credentials: for the owner's eyes only, and no half-written copy
  // left next to it.
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(std::distance(std::filesystem::directory_iterator{dir.path},
                      std::filesystem::directory_iterator{}) == 1);
  // The next start: the file's tokens replace the configured ones.
  loaded = detail::load_token_file(rot, token);
  REQUIRE(loaded);
  CHECK(*loaded);
  CHECK(token == "xoxe.xoxb-1-new");
  CHECK(rot.refresh_token == "xoxe-1-next");
  CHECK(rot.expires_at == 1700043200);
  // A later refresh replaces the file whole.
  got = token_rotated{"xoxe.xoxb-1-newer", "xoxe-1-after", 0, ""};
  REQUIRE_FALSE(detail::save_token_file(file, got));
  loaded = detail::load_token_file(rot, token);
  REQUIRE(loaded);
  CHECK(*loaded);
  CHECK(token == "xoxe.xoxb-1-newer");
  CHECK(rot.refresh_token == "xoxe-1-after");
  CHECK(rot.expires_at == 0);
  CHECK(read_text(file).find("xoxe-1-next") == std::string::npos);
  // A file left there with wider permissions is replaced by a new one for
  // the owner only.
  ::chmod(file.c_str(), 0644);
  REQUIRE_FALSE(detail::save_token_file(file, got));
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No file configured: nothing is read.
  token_rotation none;
  std::string untouched = "xoxb-1";
  loaded = detail::load_token_file(none, untouched);
  REQUIRE(loaded);
  CHECK_FALSE(*loaded);
  CHECK(untouched == "xoxb-1");
}

TEST_CASE("a token file that cannot be used stops the start with its name",
          "[units][rotation]") {
  token_dir dir;
  auto load = [](const std::string& file, std::string refresh_token) {
    token_rotation rot;
    rot.refresh_token = std::move(refresh_token);
    rot.file = file;
    std::string token = "xoxb-1";
    auto loaded = detail::load_token_file(rot, token);
    if (loaded)
      return caf::error{};
    // Nothing half-read is kept.
    CHECK(token == "xoxb-1");
    CHECK(is(loaded.error(), errc::invalid_config));
    CHECK_THAT(render(loaded.error()), Catch::Contains(file));
    return loaded.error();
  };
  // Not there, and nothing to start with.
  CHECK(load(dir.path + "/missing.json", ""));
  // Not there, and no place to put it: found at the start, not when the
  // first refresh has spent the refresh token.
  CHECK(load(dir.path + "/no/such/dir/tokens.json", "xoxe-1-r"));
  for (const char* text :
       {"", "not json", "[1]", R"({"access_token":"xoxb-2"})",
        R"({"access_token":"xoxb-2","refresh_token":""})",
        R"({"access_token":"xoxb 2","refresh_token":"xoxe-1-r"})",
        R"({"access_token":"xoxb-2","refresh_token":"xoxe-1-r
"})",
        // Milliseconds by mistake, a negative or a fractional time.
        R"({"access_token":"xoxb-2","refresh_token":"xoxe-1-r",)"
        R"("expires_at":1700000000000})",
        R"({"access_token":"xoxb-2","refresh_token":"xoxe-1-r",)"
        R"("expires_at":-1})",
        R"({"access_token":"xoxb-2","refresh_token":"xoxe-1-r",)"
        R"("expires_at":1.5})"}) {
    INFO(text);
    CHECK(load(dir.write("bad.json", text), "xoxe-1-r"));
  }
  CHECK(load(dir.write("huge.json", std::string(100000, ' ')), "xoxe-1-r"));
  // A directory or a FIFO where the file belongs is not read as one (a
  // FIFO would block the start).
  std::filesystem::create_directory(dir.path + "/a_dir");
  CHECK(load(dir.path + "/a_dir", "xoxe-1-r"));
  REQUIRE(::mkfifo((dir.path + "/a_fifo").c_str(), 0600) == 0);
  CHECK(load(dir.path + "/a_fifo", "xoxe-1-r"));
  // Nor written: the error says which step failed.
  auto err = detail::save_token_file(dir.path + "/no/such/dir/t.json",
                                     token_rotated{"a", "b", 0, ""});
  REQUIRE(err);
  CHECK_THAT(render(err), Catch::Contains("cannot create its new version"));
}

TEST_CASE("one caller at a time refreshes with a token file",
          "[units][rotation]") {
  token_dir dir;
  auto file = dir.path + "/tokens.json";
  auto first = detail::lock_token_file(file);
  REQUIRE(first);
  // A second caller, in this process or another, would spend the same
  // refresh token.
  auto second = detail::lock_token_file(file);
  REQUIRE_FALSE(second);
  CHECK(is(second.error(), errc::invalid_config));
  CHECK_THAT(render(second.error()), Catch::Contains(file));
  CHECK_THAT(render(second.error()), Catch::Contains("in use"));
  // Another spelling of its directory shares its lock.
  std::filesystem::create_directory_symlink(dir.path, dir.path + "/link");
  CHECK_FALSE(detail::lock_token_file(dir.path + "/link/./tokens.json"));
  // The file as a link: a save replaces the link, so its lock stays by the
  // name in the directory, not by the link's target.
  std::filesystem::create_symlink(dir.path + "/elsewhere.json",
                                  dir.path + "/linked.json");
  auto linked = detail::lock_token_file(dir.path + "/linked.json");
  REQUIRE(linked);
  CHECK(std::filesystem::exists(dir.path + "/linked.json.lock"));
  CHECK_FALSE(std::filesystem::exists(dir.path + "/elsewhere.json.lock"));
  // Free again once the first lets go.
  first->reset();
  CHECK(detail::lock_token_file(file));
  auto nowhere = detail::lock_token_file(dir.path + "/no/such/dir/t.json");
  REQUIRE_FALSE(nowhere);
  CHECK_THAT(render(nowhere.error()), Catch::Contains("cannot be opened"));
}

TEST_CASE("the rotation options come from CAF's configuration",
          "[units][rotation][config]") {
  caf::actor_system_config sys_cfg;
  caf::settings xs;
  xs["token"] = std::string{"xoxe.xoxb-1-t"};
  xs["client-id"] = std::string{"12.34"};
  xs["client-secret"] = std::string{"s3cret\n"};
  xs["refresh-token"] = std::string{" xoxe-1-r"};
  xs["token-expires-at"] = int64_t{1700000000};
  xs["refresh-before"] = caf::timespan{std::chrono::minutes{30}};
  xs["token-file"] = std::string{"/var/lib/bot/tokens.json"};
  sys_cfg.content["caf-rtm"] = std::move(xs);
  auto cfg = client_config::from(sys_cfg);
  CHECK(cfg.rotation.client_id == "12.34");
  CHECK(cfg.rotation.client_secret == "s3cret");
  CHECK(cfg.rotation.refresh_token == "xoxe-1-r");
  CHECK(cfg.rotation.expires_at == 1700000000);
  CHECK(cfg.rotation.refresh_before == std::chrono::minutes{30});
  CHECK(cfg.rotation.file == "/var/lib/bot/tokens.json");
  CHECK_FALSE(cfg.validate());
}

TEST_CASE("team tokens come from options and are checked",
          "[units][config][team_tokens]") {
  options_config opts;
  auto path = std::string{"caf-rtm-team-tokens-test.conf"};
  {
    std::ofstream out{path};
    out << "caf-rtm {\n  app-token = \"xapp-1\"\n"
        << "  team-tokens = [\"T0ONE=xoxb-one\", \" T0TWO = xoxb-two \"]\n}\n";
  }
  auto err = opts.parse(std::vector<std::string>{"--config-file=" + path});
  std::remove(path.c_str());
  REQUIRE_FALSE(err);
  auto cfg = client_config::from(opts);
  CHECK(cfg.team_tokens == std::map<std::string, std::string>{
                               {"T0ONE", "xoxb-one"}, {"T0TWO", "xoxb-two"}});
  CHECK_FALSE(cfg.validate(client_kind::socket_mode));
  // RTM and a plain web-API caller serve one workspace.
  CHECK(render(cfg.validate(client_kind::rtm)).find("socket_mode_client") !=
        std::string::npos);
  auto refused = [&](const std::string& team, const std::string& token,
                     const std::string& why) {
    auto x = cfg;
    x.team_tokens = {{team, token}};
    auto what = render(x.validate(client_kind::socket_mode));
    CAPTURE(team, what);
    CHECK(what.find(why) != std::string::npos);
    // The token is never repeated.
    CHECK((token.size() < 6 || what.find(token) == std::string::npos));
  };
  refused("", "xoxb-1", "is not a workspace id");
  refused("t0lower", "xoxb-1", "is not a workspace id");
  refused("T0\n1", "xoxb-1", "is not a workspace id");
  refused("U0123", "xoxb-1", "is not a workspace id");
  refused("E0ORG", "xoxb-1",
          "an organisation's (E...) token goes in bot_token");
  // Key and value swapped: the message names the entry, not the token.
  refused("xoxb-swapped-secret", "T0ONE", "looks like a token");
  CHECK(render([&] {
          auto x = cfg;
          x.team_tokens = {{"xoxb-swapped-secret", "T0ONE"}};
          return x.validate(client_kind::socket_mode);
        }())
            .find("xoxb-swapped") == std::string::npos);
  refused("T0ONE", "", "team_tokens[T0ONE] is empty");
  refused("T0ONE", "xoxb-a b", "whitespace or control characters");
  refused("T0ONE", "xoxe.xoxb-1-rotating", "rotating token");
  refused("T0ONE", "xapp-1-app-level", "app-level token");
  SECTION("an entry without a team id") {
    cfg = {};
    std::ofstream{path} << "caf-rtm {\n  team-tokens = [\"xoxb-secret\"]\n}\n";
    options_config again;
    REQUIRE_FALSE(
        again.parse(std::vector<std::string>{"--config-file=" + path}));
    std::remove(path.c_str());
    auto x = client_config::from(again);
    auto what = render(x.validate(client_kind::socket_mode));
    CHECK(what.find("team-tokens: entry 1") != std::string::npos);
    CHECK(what.find("xoxb-secret") == std::string::npos);
  }
}
