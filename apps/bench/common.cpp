// The pieces every scenario shares: the report, client configuration, the
// payloads, the counting sink, and functions for clients and numbers.

#include "bench/bench.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <future>
#include <stdexcept>

#include <boost/json/object.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "bench/floor.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/testing/process_stats.hpp"
#include "caf/rtm/web_api.hpp"

extern char** environ;

namespace caf::rtm::bench {

// -- report -------------------------------------------------------------------

row& report::add(std::string id, std::string section, std::string label,
                 double value, std::string unit, int decimals) {
  row r;
  r.id = std::move(id);
  r.section = std::move(section);
  r.label = std::move(label);
  r.value = value;
  r.unit = std::move(unit);
  r.decimals = decimals;
  rows_.push_back(std::move(r));
  return rows_.back();
}

row& report::add_target(std::string id, std::string section, std::string label,
                        double value, std::string unit, int decimals,
                        std::string target, bool met) {
  auto& r = add(std::move(id), std::move(section), std::move(label), value,
                std::move(unit), decimals);
  r.target = std::move(target);
  r.status = met ? verdict::pass : verdict::miss;
  return r;
}

void report::note(std::string key, std::string text) {
  notes_.emplace_back(std::move(key), std::move(text));
}

void report::fail(std::string what) {
  std::fprintf(stderr, "caf-rtm-bench: FAILURE: %s\n", what.c_str());
  failures_.push_back(std::move(what));
}

void report::distribution(std::string name, std::vector<int64_t> samples_ns) {
  distributions_[std::move(name)] = std::move(samples_ns);
}

// -- clients ------------------------------------------------------------------

endpoint endpoint_of(const testing::fake_slack& srv) {
  return {srv.base_url(), srv.options().token,
          srv.options().tls ? srv.ca_file() : std::string{},
          srv.options().app_token};
}

client_config config_for(const env& e, const endpoint& ep) {
  auto cfg = e.opts.client;
  cfg.token = ep.token;
  cfg.base_url = ep.base_url;
  cfg.ca_file = ep.ca_file;
  cfg.proxy_from_environment = false; // the fake is on loopback
  cfg.send_rate = 100;                // never the bottleneck of a run
  cfg.connect_timeout = 20s;
  cfg.request_timeout = 20s;
  cfg.hello_timeout = 20s;
  cfg.log = e.log;
  return cfg;
}

client_config socket_mode_config_for(const env& e, const endpoint& ep) {
  auto cfg = config_for(e, ep);
  cfg.token.clear();
  cfg.bot_token.clear();
  cfg.app_token = ep.app_token;
  return cfg;
}

caf::expected<connected> connect(caf::scoped_actor& self,
                                 const rtm_client_actor& hdl) {
  caf::expected<connected> result{caf::error{}};
  self->request(hdl, caf::timespan{30s}, connect_atom_v)
      .receive([&](connected& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<connected> connect(caf::scoped_actor& self,
                                 const socket_mode_client_actor& hdl) {
  caf::expected<connected> result{caf::error{}};
  self->request(hdl, caf::timespan{30s}, connect_atom_v)
      .receive([&](connected& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

namespace {

template <class Handle>
bool subscribe_all(caf::scoped_actor& self, const Handle& hdl,
                   const caf::actor& listener, bool batched) {
  bool ok = false;
  auto on_ok = [&](caf::ok_atom) {
    ok = true;
  };
  auto on_error = [](caf::error&) {
  };
  std::vector<std::string> all{"*"};
  if (batched)
    self->request(hdl, caf::timespan{10s}, subscribe_atom_v, listener, all,
                  batch_atom_v)
        .receive(on_ok, on_error);
  else
    self->request(hdl, caf::timespan{10s}, subscribe_atom_v, listener, all)
        .receive(on_ok, on_error);
  return ok;
}

} // namespace

bool subscribe(caf::scoped_actor& self, const rtm_client_actor& hdl,
               const caf::actor& listener, bool batched) {
  return subscribe_all(self, hdl, listener, batched);
}

bool subscribe(caf::scoped_actor& self, const socket_mode_client_actor& hdl,
               const caf::actor& listener, bool batched) {
  return subscribe_all(self, hdl, listener, batched);
}

namespace {

// Requests `connect` (or `close`) from many clients, a bounded number at a
// time, from one short-lived actor.
struct batch {
  std::vector<caf::actor> hdls;
  size_t parallel = 1;
  bool closing = false;
  size_t next = 0;
  size_t pending = 0;
  size_t failed = 0;
  std::promise<size_t> done;
};

void request_next(caf::event_based_actor* self,
                  const std::shared_ptr<batch>& b) {
  while (b->pending < b->parallel && b->next < b->hdls.size()) {
    const auto& hdl = b->hdls[b->next++];
    ++b->pending;
    auto finished = [self, b](bool ok) {
      --b->pending;
      if (!ok)
        ++b->failed;
      if (b->pending == 0 && b->next == b->hdls.size()) {
        b->done.set_value(b->failed);
        self->quit();
        return;
      }
      request_next(self, b);
    };
    if (b->closing)
      self->request(hdl, caf::timespan{30s}, close_atom_v)
          .then([finished](caf::ok_atom) { finished(true); },
                [finished](caf::error&) { finished(false); });
    else
      self->request(hdl, caf::timespan{60s}, connect_atom_v)
          .then([finished](connected&) { finished(true); },
                [finished](caf::error&) { finished(false); });
  }
}

size_t run_batch(caf::actor_system& sys, const std::vector<caf::actor>& hdls,
                 size_t parallel, bool closing) {
  if (hdls.empty())
    return 0;
  auto b = std::make_shared<batch>();
  b->hdls = hdls;
  b->parallel = std::max<size_t>(parallel, 1);
  b->closing = closing;
  auto result = b->done.get_future();
  spawn_fn(sys, [b](caf::event_based_actor* self) { request_next(self, b); });
  return result.get();
}

std::vector<caf::actor> untyped(const std::vector<rtm_client_actor>& hdls) {
  std::vector<caf::actor> result;
  result.reserve(hdls.size());
  for (auto& hdl : hdls)
    result.push_back(caf::actor_cast<caf::actor>(hdl));
  return result;
}

} // namespace

size_t connect_all(caf::actor_system& sys,
                   const std::vector<rtm_client_actor>& hdls, size_t parallel) {
  return connect_all(sys, untyped(hdls), parallel);
}

size_t connect_all(caf::actor_system& sys, const std::vector<caf::actor>& hdls,
                   size_t parallel) {
  return run_batch(sys, hdls, parallel, false);
}

size_t close_all(caf::actor_system& sys,
                 const std::vector<rtm_client_actor>& hdls, size_t parallel) {
  return close_all(sys, untyped(hdls), parallel);
}

size_t close_all(caf::actor_system& sys, const std::vector<caf::actor>& hdls,
                 size_t parallel) {
  auto failed = run_batch(sys, hdls, parallel, true);
  if (failed > 0)
    for (auto& hdl : hdls)
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
  return failed;
}

cleanup::~cleanup() {
  run();
}

bool cleanup::run() {
  auto failed = close_all(sys_, clients_, 50);
  clients_.clear();
  for (auto& hdl : listeners_)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  listeners_.clear();
  return failed == 0;
}

spawned_child spawn_with_stdout(std::vector<std::string> args,
                                std::vector<std::string>* env) {
  auto to_pointers = [](std::vector<std::string>& xs) {
    std::vector<char*> result;
    result.reserve(xs.size() + 1);
    for (auto& x : xs)
      result.push_back(x.data());
    result.push_back(nullptr);
    return result;
  };
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the child's stdout.
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  auto argv = to_pointers(args);
  std::vector<char*> envp;
  if (env != nullptr)
    envp = to_pointers(*env);
  spawned_child child;
  auto rc = posix_spawn(&child.pid, args[0].c_str(), &actions, nullptr,
                        argv.data(), env != nullptr ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error("cannot start " + args[0]);
  }
  child.out = out[0];
  return child;
}

std::string sibling_program(const std::string& name) {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return {};
  std::string path(buf, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + name;
  return ::access(path.c_str(), X_OK) == 0 ? path : std::string{};
}

namespace {

// A WebSocket URL of `srv` from the library's web-API caller: `rtm.connect`'s,
// or `apps.connections.open`'s if `socket_mode`. Throws if the call fails.
std::string websocket_url(env& e, const testing::fake_slack& srv,
                          bool socket_mode) {
  auto ep = endpoint_of(srv);
  auto cfg = config_for(e, ep);
  if (socket_mode)
    cfg.token = ep.app_token;
  auto method = socket_mode ? "apps.connections.open" : "rtm.connect";
  caf::scoped_actor self{e.sys, true};
  auto api = e.sys.spawn(web_api, cfg);
  std::string url;
  caf::error err;
  self->request(api, caf::timespan{10s}, call_atom_v, method, api_args{})
      .receive(
          [&](json_object& answer) {
            if (auto* x = answer.value.if_contains("url"); x && x->is_string())
              url = std::string{x->get_string()};
          },
          [&](caf::error& x) { err = std::move(x); });
  self->request(api, caf::timespan{10s}, close_atom_v)
      .receive([](caf::ok_atom) {},
               [&](caf::error&) {
                 caf::anon_send_exit(api, caf::exit_reason::kill);
               });
  if (err)
    throw std::runtime_error(std::string{method} + ": " + render(err));
  if (url.empty())
    throw std::runtime_error(std::string{method} + ": no url");
  return url;
}

} // namespace

floor_run measure_floor(env& e, bool socket_mode, size_t n, frame_maker maker,
                        bool parse, const std::string& what) {
  floor_run result;
  testing::fake_slack srv;
  auto url = websocket_url(e, srv, socket_mode);
  json_only parser;
  std::function<void(std::string_view)> on_frame;
  if (parse)
    on_frame = std::ref(parser);
  auto cpu0 = process_cpu_seconds();
  auto frames = read_frames(
      url, n, [&] { session_of(srv, 0)->flood(n, maker); }, on_frame);
  result.cpu_us_per_frame = cpu_us_per_event(cpu0, frames.frames);
  if (!frames.error.empty()) {
    e.out.fail(what + ": " + frames.error);
    return result;
  }
  if (parse && parser.objects() != n) {
    e.out.fail(what + ": " + std::to_string(parser.objects()) + " of " +
               std::to_string(n) + " frames parsed as JSON objects");
    return result;
  }
  result.ok = true;
  result.frames_per_s = static_cast<double>(frames.frames) / frames.seconds;
  return result;
}

testing::ws_session_ptr session_of(const testing::fake_slack& srv,
                                   size_t index) {
  auto s = srv.session(index, std::chrono::milliseconds{10000});
  if (!s)
    throw std::runtime_error("the fake never saw WebSocket session " +
                             std::to_string(index));
  return s;
}

// -- payloads -----------------------------------------------------------------

namespace {

constexpr const char* words[] = {
    "the",     "deploy",    "finished", "on",      "staging", "and",
    "prod",    "looks",     "good",     "can",     "you",     "review",
    "my",      "PR",        "before",   "lunch",   "build",   "failed",
    "again",   "flaky",     "test",     "in",      "CI",      "merged",
    "thanks",  "will",      "check",    "after",   "standup", "ticket",
    "rollout", "tomorrow",  "morning",  "latency", "dropped", "nice",
    "work",    "everyone",  "please",   "update",  "the",     "docs",
    "meeting", "moved",     "to",       "3pm",     "cache",   "hit",
    "rate",    "is",        "up",       "alert",   "cleared", "incident",
    "closed",  "postmortem"};

// A deterministic chat text of at most `len` characters: words, now and then
// a mention or an escaped newline (JSON escapes, ready to paste).
std::string chat_text(size_t len, uint32_t seed) {
  std::string out;
  uint32_t x = seed * 2654435761u + 12345u;
  constexpr size_t n_words = sizeof(words) / sizeof(words[0]);
  for (;;) {
    x = x * 1664525u + 1013904223u;
    auto pick = x >> 8;
    std::string piece;
    if (pick % 29 == 0)
      piece = "<@U0USER" + std::to_string(pick % 50) + ">";
    else
      piece = words[pick % n_words];
    std::string sep = out.empty() ? "" : (pick % 17 == 0 ? "\\n" : " ");
    if (out.size() + sep.size() + piece.size() > len)
      break;
    out += sep;
    out += piece;
  }
  return out;
}

std::string channel_id(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "C0BENCH%02zu", n);
  return buf;
}

std::string user_id(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U0USER%04zu", n % 50);
  return buf;
}

std::string ts_of(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "17%08zu.%06zu", (n * 7919) % 100000000,
                (n * 104729) % 1000000);
  return buf;
}

std::string hex_id(uint32_t seed, size_t len) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  uint32_t x = seed * 2246822519u + 7u;
  for (size_t i = 0; i < len; ++i) {
    x = x * 1664525u + 1013904223u;
    out += digits[(x >> 12) & 0xf];
  }
  return out;
}

enum class shape { blocks, plain, thread_reply, reaction, typing };

// Everything of an event up to and including `"seq":`; `text` is pasted as
// is (already escaped).
std::string render(shape kind, size_t t, const std::string& text) {
  auto ch = channel_id(t % payload_set::channels);
  auto user = user_id(t);
  auto ts = ts_of(t);
  std::string out;
  switch (kind) {
  case shape::blocks:
    out =
        R"({"type":"message","channel":")" + ch + R"(","user":")" + user +
        R"(","text":")" + text + R"(","ts":")" + ts +
        R"(","team":"T0TEAM","blocks":[{"type":"rich_text","block_id":")" +
        hex_id(static_cast<uint32_t>(t), 4) +
        R"(","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":")" +
        text + R"("}]}]}],)";
    break;
  case shape::plain:
    out = R"({"client_msg_id":")" + hex_id(static_cast<uint32_t>(t), 8) +
          R"(","type":"message","text":")" + text + R"(","user":")" + user +
          R"(","ts":")" + ts + R"(","team":"T0TEAM","channel":")" + ch +
          R"(","event_ts":")" + ts + R"(",)";
    break;
  case shape::thread_reply:
    out = R"({"type":"message","channel":")" + ch + R"(","user":")" + user +
          R"(","text":")" + text + R"(","ts":")" + ts + R"(","thread_ts":")" +
          ts_of(t + 1) + R"(","team":"T0TEAM",)";
    break;
  case shape::reaction:
    out = R"({"type":"reaction_added","user":")" + user +
          R"(","item":{"type":"message","channel":")" + ch + R"(","ts":")" +
          ts_of(t + 3) + R"("},"reaction":")" + text + R"(","item_user":")" +
          user_id(t + 7) + R"(","event_ts":")" + ts + R"(","ts":")" + ts +
          R"(",)";
    break;
  case shape::typing:
    out = R"({"type":"user_typing","channel":")" + ch + R"(","user":")" + user +
          R"(",)";
    break;
  }
  out += R"("seq":)";
  return out;
}

// An event of `kind` whose frame (with a typical seq and timestamp) is
// close to `target` bytes.
std::string sized(shape kind, size_t t, size_t target) {
  // `<seq>,"sent_ns":<19 digits>}` at six-digit seqs.
  constexpr size_t suffix = 6 + 11 + 19 + 1;
  if (kind == shape::typing)
    return render(kind, t, "");
  if (kind == shape::reaction) {
    static constexpr const char* reactions[] = {"thumbsup", "eyes", "tada",
                                                "white_check_mark", "joy"};
    return render(kind, t, reactions[t % 5]);
  }
  auto fixed = render(kind, t, "").size() + suffix;
  size_t copies = kind == shape::blocks ? 2 : 1;
  size_t len = target > fixed + 8 * copies ? (target - fixed) / copies : 8;
  return render(kind, t, chat_text(len, static_cast<uint32_t>(t)));
}

constexpr size_t templates = 1024; // a multiple of payload_set::channels

} // namespace

std::shared_ptr<const payload_set> payload_set::small_events() {
  auto result = std::make_shared<payload_set>();
  // A mix as an RTM stream brings it: messages (some with blocks, some in
  // threads), typing indicators and reactions.
  static constexpr shape mix[] = {
      shape::blocks, shape::typing,       shape::plain, shape::reaction,
      shape::typing, shape::thread_reply, shape::plain, shape::blocks};
  constexpr size_t mix_size = sizeof(mix) / sizeof(mix[0]);
  for (size_t t = 0; t < templates; ++t) {
    auto kind = mix[(t * 5) % mix_size];
    // Message sizes spread over 120..295 bytes.
    auto target = 120 + (t * 7919) % 176;
    result->prefixes_.push_back(sized(kind, t, target));
  }
  result->measure();
  return result;
}

std::shared_ptr<const payload_set> payload_set::large_events() {
  auto result = std::make_shared<payload_set>();
  for (size_t t = 0; t < templates; ++t) {
    auto target = 3900 + (t * 7919) % 400;
    result->prefixes_.push_back(sized(shape::blocks, t, target));
  }
  result->measure();
  return result;
}

std::string payload_set::make(size_t seq, int64_t now) const {
  const auto& prefix = prefixes_[seq % prefixes_.size()];
  std::string out;
  out.reserve(prefix.size() + 48);
  out += prefix;
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), seq);
  out.append(buf, res.ptr);
  out += R"(,"sent_ns":)";
  res = std::to_chars(buf, buf + sizeof(buf), now);
  out.append(buf, res.ptr);
  out += '}';
  return out;
}

frame_maker payload_set::maker(std::shared_ptr<const payload_set> set) {
  return [set = std::move(set)](size_t seq, int64_t now) {
    return set->make(seq, now);
  };
}

void payload_set::measure() {
  min_ = SIZE_MAX;
  max_ = 0;
  double total = 0;
  auto now = bench::now_ns();
  for (size_t i = 0; i < prefixes_.size(); ++i) {
    auto size = make(100000 + i, now).size();
    min_ = std::min(min_, size);
    max_ = std::max(max_, size);
    total += static_cast<double>(size);
  }
  mean_ = total / static_cast<double>(prefixes_.size());
}

std::string mark_event(int64_t mark) {
  return R"({"type":"message","channel":"C0BENCH00","user":"U0USER01","text":"reconnect probe","ts":"1700000000.)" +
         std::to_string(100000 + mark) + R"(","mark":)" + std::to_string(mark) +
         "}";
}

// -- sink ---------------------------------------------------------------------

sink::sink(size_t expected, bool keep_latency, size_t lanes)
    : expected_(expected), keep_latency_(keep_latency), seen_(expected),
      latency_(keep_latency ? expected : 0),
      last_in_lane_(std::max<size_t>(lanes, 1), -1) {
  // nop
}

namespace {

// The field `key` of `obj`, looked for `from_end` places before the end
// first: the benchmark's frames end with "seq" and "sent_ns"
// (`payload_set::make`), and a scan of every key for them cost the counting
// subscriber more than a tenth of the workers' time.
const boost::json::value* bench_field(const boost::json::object& obj,
                                      std::string_view key, size_t from_end) {
  if (obj.size() >= from_end) {
    const auto& kv = *(obj.end() - from_end);
    if (kv.key() == key)
      return &kv.value();
  }
  return obj.if_contains(key);
}

} // namespace

void sink::on_event(const event& ev, clock_type::time_point now) {
  on_json(ev.json(), now);
}

void sink::on_envelope(const envelope& env, clock_type::time_point now) {
  if (const auto& inner = env.event(); !inner.empty())
    on_json(inner, now);
  else
    ++other_;
}

void sink::on_json(const boost::json::object& obj, clock_type::time_point now) {
  auto* seq = bench_field(obj, "seq", 2);
  if (seq == nullptr || !seq->is_int64()) {
    ++other_;
    return;
  }
  auto n = seq->get_int64();
  if (n < 0 || static_cast<size_t>(n) >= expected_) {
    ++out_of_range_;
    return;
  }
  auto i = static_cast<size_t>(n);
  if (seen_[i].exchange(1, std::memory_order_relaxed) != 0) {
    ++duplicates_;
    return;
  }
  if (keep_latency_) {
    if (auto* sent = bench_field(obj, "sent_ns", 1); sent && sent->is_int64())
      latency_[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        now.time_since_epoch())
                        .count() -
                    sent->get_int64();
  }
  auto& last = last_in_lane_[i % last_in_lane_.size()];
  if (n <= last)
    ++disorder_;
  last = n;
  if (received_.fetch_add(1, std::memory_order_acq_rel) + 1 == expected_) {
    std::lock_guard<std::mutex> guard{mtx_};
    done_at_ = now;
    cv_.notify_all();
  }
}

bool sink::wait(std::chrono::milliseconds stall) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto last = received_.load();
  auto last_change = clock_type::now();
  while (received_.load(std::memory_order_acquire) < expected_) {
    cv_.wait_for(guard, 100ms);
    auto n = received_.load();
    auto now = clock_type::now();
    if (n != last) {
      last = n;
      last_change = now;
    } else if (now - last_change > stall) {
      return false;
    }
  }
  return true;
}

clock_type::time_point sink::done_at() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return done_at_;
}

std::string sink::describe() const {
  return "received " + std::to_string(received()) + "/" +
         std::to_string(expected_) + ", " + std::to_string(duplicates()) +
         " duplicate(s), " + std::to_string(out_of_range()) +
         " unknown seq(s), " + std::to_string(disorder()) + " out of order";
}

caf::actor spawn_counter(caf::actor_system& sys,
                         const std::shared_ptr<sink>& s) {
  return spawn_fn(sys, [s](caf::event_based_actor*) -> caf::behavior {
    return {
        [s](const event& ev) { s->on_event(ev); },
    };
  });
}

caf::actor spawn_envelope_counter(caf::actor_system& sys,
                                  const std::shared_ptr<sink>& s) {
  return spawn_fn(sys, [s](caf::event_based_actor*) -> caf::behavior {
    return {
        [s](const envelope& env) { s->on_envelope(env); },
    };
  });
}

caf::actor spawn_batch_counter(caf::actor_system& sys,
                               const std::shared_ptr<sink>& s) {
  return spawn_fn(sys, [s](caf::event_based_actor*) -> caf::behavior {
    return {
        [s](const event_batch& batch) {
          auto now = clock_type::now();
          for (const auto& ev : batch.events)
            s->on_event(ev, now);
        },
        [s](const envelope_batch& batch) {
          auto now = clock_type::now();
          for (const auto& env : batch.envelopes)
            s->on_envelope(env, now);
        },
        [s](const envelope& env) { s->on_envelope(env); },
    };
  });
}

// -- latency rows -------------------------------------------------------------

void add_latency_rows(env& e, const std::string& id, const std::string& label,
                      const std::vector<int64_t>& sorted, bool with_target) {
  auto us = [&](double q) {
    return static_cast<double>(percentile(sorted, q)) / 1000.0;
  };
  const std::string section = "latency";
  e.out.add(id + ".p50", section, label + ": p50", us(0.5), "us", 1);
  if (with_target)
    e.out.add_target(id + ".p99", section, label + ": p99", us(0.99), "us", 1,
                     "< 1000 us", us(0.99) < 1000.0);
  else
    e.out.add(id + ".p99", section, label + ": p99", us(0.99), "us", 1);
  e.out.add(id + ".p999", section, label + ": p99.9", us(0.999), "us", 1);
  e.out.add(id + ".max", section, label + ": max", us(1.0), "us", 1);
}

// -- numbers ------------------------------------------------------------------

std::string grouped(long long n) {
  auto digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

int64_t percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

double seconds_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double millis_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now().time_since_epoch())
      .count();
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) +
           static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double cpu_us_per_event(double cpu0, size_t events) {
  return events == 0 ? 0.0
                     : (process_cpu_seconds() - cpu0) * 1e6 /
                           static_cast<double>(events);
}

size_t resident_bytes() {
  return testing::resident_bytes(true);
}

size_t thread_count() {
  return testing::thread_count();
}

} // namespace caf::rtm::bench
