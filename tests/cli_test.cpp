// The caf-rtm tool and the echo bot as black boxes: real processes against the
// fake Slack, checked by their stdout, stderr and exit codes.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "caf/rtm/testing/fake_slack.hpp"
#include "process.hpp"
#include "test_support.hpp"

using namespace caf::rtm::test;
using caf::rtm::testing::ack_policy;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;
using caf::rtm::testing::http_response;

namespace json = boost::json;

namespace {

const std::string tool = CAF_RTM_TOOL;
const std::string echo_bot = CAF_RTM_ECHO_BOT;
const std::string readme_bot = CAF_RTM_README_BOT;

// Connection options for the fake, `--name value` style.
std::vector<std::string> args_for(const fake_slack& srv,
                                  std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--token", srv.options().token, "--base-url",
                                srv.base_url()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The environment of the tool: no proxy from the test's environment.
const std::vector<std::string> clean_env{
    "HTTPS_PROXY=", "https_proxy=", "HTTP_PROXY=", "http_proxy=",
    "SLACK_BOT_TOKEN="};

json::object parse_object(const std::string& line) {
  return json::parse(line).as_object();
}

std::string message(int n) {
  return R"({"type":"message","channel":"C1","user":"U1","text":"m)" +
         std::to_string(n) + R"(","ts":")" + std::to_string(n) +
         R"(.0","blocks":[{"type":"rich_text"}]})";
}

} // namespace

TEST_CASE("events go to stdout as JSON lines, in order", "[cli]") {
  fake_slack srv;
  process p{tool, args_for(srv, {"--count", "4"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  for (int i = 1; i <= 3; ++i)
    s->send(message(i));
  REQUIRE(p.wait(10s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 4);
  CHECK(parse_object(lines[0]).at("type").as_string() == "hello");
  for (int i = 1; i <= 3; ++i) {
    auto obj = parse_object(lines[static_cast<size_t>(i)]);
    CHECK(obj.at("text").as_string() == "m" + std::to_string(i));
    // Compact, every field kept in order.
    CHECK(lines[static_cast<size_t>(i)] == message(i));
  }
}

TEST_CASE("the last lines of a burst show while the run goes on, and so does "
          "a single line after it",
          "[cli]") {
  // Under a flood stdout is flushed at most once per millisecond: what a burst
  // leaves in the buffer must still come out without further events.
  fake_slack srv;
  process p{tool, args_for(srv), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  constexpr int burst = 3000;
  for (int i = 1; i <= burst; ++i)
    s->send(message(i));
  REQUIRE(p.wait_out_lines(1 + burst, 10s));
  s->send(message(burst + 1));
  REQUIRE(p.wait_out_lines(2 + burst, 10s));
  auto lines = p.out_lines();
  CHECK(lines.back() == message(burst + 1));
  CHECK(lines[burst] == message(burst));
  p.signal(SIGTERM);
  CHECK(p.wait(10s) == 0);
}

TEST_CASE("event filter, and --name=value works too", "[cli]") {
  fake_slack srv;
  process p{tool,
            {"--token=" + srv.options().token, "--base-url=" + srv.base_url(),
             "--events=reaction_added,message", "--count=2"},
            clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send(R"({"type":"user_typing","channel":"C1","user":"U1"})");
  s->send(R"({"type":"reaction_added","user":"U1","reaction":"+1"})");
  s->send(R"({"type":"presence_change","user":"U1"})");
  s->send(message(1));
  REQUIRE(p.wait(10s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 2);
  CHECK(parse_object(lines[0]).at("type").as_string() == "reaction_added");
  CHECK(parse_object(lines[1]).at("type").as_string() == "message");
}

TEST_CASE("send mode: one result per input line, in input order", "[cli]") {
  fake_slack_options opts;
  opts.acks = ack_policy::manual;
  fake_slack srv{opts};
  process p{tool, args_for(srv, {"--send", "--events", "none"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  p.write(R"({"type":"message","channel":"C1","text":"one"})"
          "\n"
          "this is not json\n"
          R"({"type":"message","channel":"C1","text":"two"})"
          "\n"
          R"({"type":"message","channel":"C1","text":"three"})"
          "\n");
  p.close_stdin();
  REQUIRE(s->wait_received(3, 10s));
  std::vector<int64_t> ids;
  for (auto& frame : s->received())
    ids.push_back(parse_object(frame).at("id").as_int64());
  // Acks out of order, one of them an error.
  s->ack(ids[2], "3.0");
  s->ack_error(ids[1], 2, "message text is missing");
  s->ack(ids[0], "1.0");
  REQUIRE(p.wait(10s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 4);
  auto r1 = parse_object(lines[0]);
  CHECK(r1.at("sent").as_int64() == 1);
  CHECK(r1.at("ok").as_bool());
  CHECK(r1.at("ts").as_string() == "1.0");
  auto r2 = parse_object(lines[1]);
  CHECK(r2.at("sent").as_int64() == 2);
  CHECK_FALSE(r2.at("ok").as_bool());
  auto r3 = parse_object(lines[2]);
  CHECK(r3.at("sent").as_int64() == 3);
  CHECK_FALSE(r3.at("ok").as_bool()); // the failed ack
  CHECK(std::string{r3.at("error").as_string()}.find("send_rejected") !=
        std::string::npos);
  auto r4 = parse_object(lines[3]);
  CHECK(r4.at("sent").as_int64() == 4);
  CHECK(r4.at("ts").as_string() == "3.0");
}

TEST_CASE("send mode: --max-wait fails a line the rate limiter holds too "
          "long, never sent",
          "[cli]") {
  fake_slack srv;
  // One message now, the next in 100 s: the second line cannot make it.
  process p{tool,
            args_for(srv, {"--send", "--events", "none", "--max-wait", "0.3",
                           "--caf-rtm.send-rate", "0.01",
                           "--caf-rtm.send-burst", "1"}),
            clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  p.write(R"({"type":"message","channel":"C1","text":"one"})"
          "\n"
          R"({"type":"message","channel":"C1","text":"two"})"
          "\n");
  p.close_stdin();
  REQUIRE(p.wait(10s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 2);
  CHECK(parse_object(lines[0]).at("ok").as_bool());
  auto r2 = parse_object(lines[1]);
  CHECK(r2.at("sent").as_int64() == 2);
  CHECK_FALSE(r2.at("ok").as_bool());
  CHECK(std::string{r2.at("error").as_string()}.find("send_expired") !=
        std::string::npos);
  CHECK(s->received().size() == 1);
}

TEST_CASE("send mode: --max-wait needs --send and a sane value", "[cli]") {
  fake_slack srv;
  for (auto args : {std::vector<std::string>{"--max-wait", "1"},
                    std::vector<std::string>{"--send", "--max-wait", "-1"},
                    std::vector<std::string>{"--send", "--max-wait", "1e9"}}) {
    process p{tool, args_for(srv, args), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--max-wait") != std::string::npos);
  }
  CHECK(srv.requests().empty());
}

TEST_CASE("send mode: a long input waits for the send queue instead of "
          "overflowing it",
          "[cli]") {
  // A queue of 5 and 40 lines at once: the reader holds back while 5 wait
  // for their result, so every line is sent.
  fake_slack srv;
  process p{
      tool,
      args_for(srv,
               {"--send", "--events", "none", "--caf-rtm.send-queue-size", "5",
                "--caf-rtm.send-rate", "1000", "--caf-rtm.send-burst", "2"}),
      clean_env};
  REQUIRE(srv.session(0, 10s));
  std::string input;
  for (int i = 0; i < 40; ++i)
    input += R"({"type":"message","channel":"C1","text":"n)" +
             std::to_string(i) + "\"}\n";
  p.write(input);
  p.close_stdin();
  REQUIRE(p.wait(20s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 40);
  for (auto& line : lines)
    CHECK(parse_object(line).at("ok").as_bool());
}

TEST_CASE("send mode: a line over 1 MiB is refused without being held",
          "[cli]") {
  // Far over, and just over: the newline then comes in the read that takes
  // the line past the limit.
  auto size = GENERATE(size_t{3} << 20, (size_t{1} << 20) + 100);
  fake_slack srv;
  process p{tool, args_for(srv, {"--send", "--events", "none"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  p.write(std::string(size, 'x') + "\n" +
          R"({"type":"message","channel":"C1","text":"after"})" + "\n");
  p.close_stdin();
  REQUIRE(p.wait(20s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 2);
  auto r1 = parse_object(lines[0]);
  CHECK(r1.at("sent").as_int64() == 1);
  CHECK_FALSE(r1.at("ok").as_bool());
  CHECK(std::string{r1.at("error").as_string()}.find("line over") !=
        std::string::npos);
  auto r2 = parse_object(lines[1]);
  CHECK(r2.at("sent").as_int64() == 2);
  CHECK(r2.at("ok").as_bool());
}

TEST_CASE("send mode: stdin that cannot be read is an error, not the end "
          "of the input",
          "[cli]") {
  fake_slack srv;
  // A directory as stdin: poll says readable, read fails with EISDIR.
  auto args = args_for(srv, {"--send", "--events", "none"});
  args.insert(args.begin(), {"-c", R"(exec "$0" "$@" < /)", tool});
  process p{"/bin/sh", args, clean_env};
  CHECK(p.wait(20s) == 1);
  CHECK_THAT(p.err(), Catch::Contains("stdin: Is a directory"));
}

TEST_CASE("stats: one JSON line on stderr", "[cli]") {
  fake_slack srv;
  process p{tool, args_for(srv, {"--count", "3", "--stats"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send(message(1));
  s->send(message(2));
  REQUIRE(p.wait(10s) == 0);
  auto err = p.err();
  auto start = err.rfind("{\"events\"");
  REQUIRE(start != std::string::npos);
  auto stats = parse_object(err.substr(start, err.find('\n', start) - start));
  CHECK(stats.at("events").as_int64() == 3);
  CHECK(stats.contains("elapsed_s"));
  CHECK(stats.contains("events_per_s"));
  CHECK(stats.at("reconnects").as_int64() == 0);
  CHECK(stats.contains("rtt_ms"));
}

TEST_CASE("a duration ends the run with 0", "[cli]") {
  fake_slack srv;
  process p{tool, args_for(srv, {"--duration", "0.5"}), clean_env};
  REQUIRE(p.wait(10s) == 0);
  CHECK(p.out_lines().size() == 1); // hello
}

TEST_CASE("a --log-level given overrides a bad log level in the config file",
          "[cli]") {
  fake_slack srv;
  // Removed at the end, also when a check fails.
  struct temp_file {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() /
        ("caf-rtm-cli-test-" + std::to_string(::getpid()) + ".ini");
    ~temp_file() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } file;
  // An extra header quoting the option's name is a bad option of its own.
  auto header = GENERATE(false, true);
  std::ofstream{file.path}
      << "caf-rtm {\n  log-level = \"verbos\"\n"
      << (header ? "  extra-headers = [\"caf-rtm.log-level\"]\n" : "") << "}\n";
  auto config_file = "--config-file=" + file.path.string();
  SECTION("given") {
    process p{
        tool,
        args_for(srv, {config_file, "--log-level", "warn", "--count", "1"}),
        clean_env};
    if (header) {
      // Refused for the header, which --log-level does not excuse.
      CHECK(p.wait(10s) == 2);
      CHECK(p.err().find("extra-headers") != std::string::npos);
    } else {
      CHECK(p.wait(10s) == 0);
      auto lines = p.out_lines();
      REQUIRE(lines.size() == 1);
      CHECK(parse_object(lines[0]).at("type").as_string() == "hello");
    }
  }
  SECTION("not given: the file's level is refused") {
    process p{tool, args_for(srv, {config_file, "--count", "1"}), clean_env};
    CHECK(p.wait(10s) == 2);
    // The first bad option is named (an entry by its place, not its text).
    CHECK(p.err().find(header ? "extra-headers: entry 1" : "log-level") !=
          std::string::npos);
  }
}

TEST_CASE("usage errors exit 2 and name the option", "[cli]") {
  fake_slack srv;
  {
    process p{tool, args_for(srv, {"--bogus"}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--bogus") != std::string::npos);
  }
  {
    process p{tool, args_for(srv, {"--log-level", "loud"}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--log-level") != std::string::npos);
  }
  {
    // Read by the library: named with its category.
    process p{tool, args_for(srv, {"--caf-rtm.log-level", "verbos"}),
              clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("log-level") != std::string::npos);
  }
  {
    process p{tool, args_for(srv, {"--count"}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--count") != std::string::npos);
  }
  {
    process p{tool, args_for(srv, {"--ping-interval", "0"}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--ping-interval") != std::string::npos);
  }
  // Values that once wrapped, read as "not given" or rounded to "no limit".
  for (auto [opt, value] :
       {std::pair{"--max-attempts", "4294967296"},
        std::pair{"--max-attempts", "-1"}, std::pair{"--ping-interval", "-1"},
        std::pair{"--pong-timeout", "1e-12"}, std::pair{"--duration", "1e-10"},
        // Socket Mode options, which RTM would ignore.
        std::pair{"--connections", "2"}, std::pair{"--app-token", "xapp-1"}}) {
    process p{tool, args_for(srv, {opt, value}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find(opt) != std::string::npos);
  }
  {
    process p{tool, {"--base-url", srv.base_url()}, clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("SLACK_BOT_TOKEN") != std::string::npos);
  }
  CHECK(srv.requests().empty());
}

TEST_CASE("option errors say what was expected and never show a token",
          "[cli][secrets]") {
  auto run = [](const std::vector<std::string>& args) {
    process p{tool, args, clean_env};
    auto code = p.wait(10s);
    return std::make_pair(code, p.err());
  };
  auto [code, err] = run({"--count", "abc"});
  CHECK(code == 2);
  CHECK(err.find("--count: expected int64, got 'abc'") != std::string::npos);
  // A forgotten value does not swallow the next option and its token.
  std::tie(code, err) = run({"--ca-file", "--token", "xoxb-forgot-1"});
  CHECK(code == 2);
  CHECK(err.find("--ca-file needs a value") != std::string::npos);
  CHECK(err.find("xoxb-forgot-1") == std::string::npos);
  std::tie(code, err) = run({"xoxb-stray-2"});
  CHECK(code == 2);
  CHECK(err.find("xoxb-stray-2") == std::string::npos);
  std::tie(code, err) = run({"--", "--token=xoxb-after-3"});
  CHECK(code == 2);
  CHECK(err.find("xoxb-after-3") == std::string::npos);
  std::tie(code, err) = run({"--caf#caf-rtm.token=xoxb-\"q\\w-4", "--count=x"});
  CHECK(code == 2);
  CHECK(err.find("xoxb-") == std::string::npos);
  // Nor a header line's value (a gateway's key), however broken the list.
  std::tie(code, err) = run({"--caf-rtm.extra-headers=[X-Api-Key: key-5"});
  CHECK(code == 2);
  CHECK(err.find("--caf-rtm.extra-headers: expected") != std::string::npos);
  CHECK(err.find("key-5") == std::string::npos);
}

TEST_CASE("the dump-config option shows the configuration, tokens redacted",
          "[cli][secrets]") {
  // A proxy URL's user and password are secret too.
  process p{tool,
            {"--dump-config", "--token", "xoxb-dumped-5",
             "--caf-rtm.app-token=xapp-dumped-6",
             "--caf-rtm.proxy=http://user:pw-dumped-7@127.0.0.1:3128",
             "--openssl.passphrase=pass-dumped-8",
             R"(--caf-rtm.extra-headers=["X-Api-Key: key-dumped-9"])",
             "--caf-rtm.client-secret=secret-dumped-10",
             "--caf-rtm.refresh-token=xoxe-1-dumped-11",
             "--caf-rtm.token-file=/var/lib/bot/tokens.json",
             "--caf-rtm.token-expires-at=1700000000"},
            clean_env};
  CHECK(p.wait(10s) == 0);
  auto text = p.out() + p.err();
  CHECK(text.find("caf-rtm") != std::string::npos);
  CHECK(text.find("<redacted>") != std::string::npos);
  CHECK(text.find("X-Api-Key") != std::string::npos);
  CHECK(text.find("dumped") == std::string::npos);
  // Where the tokens are kept, and when they expire, is no secret.
  CHECK(text.find("/var/lib/bot/tokens.json") != std::string::npos);
  CHECK(text.find("1700000000") != std::string::npos);
}

TEST_CASE("help exits 0", "[cli]") {
  process p{tool, {"--help"}, clean_env};
  CHECK(p.wait(10s) == 0);
  auto text = p.out() + p.err();
  for (auto opt : {"--token", "--events", "--count", "--send", "--stats",
                   "--no-reconnect", "--demo"})
    CHECK(text.find(opt) != std::string::npos);
}

TEST_CASE("the token comes from SLACK_BOT_TOKEN", "[cli]") {
  fake_slack srv;
  auto env = clean_env;
  env.back() = "SLACK_BOT_TOKEN=" + srv.options().token;
  process p{tool, {"--base-url", srv.base_url(), "--count", "1"}, env};
  CHECK(p.wait(10s) == 0);
  CHECK(p.out_lines().size() == 1);
}

TEST_CASE("a token with a line break or spaces around it is trimmed, as the "
          "library trims its own options",
          "[cli]") {
  fake_slack srv;
  auto env = clean_env;
  std::vector<std::string> args{"--base-url", srv.base_url(), "--count", "1"};
  SECTION("from SLACK_BOT_TOKEN, saved with CRLF") {
    env.back() = "SLACK_BOT_TOKEN=" + srv.options().token + "\r\n";
  }
  SECTION("from SLACK_BOT_TOKEN, with a space before") {
    env.back() = "SLACK_BOT_TOKEN= " + srv.options().token;
  }
  SECTION("from --token, with a carriage return after") {
    args.push_back("--token");
    args.push_back(srv.options().token + "\r");
  }
  process p{tool, args, env};
  CHECK(p.wait(10s) == 0);
  CHECK(p.out_lines().size() == 1);
  CHECK(p.err().find("whitespace") == std::string::npos);
}

TEST_CASE("a fatal Slack error exits 3 and names the code, not the token",
          "[cli]") {
  fake_slack srv;
  std::string token = "xoxb-not-valid-1234";
  process p{
      tool,
      {"--token", token, "--base-url", srv.base_url(), "--log-level", "debug"},
      clean_env};
  CHECK(p.wait(10s) == 3);
  CHECK(p.err().find("invalid_auth") != std::string::npos);
  CHECK(p.err().find(token) == std::string::npos);
  CHECK(p.out().find(token) == std::string::npos);
}

TEST_CASE("no connection with reconnecting off exits 4", "[cli]") {
  uint16_t port = 0;
  {
    fake_slack gone;
    port = gone.port();
  }
  process p{tool,
            {"--token", "xoxb-x", "--base-url",
             "http://127.0.0.1:" + std::to_string(port) + "/api/",
             "--no-reconnect"},
            clean_env};
  CHECK(p.wait(30s) == 4);
}

TEST_CASE("giving up after --max-attempts exits 4", "[cli]") {
  fake_slack srv;
  for (int i = 0; i < 10; ++i)
    srv.script("rtm.connect", http_response{503, {}, "busy", "text/plain"});
  process p{tool, args_for(srv, {"--max-attempts", "2"}), clean_env};
  CHECK(p.wait(60s) == 4);
}

TEST_CASE("a dropped session with reconnecting off exits 4", "[cli]") {
  fake_slack srv;
  process p{tool, args_for(srv, {"--no-reconnect"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  REQUIRE(p.wait_out_lines(1, 10s));
  s->drop();
  CHECK(p.wait(10s) == 4);
}

TEST_CASE("the echo bot with reconnecting off exits 4 when it has no "
          "session, and --replies below 0 is a usage error",
          "[cli][echo_bot]") {
  SECTION("its session drops") {
    fake_slack srv;
    process p{echo_bot, args_for(srv, {"--no-reconnect"}), clean_env};
    auto s = srv.session(0, 10s);
    REQUIRE(s);
    REQUIRE(p.wait_err_contains("connected as", 10s));
    s->drop();
    CHECK(p.wait(10s) == 4);
  }
  SECTION("it cannot connect") {
    uint16_t port = 0;
    {
      fake_slack gone;
      port = gone.port();
    }
    process p{echo_bot,
              {"--token", "xoxb-x", "--base-url",
               "http://127.0.0.1:" + std::to_string(port) + "/api/",
               "--no-reconnect"},
              clean_env};
    CHECK(p.wait(30s) == 4);
  }
  SECTION("--replies -1") {
    fake_slack srv;
    process p{echo_bot, args_for(srv, {"--replies", "-1"}), clean_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("--replies") != std::string::npos);
  }
}

TEST_CASE("SIGTERM and SIGINT: close frame, exit 0 within a second", "[cli]") {
  for (int sig : {SIGTERM, SIGINT}) {
    fake_slack srv;
    process p{tool, args_for(srv), clean_env};
    auto s = srv.session(0, 10s);
    REQUIRE(s);
    REQUIRE(p.wait_out_lines(1, 10s)); // hello printed: fully up
    auto start = std::chrono::steady_clock::now();
    p.signal(sig);
    CHECK(p.wait(5s) == 0);
    // By design within a second (status 150 ms + close 800 ms at most); the
    // bound here only catches a hang on a loaded machine.
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(s->close_code_received() == std::optional<uint16_t>{1000});
  }
}

TEST_CASE("a signal ends the tool even while nobody reads its stdout",
          "[cli]") {
  // The reader stalls (a pager nobody scrolls): the listener blocks on the
  // full pipe, and with it anything else that writes to stdout.
  fake_slack srv;
  process p{tool, args_for(srv), clean_env, stdout_to{stdout_to::unread, {}}};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  // Far more than the pipe and stdio's buffer hold.
  for (int i = 0; i < 5000; ++i)
    s->send(message(i));
  REQUIRE(p.wait_stdout_full(10s));
  p.signal(SIGTERM);
  // Within the 5 s of grace after the signal and the close (bounded); the
  // bound here only catches a hang on a loaded machine.
  CHECK(p.wait(20s) == 1);
  CHECK(p.err().find("stdout is not being read") != std::string::npos);
  CHECK(s->close_code_received() == std::optional<uint16_t>{1000});
}

TEST_CASE("a write to stdout that fails at the end still exits 1", "[cli]") {
  fake_slack srv;
  // One short line fits stdio's buffer: the only write that fails is the
  // flush on the way out.
  process p{tool, args_for(srv, {"--count", "1"}), clean_env,
            stdout_to{stdout_to::file, "/dev/full"}};
  REQUIRE(srv.session(0, 10s));
  CHECK(p.wait(10s) == 1);
  CHECK(p.err().find("cannot write to stdout") != std::string::npos);
}

TEST_CASE("an unreadable CA file is a usage error", "[cli]") {
  fake_slack srv;
  process p{tool, args_for(srv, {"--ca-file", "/nonexistent/ca.pem"}),
            clean_env};
  CHECK(p.wait(10s) == 2);
  CHECK(p.err().find("ca_file") != std::string::npos);
}

TEST_CASE("a closed stdout ends the run with 1", "[cli]") {
  fake_slack srv;
  // The tool's stdout goes to `head`, which leaves after one line.
  std::string command = tool + " --token " + srv.options().token +
                        " --base-url " + srv.base_url() +
                        " | head -n 1; exit ${PIPESTATUS[0]}";
  process p{"/bin/bash", {"-c", command}, clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  REQUIRE(p.wait_out_lines(1, 10s)); // hello, through head
  for (int i = 1; i <= 3; ++i)
    s->send(message(i));
  CHECK(p.wait(10s) == 1);
  CHECK(p.err().find("stdout") != std::string::npos);
}

TEST_CASE("the token never shows at --log-level debug", "[cli][secrets]") {
  fake_slack srv;
  srv.script("auth.test", http_response{500, {}, "oops", "text/plain"});
  process p{tool, args_for(srv, {"--log-level", "debug", "--count", "2"}),
            clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send(message(1));
  REQUIRE(p.wait(10s) == 0);
  CHECK(p.err().find("web_api") != std::string::npos); // it did log
  CHECK(p.err().find(srv.options().token) == std::string::npos);
  CHECK(p.out().find(srv.options().token) == std::string::npos);
}

TEST_CASE("the demo runs and exits 0", "[cli][demo]") {
  process p{tool, {"--demo"}, clean_env};
  REQUIRE(p.wait(60s) == 0);
  auto lines = p.out_lines();
  std::vector<std::string> types;
  int acked = 0;
  for (auto& line : lines) {
    auto obj = parse_object(line);
    if (obj.contains("sent")) {
      CHECK(obj.at("ok").as_bool());
      ++acked;
    } else {
      types.emplace_back(obj.at("type").as_string());
    }
  }
  CHECK(acked == 2); // both mentions answered
  CHECK(types == std::vector<std::string>{"hello", "message", "user_typing",
                                          "message", "reaction_added",
                                          "message", "goodbye", "hello",
                                          "message"});
  CHECK(p.err().find("demo: done") != std::string::npos);
}

TEST_CASE("the demo ends by itself whatever is printed", "[cli][demo]") {
  // Nothing printed but the answers to the two mentions.
  process none{tool, {"--demo", "--events", "none"}, clean_env};
  REQUIRE(none.wait(60s) == 0);
  CHECK(none.out_lines().size() == 2);
  for (auto& line : none.out_lines())
    CHECK(parse_object(line).contains("sent"));
  CHECK(none.err().find("demo: done") != std::string::npos);
  // Only messages.
  process messages{tool, {"--demo", "--events", "message"}, clean_env};
  REQUIRE(messages.wait(60s) == 0);
  size_t printed = 0;
  for (auto& line : messages.out_lines())
    if (!parse_object(line).contains("sent"))
      ++printed;
  CHECK(printed == 4);
  // --count ends the demo early, without waiting for the script.
  process two{tool, {"--demo", "--count", "2"}, clean_env};
  REQUIRE(two.wait(60s) == 0);
  CHECK(two.out_lines().size() == 2);
  // A log level given wins over the demo's narration default.
  process quiet{
      tool, {"--demo", "--log-level", "warn", "--events", "none"}, clean_env};
  REQUIRE(quiet.wait(60s) == 0);
  CHECK(quiet.err().find(" info ") == std::string::npos);
  // Options meant for Slack have no part in the demo: a proxy (nothing
  // listens on port 1) and a CA file that does not exist.
  process direct{tool,
                 {"--demo", "--events", "none", "--proxy", "http://127.0.0.1:1",
                  "--ca-file", "/nonexistent/ca.pem"},
                 clean_env};
  REQUIRE(direct.wait(60s) == 0);
  CHECK(direct.err().find("demo: done") != std::string::npos);
}

TEST_CASE("the library's caf-rtm.* options work on every program",
          "[cli][options]") {
  fake_slack srv;
  // The long forms instead of --token and --base-url; GNU style.
  process p{tool,
            {"--caf-rtm.token", srv.options().token, "--caf-rtm.base-url",
             srv.base_url(), "--caf-rtm.ping-interval=2s", "--count", "1"},
            clean_env};
  REQUIRE(srv.session(0, 10s));
  REQUIRE(p.wait(10s) == 0);
  CHECK(parse_object(p.out_lines().at(0)).at("type").as_string() == "hello");
  // A short form overrides its long form.
  process q{tool,
            {"--caf-rtm.token", "xoxb-wrong", "--token", srv.options().token,
             "--caf-rtm.base-url=" + srv.base_url(), "--count", "1"},
            clean_env};
  REQUIRE(q.wait(10s) == 0);
  // A bad value of a long form is a usage error that never shows a token.
  process bad{tool,
              {"--caf-rtm.token", "xoxb-secret-value",
               "--caf-rtm.ping-interval", "soon"},
              clean_env};
  CHECK(bad.wait(10s) == 2);
  CHECK(bad.err().find("xoxb-secret-value") == std::string::npos);
  // The echo bot takes them too.
  process bot{echo_bot,
              {"--caf-rtm.token", srv.options().token, "--caf-rtm.base-url",
               srv.base_url(), "--replies", "1"},
              clean_env};
  auto s = srv.session(2, 10s);
  REQUIRE(s);
  // The bot knows its mention once connected; a message before that is not
  // one for it.
  REQUIRE(bot.wait_err_contains("connected as", 10s));
  s->send(R"({"type":"message","channel":"C1","user":"U1",)"
          R"("text":"<@U0BOT> ping","ts":"1.0"})");
  REQUIRE(bot.wait(10s) == 0);
}

TEST_CASE("a rotating token: refreshed, kept in its token file, and read "
          "from it at the next start",
          "[cli][rotation]") {
  fake_slack srv;
  temp_dir dir;
  auto file = dir.path + "/tokens.json";
  // The configured token is one the fake refuses: only the rotated one
  // works.
  std::vector<std::string> args{"--token",
                                "xoxe.xoxb-1-stale",
                                "--base-url",
                                srv.base_url(),
                                "--caf-rtm.client-id",
                                srv.options().client_id,
                                "--caf-rtm.client-secret",
                                srv.options().client_secret,
                                "--caf-rtm.refresh-token",
                                srv.options().refresh_token,
                                "--caf-rtm.token-file",
                                file,
                                "--count",
                                "1"};
  auto debug = args;
  debug.insert(debug.end(), {"--log-level", "debug"});
  process first{tool, debug, clean_env};
  REQUIRE(first.wait(10s) == 0);
  CHECK(parse_object(first.out_lines().at(0)).at("type").as_string() ==
        "hello");
  CHECK(srv.requests("rtm.connect").at(0).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  std::ifstream in{file};
  std::stringstream text;
  text << in.rdbuf();
  auto stored = parse_object(text.str());
  CHECK(stored.at("access_token").as_string() == "xoxe.xoxb-1-rotated-1");
  CHECK(stored.at("refresh_token").as_string() == "xoxe-1-refresh-1");
  // Neither the app's secret nor a refresh token shows in the logs.
  for (const std::string& secret :
       {srv.options().client_secret, srv.options().refresh_token,
        std::string{"xoxe-1-refresh-1"}, std::string{"rotated-1"}}) {
    INFO(secret);
    CHECK(first.err().find(secret) == std::string::npos);
  }
  // The same command again: its refresh token is spent and its token
  // refused, but the file's tokens work.
  process second{tool, args, clean_env};
  REQUIRE(second.wait(10s) == 0);
  CHECK(srv.requests("rtm.connect").at(1).headers["authorization"] ==
        "Bearer xoxe.xoxb-1-rotated-1");
  CHECK(srv.requests("oauth.v2.access").size() == 1);
  // Without a file (or a listener, which a command line cannot give) the
  // new tokens would be lost: refused before anything is spent.
  auto no_file = args;
  no_file.erase(no_file.begin() + 10, no_file.begin() + 12);
  process refused{tool, no_file, clean_env};
  CHECK(refused.wait(10s) == 2);
  CHECK_THAT(refused.err(), Catch::Contains("token-file"));
  CHECK(srv.requests("oauth.v2.access").size() == 1);
}

TEST_CASE("the echo bot answers mentions", "[cli][echo_bot]") {
  fake_slack srv;
  process p{echo_bot, args_for(srv, {"--replies", "1"}), clean_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  REQUIRE(p.wait_err_contains("connected as", 10s));
  s->send(
      R"({"type":"message","channel":"C7","user":"U1","text":"no mention"})");
  s->send(R"({"type":"message","channel":"C7","user":"U1",)"
          R"("text":"<@U0BOT> hello bot"})");
  REQUIRE(s->wait_received(1, 10s));
  auto reply = parse_object(s->received().at(0));
  CHECK(reply.at("type").as_string() == "message");
  CHECK(reply.at("channel").as_string() == "C7");
  CHECK(reply.at("text").as_string() == "echo: hello bot");
  CHECK(p.wait(10s) == 0);
  CHECK(s->received().size() == 1); // the message without mention: no reply
}

TEST_CASE("the README's bot answers ping in place and stops on SIGTERM",
          "[cli][readme]") {
  fake_slack srv;
  process p{readme_bot,
            {"--caf-rtm.base-url=" + srv.base_url()},
            {"HTTPS_PROXY=", "https_proxy=", "HTTP_PROXY=", "http_proxy=",
             "SLACK_BOT_TOKEN=" + srv.options().token}};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  REQUIRE(p.wait_out_lines(1, 10s));
  CHECK(p.out_lines().at(0).rfind("connected to", 0) == 0);
  s->send(R"({"type":"message","channel":"C7","user":"U1","text":"ping",)"
          R"("ts":"5.1","thread_ts":"5.0"})");
  REQUIRE(s->wait_received(1, 10s));
  auto reply = parse_object(s->received().at(0));
  CHECK(reply.at("text").as_string() == "pong");
  CHECK(reply.at("channel").as_string() == "C7");
  CHECK(reply.at("thread_ts").as_string() == "5.0");
  REQUIRE(p.wait_out_lines(2, 10s)); // "answered, ts ..."
  p.signal(SIGTERM);
  CHECK(p.wait(10s) == 0);
  CHECK(s->close_code_received() == std::optional<uint16_t>{1000});
  CHECK(p.err().find("unexpected message") == std::string::npos);
}

TEST_CASE("the README's bot exits 1 on a fatal error", "[cli][readme]") {
  fake_slack srv;
  process p{readme_bot,
            {"--caf-rtm.base-url=" + srv.base_url()},
            {"HTTPS_PROXY=", "https_proxy=", "HTTP_PROXY=", "http_proxy=",
             "SLACK_BOT_TOKEN=xoxb-wrong"}};
  CHECK(p.wait(10s) == 1);
  CHECK(p.err().find("invalid_auth") != std::string::npos);
}

// -- Socket Mode --------------------------------------------------------------

namespace {

std::vector<std::string> sm_args_for(const fake_slack& srv,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--socket-mode", "--app-token",
                                srv.options().app_token, "--base-url",
                                srv.base_url()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

const std::vector<std::string> clean_sm_env{
    "HTTPS_PROXY=", "https_proxy=",     "HTTP_PROXY=",
    "http_proxy=",  "SLACK_BOT_TOKEN=", "SLACK_APP_TOKEN="};

std::string mention_event(int n) {
  return R"({"type":"app_mention","channel":"C1","user":"U1","text":"<@U0BOT> m)" +
         std::to_string(n) + R"(","ts":")" + std::to_string(n) + R"(.0"})";
}

} // namespace

TEST_CASE("socket mode: envelopes as received, acked, duplicates not printed",
          "[cli][socket_mode]") {
  fake_slack srv;
  process p{tool, sm_args_for(srv, {"--count", "3", "--stats"}), clean_sm_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  auto event = R"("type":"events_api","accepts_response_payload":false,)"
               R"("payload":{"event_id":"Ev1","event":{"type":"app_mention"}})";
  auto first = std::string{R"({"envelope_id":"E1",)"} + event + "}";
  s->send(first);
  s->send(std::string{R"({"envelope_id":"E2","retry_attempt":1,)"} + event +
          "}");
  s->send_envelope("future_type", R"({"x":1})", false);
  s->send_envelope("slash_commands", R"({"command":"/x"})", true);
  auto status = p.wait(10s);
  // What the tool said, should anything below fail.
  INFO("stderr: " << p.err());
  INFO("stdout: " << p.out());
  REQUIRE(status == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == first); // the envelope as received
  CHECK(parse_object(lines[1]).at("type").as_string() == "future_type");
  CHECK(parse_object(lines[2]).at("type").as_string() == "slash_commands");
  REQUIRE(srv.wait_acks(4, 5s));
  auto stats = parse_object(p.err().substr(p.err().rfind('{')));
  CHECK(stats.at("duplicates").as_int64() == 1);
  // The last one may still be on its way when the statistics are taken.
  CHECK(stats.at("acks").as_int64() >= 3);
  CHECK(stats.at("late_acks").as_int64() == 0);
  // Every envelope had a subscriber (the printer): none left to Slack.
  CHECK(stats.at("unclaimed").as_int64() == 0);
  CHECK(stats.at("connections").as_int64() == 1);
}

TEST_CASE("socket mode: --events matches the envelope or the inner type",
          "[cli][socket_mode]") {
  fake_slack srv;
  process p{
      tool,
      sm_args_for(srv, {"--events", "interactive,app_mention", "--count", "2"}),
      clean_sm_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send_event(R"({"type":"message","channel":"C1","text":"x"})");
  s->send_event(mention_event(1));
  s->send_envelope("interactive", R"({"type":"block_actions"})", false);
  REQUIRE(p.wait(10s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 2);
  CHECK(parse_object(lines[0]).at("type").as_string() == "events_api");
  CHECK(parse_object(lines[1]).at("type").as_string() == "interactive");
  CHECK(srv.acks().size() == 3); // the one not printed is acked too
}

TEST_CASE("socket mode: --respond answers from stdin, else empty at the "
          "deadline",
          "[cli][socket_mode]") {
  fake_slack srv;
  process p{tool,
            sm_args_for(srv, {"--respond", "--caf-rtm.ack-deadline", "2500ms"}),
            clean_sm_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  auto answered =
      s->send_envelope("slash_commands", R"({"command":"/a"})", true);
  REQUIRE(p.wait_out_lines(1, 10s));
  CHECK(srv.acks().empty()); // waits for its answer
  p.write(R"({"envelope_id":")" + answered +
          R"(","payload":{"text":"answer"}})"
          "\n");
  REQUIRE(srv.wait_acks(1, 10s));
  auto ack = srv.acks().at(0);
  CHECK(ack.envelope_id == answered);
  REQUIRE(ack.payload);
  CHECK(parse_object(*ack.payload).at("text").as_string() == "answer");
  auto ignored =
      s->send_envelope("slash_commands", R"({"command":"/b"})", true);
  REQUIRE(srv.wait_acks(2, 10s));
  CHECK(srv.acks().at(1).envelope_id == ignored);
  CHECK_FALSE(srv.acks().at(1).payload);
  // An answer after the deadline is reported and changes nothing (the
  // tool's own deadline runs out just after the client's; a second covers
  // a late timer on a loaded machine).
  std::this_thread::sleep_for(1s);
  p.write(R"({"envelope_id":")" + ignored +
          R"(","payload":{"text":"late"}})"
          "\n");
  CHECK(p.wait_err_contains("waits for no answer", 10s));
  CHECK(srv.acks().size() == 2);
  // One still waiting when the program ends is acked (empty) before the
  // connection closes.
  auto last = s->send_envelope("slash_commands", R"({"command":"/c"})", true);
  REQUIRE(p.wait_out_lines(3, 10s));
  p.signal(SIGTERM);
  REQUIRE(p.wait(10s) == 0);
  REQUIRE(srv.wait_acks(3, 10s));
  CHECK(srv.acks().at(2).envelope_id == last);
}

TEST_CASE("socket mode: --respond with --count ends once the envelopes "
          "printed are answered",
          "[cli][socket_mode]") {
  fake_slack srv;
  process p{tool, sm_args_for(srv, {"--respond", "--count", "1"}),
            clean_sm_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  auto id = s->send_envelope("slash_commands", R"({"command":"/a"})", true);
  REQUIRE(p.wait_out_lines(1, 10s));
  p.write(R"({"envelope_id":")" + id +
          R"(","payload":{"text":"answer"}})"
          "\n");
  REQUIRE(p.wait(10s) == 0);
  REQUIRE(srv.wait_acks(1, 10s));
  auto ack = srv.acks().at(0);
  CHECK(ack.envelope_id == id);
  REQUIRE(ack.payload);
  CHECK(parse_object(*ack.payload).at("text").as_string() == "answer");
}

TEST_CASE("send and respond do not mix also with a hub", "[cli]") {
  process p{tool,
            {"--hub", "127.0.0.1:1", "--workspace", "w", "--send", "--respond"},
            clean_env};
  CHECK(p.wait(10s) == 2);
  CHECK(p.err().find("--send and --respond") != std::string::npos);
}

TEST_CASE("socket mode: --respond reads stdin no faster than it answers",
          "[cli][socket_mode]") {
  // Nobody reads stdout: the first envelope, printed as one line larger than
  // the pipe holds, blocks the tool's printing, and with it its answers.
  fake_slack srv;
  process p{tool, sm_args_for(srv, {"--respond"}), clean_sm_env,
            stdout_to{stdout_to::unread, {}}};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send_envelope("slash_commands",
                   R"({"command":"/a","text":")" +
                       std::string(256 * 1024, 'x') + R"("})",
                   true);
  REQUIRE(p.wait_stdout_full(10s));
  // 4 MB of answers: the tool reads a window of lines ahead of its answers
  // (256 of 42 bytes), plus what the pipe and one read hold. Without a
  // window, it read all of them into memory.
  std::string line = R"({"envelope_id":"e-unknown","payload":{}})"
                     "\n";
  std::string answers;
  while (answers.size() < (size_t{4} << 20))
    answers += line;
  auto taken = p.write_for(answers, 3s);
  CHECK(taken < (size_t{1} << 20));
  p.signal(SIGTERM);
  CHECK(p.wait(20s) == 1);
  CHECK(p.err().find("stdout is not being read") != std::string::npos);
}

TEST_CASE("socket mode: exit codes", "[cli][socket_mode]") {
  SECTION("no app token: 2") {
    fake_slack srv;
    process p{
        tool, {"--socket-mode", "--base-url", srv.base_url()}, clean_sm_env};
    CHECK(p.wait(10s) == 2);
    CHECK(p.err().find("app token") != std::string::npos);
  }
  SECTION("a bad app token: 3") {
    fake_slack srv;
    process p{tool,
              {"--socket-mode", "--app-token", "xapp-wrong", "--base-url",
               srv.base_url()},
              clean_sm_env};
    CHECK(p.wait(10s) == 3);
    CHECK(p.err().find("invalid_auth") != std::string::npos);
    CHECK(p.err().find("xapp-wrong") == std::string::npos);
  }
  SECTION("link_disabled: 3") {
    fake_slack srv;
    process p{tool, sm_args_for(srv), clean_sm_env};
    auto s = srv.session(0, 10s);
    REQUIRE(s);
    s->send_disconnect("link_disabled");
    CHECK(p.wait(10s) == 3);
    CHECK(p.err().find("link_disabled") != std::string::npos);
  }
  SECTION("--no-reconnect: 4 when the first connection fails") {
    fake_slack srv;
    srv.script_handshake(503);
    process p{tool, sm_args_for(srv, {"--no-reconnect"}), clean_sm_env};
    CHECK(p.wait(10s) == 4);
  }
  SECTION("--no-reconnect: 4 when a live one ends") {
    fake_slack srv;
    process p{tool, sm_args_for(srv, {"--no-reconnect"}), clean_sm_env};
    auto s = srv.session(0, 10s);
    REQUIRE(s);
    s->drop();
    CHECK(p.wait(10s) == 4);
  }
  SECTION("--max-attempts: 4 after N failed attempts in a row") {
    fake_slack srv;
    for (int i = 0; i < 3; ++i)
      srv.script_handshake(503);
    process p{tool,
              sm_args_for(srv, {"--max-attempts", "2",
                                "--caf-rtm.reconnect-"
                                "initial-delay",
                                "10ms"}),
              clean_sm_env};
    CHECK(p.wait(10s) == 4);
    CHECK(srv.requests("apps.connections.open").size() == 2);
  }
}

TEST_CASE("socket mode: SIGTERM closes every connection with 1000, exit 0",
          "[cli][socket_mode]") {
  fake_slack srv;
  process p{tool, sm_args_for(srv, {"--connections", "2", "--stats"}),
            clean_sm_env};
  auto s0 = srv.session(0, 10s);
  auto s1 = srv.session(1, 10s);
  REQUIRE(s0);
  REQUIRE(s1);
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 2; }));
  p.signal(SIGTERM);
  CHECK(p.wait(5s) == 0);
  REQUIRE(s0->wait_ended(5s));
  REQUIRE(s1->wait_ended(5s));
  CHECK(s0->close_code_received() == std::optional<uint16_t>{1000});
  CHECK(s1->close_code_received() == std::optional<uint16_t>{1000});
  // Two connections at once are no reconnect.
  auto stats = parse_object(p.err().substr(p.err().rfind('{')));
  CHECK(stats.at("reconnects").as_int64() == 0);
}

TEST_CASE("socket mode: the demo runs and exits 0",
          "[cli][demo][socket_mode]") {
  process p{tool, {"--demo", "--socket-mode"}, clean_sm_env};
  REQUIRE(p.wait(60s) == 0);
  size_t envelopes = 0;
  size_t posted = 0;
  size_t responded = 0;
  std::set<std::string> event_ids;
  for (auto& line : p.out_lines()) {
    auto obj = parse_object(line);
    if (obj.contains("posted")) {
      CHECK(obj.at("ok").as_bool());
      ++posted;
      continue;
    }
    if (obj.contains("responded")) {
      CHECK(obj.at("ok").as_bool());
      ++responded;
      continue;
    }
    ++envelopes;
    if (auto* payload = obj.at("payload").as_object().if_contains("event_id"))
      CHECK(event_ids.insert(std::string{payload->as_string()}).second);
  }
  CHECK(envelopes == 6); // the retried one once
  CHECK(posted == 1);
  CHECK(responded == 1); // /deploy, through its response_url
  CHECK(p.err().find("demo: done") != std::string::npos);
}

TEST_CASE("socket mode: the echo bot answers mentions and /echo",
          "[cli][echo_bot][socket_mode]") {
  fake_slack srv;
  srv.script("chat.postMessage", http_response::ok(R"("ts":"2.0")"));
  process p{
      echo_bot,
      sm_args_for(srv, {"--token", srv.options().token, "--replies", "2"}),
      clean_sm_env};
  auto s = srv.session(0, 10s);
  REQUIRE(s);
  s->send_event(mention_event(1));
  REQUIRE(srv.wait_requests("chat.postMessage", 1, 10s));
  auto post = srv.requests("chat.postMessage").at(0);
  CHECK(post.form["channel"] == "C1");
  CHECK(post.form["text"] == "echo: m1");
  CHECK(post.headers["authorization"] == "Bearer " + srv.options().token);
  auto id = s->send_envelope("slash_commands",
                             R"({"command":"/echo","text":"hello"})", true);
  REQUIRE(p.wait(10s) == 0);
  bool found = false;
  for (auto& ack : srv.acks())
    if (ack.envelope_id == id) {
      REQUIRE(ack.payload);
      CHECK(parse_object(*ack.payload).at("text").as_string() == "echo: hello");
      found = true;
    }
  CHECK(found);
}
