// The hub across processes: caf-rtm-hub processes hold the clients (against a
// fake Slack in this process), bot nodes (an actor system in this process, or
// the caf-rtm tool) reach them over CAF's network layer on loopback.

#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/io/remote_actor.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "caf/rtm/hub/all.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "process.hpp"
#include "tcp_tap.hpp"
#include "test_support.hpp"
#include "testing/certs.hpp"

using namespace caf::rtm::test;
using caf::rtm::testing::fake_slack;
using caf::rtm::testing::fake_slack_options;

namespace rtm = caf::rtm;
namespace hub = caf::rtm::hub;

namespace {

const std::string hub_exe = CAF_RTM_HUB;
const std::string tool = CAF_RTM_TOOL;

// No proxy from the test's environment for the programs.
const std::vector<std::string> clean_env{
    "HTTPS_PROXY=", "https_proxy=",     "HTTP_PROXY=",
    "http_proxy=",  "SLACK_BOT_TOKEN=", "SLACK_APP_TOKEN="};

// Client options for the fake in a hub's configuration: quick retries.
const std::string fast_defaults = R"([caf-rtm]
proxy-from-environment = false
reconnect-initial-delay = 20ms
reconnect-max-delay = 200ms
api-retry-initial-delay = 10ms
api-retry-max-delay = 50ms
log-level = "warn"
)";

std::string rtm_entry(const std::string& name, const fake_slack& srv) {
  return name + " = {\n  token = \"" + srv.options().token +
         "\"\n  base-url = \"" + srv.base_url() + "\"\n}\n";
}

std::string socket_mode_entry(const std::string& name, const fake_slack& srv) {
  return name + " = {\n  app-token = \"" + srv.options().app_token +
         "\"\n  bot-token = \"" + srv.options().token + "\"\n  base-url = \"" +
         srv.base_url() + "\"\n}\n";
}

std::string hub_config(const std::string& entries) {
  return fast_defaults + "[workspaces]\n" + entries;
}

// A caf-rtm-hub process, ready once it said where it listens.
struct hub_proc {
  hub_proc(const std::string& config, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--config", config};
    if (std::find(more.begin(), more.end(), "--port") == more.end()) {
      args.emplace_back("--port");
      args.emplace_back("0");
    }
    args.insert(args.end(), more.begin(), more.end());
    proc = std::make_unique<process>(hub_exe, args, clean_env);
    if (!proc->wait_out_lines(1, 30s))
      throw std::runtime_error("hub did not start: " + proc->err());
    auto line = proc->out_lines().front();
    auto colon = line.rfind(':');
    if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos)
      throw std::runtime_error("unexpected hub output: " + line);
    port = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  }

  hub::hub_endpoint endpoint() const {
    return {"127.0.0.1", port};
  }

  std::unique_ptr<process> proc;
  uint16_t port = 0;
};

// What a bot's actor received through a remote subscription.
struct bot_log {
  mutable std::mutex mtx;
  std::vector<rtm::event> events;
  std::vector<rtm::envelope> envelopes;
  /// Messages of a batched subscription (their items are in the lists
  /// above).
  size_t batches = 0;
  std::vector<hub::hub_up> ups;
  std::vector<hub::hub_down> downs;
  std::vector<hub::hub_gap> gaps;
  std::vector<std::string> lifecycle;
  /// Every sender of a message the actor got (null for anonymous ones).
  std::vector<caf::strong_actor_ptr> senders;

  template <class F>
  auto with(F f) const {
    std::lock_guard<std::mutex> guard{mtx};
    return f(*this);
  }

  size_t event_count() const {
    return with([](auto& x) { return x.events.size(); });
  }
  size_t envelope_count() const {
    return with([](auto& x) { return x.envelopes.size(); });
  }
  size_t up_count() const {
    return with([](auto& x) { return x.ups.size(); });
  }
  size_t down_count() const {
    return with([](auto& x) { return x.downs.size(); });
  }
  size_t gap_count() const {
    return with([](auto& x) { return x.gaps.size(); });
  }
  hub::hub_up last_up() const {
    return with([](auto& x) { return x.ups.back(); });
  }
  size_t lifecycle_count(const std::string& prefix) const {
    return with([&](auto& x) {
      size_t n = 0;
      for (auto& line : x.lifecycle)
        if (line.rfind(prefix, 0) == 0)
          ++n;
      return n;
    });
  }
};

using bot_log_ptr = std::shared_ptr<bot_log>;

// A bot's actor: records everything; answers envelopes that accept a
// response payload with {"text":"answered <envelope id>"}, but for the
// command `/hold`, which it never answers.
caf::actor spawn_bot(caf::actor_system& sys, const bot_log_ptr& log) {
  return spawn_fn(sys, [log](caf::event_based_actor* self) -> caf::behavior {
    using held_answers =
        std::vector<caf::typed_response_promise<rtm::json_object>>;
    auto held = std::make_shared<held_answers>();
    auto note = [self, log](auto&& f) {
      std::lock_guard<std::mutex> guard{log->mtx};
      log->senders.push_back(self->current_sender());
      f(*log);
    };
    return {
        [=](const rtm::event& ev) {
          note([&](auto& x) { x.events.push_back(ev); });
        },
        [=](const rtm::event_batch& batch) {
          note([&](auto& x) {
            ++x.batches;
            x.events.insert(x.events.end(), batch.events.begin(),
                            batch.events.end());
          });
        },
        [=](const rtm::envelope_batch& batch) {
          note([&](auto& x) {
            ++x.batches;
            x.envelopes.insert(x.envelopes.end(), batch.envelopes.begin(),
                               batch.envelopes.end());
          });
        },
        [=](const rtm::envelope& env) -> caf::result<rtm::json_object> {
          note([&](auto& x) { x.envelopes.push_back(env); });
          if (env.event_type() == "/hold") {
            held->push_back(self->make_response_promise<rtm::json_object>());
            return held->back();
          }
          if (!env.accepts_response_payload())
            return rtm::no_payload();
          rtm::json_object answer;
          answer.value["text"] = "answered " + std::string{env.id()};
          return answer;
        },
        [=](const hub::hub_up& x) {
          note([&](auto& l) { l.ups.push_back(x); });
        },
        [=](const hub::hub_down& x) {
          note([&](auto& l) { l.downs.push_back(x); });
        },
        [=](const hub::hub_gap& x) {
          note([&](auto& l) { l.gaps.push_back(x); });
        },
        [=](const rtm::connecting&) {
          note([](auto& l) { l.lifecycle.push_back("connecting"); });
        },
        [=](const rtm::connected&) {
          note([](auto& l) { l.lifecycle.push_back("connected"); });
        },
        [=](const rtm::disconnected&) {
          note([](auto& l) { l.lifecycle.push_back("disconnected"); });
        },
        [=](const rtm::reconnecting&) {
          note([](auto& l) { l.lifecycle.push_back("reconnecting"); });
        },
        [=](const rtm::error_event& x) {
          note([&](auto& l) {
            l.lifecycle.push_back("error:" + code_of(x.reason));
          });
        },
        [=](const rtm::fatal_event& x) {
          note([&](auto& l) {
            l.lifecycle.push_back("fatal:" + code_of(x.reason));
          });
        },
    };
  });
}

// An actor system acting as a bot node (CAF::io, optionally TLS).
struct bot_node {
  explicit bot_node(const hub::node_options& opts = {})
      : tls(opts.tls.enabled()) {
    cfg.set("scheduler.max-threads", 2);
    if (auto err = hub::configure_node(cfg, opts))
      throw std::runtime_error("configure_node: " + rtm::render(err));
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys, true);
  }

  ~bot_node() {
    for (auto& hdl : tracked)
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
    self.reset();
  }

  template <class Handle>
  Handle track(Handle hdl) {
    tracked.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  // A remote subscription of `bot` (to `patterns`, and to the lifecycle) to
  // `workspace` on `hubs`, retrying quickly.
  hub::remote_subscription_actor
  subscribe(std::vector<hub::hub_endpoint> hubs, const std::string& workspace,
            caf::actor bot, std::vector<std::string> patterns = {"*"}) {
    hub::remote_subscription_config sub;
    sub.hubs = std::move(hubs);
    sub.workspace = workspace;
    sub.subscribers = {{bot, std::move(patterns)}};
    sub.lifecycle = bot;
    sub.reconnect = rtm::retry_policy{20ms, 300ms, 0};
    sub.tls = tls;
    return track(sys->spawn(hub::remote_subscription, sub));
  }

  // The registry of the hub at `where`, reached directly.
  hub::registry_actor registry(const hub::hub_endpoint& where) {
    auto reg = tls ? caf::openssl::remote_actor<hub::registry_actor>(
                         *sys, where.host, where.port)
                   : caf::io::remote_actor<hub::registry_actor>(
                         *sys, where.host, where.port);
    if (!reg)
      throw std::runtime_error("remote_actor: " + sys->render(reg.error()));
    return *reg;
  }

  std::vector<hub::workspace_status> list(const hub::registry_actor& reg) {
    auto res = request<std::vector<hub::workspace_status>>(
        *self, reg, caf::timespan{10s}, hub::list_atom_v);
    if (!res)
      throw std::runtime_error("list: " + rtm::render(res.error()));
    return *res;
  }

  bool tls;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::vector<caf::actor> tracked;
};

std::string message(int n, const std::string& type = "message") {
  return R"({"type":")" + type + R"(","channel":"C1","user":"U1","text":"m)" +
         std::to_string(n) + R"(","ts":")" + std::to_string(n) + R"(.0"})";
}

std::string text_of(const rtm::event& ev) {
  auto* text = ev.json().if_contains("text");
  return text && text->is_string() ? std::string{text->get_string()} : "";
}

// Names a reply type in a generic lambda.
template <class T>
struct reply_tag {
  using type = T;
};

template <class T>
constexpr reply_tag<T> reply{};

const hub::workspace_status*
find_status(const std::vector<hub::workspace_status>& xs,
            const std::string& name) {
  for (auto& x : xs)
    if (x.name == name)
      return &x;
  return nullptr;
}

} // namespace

// -- configuration and addresses ----------------------------------------------

TEST_CASE("hub addresses: host:port and [v6]:port", "[hub]") {
  auto x = hub::parse_endpoint("example.org:4270");
  REQUIRE(x);
  CHECK(x->host == "example.org");
  CHECK(x->port == 4270);
  auto v6 = hub::parse_endpoint("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(hub::to_string(*v6) == "[::1]:80");
  for (auto bad : {"example.org", ":80", "host:0", "host:65536", "host:x",
                   "::1:80", "a b:1"})
    CHECK_FALSE(hub::parse_endpoint(bad));
  CHECK(hub::is_loopback("127.0.0.1"));
  CHECK(hub::is_loopback("127.1.2.3"));
  CHECK(hub::is_loopback("::1"));
  CHECK(hub::is_loopback("localhost"));
  CHECK_FALSE(hub::is_loopback("0.0.0.0"));
  CHECK_FALSE(hub::is_loopback("::"));
  CHECK_FALSE(hub::is_loopback("10.0.0.1"));
  CHECK_FALSE(hub::is_loopback(""));
}

TEST_CASE("workspaces: entries on top of the caf-rtm defaults", "[hub]") {
  caf::settings defaults;
  defaults["send-rate"] = 2.0;
  defaults["base-url"] = std::string{"http://127.0.0.1:1/api/"};
  caf::settings acme;
  acme["token"] = std::string{"xoxb-acme"};
  acme["send-rate"] = int64_t{3}; // an integer where a double belongs
  acme["ping-interval"] = caf::timespan{std::chrono::milliseconds{700}};
  caf::settings shop;
  shop["app-token"] = std::string{"xapp-1-shop"};
  shop["connections"] = int64_t{2};
  caf::settings all;
  all["acme"] = acme;
  all["shop"] = shop;
  auto ws = hub::read_workspaces(defaults, all);
  REQUIRE(ws);
  REQUIRE(ws->size() == 2);
  auto& a = (*ws)[0];
  CHECK(a.name == "acme");
  CHECK(a.kind == rtm::client_kind::rtm);
  CHECK(a.cfg.token == "xoxb-acme");
  CHECK(a.cfg.send_rate == 3.0);
  CHECK(a.cfg.ping_interval == std::chrono::milliseconds{700});
  CHECK(a.cfg.base_url == "http://127.0.0.1:1/api/");
  auto& s = (*ws)[1];
  CHECK(s.kind == rtm::client_kind::socket_mode);
  CHECK(s.cfg.app_token == "xapp-1-shop");
  CHECK(s.cfg.connections == 2);
  CHECK(s.cfg.send_rate == 2.0);
  // A hub's Socket Mode clients ack what a bot took, and leave the rest to
  // Slack's retries, unless told otherwise.
  CHECK(s.cfg.ack_after_delivery);
  CHECK(s.cfg.redeliver_unclaimed);
  shop["ack-after-delivery"] = false;
  all["shop"] = shop;
  ws = hub::read_workspaces(defaults, all);
  REQUIRE(ws);
  CHECK_FALSE((*ws)[1].cfg.ack_after_delivery);
  CHECK_FALSE((*ws)[1].cfg.redeliver_unclaimed);
  // Also when the defaults turn it on.
  defaults["redeliver-unclaimed"] = true;
  ws = hub::read_workspaces(defaults, all);
  REQUIRE(ws);
  CHECK_FALSE((*ws)[1].cfg.redeliver_unclaimed);
}

TEST_CASE("workspaces: mistakes name the entry", "[hub]") {
  auto error_of = [](caf::settings entry, const std::string& name = "acme") {
    caf::settings all;
    all[name] = std::move(entry);
    auto ws = hub::read_workspaces({}, all);
    REQUIRE_FALSE(ws);
    return rtm::render(ws.error());
  };
  caf::settings typo;
  typo["tokne"] = std::string{"xoxb-1"};
  CHECK_THAT(error_of(typo), Catch::Contains("workspace acme: unknown option "
                                             "tokne"));
  caf::settings wrong_type;
  wrong_type["token"] = std::string{"xoxb-1"};
  wrong_type["connections"] = std::string{"many"};
  CHECK_THAT(error_of(wrong_type), Catch::Contains("connections: expected"));
  caf::settings no_token;
  no_token["base-url"] = std::string{"http://127.0.0.1:1/api/"};
  CHECK_THAT(error_of(no_token), Catch::Contains("token is empty"));
  caf::settings ok;
  ok["token"] = std::string{"xoxb-1"};
  CHECK_THAT(error_of(ok, "a b"), Catch::Contains("names are made of"));
  caf::settings not_a_block;
  caf::settings all;
  all["acme"] = std::string{"xoxb-1"};
  auto ws = hub::read_workspaces({}, all);
  REQUIRE_FALSE(ws);
  CHECK_THAT(rtm::render(ws.error()), Catch::Contains("want a block"));
  CHECK_FALSE(hub::read_workspaces({}, caf::settings{}));
  caf::settings bad_level;
  bad_level["token"] = std::string{"xoxb-1"};
  bad_level["log-level"] = std::string{"loud"};
  CHECK_THAT(error_of(bad_level), Catch::Contains("log-level: expected"));
}

TEST_CASE("workspaces: a rotating token keeps its own token file", "[hub]") {
  caf::settings defaults;
  defaults["client-id"] = std::string{"12.34"};
  defaults["client-secret"] = std::string{" s3cret\n"};
  caf::settings acme;
  acme["token"] = std::string{"xoxe.xoxb-1-acme"};
  acme["refresh-token"] = std::string{"xoxe-1-acme"};
  acme["token-expires-at"] = int64_t{1700000000};
  acme["refresh-before"] = caf::timespan{std::chrono::minutes{30}};
  acme["token-file"] = std::string{"/var/lib/bot/acme.json"};
  caf::settings all;
  all["acme"] = acme;
  auto ws = hub::read_workspaces(defaults, all);
  REQUIRE(ws);
  const auto& rot = (*ws)[0].cfg.rotation;
  CHECK(rot.client_id == "12.34");
  CHECK(rot.client_secret == "s3cret"); // trimmed, as tokens are
  CHECK(rot.refresh_token == "xoxe-1-acme");
  CHECK(rot.expires_at == 1700000000);
  CHECK(rot.refresh_before == std::chrono::minutes{30});
  CHECK(rot.file == "/var/lib/bot/acme.json");
  // A hub has no listener to give: without a file the new tokens would be
  // lost.
  caf::settings no_file;
  for (const auto& [key, x] : acme)
    if (key != "token-file")
      no_file[key] = x;
  all["acme"] = no_file;
  ws = hub::read_workspaces(defaults, all);
  REQUIRE_FALSE(ws);
  CHECK_THAT(rtm::render(ws.error()), Catch::Contains("token-file"));
  // Two workspaces on one file: each would spend the refresh token the other
  // stored.
  all["acme"] = acme;
  auto shop = acme;
  shop["token"] = std::string{"xoxe.xoxb-1-shop"};
  shop["refresh-token"] = std::string{"xoxe-1-shop"};
  shop["token-file"] = std::string{"/var/lib/bot/../bot/./acme.json"};
  all["shop"] = shop;
  ws = hub::read_workspaces(defaults, all);
  REQUIRE_FALSE(ws);
  CHECK_THAT(rtm::render(ws.error()),
             Catch::Contains("workspace shop: token-file "
                             "/var/lib/bot/../bot/./acme.json is workspace "
                             "acme's too"));
  shop["token-file"] = std::string{"/var/lib/bot/shop.json"};
  all["shop"] = shop;
  CHECK(hub::read_workspaces(defaults, all));
  // Nor one refresh token for two.
  shop["refresh-token"] = std::string{"xoxe-1-acme"};
  all["shop"] = shop;
  ws = hub::read_workspaces(defaults, all);
  REQUIRE_FALSE(ws);
  CHECK_THAT(rtm::render(ws.error()),
             Catch::Contains("refresh-token is workspace acme's too"));
}

TEST_CASE("workspaces: the [caf-rtm] defaults are checked like an entry",
          "[hub]") {
  // As written in the file; CAF itself drops a value of the wrong type.
  caf::settings written;
  written["send-rate"] = int64_t{2};
  written["log-level"] = std::string{"info"};
  caf::settings parsed;
  parsed["log-level"] = std::string{"debug"}; // from the command line
  auto defaults = hub::check_defaults(written, parsed);
  REQUIRE(defaults);
  CHECK(caf::get_or(*defaults, "send-rate", 0.0) == 2.0); // put back
  CHECK(caf::get_or(*defaults, "log-level", std::string{}) == "debug");
  auto error_of = [](const caf::settings& file) {
    auto x = hub::check_defaults(file, {});
    REQUIRE_FALSE(x);
    return rtm::render(x.error());
  };
  caf::settings typo;
  typo["ping-intervall"] = std::string{"5s"};
  CHECK_THAT(error_of(typo),
             Catch::Contains("[caf-rtm]: unknown option ping-intervall"));
  caf::settings wrong;
  wrong["connections"] = std::string{"many"};
  CHECK_THAT(error_of(wrong), Catch::Contains("[caf-rtm]: connections"));
  // The hub says so at start, and exits 2.
  fake_slack srv;
  temp_dir dir;
  auto config =
      dir.write("hub.ini", "[caf-rtm]\nconnections = \"many\"\n[workspaces]\n" +
                               rtm_entry("acme", srv));
  process p{hub_exe, {"--config", config, "--port", "0"}, clean_env};
  CHECK(p.wait(30s) == 2);
  CHECK_THAT(p.err(), Catch::Contains("[caf-rtm]: connections"));
}

// -- one hub, one bot node ----------------------------------------------------

TEST_CASE("a bot node gets events through the hub and sends and calls "
          "through it",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto sub = bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto up = log->last_up();
  CHECK(up.workspace == "acme");
  CHECK(up.hub == "127.0.0.1:" + std::to_string(h.port));
  CHECK(up.info.kind == rtm::client_kind::rtm);
  REQUIRE(up.info.rtm);
  CHECK_FALSE(up.info.missed.known);
  auto client = up.info.rtm;
  // Events of the subscribed type arrive in order, others do not.
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  auto& self = *bot.self;
  REQUIRE(request<rtm::connected>(self, client, caf::timespan{20s},
                                  rtm::connect_atom_v));
  for (int i = 1; i <= 3; ++i) {
    s->send(message(i, "reaction_added"));
    s->send(message(i));
  }
  REQUIRE(eventually([&] { return log->event_count() == 3; }));
  auto events = log->with([](auto& x) { return x.events; });
  for (int i = 0; i < 3; ++i) {
    CHECK(events[static_cast<size_t>(i)].type() == "message");
    CHECK(text_of(events[static_cast<size_t>(i)]) ==
          "m" + std::to_string(i + 1));
  }
  // Sends and Web API calls work as locally, replies and errors alike.
  rtm::json_object msg;
  msg.value = {{"type", "message"}, {"channel", "C1"}, {"text", "from afar"}};
  auto ack = request<rtm::send_ack>(self, client, caf::timespan{20s},
                                    rtm::send_atom_v, msg);
  REQUIRE(ack);
  CHECK(ack->text == "from afar");
  CHECK_FALSE(ack->ts.empty());
  srv.script("chat.postMessage", caf::rtm::testing::http_response::ok(
                                     R"("channel":"C1","ts":"99.0")"));
  rtm::api_args args{{"channel", "C1"}, {"text", "posted from afar"}};
  auto posted = request<rtm::json_object>(
      self, client, caf::timespan{20s}, rtm::call_atom_v,
      std::string{"chat.postMessage"}, args);
  INFO((posted ? "" : rtm::render(posted.error())));
  REQUIRE(posted);
  CHECK(posted->value.at("ts").as_string() == "99.0");
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].form["text"] == "posted from afar");
  // The status of the hub client's caller crosses the network too.
  auto calls = request<rtm::api_status>(self, client, caf::timespan{10s},
                                        rtm::status_atom_v, rtm::call_atom_v);
  REQUIRE(calls);
  CHECK(calls->requests_succeeded >= 2); // the connect's and the post
  rtm::json_object too_long;
  too_long.value = {
      {"type", "message"}, {"channel", "C1"}, {"text", std::string(5000, 'x')}};
  auto refused = request<rtm::send_ack>(self, client, caf::timespan{20s},
                                        rtm::send_atom_v, too_long);
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == "text_too_long");
  // The client counts one subscriber for events and one for the lifecycle;
  // the hub's listing shows the same.
  auto status = request<rtm::client_status>(self, client, caf::timespan{10s},
                                            rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->connected);
  CHECK(status->subscribers == 1);
  CHECK(status->lifecycle_subscribers == 1);
  auto listing = bot.list(bot.registry(h.endpoint()));
  REQUIRE(listing.size() == 1);
  CHECK(listing[0].name == "acme");
  CHECK(listing[0].status.connected);
  CHECK(listing[0].status.subscribers == 1);
  // A lookup of a name the hub does not have fails as such.
  auto unknown = request<hub::workspace_info>(
      self, bot.registry(h.endpoint()), caf::timespan{10s}, hub::lookup_atom_v,
      std::string{"nope"});
  REQUIRE_FALSE(unknown);
  CHECK(code_of(unknown.error()) == "unknown_workspace");
  // An actor of the bot's node may subscribe through the gate in batches:
  // each crosses the network as one message.
  auto batch_log = std::make_shared<bot_log>();
  auto batch_actor = bot.track(spawn_bot(*bot.sys, batch_log));
  REQUIRE(request<caf::ok_atom>(
      self, client, caf::timespan{20s}, rtm::subscribe_atom_v, batch_actor,
      std::vector<std::string>{"message"}, rtm::batch_atom_v));
  for (int i = 4; i <= 6; ++i) {
    s->send(message(i, "reaction_added"));
    s->send(message(i));
  }
  REQUIRE(eventually([&] { return batch_log->event_count() == 3; }));
  auto batched = batch_log->with([](auto& x) { return x.events; });
  for (size_t i = 0; i < 3; ++i)
    CHECK(text_of(batched[i]) == "m" + std::to_string(i + 4));
  CHECK(batch_log->with([](auto& x) { return x.batches; }) >= 1);
  REQUIRE(request<caf::ok_atom>(self, client, caf::timespan{20s},
                                rtm::unsubscribe_atom_v, batch_actor));
  // Closing the subscription unsubscribes on the hub.
  REQUIRE(
      request<caf::ok_atom>(self, sub, caf::timespan{20s}, rtm::close_atom_v));
  status = request<rtm::client_status>(self, client, caf::timespan{10s},
                                       rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->subscribers == 0);
  CHECK(status->lifecycle_subscribers == 0);
  h.proc->signal(SIGTERM);
  CHECK(h.proc->wait(30s) == 0);
}

TEST_CASE("a remote subscription answers every close, and closes when an "
          "actor linked to it ends",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto& self = *bot.self;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto subscribers_of = [&](const auto& client) {
    auto status = request<rtm::client_status>(self, client, caf::timespan{10s},
                                              rtm::status_atom_v);
    return status ? status->subscribers + status->lifecycle_subscribers
                  : size_t{999};
  };
  SECTION("two closes while the unsubscribes are out") {
    auto sub = bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
    REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
    auto client = log->last_up().info.rtm;
    REQUIRE(subscribers_of(client) == 2);
    // The second close arrives before the hub answered the first one's
    // unsubscribes: it was answered by nobody.
    auto answers = std::make_shared<std::atomic<int>>(0);
    spawn_fn(*bot.sys, [sub, answers](caf::event_based_actor* a) {
      for (int i = 0; i < 2; ++i)
        a->request(sub, caf::timespan{20s}, rtm::close_atom_v)
            .then([answers](caf::ok_atom) { ++*answers; }, [](caf::error&) {});
    });
    REQUIRE(eventually([&] { return answers->load() == 2; }, 20s));
    CHECK(subscribers_of(client) == 0);
  }
  SECTION("a linked actor ends normally") {
    auto sub = bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
    REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
    auto client = log->last_up().info.rtm;
    REQUIRE(subscribers_of(client) == 2);
    auto owner = spawn_fn(*bot.sys, [sub](caf::event_based_actor* a) {
      a->link_to(sub);
      return caf::behavior{[a](int) {
        a->quit();
      }};
    });
    self->monitor(sub);
    caf::anon_send(owner, 1);
    // Its unsubscribes went out, then it ended: nothing keeps delivering to
    // the bot with no handle left to stop it.
    bool ended = false;
    self->receive(
        [&](caf::down_msg& dm) { ended = dm.source == sub.address(); },
        caf::after(std::chrono::seconds{20}) >> [] {});
    CHECK(ended);
    CHECK(subscribers_of(client) == 0);
  }
  h.proc->signal(SIGTERM);
  CHECK(h.proc->wait(30s) == 0);
}

TEST_CASE("remote nodes cannot close, disconnect or make the hub read files",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto& self = *bot.self;
  auto info = request<hub::workspace_info>(
      self, bot.registry(h.endpoint()), caf::timespan{10s}, hub::lookup_atom_v,
      std::string{"acme"});
  REQUIRE(info);
  auto client = info->rtm;
  REQUIRE(request<rtm::connected>(self, client, caf::timespan{20s},
                                  rtm::connect_atom_v));
  auto closed = request<caf::ok_atom>(self, client, caf::timespan{10s},
                                      rtm::close_atom_v);
  REQUIRE_FALSE(closed);
  CHECK(code_of(closed.error()) == "not_permitted");
  auto dropped = request<caf::ok_atom>(self, client, caf::timespan{10s},
                                       rtm::disconnect_atom_v);
  REQUIRE_FALSE(dropped);
  CHECK(code_of(dropped.error()) == "not_permitted");
  auto off = request<caf::ok_atom>(self, client, caf::timespan{10s},
                                   rtm::reconnect_atom_v, false);
  REQUIRE_FALSE(off);
  CHECK(code_of(off.error()) == "not_permitted");
  // Ids name callbacks and hooks: only the hub's own process has them.
  auto unhooked = request<caf::ok_atom>(self, client, caf::timespan{10s},
                                        rtm::unsubscribe_atom_v, uint64_t{1});
  REQUIRE_FALSE(unhooked);
  CHECK(code_of(unhooked.error()) == "not_permitted");
  // Nor end the hub's token for good, however the method is spelled; a call
  // with a token of its own is the node's business.
  auto revoked = request<rtm::json_object>(
      self, client, caf::timespan{10s}, rtm::call_atom_v,
      std::string{"auth.revoke"}, rtm::api_args{});
  REQUIRE_FALSE(revoked);
  CHECK(code_of(revoked.error()) == "not_permitted");
  rtm::api_call uninstall;
  uninstall.method = "Apps.Uninstall";
  auto uninstalled = request<rtm::json_object>(self, client, caf::timespan{10s},
                                               rtm::call_atom_v, uninstall);
  REQUIRE_FALSE(uninstalled);
  CHECK(code_of(uninstalled.error()) == "not_permitted");
  // A name no Slack method has, that a server might still decode to one.
  auto encoded = request<rtm::json_object>(
      self, client, caf::timespan{10s}, rtm::call_atom_v,
      std::string{"auth%2Erevoke"}, rtm::api_args{});
  REQUIRE_FALSE(encoded);
  CHECK(code_of(encoded.error()) == "not_permitted");
  srv.script("auth.revoke",
             caf::rtm::testing::http_response::ok(R"("revoked":true)"));
  rtm::api_call own;
  own.method = "auth.revoke";
  own.token = "xoxb-the-nodes-own";
  CHECK(request<rtm::json_object>(self, client, caf::timespan{20s},
                                  rtm::call_atom_v, own));
  auto revokes = srv.requests("auth.revoke");
  REQUIRE(revokes.size() == 1);
  CHECK(revokes[0].headers["authorization"] == "Bearer xoxb-the-nodes-own");
  CHECK(srv.requests("apps.uninstall").empty());
  CHECK(srv.requests("Apps.Uninstall").empty());
  CHECK(srv.requests("auth%2Erevoke").empty());
  rtm::file_upload file;
  file.filename = "hub.ini";
  file.path = dir.path + "/hub.ini"; // the tokens are in there
  file.channel_id = "C1";
  auto upload = request<rtm::json_object>(self, client, caf::timespan{10s},
                                          rtm::upload_atom_v, file);
  REQUIRE_FALSE(upload);
  CHECK(code_of(upload.error()) == "not_permitted");
  // Nor as a further file of an upload whose first file has its bytes.
  file.path.clear();
  file.content = "a,b\n1,2\n";
  file.more_files.push_back(
      rtm::upload_file{"hub.ini", "", "", "", "", dir.path + "/hub.ini"});
  upload = request<rtm::json_object>(self, client, caf::timespan{10s},
                                     rtm::upload_atom_v, file);
  REQUIRE_FALSE(upload);
  CHECK(code_of(upload.error()) == "not_permitted");
  file.more_files.clear();
  CHECK(srv.requests("files.getUploadURLExternal").empty());
  // Bytes sent along are fine.
  auto uploaded = request<rtm::json_object>(self, client, caf::timespan{20s},
                                            rtm::upload_atom_v, file);
  REQUIRE(uploaded);
  REQUIRE(srv.uploads().size() == 1);
  CHECK(srv.uploads()[0].bytes == "a,b\n1,2\n");
  // Its progress goes to an actor of the caller's node, not to one of the
  // hub's (or of another node).
  file.progress = caf::actor_cast<caf::actor>(bot.registry(h.endpoint()));
  auto misdirected = request<rtm::json_object>(self, client, caf::timespan{10s},
                                               rtm::upload_atom_v, file);
  REQUIRE_FALSE(misdirected);
  CHECK(code_of(misdirected.error()) == "not_permitted");
  CHECK(srv.uploads().size() == 1);
  // CAF's own named actors are not there to be looked up: ConfigServ,
  // which answers lookups by name (as middleman::remote_lookup asks it,
  // without its five minutes' wait), does not answer.
  auto basp = bot.sys->middleman().named_broker<caf::io::basp_broker>(
      caf::atom("BASP"));
  self->send(basp, caf::forward_atom_v, client.node(), caf::atom("ConfigServ"),
             caf::make_message(caf::get_atom_v, caf::atom("SpawnServ")));
  bool answered = false;
  self->receive([&](caf::strong_actor_ptr&) { answered = true; },
                caf::after(std::chrono::seconds{3}) >> [] {});
  CHECK_FALSE(answered);
  // The client is still up, with its one session.
  auto status = request<rtm::client_status>(self, client, caf::timespan{10s},
                                            rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->connected);
  CHECK(status->sessions == 1);
  CHECK(srv.session_count() == 1);
}

TEST_CASE("a remote node cannot answer what the hub asks for another node",
          "[hub]") {
  // CAF 0.17 takes any message with the id of a pending request as its
  // answer, whoever sends it, and request ids count up from 1: a node that
  // reaches a gate could answer the gate's requests to the client.
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto& self = *bot.self;
  auto info = request<hub::workspace_info>(
      self, bot.registry(h.endpoint()), caf::timespan{10s}, hub::lookup_atom_v,
      std::string{"acme"});
  REQUIRE(info);
  auto client = info->rtm;
  auto slow = caf::rtm::testing::http_response::ok(R"("real":true)");
  slow.delay = 2s;
  srv.script("users.info", slow);
  auto pending = self->request(client, caf::timespan{20s}, rtm::call_atom_v,
                               std::string{"users.info"}, rtm::api_args{});
  REQUIRE(srv.wait_requests("users.info", 1, 10s));
  // Another node's forgeries, for the gate's first request ids.
  caf::scoped_actor forger{*bot.sys};
  rtm::json_object forged;
  forged.value = {{"forged", true}};
  auto* gate = caf::actor_cast<caf::abstract_actor*>(client);
  for (uint64_t n = 1; n <= 200; ++n)
    gate->enqueue(forger->ctrl(), caf::make_message_id(n).response_id(),
                  caf::make_message(forged), nullptr);
  bool real = false;
  bool fake = false;
  pending.receive(
      [&](rtm::json_object& x) {
        real = x.value.contains("real");
        fake = x.value.contains("forged");
      },
      [](caf::error&) {});
  CHECK(real);
  CHECK_FALSE(fake);
}

TEST_CASE("remote nodes reach only the registry and the gates of a hub: "
          "forged internal messages change nothing",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto client = log->last_up().info.rtm;
  auto reg = bot.registry(h.endpoint());
  auto& self = *bot.self;
  // Every kind of reply, and events: who sent them?
  std::vector<caf::strong_actor_ptr> senders;
  auto ask = [&](auto reply_type, const auto& dest, auto&&... xs) {
    using T = typename decltype(reply_type)::type;
    bool ok = false;
    self->request(dest, caf::timespan{20s}, xs...)
        .receive(
            [&](T&) {
              ok = true;
              senders.push_back(self->current_sender());
            },
            [&](caf::error&) { senders.push_back(self->current_sender()); });
    return ok;
  };
  REQUIRE(ask(reply<rtm::connected>, client, rtm::connect_atom_v));
  rtm::json_object msg;
  msg.value = {{"type", "message"}, {"channel", "C1"}, {"text", "hi"}};
  REQUIRE(ask(reply<rtm::send_ack>, client, rtm::send_atom_v, msg));
  REQUIRE(ask(reply<caf::timespan>, client, rtm::ping_atom_v));
  REQUIRE(ask(reply<hub::workspace_info>, reg, hub::lookup_atom_v,
              std::string{"acme"}));
  REQUIRE(
      ask(reply<std::vector<hub::workspace_status>>, reg, hub::list_atom_v));
  srv.script("auth.test", caf::rtm::testing::http_response::error("nope"));
  REQUIRE_FALSE(ask(reply<rtm::json_object>, client, rtm::call_atom_v,
                    std::string{"auth.test"}, rtm::api_args{}));
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  s->send(message(1));
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  for (auto& x : log->with([](auto& l) { return l.senders; }))
    senders.push_back(x);
  std::set<caf::actor_addr> hub_addrs;
  for (auto& x : senders)
    if (x && x->node() == client.node())
      hub_addrs.insert(caf::actor_cast<caf::actor_addr>(x));
  // Only what the hub hands out on purpose: nothing of the client itself.
  std::set<caf::actor_addr> public_addrs{reg.address(), client.address()};
  CHECK(hub_addrs == public_addrs);
  auto before = request<rtm::client_status>(self, client, caf::timespan{10s},
                                            rtm::status_atom_v);
  REQUIRE(before);
  // The client's internal messages, sent to whatever the node knows of the
  // hub: supervisor reports, worker progress, timers, its identity.
  for (auto& addr : hub_addrs) {
    auto dest = caf::actor_cast<caf::actor>(addr);
    caf::anon_send(dest, rtm::fatal_event{rtm::make_error(
                             rtm::errc::slack_error, "invalid_auth")});
    caf::anon_send(dest, rtm::error_event{rtm::make_error(rtm::errc::dead_link),
                                          "forged"});
    caf::anon_send(
        dest, rtm::disconnected{1, rtm::make_error(rtm::errc::connection_lost),
                                1006});
    caf::anon_send(dest, rtm::connecting{7});
    caf::anon_send(dest,
                   rtm::identity{"U0EVIL", "evil", "T", "T", "B0BOT", "", ""});
    caf::anon_send(dest, caf::atom("progress"), uint64_t{1000000});
    caf::anon_send(dest, caf::atom("tick"));
    caf::anon_send(dest, caf::atom("unsent"), int64_t{1});
    caf::anon_send(dest, caf::atom("retry"), uint64_t{1});
    caf::anon_send(dest, caf::atom("closed"));
    caf::anon_send(dest, caf::atom("timeout"), std::string{"E1"});
    // A request of that kind is answered with an error, not executed.
    auto res = request<caf::ok_atom>(self, dest, caf::timespan{10s},
                                     rtm::fatal_event{});
    REQUIRE_FALSE(res);
    CHECK(res.error() == caf::sec::unexpected_message);
  }
  // The client goes on as before: same session, no error, events flow.
  s->send(message(2));
  REQUIRE(eventually([&] { return log->event_count() == 2; }));
  auto after = request<rtm::client_status>(self, client, caf::timespan{10s},
                                           rtm::status_atom_v);
  REQUIRE(after);
  CHECK(after->state == "connected");
  CHECK(after->session == before->session);
  CHECK(after->events_received > before->events_received);
  CHECK(after->listener_errors == before->listener_errors);
  CHECK(log->lifecycle_count("fatal") == 0);
  CHECK(log->lifecycle_count("error") == 0);
  CHECK(log->lifecycle_count("disconnected") == 0);
  CHECK(srv.session_count() == 1);
}

TEST_CASE("a remote node that kills the registry or a gate, or forges their "
          "down messages, does not take the hub down",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto& self = *bot.self;
  auto lookup = [&](const hub::registry_actor& reg) {
    return request<hub::workspace_info>(
        self, reg, caf::timespan{10s}, hub::lookup_atom_v, std::string{"acme"});
  };
  auto reg = bot.registry(h.endpoint());
  auto first = lookup(reg);
  REQUIRE(first);
  auto gate = first->handle();
  auto alive = [&](const caf::actor& hdl) {
    return static_cast<bool>(request<rtm::client_status>(
        self, hdl, caf::timespan{10s}, rtm::status_atom_v));
  };

  REQUIRE(alive(gate));
  // A forged down message for the gate: the registry checks and keeps it.
  // Nor do forged answers to the question it asks the gate (any node could
  // answer a request of the registry's own, by its id).
  caf::anon_send(caf::actor_cast<caf::actor>(reg),
                 caf::down_msg{gate.address(), caf::exit_reason::kill});
  caf::scoped_actor forger{*bot.sys};
  auto* reg_ptr = caf::actor_cast<caf::abstract_actor*>(reg);
  for (uint64_t n = 1; n <= 200; ++n)
    reg_ptr->enqueue(
        forger->ctrl(), caf::make_message_id(n).response_id(),
        caf::make_message(caf::make_error(caf::sec::request_receiver_down)),
        nullptr);
  std::this_thread::sleep_for(500ms);
  auto same = lookup(reg);
  REQUIRE(same);
  CHECK(same->handle() == gate);
  // CAF delivers `kill` whatever the actor says: a killed gate is replaced.
  caf::anon_send_exit(gate, caf::exit_reason::kill);
  REQUIRE(eventually([&] {
    auto x = lookup(reg);
    return x && x->handle() != gate && alive(x->handle());
  }));
  // A killed registry is replaced on the same port.
  caf::anon_send_exit(reg, caf::exit_reason::kill);
  REQUIRE(eventually(
      [&] {
        try {
          auto again = bot.registry(h.endpoint());
          auto x = lookup(again);
          return again != reg && x && alive(x->handle());
        } catch (std::exception&) {
          return false;
        }
      },
      30s));
  CHECK(h.proc->err().find("publishing a new one") != std::string::npos);
  // And the hub still stops cleanly.
  h.proc->signal(SIGTERM);
  CHECK(h.proc->wait(30s) == 0);
}

TEST_CASE("a program that embeds a hub and whose client ends: the gate ends "
          "with it, answers what it forwarded, and no new one opens",
          "[hub]") {
  // A connect and a call the fake holds.
  fake_slack srv;
  srv.on("rtm.connect", [&](const caf::rtm::testing::recorded_request& req) {
    auto res = srv.default_answer(req);
    res.delay = 30s;
    return res;
  });
  auto held = caf::rtm::testing::http_response::ok();
  held.delay = 30s;
  srv.script("conversations.info", held);
  // The program: its own client, and a registry in front of it.
  bot_node program;
  auto client = program.sys->spawn(rtm::rtm_client, config_for(srv, nullptr));
  hub::workspace_info ws;
  ws.name = "acme";
  ws.rtm = client;
  auto reg =
      program.sys->spawn(hub::registry, std::vector<hub::workspace_info>{ws},
                         hub::registry_options{});
  program.track(reg);
  auto port = caf::io::publish(reg, 0, "127.0.0.1");
  REQUIRE(port);
  hub::hub_endpoint where{"127.0.0.1", *port};
  // A bot node subscribed through it, and a connect and a call of its on
  // the way.
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  bot.subscribe({where}, "acme", spawn_bot(*bot.sys, log));
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto remote = bot.registry(where);
  auto lookup = [&] {
    return request<hub::workspace_info>(*bot.self, remote, caf::timespan{10s},
                                        hub::lookup_atom_v,
                                        std::string{"acme"});
  };
  auto info = lookup();
  REQUIRE(info);
  auto gate = info->handle();
  auto connect = std::async(std::launch::async, [&] {
    caf::scoped_actor caller{*bot.sys};
    return request<rtm::connected>(caller, gate, caf::timespan{60s},
                                   rtm::connect_atom_v);
  });
  auto call = std::async(std::launch::async, [&] {
    caf::scoped_actor caller{*bot.sys};
    return request<rtm::json_object>(
        caller, gate, caf::timespan{60s}, rtm::call_atom_v,
        std::string{"conversations.info"}, rtm::api_args{});
  });
  REQUIRE(srv.wait_requests("rtm.connect", 1, 10s));
  REQUIRE(srv.wait_requests("conversations.info", 1, 10s));

  // The program ends its client while the hub runs.
  caf::anon_send_exit(client, caf::exit_reason::kill);
  // Both are answered at once, not when their own time runs out: the
  // connect (which the client held) by the gate, the call by the gate or
  // the client's Web API caller, whichever comes first.
  REQUIRE(connect.wait_for(20s) == std::future_status::ready);
  auto connected = connect.get();
  REQUIRE_FALSE(connected);
  CHECK(code_of(connected.error()) == "connection_lost");
  REQUIRE(call.wait_for(20s) == std::future_status::ready);
  auto res = call.get();
  REQUIRE_FALSE(res);
  auto code = code_of(res.error());
  CHECK((code == "connection_lost" || code == "closed"));
  // The subscription hears that the hub delivers no more.
  CHECK(eventually([&] { return log->down_count() >= 1; }, 10s));
  // Lookups fail from now on, and the gate is not replaced.
  CHECK(eventually(
      [&] {
        auto x = lookup();
        return !x && code_of(x.error()) == "connection_lost";
      },
      10s));
  auto listing = bot.list(remote);
  REQUIRE(listing.size() == 1);
  CHECK(listing[0].status.state == "closed");
  auto downs = log->down_count();
  std::this_thread::sleep_for(1s);
  auto x = lookup();
  REQUIRE_FALSE(x);
  CHECK(code_of(x.error()) == "connection_lost");
  // The subscription keeps trying (another program may come up there), at
  // its backoff's pace.
  CHECK(log->down_count() > downs);
  CHECK(log->up_count() == 1);
}

// -- the caf-rtm tool as a bot node -------------------------------------------

namespace {

// Waits until the hub's listing shows `n` event subscribers for `name`.
bool wait_subscribers(bot_node& observer, const hub::registry_actor& reg,
                      const std::string& name, uint64_t n,
                      std::chrono::milliseconds timeout = 30s) {
  return eventually(
      [&] {
        auto xs = observer.list(reg);
        auto* x = find_status(xs, name);
        return x != nullptr && x->status.subscribers == n;
      },
      timeout);
}

std::vector<std::string> hub_args(const hub_proc& h, const std::string& name,
                                  std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--hub", "127.0.0.1:" + std::to_string(h.port),
                                "--workspace", name};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

} // namespace

TEST_CASE("caf-rtm --hub prints a workspace's events as from Slack itself",
          "[hub][cli]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node observer;
  auto reg = observer.registry(h.endpoint());
  process p{tool, hub_args(h, "acme", {"--events", "message", "--count", "3"}),
            clean_env};
  REQUIRE(wait_subscribers(observer, reg, "acme", 1));
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  for (int i = 1; i <= 3; ++i) {
    s->send(message(i, "user_typing"));
    s->send(message(i));
  }
  REQUIRE(p.wait(30s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 3);
  for (int i = 1; i <= 3; ++i)
    CHECK(lines[static_cast<size_t>(i - 1)] == message(i));
  // It unsubscribed on its way out; the hub's client goes on.
  REQUIRE(wait_subscribers(observer, reg, "acme", 0));
  auto xs = observer.list(reg);
  CHECK(xs[0].status.connected);
  CHECK(xs[0].status.lifecycle_subscribers == 0);
}

TEST_CASE("caf-rtm --hub --send: lines read before the hub answered go out "
          "once it did",
          "[hub][cli]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  process p{tool, hub_args(h, "acme", {"--send", "--events", "none"}),
            clean_env};
  // At once: the tool has not heard from the hub yet.
  p.write(R"({"type":"message","channel":"C1","text":"early"})"
          "\n");
  p.close_stdin();
  REQUIRE(s->wait_received(1, 20s));
  CHECK(s->received().at(0).find(R"("text":"early")") != std::string::npos);
  INFO("stderr: " << p.err());
  CHECK(p.wait(20s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(R"("ok":true)") != std::string::npos);
}

TEST_CASE("caf-rtm --hub --send: a line whose result went with the link to "
          "the hub gets delivery_unknown, later lines go to the next hub",
          "[hub][cli]") {
  // CAF answers no request to a node that went away: the line would wait
  // for its result for good, and with it every later line and the exit.
  fake_slack_options opts;
  opts.acks = caf::rtm::testing::ack_policy::manual; // sent, never acked
  fake_slack srv{opts};
  temp_dir dir;
  auto config = dir.write("hub.ini", hub_config(rtm_entry("acme", srv)));
  hub_proc h{config};
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  process p{tool, hub_args(h, "acme", {"--send", "--events", "none"}),
            clean_env};
  p.write(R"({"type":"message","channel":"C1","text":"lost"})"
          "\n");
  REQUIRE(s->wait_received(1, 20s));
  h.proc->signal(SIGKILL);
  CHECK(h.proc->wait(30s) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return p.out_lines().size() == 1; }, 30s));
  auto line = p.out_lines().at(0);
  CHECK(line.find(R"("ok":false)") != std::string::npos);
  CHECK(line.find("delivery_unknown") != std::string::npos);
  // A line read while no hub delivers waits for the next one, not for an
  // answer from the handle of the hub that went away.
  p.write(R"({"type":"message","channel":"C1","text":"later"})"
          "\n");
  p.close_stdin();
  hub_proc second{config, {"--port", std::to_string(h.port)}};
  auto s1 = srv.session(1, 20s);
  REQUIRE(s1);
  // Among the client's pings (text frames too), the line.
  std::string sent;
  REQUIRE(eventually(
      [&] {
        for (auto& x : s1->received())
          if (x.find(R"("text":"later")") != std::string::npos)
            sent = x;
        return !sent.empty();
      },
      60s));
  auto id_at = sent.find(R"("id":)");
  REQUIRE(id_at != std::string::npos);
  s1->ack(std::stoll(sent.substr(id_at + 5)), "1.000200");
  INFO("stderr: " << p.err());
  CHECK(p.wait(30s) == 0);
  auto lines = p.out_lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].find(R"("ok":true)") != std::string::npos);
}

TEST_CASE("caf-rtm --hub: exit codes as from Slack itself", "[hub][cli]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  SECTION("a workspace the hub does not have is a usage error") {
    process p{tool, hub_args(h, "nope"), clean_env};
    CHECK(p.wait(30s) == 2);
    CHECK_THAT(p.err(), Catch::Contains("unknown_workspace"));
  }
  SECTION("no hub there, not reconnecting: no connection") {
    process p{tool,
              {"--hub", "127.0.0.1:1", "--workspace", "acme", "--no-reconnect"},
              clean_env};
    CHECK(p.wait(30s) == 4);
    CHECK_THAT(p.err(), Catch::Contains("hub 127.0.0.1:1"));
  }
  SECTION("options that do not go with --hub") {
    process no_ws{tool, {"--hub", "127.0.0.1:1"}, clean_env};
    CHECK(no_ws.wait(30s) == 2);
    CHECK_THAT(no_ws.err(), Catch::Contains("--workspace"));
    process token{tool, hub_args(h, "acme", {"--token", "xoxb-1"}), clean_env};
    CHECK(token.wait(30s) == 2);
    CHECK_THAT(token.err(), Catch::Contains("the hub holds the tokens"));
    // How the hub connects to Slack is the hub's to say.
    for (auto [opt, value] :
         {std::pair{"--ping-interval", "-1"}, std::pair{"--connections", "0"},
          std::pair{"--base-url", "ftp://x"}}) {
      process ignored{tool, hub_args(h, "acme", {opt, value}), clean_env};
      CHECK(ignored.wait(30s) == 2);
      CHECK_THAT(ignored.err(), Catch::Contains(opt));
    }
    process bad{tool, {"--hub", "nowhere", "--workspace", "acme"}, clean_env};
    CHECK(bad.wait(30s) == 2);
    process alone{tool, {"--workspace", "acme"}, clean_env};
    CHECK(alone.wait(30s) == 2);
  }
  SECTION("SIGTERM ends it with 0") {
    bot_node observer;
    auto reg = observer.registry(h.endpoint());
    process p{tool, hub_args(h, "acme"), clean_env};
    REQUIRE(wait_subscribers(observer, reg, "acme", 1));
    p.signal(SIGTERM);
    CHECK(p.wait(30s) == 0);
  }
}

TEST_CASE("a bot process that dies is dropped: the hub, its clients and the "
          "other bots go on",
          "[hub][cli]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  bot_node bot;
  auto reg = bot.registry(h.endpoint());
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  // Two bot processes besides this one.
  process p{tool, hub_args(h, "acme", {"--events", "message"}), clean_env};
  process other{tool, hub_args(h, "acme", {"--events", "message"}), clean_env};
  REQUIRE(wait_subscribers(bot, reg, "acme", 3));
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  s->send(message(1));
  REQUIRE(p.wait_out_lines(1, 30s));
  REQUIRE(other.wait_out_lines(1, 30s));
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  // kill -9: no unsubscribe, the hub notices the node is gone.
  p.signal(SIGKILL);
  CHECK(p.wait(30s) == 128 + SIGKILL);
  REQUIRE(wait_subscribers(bot, reg, "acme", 2));
  // The gate records the node once the client told it what it had received:
  // after the subscriber count went down.
  REQUIRE(eventually([&] {
    auto ys = bot.list(reg);
    return ys.size() == 1 && ys[0].nodes_away == 1;
  }));
  auto xs = bot.list(reg);
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].status.connected);
  CHECK(xs[0].status.sessions == 1);
  CHECK(xs[0].status.lifecycle_subscribers == 2);
  // The other bots get the next events; nothing else changed on Slack's
  // side.
  s->send(message(2));
  REQUIRE(eventually([&] { return log->event_count() == 2; }));
  REQUIRE(other.wait_out_lines(2, 30s));
  CHECK(srv.session_count() == 1);
  CHECK_FALSE(s->ended());
  CHECK(log->down_count() == 0);
  other.signal(SIGTERM);
  CHECK(other.wait(30s) == 0);
}

// -- losing the hub -----------------------------------------------------------

TEST_CASE("kill -9 the hub and start it again: the bot subscribes again and "
          "reports the gap",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  // The hub's own steps in its log, should its stop take too long.
  auto text = hub_config(rtm_entry("acme", srv));
  text.replace(text.find("log-level = \"warn\""), 18, "log-level = \"info\"");
  auto config = dir.write("hub.ini", text);
  auto first = std::make_unique<hub_proc>(config);
  auto where = first->endpoint();
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto sub = bot.subscribe({where}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto s0 = srv.session(0, 20s);
  REQUIRE(s0);
  s0->send(message(1));
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  first->proc->signal(SIGKILL);
  CHECK(first->proc->wait(30s) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return log->down_count() >= 1; }, 30s));
  auto down = log->with([](auto& x) { return x.downs.front(); });
  CHECK(down.hub == hub::to_string(where));
  CHECK_FALSE(down.final);
  CHECK(s0->wait_ended(20s));
  // The same port again: the bot keeps trying until it answers.
  hub_proc second{config, {"--port", std::to_string(where.port)}};
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 60s));
  REQUIRE(eventually([&] { return log->gap_count() == 1; }, 10s));
  auto gap = log->with([](auto& x) { return x.gaps.front(); });
  CHECK(gap.workspace == "acme");
  CHECK(gap.hub == hub::to_string(where));
  CHECK(gap.since <= gap.until);
  CHECK_FALSE(gap.missed.known); // a new hub process knows nothing of it
  // The new hub's client delivers; the old handle is gone, the new one works.
  auto s1 = srv.session(1, 20s);
  REQUIRE(s1);
  s1->send(message(2));
  REQUIRE(eventually([&] { return log->event_count() == 2; }));
  CHECK(text_of(log->with([](auto& x) { return x.events.back(); })) == "m2");
  auto status = request<hub::remote_subscription_status>(
      *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->up == 1);
  CHECK(status->gaps == 1);
  REQUIRE(status->hubs.size() == 1);
  CHECK(status->hubs[0].state == "up");
  // SIGTERM: every client closes with a close frame, the hub exits 0.
  second.proc->signal(SIGTERM);
  // Long enough for the hub's own limits on a stop (10 s + 20 s + 20 s), so
  // that a stop that hangs tells where.
  auto code = second.proc->wait(60s);
  INFO("hub's stderr:\n" << second.proc->err());
  CHECK(code == 0);
  CHECK(s1->close_code_received() == uint16_t{1000});
}

namespace {

// A bot subscribed to "acme" through a tap in front of the hub, past its
// first event: where the tests of links that break or stall begin.
struct tapped_bot {
  tapped_bot(fake_slack& srv, uint16_t hub_port,
             const hub::node_options& opts = {})
      : tap{hub_port}, bot{opts} {
    actor = bot.track(spawn_bot(*bot.sys, log));
    sub =
        bot.subscribe({{"127.0.0.1", tap.port()}}, "acme", actor, {"message"});
    REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
    session = srv.session(0, 20s);
    REQUIRE(session);
    session->send(message(1));
    REQUIRE(eventually([&] { return log->event_count() == 1; }));
  }

  tcp_tap tap;
  bot_node bot;
  bot_log_ptr log = std::make_shared<bot_log>();
  caf::actor actor;
  hub::remote_subscription_actor sub;
  caf::rtm::testing::ws_session_ptr session;
};

} // namespace

namespace {

// The link of `t` breaks (both processes live on), and five events arrive at
// the hub while it has no subscriber of the node. Returns what the hub's
// listing then says.
void cut_off_for_five_events(tapped_bot& t, bot_node& observer,
                             const hub::registry_actor& reg) {
  t.tap.refuse(true);
  t.tap.cut();
  REQUIRE(eventually([&] { return t.log->down_count() >= 1; }, 30s));
  REQUIRE(eventually(
      [&] {
        auto xs = observer.list(reg);
        return xs[0].status.subscribers == 0 && xs[0].nodes_away == 1;
      },
      30s));
  auto received = observer.list(reg)[0].status.events_received;
  for (int i = 2; i <= 6; ++i)
    t.session->send(message(i));
  REQUIRE(eventually(
      [&] {
        return observer.list(reg)[0].status.events_received == received + 5;
      },
      30s));
}

} // namespace

TEST_CASE("a broken link to a live hub: the gap's count comes from the hub",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  tapped_bot t{srv, h.port};
  auto& tap = t.tap;
  auto& log = t.log;
  auto& s = t.session;
  bot_node observer;
  auto reg = observer.registry(h.endpoint());
  cut_off_for_five_events(t, observer, reg);
  tap.refuse(false);
  // The gap comes before the hub_up, as two messages.
  REQUIRE(eventually(
      [&] { return log->gap_count() == 1 && log->up_count() == 2; }, 60s));
  auto gap = log->with([](auto& x) { return x.gaps.front(); });
  CHECK(gap.missed.known);
  CHECK(gap.missed.count == 5);
  CHECK_FALSE(gap.dropped);
  CHECK(log->event_count() == 1);
  s->send(message(7));
  REQUIRE(eventually([&] { return log->event_count() == 2; }));
  auto xs = observer.list(reg);
  CHECK(xs[0].nodes_away == 0);
  CHECK(xs[0].status.subscribers == 1);
}

TEST_CASE("a new subscription of a node the hub saw go away gets what the "
          "node missed as a gap",
          "[hub]") {
  // The bot gave up on its subscription while cut off (say, after a final
  // hub_down) and makes a new one: it saw no gap of its own, but the hub
  // counted what the node missed.
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv)))};
  tapped_bot t{srv, h.port};
  bot_node observer;
  auto reg = observer.registry(h.endpoint());
  cut_off_for_five_events(t, observer, reg);
  caf::anon_send_exit(t.sub, caf::exit_reason::kill);
  auto log = std::make_shared<bot_log>();
  auto actor = t.bot.track(spawn_bot(*t.bot.sys, log));
  t.tap.refuse(false);
  t.bot.subscribe({{"127.0.0.1", t.tap.port()}}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 60s));
  REQUIRE(log->gap_count() == 1);
  auto gap = log->with([](auto& x) { return x.gaps.front(); });
  CHECK(gap.missed.known);
  CHECK(gap.missed.count == 5);
  CHECK(gap.since <= gap.until);
  CHECK(observer.list(reg)[0].nodes_away == 0);
}

TEST_CASE("a bot node that does not take events in time: the hub drops what "
          "exceeds its window, and the bot learns how many",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv))),
             {"--remote-window-kb", "8"}};
  // The bot hears nothing from the hub while the link stalls: its own
  // connection timeout must not end the link meanwhile.
  hub::node_options opts;
  opts.connection_timeout = 120s;
  tapped_bot t{srv, h.port, opts};
  auto& tap = t.tap;
  auto& log = t.log;
  auto& s = t.session;
  bot_node observer;
  auto reg = observer.registry(h.endpoint());
  auto received = observer.list(reg)[0].status.events_received;
  // The link stalls towards the bot (what the hub writes stays in the
  // kernel's buffers; the tap looks at its flag every 50 ms) while events
  // come in waves of a hundred, about 70 bytes each. The first waves fill
  // the window of 8 KB; from the first drop on, the relay drops everything
  // until the bot answers again.
  tap.hold(true);
  std::this_thread::sleep_for(200ms);
  constexpr int n = 2000;
  constexpr int wave = 100;
  for (int first = 2; first <= n + 1; first += wave) {
    for (int i = first; i < first + wave; ++i)
      s->send(message(i));
    auto expected = received + static_cast<uint64_t>(first - 2 + wave);
    REQUIRE(eventually(
        [&] {
          return observer.list(reg)[0].status.events_received == expected;
        },
        30s));
  }
  tap.hold(false);
  // What fitted arrives, then the report of the rest.
  REQUIRE(eventually([&] { return log->gap_count() == 1; }, 30s));
  auto gap = log->with([](auto& x) { return x.gaps.front(); });
  CHECK(gap.workspace == "acme");
  CHECK(gap.hub == "127.0.0.1:" + std::to_string(tap.port()));
  CHECK(gap.dropped);
  CHECK(gap.missed.known);
  CHECK(gap.missed.count >= uint64_t{n} / 2);
  REQUIRE(eventually(
      [&] { return log->event_count() + gap.missed.count == size_t{n} + 1; }));
  // The bot missed one stretch: it got events 1 to k, in order, once each.
  auto events = log->with([](auto& x) { return x.events; });
  for (size_t i = 0; i < events.size(); ++i)
    CHECK(text_of(events[i]) == "m" + std::to_string(i + 1));
  // The link itself held: no hub went away, and one gap was reported.
  CHECK(log->up_count() == 1);
  CHECK(log->down_count() == 0);
  auto status = request<hub::remote_subscription_status>(
      *t.bot.self, t.sub, caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->dropped == gap.missed.count);
  CHECK(status->gaps == 1);
  // The hub's listing counts them, and its log says so as well.
  CHECK(observer.list(reg)[0].dropped_for_nodes == gap.missed.count);
  CHECK(h.proc->wait_err_contains(
      "dropping what comes for its subscriber until it catches up", 10s));
  CHECK(h.proc->wait_err_contains(
      "acme: dropped " + std::to_string(gap.missed.count) + " events", 10s));
  // With room again, events go through as before.
  s->send(message(n + 2));
  REQUIRE(eventually(
      [&] { return log->event_count() + gap.missed.count == size_t{n} + 2; }));
  CHECK(text_of(log->with([](auto& x) { return x.events.back(); })) ==
        "m" + std::to_string(n + 2));
  CHECK(log->gap_count() == 1);
}

// -- TLS and where a hub listens ----------------------------------------------

namespace {

// Certificates for a hub and its bots (one CA), and a bot of another CA.
struct test_pki {
  explicit test_pki(temp_dir& dir) {
    namespace certs = caf::rtm::testing::detail;
    auto ca = certs::generate_ca("caf-rtm hub test CA");
    auto hub = certs::issue_cert(ca, {"localhost", "127.0.0.1"});
    auto bot = certs::issue_cert(ca, {"bot.example"});
    auto rogue_ca = certs::generate_ca("some other CA");
    auto rogue = certs::issue_cert(rogue_ca, {"bot.example"});
    ca_file = dir.write("ca.pem", ca.cert_pem);
    hub_files = {dir.write("hub.pem", hub.cert_pem),
                 dir.write("hub.key", hub.key_pem), ca_file, ""};
    bot_files = {dir.write("bot.pem", bot.cert_pem),
                 dir.write("bot.key", bot.key_pem), ca_file, ""};
    rogue_files = {dir.write("rogue.pem", rogue.cert_pem),
                   dir.write("rogue.key", rogue.key_pem),
                   dir.write("rogue-ca.pem", rogue_ca.cert_pem), ""};
    // A bot certificate of the wrong CA that trusts the right one.
    impostor_files = {rogue_files.cert, rogue_files.key, ca_file, ""};
  }

  std::vector<std::string> hub_args() const {
    return {"--cert",      hub_files.cert, "--key",
            hub_files.key, "--ca",         hub_files.ca};
  }

  static std::vector<std::string> tool_args(const hub::tls_files& x) {
    return {"--cert", x.cert, "--key", x.key, "--ca", x.ca};
  }

  std::string ca_file;
  hub::tls_files hub_files;
  hub::tls_files bot_files;
  hub::tls_files rogue_files;
  hub::tls_files impostor_files;
};

} // namespace

namespace {

// `pem`, a private key, encrypted with `pass`.
std::string encrypted_key(const std::string& pem, const std::string& pass) {
  std::unique_ptr<BIO, decltype(&BIO_free)> in{
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free};
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr),
      EVP_PKEY_free};
  std::unique_ptr<BIO, decltype(&BIO_free)> out{BIO_new(BIO_s_mem()), BIO_free};
  if (!key || PEM_write_bio_PKCS8PrivateKey(
                  out.get(), key.get(), EVP_aes_256_cbc(), pass.data(),
                  static_cast<int>(pass.size()), nullptr, nullptr) != 1)
    throw std::runtime_error("cannot encrypt the key");
  char* data = nullptr;
  auto n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

} // namespace

TEST_CASE("TLS: a node trusts the one CA file, never a directory of CAs",
          "[hub][tls]") {
  // With openssl.capath, CAF::openssl would accept any certificate of the
  // directory's CAs (a system directory: any public CA's).
  caf::actor_system_config cfg;
  cfg.openssl_capath = "/etc/ssl/certs";
  auto err = hub::configure_node(cfg);
  REQUIRE(err);
  CHECK(code_of(err) == "invalid_config");
}

TEST_CASE("TLS: an encrypted key is used with its passphrase, and refused "
          "without one",
          "[hub][tls]") {
  temp_dir dir;
  test_pki pki{dir};
  std::ifstream plain{pki.bot_files.key};
  std::string pem{std::istreambuf_iterator<char>{plain}, {}};
  auto files = pki.bot_files;
  files.key = dir.write("locked.key", encrypted_key(pem, "open sesame"));
  files.passphrase = "open sesame";
  CHECK_FALSE(hub::check(files));
  // No passphrase or a wrong one: refused at once, never asked for.
  for (auto pass : {"", "open sesamf"}) {
    files.passphrase = pass;
    auto err = hub::check(files);
    CHECK(code_of(err) == "invalid_config");
    CHECK(rtm::render(err).find("locked.key") != std::string::npos);
  }
}

TEST_CASE("TLS: bot nodes with a certificate of the hub's CA get in, others "
          "do not",
          "[hub][tls]") {
  fake_slack srv;
  temp_dir dir;
  test_pki pki{dir};
  // Any address, with TLS.
  auto args = pki.hub_args();
  args.insert(args.end(), {"--bind", "0.0.0.0"});
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv))), args};
  CHECK(h.proc->out_lines().front().rfind("listening on 0.0.0.0:", 0) == 0);
  hub::node_options tls;
  tls.tls = pki.bot_files;
  bot_node bot{tls};
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  s->send(message(1));
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  auto reg = bot.registry(h.endpoint());
  SECTION("without TLS: refused") {
    process p{tool, hub_args(h, "acme", {"--no-reconnect"}), clean_env};
    CHECK(p.wait(60s) == 4);
  }
  SECTION("with a certificate of another CA: refused") {
    auto more = test_pki::tool_args(pki.impostor_files);
    more.push_back("--no-reconnect");
    process p{tool, hub_args(h, "acme", more), clean_env};
    CHECK(p.wait(60s) == 4);
  }
  SECTION("trusting another CA: refused") {
    auto more = test_pki::tool_args(pki.rogue_files);
    more.push_back("--no-reconnect");
    process p{tool, hub_args(h, "acme", more), clean_env};
    CHECK(p.wait(60s) == 4);
  }
  SECTION("with a certificate of the hub's CA: in") {
    auto more = test_pki::tool_args(pki.bot_files);
    more.insert(more.end(), {"--events", "message", "--count", "1"});
    process p{tool, hub_args(h, "acme", more), clean_env};
    REQUIRE(wait_subscribers(bot, reg, "acme", 2));
    s->send(message(2));
    CHECK(p.wait(30s) == 0);
    CHECK(p.out_lines() == std::vector<std::string>{message(2)});
  }
  // Whoever was refused, the hub serves on.
  s->send(message(3));
  REQUIRE(eventually([&] { return log->event_count() >= 2; }));
  CHECK(bot.list(reg)[0].status.connected);
}

TEST_CASE("a hub refuses to start where it cannot be safe", "[hub][tls]") {
  fake_slack srv;
  temp_dir dir;
  test_pki pki{dir};
  auto config = dir.write("hub.ini", hub_config(rtm_entry("acme", srv)));
  auto start = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config, "--port", "0"});
    auto p = std::make_unique<process>(hub_exe, args, clean_env);
    auto code = p->wait(30s);
    return std::make_pair(code, p->err());
  };
  auto [any, any_err] = start({"--bind", "0.0.0.0"});
  CHECK(any == 2);
  CHECK_THAT(any_err, Catch::Contains("listening on 0.0.0.0 needs TLS"));
  auto [v6, v6_err] = start({"--bind", "::"});
  CHECK(v6 == 2);
  CHECK_THAT(v6_err, Catch::Contains("needs TLS"));
  auto [half, half_err] =
      start({"--bind", "0.0.0.0", "--cert", pki.hub_files.cert});
  CHECK(half == 2);
  CHECK_THAT(half_err, Catch::Contains("TLS needs key"));
  auto [missing, missing_err] =
      start({"--cert", dir.path + "/none.pem", "--key", pki.hub_files.key,
             "--ca", pki.ca_file});
  CHECK(missing == 2);
  CHECK_THAT(missing_err, Catch::Contains("cannot be read"));
  auto [mismatch, mismatch_err] =
      start({"--cert", pki.hub_files.cert, "--key", pki.bot_files.key, "--ca",
             pki.ca_file});
  CHECK(mismatch == 2);
  CHECK_THAT(mismatch_err, Catch::Contains("TLS key " + pki.bot_files.key));
  // Mistakes in the configuration file name the workspace.
  auto typo =
      dir.write("typo.ini", fast_defaults + "[workspaces]\nacme = {\n"
                                            "  tokne = \"xoxb-1\"\n}\n");
  process p1{hub_exe, {"--config", typo, "--port", "0"}, clean_env};
  CHECK(p1.wait(30s) == 2);
  CHECK_THAT(p1.err(), Catch::Contains("workspace acme: unknown option tokne"));
  auto none = dir.write("none.ini", fast_defaults);
  process p2{hub_exe, {"--config", none, "--port", "0"}, clean_env};
  CHECK(p2.wait(30s) == 2);
  CHECK_THAT(p2.err(), Catch::Contains("no [workspaces] section"));
  process p3{hub_exe, {"--config", dir.path + "/absent.ini"}, clean_env};
  CHECK(p3.wait(30s) == 2);
  CHECK_THAT(p3.err(), Catch::Contains("cannot read"));
}

// -- Socket Mode --------------------------------------------------------------

namespace {

std::string mention(int n) {
  return R"({"type":"app_mention","channel":"C1","user":"U1","text":"hi )" +
         std::to_string(n) + R"("})";
}

// How often each event id reached the bot.
std::map<std::string, int> event_ids(const bot_log& log) {
  std::map<std::string, int> result;
  for (auto& env : log.with([](auto& x) { return x.envelopes; }))
    ++result[std::string{env.event_id()}];
  return result;
}

} // namespace

TEST_CASE("Socket Mode through the hub: envelopes, answers through the ack, "
          "Web API calls",
          "[hub][socket_mode]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(socket_mode_entry("shop", srv)))};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "shop", actor, {"app_mention", "/deploy"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto info = log->last_up().info;
  CHECK(info.kind == rtm::client_kind::socket_mode);
  REQUIRE(info.socket_mode);
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 1; }));
  srv.send_event(mention(1));
  REQUIRE(eventually([&] { return log->envelope_count() == 1; }));
  CHECK(log->with([](auto& x) { return x.envelopes[0].event_type(); }) ==
        "app_mention");

  // A slash command: the bot's answer, across the network, becomes the
  // ack's payload.
  auto id = s->send_envelope(
      "slash_commands",
      R"({"command":"/deploy","text":"now","channel_id":"C1","user_id":"U1"})",
      true);
  auto answered = eventually(
      [&] {
        for (auto& ack : srv.acks())
          if (ack.envelope_id == id && ack.payload)
            return true;
        return false;
      },
      20s);
  if (!answered) {
    for (auto& ack : srv.acks())
      WARN("ack " << ack.raw);
    for (auto& env : log->with([](auto& x) { return x.envelopes; }))
      WARN("env " << env.raw());
    WARN("lifecycle " << log->with([](auto& x) { return x.lifecycle.size(); }));
    WARN("hub err: " << h.proc->err());
  }
  REQUIRE(answered);
  for (auto& ack : srv.acks()) {
    if (ack.envelope_id != id)
      continue;
    REQUIRE(ack.payload);
    CHECK(*ack.payload == R"({"text":"answered )" + id + R"("})");
  }
  // Web API calls go out with the hub's bot token.
  srv.script("chat.postMessage", caf::rtm::testing::http_response::ok(
                                     R"("channel":"C1","ts":"5.0")"));
  auto& self = *bot.self;
  auto posted = request<rtm::json_object>(
      self, info.socket_mode, caf::timespan{20s}, rtm::call_atom_v,
      std::string{"chat.postMessage"},
      rtm::api_args{{"channel", "C1"}, {"text", "hi"}});
  REQUIRE(posted);
  auto reqs = srv.requests("chat.postMessage");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].headers["authorization"] == "Bearer " + srv.options().token);
  // The hub's addresses this node saw: the gate, and the relay that asked
  // for the payload. Neither takes the client's internal messages.
  std::set<caf::actor_addr> hub_addrs;
  for (auto& x : log->with([](auto& l) { return l.senders; }))
    if (x && x->node() == info.socket_mode.node())
      hub_addrs.insert(caf::actor_cast<caf::actor_addr>(x));
  CHECK(hub_addrs.size() == 1); // the relay (events come anonymously)
  for (auto& addr : hub_addrs) {
    auto dest = caf::actor_cast<caf::actor>(addr);
    caf::anon_send(dest, caf::atom("timeout"), id);
    caf::anon_send(dest, rtm::fatal_event{rtm::make_error(
                             rtm::errc::slack_error, "invalid_auth")});
    caf::anon_send(dest, caf::atom("progress"), uint64_t{1000000});
  }
  // Nor does the gate let this node name actors of another node, the relay
  // included: cutting off or widening its subscription is refused, and the
  // subscription stays as it was.
  for (auto& addr : hub_addrs) {
    auto relay = caf::actor_cast<caf::actor>(addr);
    auto cut = request<caf::ok_atom>(self, info.socket_mode, caf::timespan{10s},
                                     rtm::unsubscribe_atom_v, relay);
    REQUIRE_FALSE(cut);
    CHECK(code_of(cut.error()) == "not_permitted");
    auto widen = request<caf::ok_atom>(
        self, info.socket_mode, caf::timespan{10s}, rtm::subscribe_atom_v,
        relay, std::vector<std::string>{"*"});
    REQUIRE_FALSE(widen);
    CHECK(code_of(widen.error()) == "not_permitted");
  }
  srv.send_event(mention(2));
  REQUIRE(eventually([&] { return log->envelope_count() == 3; }));
  auto status = request<rtm::client_status>(
      self, info.socket_mode, caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->state == "connected");
  CHECK(status->acks_late == 0);
  CHECK(log->lifecycle_count("fatal") == 0);
  // A batched subscription through the gate. A hub acks after delivery (its
  // default), so every envelope waits for the bot's answer and comes one by
  // one, as a request, batched subscription or not.
  auto batch_log = std::make_shared<bot_log>();
  auto batch_actor = bot.track(spawn_bot(*bot.sys, batch_log));
  REQUIRE(request<caf::ok_atom>(
      self, info.socket_mode, caf::timespan{20s}, rtm::subscribe_atom_v,
      batch_actor, std::vector<std::string>{"app_mention"}, rtm::batch_atom_v));
  srv.send_event(mention(10));
  REQUIRE(eventually([&] { return batch_log->envelope_count() == 1; }));
  CHECK(batch_log->with([](auto& x) { return x.batches; }) == 0);
  REQUIRE(eventually([&] { return log->envelope_count() == 4; }));
  // A call still in flight when its gate ends (below) is answered: CAF
  // would drop the gate's promise without a word, and a caller without a
  // timeout would wait for good (this one gives up after a minute).
  auto slow = caf::rtm::testing::http_response::ok(R"("user":{"id":"U1"})");
  slow.delay = std::chrono::seconds{15};
  srv.script("users.info", slow);
  auto outcome = std::make_shared<std::pair<std::mutex, std::string>>();
  bot.sys->spawn(
      [outcome](caf::event_based_actor* a,
                const rtm::socket_mode_client_actor& gate) {
        auto set = [outcome](std::string x) {
          std::lock_guard<std::mutex> guard{outcome->first};
          outcome->second = std::move(x);
        };
        a->request(gate, caf::timespan{60s}, rtm::call_atom_v,
                   std::string{"users.info"}, rtm::api_args{{"user", "U1"}})
            .then([set](rtm::json_object&) { set("answered"); },
                  [set](caf::error& err) { set(code_of(err)); });
      },
      info.socket_mode);
  REQUIRE(srv.wait_requests("users.info", 1, 10s));
  // CAF delivers `kill` to any actor a node can address: a killed relay
  // ends its gate, and the bot subscribes again through a new one (with a
  // gap report) instead of waiting for envelopes that never come.
  for (auto& addr : hub_addrs)
    caf::anon_send_exit(caf::actor_cast<caf::actor>(addr),
                        caf::exit_reason::kill);
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  CHECK(eventually(
      [&] {
        std::lock_guard<std::mutex> guard{outcome->first};
        return outcome->second == "connection_lost";
      },
      10s));
  CHECK(log->last_up().info.socket_mode != info.socket_mode);
  CHECK(log->with([](auto& l) { return l.gaps.size(); }) == 1);
  srv.send_event(mention(3));
  REQUIRE(eventually([&] { return log->envelope_count() == 5; }, 20s));
}

TEST_CASE("Socket Mode through the hub: a relay that ends answers the "
          "envelopes it waits for, and the client blames no subscriber",
          "[hub][socket_mode]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(socket_mode_entry("shop", srv)))};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "shop", actor, {"app_mention", "/hold"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto s = srv.session(0, 20s);
  REQUIRE(s);
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 1; }));
  // The bot holds the command: the hub's relay waits for its answer.
  auto sent_at = std::chrono::steady_clock::now();
  s->send_envelope("slash_commands",
                   R"({"command":"/hold","channel_id":"C1","user_id":"U1"})",
                   true);
  REQUIRE(eventually([&] { return log->envelope_count() == 1; }));
  caf::actor relay;
  for (auto& x : log->with([](auto& l) { return l.senders; }))
    if (x && x->node() != bot.sys->node())
      relay = caf::actor_cast<caf::actor>(x);
  REQUIRE(relay);
  (*bot.self)->monitor(relay);
  caf::anon_send_exit(relay, caf::exit_reason::kill);
  (*bot.self)->receive([](caf::down_msg&) {},
                       caf::after(std::chrono::seconds{10}) >> [] {});
  // Gone well before the ack deadline (2.5 s from when the client read it),
  // or the check below says nothing.
  auto in_time = std::chrono::steady_clock::now() - sent_at < 1500ms;
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  // Past the ack deadline: the relay's end answered the client's request at
  // once (not taken), so no answer came late.
  std::this_thread::sleep_for(4s);
  auto status =
      request<rtm::client_status>(*bot.self, log->last_up().info.socket_mode,
                                  caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(status);
  if (in_time)
    CHECK(status->acks_late == 0);
  else
    WARN("the relay was killed too late to test anything");
}

TEST_CASE("Socket Mode through a hub that acks on receipt: envelopes cross "
          "in batches and reach the bot once each, in order",
          "[hub][socket_mode]") {
  fake_slack srv;
  temp_dir dir;
  auto entry = "shop = {\n  app-token = \"" + srv.options().app_token +
               "\"\n  base-url = \"" + srv.base_url() +
               "\"\n  ack-after-delivery = false\n}\n";
  hub_proc h{dir.write("hub.ini", hub_config(entry))};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({h.endpoint()}, "shop", actor, {"app_mention"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 1; }));
  constexpr int n = 2000;
  for (int i = 1; i <= n; ++i)
    srv.send_event(mention(i));
  REQUIRE(eventually([&] { return log->envelope_count() >= size_t{n}; }, 30s));
  auto texts = log->with([](auto& x) {
    std::vector<std::string> out;
    for (auto& env : x.envelopes)
      out.emplace_back(env.event().at("text").as_string());
    return out;
  });
  REQUIRE(texts.size() == size_t{n});
  for (int i = 0; i < n; ++i)
    CHECK(texts[static_cast<size_t>(i)] == "hi " + std::to_string(i + 1));
  REQUIRE(srv.wait_acks(size_t{n}, 10s));
  CHECK(srv.acks().size() == size_t{n});
}

TEST_CASE("two hubs for one RTM workspace: one delivers, the other stands by "
          "and takes over when the first dies",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  auto config = dir.write("hub.ini", hub_config(rtm_entry("acme", srv)));
  hub_proc a{config};
  hub_proc b{config};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto sub =
      bot.subscribe({a.endpoint(), b.endpoint()}, "acme", actor, {"message"});
  auto status = [&] {
    return request<hub::remote_subscription_status>(
        *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
  };
  // Every RTM connection gets every event: one hub delivers at a time.
  REQUIRE(eventually([&] {
    auto st = status();
    if (!st || st->hubs.size() != 2)
      return false;
    std::multiset<std::string> states;
    for (auto& x : st->hubs)
      states.insert(x.state);
    return states == std::multiset<std::string>{"standby", "up"};
  }));
  // The bot hears of the delivering hub by a message of its own, which may
  // come after the status said so.
  REQUIRE(eventually([&] { return log->up_count() == 1; }));
  auto live_sessions = [&] {
    size_t n = 0;
    for (size_t i = 0; i < srv.session_count(); ++i)
      if (auto x = srv.session(i, 1s); x && !x->ended())
        ++n;
    return n;
  };
  REQUIRE(eventually([&] { return live_sessions() == 2; }));
  // As Slack does: the event on every live connection.
  auto broadcast = [&](int n) {
    for (size_t i = 0; i < srv.session_count(); ++i)
      if (auto x = srv.session(i, 1s); x && !x->ended())
        x->send(message(n));
  };
  broadcast(1);
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  std::this_thread::sleep_for(300ms);
  CHECK(log->event_count() == 1);
  CHECK(log->up_count() == 1);
  // The delivering hub dies: the one standing by subscribes.
  auto delivering = log->last_up().hub;
  auto& dead = delivering == hub::to_string(a.endpoint()) ? a : b;
  dead.proc->signal(SIGKILL);
  CHECK(dead.proc->wait(30s) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  CHECK(log->last_up().hub != delivering);
  CHECK(log->gap_count() == 1); // reported before the hub_up
  REQUIRE(eventually([&] { return live_sessions() == 1; }));
  broadcast(2);
  REQUIRE(eventually([&] { return log->event_count() == 2; }));
}

TEST_CASE("a hub that never answers does not hold up the others", "[hub]") {
  // CAF's middleman connects blocking, one after the other: a connect to a
  // host that drops every packet takes the kernel's two minutes, and every
  // connect behind it waits. The hub that answers comes up at once.
  fake_slack srv;
  temp_dir dir;
  auto config = dir.write("hub.ini", hub_config(rtm_entry("acme", srv)));
  black_hole stuck;
  hub_proc good{config};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto sub = bot.subscribe({{"127.0.0.1", stuck.port()}, good.endpoint()},
                           "acme", actor, {"message"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 20s));
  CHECK(log->last_up().hub == hub::to_string(good.endpoint()));
  auto session = srv.session(0, 20s);
  REQUIRE(session);
  session->send(message(1));
  REQUIRE(eventually([&] { return log->event_count() == 1; }));
  // The one that never answers is still tried, on its own.
  auto st = request<hub::remote_subscription_status>(
      *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(st);
  REQUIRE(st->hubs.size() == 2);
  CHECK(st->hubs[0].state != "up");
}

TEST_CASE("two hubs for one RTM workspace: a takeover does not report the "
          "missed count of an older gap again",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  auto config = dir.write("hub.ini", hub_config(rtm_entry("acme", srv)));
  hub_proc a{config};
  hub_proc b{config};
  tcp_tap tap_a{a.port};
  tcp_tap tap_b{b.port};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto via_a = hub::to_string(hub::hub_endpoint{"127.0.0.1", tap_a.port()});
  auto via_b = hub::to_string(hub::hub_endpoint{"127.0.0.1", tap_b.port()});
  auto sub =
      bot.subscribe({{"127.0.0.1", tap_a.port()}, {"127.0.0.1", tap_b.port()}},
                    "acme", actor, {"message"});
  auto link_of = [&](const std::string& name) {
    auto st = request<hub::remote_subscription_status>(
        *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
    if (st)
      for (auto& x : st->hubs)
        if (x.hub == name)
          return x;
    return hub::hub_link_status{};
  };
  auto state_of = [&](const std::string& name) {
    return link_of(name).state;
  };
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  auto first_hub = log->last_up().hub;
  bool a_first = first_hub == via_a;
  auto& tap_first = a_first ? tap_a : tap_b;
  auto& proc_other = a_first ? b : a;
  auto other = a_first ? via_b : via_a;
  REQUIRE(eventually([&] { return state_of(other) == "standby"; }, 30s));
  auto live_sessions = [&] {
    size_t n = 0;
    for (size_t i = 0; i < srv.session_count(); ++i)
      if (auto x = srv.session(i, 1s); x && !x->ended())
        ++n;
    return n;
  };
  REQUIRE(eventually([&] { return live_sessions() == 2; }, 30s));
  auto broadcast = [&](int n) {
    for (size_t i = 0; i < srv.session_count(); ++i)
      if (auto x = srv.session(i, 1s); x && !x->ended())
        x->send(message(n));
  };
  // The link to the delivering hub breaks: the other takes over, and the
  // first one records what the node misses from it.
  bot_node observer;
  auto reg_first = observer.registry(a_first ? a.endpoint() : b.endpoint());
  tap_first.refuse(true);
  tap_first.cut();
  REQUIRE(eventually([&] { return log->gap_count() == 1; }, 60s));
  REQUIRE(eventually(
      [&] { return observer.list(reg_first)[0].nodes_away == 1; }, 30s));
  for (int i = 1; i <= 5; ++i)
    broadcast(i);
  REQUIRE(eventually([&] { return log->event_count() == 5; }, 30s));
  // Back, the first hub's lookup carries that record, but the other one
  // delivers: the first stands by.
  tap_first.refuse(false);
  REQUIRE(eventually([&] { return state_of(first_hub) == "standby"; }, 60s));
  // Reached again: its failures in a row start from zero.
  CHECK(link_of(first_hub).failures == 0);
  REQUIRE(eventually(
      [&] { return observer.list(reg_first)[0].nodes_away == 0; }, 30s));
  // The delivering hub dies; the first takes over. What it recorded was
  // delivered by the other hub meanwhile: no missed count of that time.
  proc_other.proc->signal(SIGKILL);
  CHECK(proc_other.proc->wait(30s) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return log->gap_count() == 2; }, 30s));
  auto gap = log->with([](auto& x) { return x.gaps.back(); });
  CHECK(gap.hub == first_hub);
  CHECK_FALSE(gap.missed.known);
  CHECK(gap.missed.count == 0);
  broadcast(6);
  REQUIRE(eventually([&] { return log->event_count() == 6; }, 30s));
}

namespace {

// One Socket Mode app ("shop") served by two hubs, a and b. Envelopes that
// went to a dead connection come again soon.
struct two_socket_mode_hubs {
  static fake_slack_options redelivering() {
    fake_slack_options fo;
    fo.redelivery_delays = {300ms, 600ms, 1200ms, 2400ms};
    return fo;
  }

  fake_slack srv{redelivering()};
  temp_dir dir;
  std::string config =
      dir.write("hub.ini", hub_config(socket_mode_entry("shop", srv)));
  hub_proc a{config};
  hub_proc b{config};
};

} // namespace

TEST_CASE("two hubs for one Socket Mode app: kill -9 one, every event still "
          "reaches the bot exactly once",
          "[hub][socket_mode]") {
  two_socket_mode_hubs hubs;
  auto& srv = hubs.srv;
  auto& a = hubs.a;
  auto& b = hubs.b;
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  auto sub = bot.subscribe({a.endpoint(), b.endpoint()}, "shop", actor, {"*"});
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 2; }));
  std::set<std::string> sent;
  // Slack spreads the envelopes over both hubs' connections.
  for (int i = 0; i < 20; ++i)
    sent.insert(srv.send_event(mention(i)));
  REQUIRE(eventually([&] { return event_ids(*log).size() == 20; }));
  std::set<size_t> sessions;
  for (auto& env : srv.envelopes())
    sessions.insert(env.session);
  CHECK(sessions.size() == 2);
  // The same event through both hubs (a redelivery that crossed an ack)
  // reaches the bot once.
  auto payload =
      R"({"token":"x","team_id":"T0TEAM","api_app_id":"A0APP",)"
      R"("event":{"type":"app_mention","channel":"C1","text":"twice"},)"
      R"("type":"event_callback","event_id":"EvTWICE"})";
  std::vector<caf::rtm::testing::ws_session_ptr> live;
  for (size_t i = 0; i < srv.session_count(); ++i)
    if (auto x = srv.session(i, 1s); !x->ended())
      live.push_back(x);
  INFO("sessions: " << srv.session_count() << ", live: " << live.size());
  REQUIRE(live.size() == 2);
  auto dup_status = [&] {
    return request<hub::remote_subscription_status>(
        *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
  };
  // Counted from here: one of the envelopes above that was slow to be acked
  // may have come again through the other hub already.
  auto dups_before = dup_status();
  REQUIRE(dups_before);
  for (auto& x : live)
    x->send_envelope("events_api", payload, false);
  sent.insert("EvTWICE");
  REQUIRE(eventually([&] { return event_ids(*log).size() == 21; }));
  REQUIRE(eventually([&] {
    auto st = dup_status();
    return st && st->duplicates >= dups_before->duplicates + 1;
  }));
  // One hub hangs (its connection stays open: Slack keeps sending to it and
  // gets no acks), then dies without a word. The other one carries on, and
  // Slack sends what went to the dead connection again.
  auto before = srv.envelopes().size();
  a.proc->signal(SIGSTOP);
  for (int i = 20; i < 40; ++i)
    sent.insert(srv.send_event(mention(i)));
  a.proc->signal(SIGKILL);
  CHECK(a.proc->wait(30s) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return event_ids(*log).size() == 41; }, 60s));
  auto envelopes = srv.envelopes();
  auto redelivered = std::count_if(
      envelopes.begin() + static_cast<std::ptrdiff_t>(before), envelopes.end(),
      [](auto& env) { return env.retry_attempt > 0; });
  CHECK(redelivered > 0); // some went to the hung hub first
  REQUIRE(eventually([&] { return log->down_count() >= 1; }, 30s));
  auto ids = event_ids(*log);
  std::set<std::string> got;
  for (auto& [id, n] : ids) {
    got.insert(id);
    CHECK(n == 1);
  }
  CHECK(got == sent);
  CHECK(log->gap_count() == 0); // one hub delivered all along
  auto status = request<hub::remote_subscription_status>(
      *bot.self, sub, caf::timespan{10s}, rtm::status_atom_v);
  REQUIRE(status);
  CHECK(status->up == 1);
}

TEST_CASE("two hubs for one Socket Mode app: kill -9 one while envelopes are "
          "on their way to the bot, every event still reaches it exactly once",
          "[hub][socket_mode]") {
  two_socket_mode_hubs hubs;
  auto& srv = hubs.srv;
  auto& a = hubs.a;
  auto& b = hubs.b;
  // The bot reaches hub a through a tap that can hold what a sends.
  tcp_tap tap{a.port};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({{"127.0.0.1", tap.port()}, b.endpoint()}, "shop", actor,
                {"*"});
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 2; }));
  // Hub a reads its envelopes and passes them on, but they hang on the way
  // to the bot; then a dies. A hub acks an envelope only once the bot's
  // node took it, so Slack sends what a held again, on b's connection.
  tap.hold(true);
  std::set<std::string> sent;
  for (int i = 0; i < 40; ++i)
    sent.insert(srv.send_event(mention(i)));
  std::set<size_t> sessions;
  for (auto& env : srv.envelopes())
    sessions.insert(env.session);
  CHECK(sessions.size() == 2); // some went to a
  std::this_thread::sleep_for(200ms);
  a.proc->signal(SIGKILL);
  CHECK(a.proc->wait(30s) == 128 + SIGKILL);
  tap.cut();
  REQUIRE(
      eventually([&] { return event_ids(*log).size() == sent.size(); }, 60s));
  std::set<std::string> got;
  for (auto& [id, n] : event_ids(*log)) {
    got.insert(id);
    CHECK(n == 1);
  }
  CHECK(got == sent);
}

namespace {

// Two Socket Mode hubs for one app, a's connection the fake's session 0 and
// b's session 1, with Slack's three retries (quicker than Slack's own), and
// a bot that reaches a through a tap.
struct two_hubs_tapped {
  static fake_slack_options redelivering(std::chrono::milliseconds delay) {
    fake_slack_options fo;
    fo.redelivery_delays = {delay, delay, delay};
    return fo;
  }

  explicit two_hubs_tapped(std::chrono::milliseconds delay)
      : srv(redelivering(delay)) {
    a = std::make_unique<hub_proc>(config);
    REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 1; }));
    b = std::make_unique<hub_proc>(config);
    REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 2; }));
    tap = std::make_unique<tcp_tap>(a->port);
    auto actor = bot.track(spawn_bot(*bot.sys, log));
    bot.subscribe({{"127.0.0.1", tap->port()}, b->endpoint()}, "shop", actor,
                  {"*"});
    REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
    reg = observer.registry(a->endpoint());
  }

  fake_slack srv;
  temp_dir dir;
  std::string config =
      dir.write("hub.ini", hub_config(socket_mode_entry("shop", srv)));
  std::unique_ptr<hub_proc> a;
  std::unique_ptr<hub_proc> b;
  std::unique_ptr<tcp_tap> tap;
  bot_node bot;
  std::shared_ptr<bot_log> log = std::make_shared<bot_log>();
  bot_node observer;
  hub::registry_actor reg;
};

// What became of events `sent`, all of them sent after envelope `before` of
// the fake: an event Slack gave hub b at least once reached the bot exactly
// once; one whose every attempt went to a (out of Slack's retries) did not.
// Hub a acked only Slack's last retries, and left the rest, counted. Returns
// how many events went to a first and reached the bot through b all the same.
size_t check_left_to_b(two_hubs_tapped& t, const std::set<std::string>& sent,
                       size_t before) {
  auto envelopes = t.srv.envelopes();
  std::map<std::string, std::set<size_t>> sessions_of;
  std::map<std::string, uint32_t> retry_of;
  std::set<std::string> first_to_a;
  size_t left_by_a = 0;
  for (auto i = before; i < envelopes.size(); ++i) {
    auto& env = envelopes[i];
    sessions_of[env.event_id].insert(env.session);
    retry_of[env.envelope_id] = env.retry_attempt;
    if (env.session == 0 && env.retry_attempt == 0)
      first_to_a.insert(env.event_id);
    if (env.session == 0 && env.retry_attempt < 3)
      ++left_by_a;
  }
  auto got = event_ids(*t.log);
  size_t through_b = 0;
  for (auto& id : sent) {
    INFO("event " << id);
    if (sessions_of[id].count(1) > 0) {
      CHECK(got[id] == 1);
      if (first_to_a.count(id) > 0)
        ++through_b;
    } else {
      CHECK(got.count(id) == 0);
    }
  }
  for (auto& ack : t.srv.acks())
    if (ack.session == 0 && retry_of.count(ack.envelope_id) > 0)
      CHECK(retry_of[ack.envelope_id] == 3);
  CHECK(t.observer.list(t.reg)[0].status.envelopes_unclaimed == left_by_a);
  return through_b;
}

// True once every event of `sent` reached the bot, or had its last retry
// and never went to hub b, and hub a counted every envelope it left.
bool settled(two_hubs_tapped& t, const std::set<std::string>& sent,
             size_t before) {
  auto envelopes = t.srv.envelopes();
  std::map<std::string, uint32_t> attempts;
  std::set<std::string> to_b;
  size_t left_by_a = 0;
  for (auto i = before; i < envelopes.size(); ++i) {
    auto& env = envelopes[i];
    attempts[env.event_id] =
        std::max(attempts[env.event_id], env.retry_attempt);
    if (env.session == 1)
      to_b.insert(env.event_id);
    if (env.session == 0 && env.retry_attempt < 3)
      ++left_by_a;
  }
  auto got = event_ids(*t.log);
  for (auto& id : sent)
    if (got.count(id) == 0 && (attempts[id] < 3 || to_b.count(id) > 0))
      return false;
  return t.observer.list(t.reg)[0].status.envelopes_unclaimed == left_by_a;
}

} // namespace

namespace {

// The bot's link to hub a breaks; both hubs live on, and a drops the bot's
// subscription (`subscribers_left` remain). Slack still gives a its share of
// the envelopes, and what a leaves comes through b.
void check_cut_off(two_hubs_tapped& t, size_t subscribers_left) {
  t.tap->refuse(true);
  t.tap->cut();
  REQUIRE(eventually([&] { return t.log->down_count() >= 1; }, 30s));
  REQUIRE(eventually(
      [&] {
        return t.observer.list(t.reg)[0].status.subscribers == subscribers_left;
      },
      30s));
  auto before = t.srv.envelopes().size();
  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i)
    sent.insert(t.srv.send_event(mention(i)));
  REQUIRE(eventually([&] { return settled(t, sent, before); }, 60s));
  // Slack sends a its share: some of it must come through b.
  CHECK(check_left_to_b(t, sent, before) > 0);
  CHECK(t.log->gap_count() == 0); // b delivered all along
}

} // namespace

TEST_CASE("two hubs for one Socket Mode app: a hub cut off from the bot "
          "leaves what Slack gives it to the other hub",
          "[hub][socket_mode]") {
  two_hubs_tapped t{300ms};
  check_cut_off(t, 0);
}

TEST_CASE("two hubs for one Socket Mode app: a hub cut off from one bot "
          "leaves what only that bot wanted to the other hub, also while "
          "it serves another bot",
          "[hub][socket_mode]") {
  two_hubs_tapped t{300ms};
  // Another bot, on a node of its own, takes reactions from hub a.
  bot_node other;
  auto other_log = std::make_shared<bot_log>();
  auto other_actor = other.track(spawn_bot(*other.sys, other_log));
  other.subscribe({t.a->endpoint()}, "shop", other_actor, {"reaction_added"});
  REQUIRE(eventually([&] { return other_log->up_count() == 1; }, 30s));
  REQUIRE(eventually(
      [&] { return t.observer.list(t.reg)[0].status.subscribers == 2; }, 30s));
  check_cut_off(t, 1);
  CHECK(other_log->event_count() == 0);
}

TEST_CASE("two hubs for one Socket Mode app: a hub whose link to the bot "
          "stalls, then breaks, leaves what the bot did not confirm in time "
          "to the other hub",
          "[hub][socket_mode]") {
  // Slack's first retry after 3 s, as Slack's: after the hub's deadline.
  two_hubs_tapped t{3000ms};
  // What a sends the bot hangs on the way: a's subscriber is still there,
  // but it confirms nothing.
  t.tap->hold(true);
  auto before = t.srv.envelopes().size();
  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i)
    sent.insert(t.srv.send_event(mention(i)));
  // Past a's deadline (2.5 s) for the first envelopes, the link breaks: what
  // hung is lost with it.
  REQUIRE(eventually(
      [&] { return t.observer.list(t.reg)[0].status.envelopes_unclaimed > 0; },
      30s));
  t.tap->refuse(true);
  t.tap->cut();
  REQUIRE(eventually([&] { return settled(t, sent, before); }, 90s));
  CHECK(check_left_to_b(t, sent, before) > 0);
}

TEST_CASE("a Socket Mode hub cut off from its bot: the gap counts an event "
          "once, and not at all if Slack sends it again",
          "[hub][socket_mode]") {
  fake_slack_options fo;
  fo.redelivery_delays = {300ms, 2000ms, 2000ms};
  fake_slack srv{fo};
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(socket_mode_entry("shop", srv)))};
  tcp_tap tap{h.port};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({{"127.0.0.1", tap.port()}}, "shop", actor, {"*"});
  REQUIRE(eventually([&] { return log->up_count() == 1; }, 30s));
  // Slack's first attempt must find the hub's session: an event that finds
  // none goes out first as retry 1, and then no fourth envelope comes.
  REQUIRE(eventually([&] { return srv.live_socket_mode_sessions() == 1; }));
  bot_node observer;
  auto reg = observer.registry(h.endpoint());
  tap.refuse(true);
  tap.cut();
  REQUIRE(eventually(
      [&] { return observer.list(reg)[0].status.subscribers == 0; }, 30s));
  // The hub leaves the event and its first retry (two envelopes received)
  // to Slack while the bot is away.
  auto id = srv.send_event(mention(1));
  REQUIRE(eventually(
      [&] { return observer.list(reg)[0].status.envelopes_unclaimed >= 2; },
      30s));
  tap.refuse(false);
  REQUIRE(eventually([&] { return log->gap_count() == 1; }, 60s));
  auto gap = log->with([](auto& x) { return x.gaps.front(); });
  CHECK(gap.missed.known);
  // Either a later retry reaches the bot, or Slack's last one came while
  // it was still away: then it was acked, and the gap counts it once.
  auto settled = eventually(
      [&] {
        return event_ids(*log).count(id) == 1 || srv.envelopes().size() == 4;
      },
      30s);
  if (!settled) {
    auto t0 = srv.envelopes().front().sent_at;
    auto ms = [t0](auto t) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0)
          .count();
    };
    for (auto& e : srv.envelopes())
      UNSCOPED_INFO("envelope " << e.envelope_id << " attempt "
                                << e.retry_attempt << " session " << e.session
                                << " at " << ms(e.sent_at) << " ms");
    for (auto& a : srv.acks())
      UNSCOPED_INFO("ack " << a.envelope_id << " session " << a.session
                           << " at " << ms(a.received_at) << " ms");
    UNSCOPED_INFO("gap missed " << gap.missed.count << ", hub's stderr:\n"
                                << h.proc->err());
  }
  REQUIRE(settled);
  if (gap.missed.count == 0) {
    REQUIRE(eventually([&] { return event_ids(*log).count(id) == 1; }, 30s));
  } else {
    CHECK(gap.missed.count == 1);
    CHECK(event_ids(*log).count(id) == 0);
  }
}

TEST_CASE("no token crosses the wire between a hub and its bot nodes",
          "[hub]") {
  fake_slack srv;
  temp_dir dir;
  hub_proc h{dir.write("hub.ini", hub_config(rtm_entry("acme", srv) +
                                             socket_mode_entry("shop", srv)))};
  tcp_tap tap{h.port};
  hub::hub_endpoint via{"127.0.0.1", tap.port()};
  bot_node bot;
  auto log = std::make_shared<bot_log>();
  auto actor = bot.track(spawn_bot(*bot.sys, log));
  bot.subscribe({via}, "acme", actor);
  bot.subscribe({via}, "shop", actor);
  REQUIRE(eventually([&] { return log->up_count() == 2; }, 30s));
  rtm::rtm_client_actor acme;
  rtm::socket_mode_client_actor shop;
  for (auto& up : log->with([](auto& x) { return x.ups; })) {
    if (up.info.rtm)
      acme = up.info.rtm;
    if (up.info.socket_mode)
      shop = up.info.socket_mode;
  }
  REQUIRE(acme);
  REQUIRE(shop);
  auto& self = *bot.self;
  // Everything a node can get: lookups, the listing, statuses, identities,
  // acks, Web API answers and errors, lifecycle messages, events.
  auto reg = bot.registry(via);
  bot.list(reg);
  REQUIRE(request<rtm::client_status>(self, acme, caf::timespan{10s},
                                      rtm::status_atom_v));
  REQUIRE(request<rtm::client_status>(self, shop, caf::timespan{10s},
                                      rtm::status_atom_v));
  auto who = request<rtm::connected>(self, acme, caf::timespan{20s},
                                     rtm::connect_atom_v);
  REQUIRE(who);
  CHECK(who->self.user_id == srv.options().user_id);
  REQUIRE(request<rtm::connected>(self, shop, caf::timespan{20s},
                                  rtm::connect_atom_v));
  rtm::json_object msg;
  msg.value = {{"type", "message"}, {"channel", "C1"}, {"text", "tapped"}};
  REQUIRE(request<rtm::send_ack>(self, acme, caf::timespan{20s},
                                 rtm::send_atom_v, msg));
  srv.script("auth.test",
             caf::rtm::testing::http_response::error("invalid_auth"));
  auto failed = request<rtm::json_object>(
      self, shop, caf::timespan{20s}, rtm::call_atom_v,
      std::string{"auth.test"}, rtm::api_args{});
  REQUIRE_FALSE(failed);
  // The fake holds both workspaces' sessions: the RTM one is not Socket
  // Mode.
  caf::rtm::testing::ws_session_ptr rtm_session;
  for (size_t i = 0; i < srv.session_count(); ++i)
    if (auto x = srv.session(i, 1s); !x->socket_mode())
      rtm_session = x;
  REQUIRE(rtm_session);
  rtm_session->send(message(1));
  srv.send_event(mention(1));
  REQUIRE(eventually(
      [&] { return log->event_count() >= 1 && log->envelope_count() >= 1; }));
  // A dropped session: disconnected, connecting, connected cross as well.
  rtm_session->drop();
  REQUIRE(
      eventually([&] { return log->lifecycle_count("connected") >= 1; }, 30s));
  auto from_hub = tap.from_target();
  auto to_hub = tap.to_target();
  // The tap saw the traffic...
  CHECK(from_hub.find("caf::rtm::hub::workspace_info") != std::string::npos);
  CHECK(from_hub.find("m1") != std::string::npos);
  CHECK(from_hub.find(srv.options().user_id) != std::string::npos);
  // ...and not one token, in either direction.
  for (auto& token : {srv.options().token, srv.options().app_token}) {
    CHECK(from_hub.find(token) == std::string::npos);
    CHECK(to_hub.find(token) == std::string::npos);
  }
}
