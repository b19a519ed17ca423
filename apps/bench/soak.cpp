// Soak: one RTM client for minutes against the fake Slack, every connection
// through the fault-injecting proxy (fault_proxy.hpp), while the fake streams
// numbered events on whatever session is live and now and then ends a session
// itself (close frames, goodbyes), and the client sends numbered messages.
// Then the faults stop, and a short clean phase ends one session with a
// goodbye and one with a close frame. Evidence that faults never lose,
// duplicate or hang anything:
//
// - every event is delivered at most once, and in order within its session;
// - an event that was never delivered was sent on a session that died
//   afterwards (a gap: the bytes may have died with it); one sent on a session
//   still open at the end is lost, and so is any event of the clean phase:
//   neither may happen;
// - every send gets an outcome (an ack or a typed error), an ack belongs to
//   its own message and the fake never receives a message twice;
// - the client keeps coming back (the clean phase needs a session) and closes
//   when asked;
// - memory, threads and descriptors do not grow, and closing the client gives
//   every descriptor and thread back.

#include "bench/bench.hpp"

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "bench/fault_proxy.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/rtm_client.hpp"

namespace caf::rtm::bench {

namespace {

// -- parameters ---------------------------------------------------------------

struct soak_params {
  bool tls = false;
  /// "plain" or "tls" (row ids).
  std::string key;
  clock_type::duration run_time;
  /// Resources are sampled this often.
  clock_type::duration sample_every;
  /// Growth is judged against the first sample at or after this point.
  clock_type::duration reference_after;
  double event_rate = 200;
  std::chrono::milliseconds send_every{500};
  /// Mean time between close frames or goodbyes from the fake.
  std::chrono::milliseconds control_mean{20000};
  /// Clients use the proxy as an HTTP CONNECT proxy (their `proxy` option)
  /// instead of as the server.
  bool via_connect = false;
  /// After the faults: time for the network to heal, then the clean phase.
  std::chrono::milliseconds heal_time{5000};
  std::chrono::milliseconds clean_time{20000};
  fault_options faults;
  uint32_t seed = 1;
};

// -- what happened ------------------------------------------------------------

/// Everything the driver, the subscriber and the sender record. One lock:
/// a few hundred updates per second.
struct ledger {
  std::mutex mtx;

  // Events: number n was sent on fake session sent_on[n] and delivered
  // seen[n] times.
  std::vector<uint32_t> sent_on;
  std::vector<uint8_t> seen;
  size_t delivered = 0;
  size_t duplicates = 0;
  size_t unknown = 0;
  size_t other_events = 0;
  /// The first few of them, for the report.
  std::vector<std::string> other_samples;
  size_t disorder = 0;
  std::unordered_map<uint64_t, int64_t> last_in_session;

  // Sends: 0 waiting, 1 acked, 2 failed.
  std::vector<uint8_t> sends;
  size_t acked = 0;
  size_t failed = 0;
  size_t answered_twice = 0;
  /// Acks whose echoed text is another message's: matched to the wrong send.
  size_t wrong_acks = 0;
  std::map<std::string, size_t> send_errors;

  // Lifecycle.
  size_t ups = 0;
  std::map<std::string, size_t> down_causes;
  std::map<std::string, size_t> error_events;
  std::vector<std::string> fatal;

  void on_event(const event& ev) {
    std::string_view text;
    if (auto* t = ev.json().if_contains("text"); t && t->is_string())
      text = t->get_string();
    int64_t n = -1;
    if (text.size() > 1 && text[0] == 'e') {
      auto res = std::from_chars(text.data() + 1, text.data() + text.size(), n);
      if (res.ec != std::errc{} || res.ptr != text.data() + text.size())
        n = -1;
    }
    std::lock_guard<std::mutex> guard{mtx};
    if (n < 0) {
      if (++other_events <= 3)
        other_samples.emplace_back(ev.raw());
      return;
    }
    if (static_cast<size_t>(n) >= seen.size()) {
      ++unknown;
      return;
    }
    auto& count = seen[static_cast<size_t>(n)];
    if (count > 0) {
      ++duplicates;
      count = static_cast<uint8_t>(std::min(count + 1, 255));
      return;
    }
    count = 1;
    ++delivered;
    auto [i, added] = last_in_session.emplace(ev.session(), n);
    if (!added) {
      if (n <= i->second)
        ++disorder;
      i->second = std::max(i->second, n);
    }
  }

  size_t new_send() {
    std::lock_guard<std::mutex> guard{mtx};
    sends.push_back(0);
    return sends.size() - 1;
  }

  void send_done(size_t n, const caf::error& err,
                 const std::string& ack_text = {}) {
    std::lock_guard<std::mutex> guard{mtx};
    auto& st = sends[n];
    if (st != 0) {
      ++answered_twice;
      return;
    }
    if (!err) {
      st = 1;
      ++acked;
      if (ack_text != "s" + std::to_string(n))
        ++wrong_acks;
      return;
    }
    st = 2;
    ++failed;
    ++send_errors[kind_of(err)];
  }

  /// "connection_closed", "slack_error (...)": the error code without the
  /// varying context, so that causes can be counted.
  static std::string kind_of(const caf::error& err) {
    if (!err)
      return "none";
    if (err.category() != error_category)
      return render(err);
    auto code = to_string(static_cast<errc>(err.code()));
    if (is(err, errc::connection_closed))
      code += " " + std::to_string(close_code(err));
    return code;
  }
};

using ledger_ptr = std::shared_ptr<ledger>;

caf::actor spawn_subscriber(caf::actor_system& sys, const ledger_ptr& led) {
  return spawn_fn(sys, [led](caf::event_based_actor*) -> caf::behavior {
    return {
        [led](const event& ev) { led->on_event(ev); },
        [led](const connected&) {
          std::lock_guard<std::mutex> guard{led->mtx};
          ++led->ups;
        },
        [led](const disconnected& x) {
          std::lock_guard<std::mutex> guard{led->mtx};
          ++led->down_causes[ledger::kind_of(x.cause)];
        },
        [led](const error_event& x) {
          std::lock_guard<std::mutex> guard{led->mtx};
          ++led->error_events[x.what + ": " + ledger::kind_of(x.reason)];
        },
        [led](const fatal_event& x) {
          std::lock_guard<std::mutex> guard{led->mtx};
          led->fatal.push_back(render(x.reason));
        },
        [](const connecting&) {},
        [](const reconnecting&) {},
    };
  });
}

// Sends `{"type":"message","channel":"C1","text":"s<n>"}` every `every`
// until `stop` is set, waiting for each outcome without a timeout (the client
// promises one). Stays alive after stopping: the outcomes of the last sends
// still have to arrive.
caf::actor spawn_sender(caf::actor_system& sys, const ledger_ptr& led,
                        const rtm_client_actor& hdl,
                        std::chrono::milliseconds every,
                        const std::shared_ptr<std::atomic<bool>>& stop) {
  return spawn_fn(sys, [=](caf::event_based_actor* self) -> caf::behavior {
    self->send(self, caf::tick_atom_v);
    return {
        [=](caf::tick_atom) {
          if (stop->load())
            return;
          auto n = led->new_send();
          json_object msg;
          msg.value = {{"type", "message"},
                       {"channel", "C1"},
                       {"text", "s" + std::to_string(n)}};
          self->request(hdl, caf::infinite, send_atom_v, std::move(msg))
              .then(
                  [led, n](send_ack& ack) {
                    led->send_done(n, caf::error{}, ack.text);
                  },
                  [led, n](caf::error& err) { led->send_done(n, err); });
          self->delayed_send(self, every, caf::tick_atom_v);
        },
    };
  });
}

// -- the fake's side ----------------------------------------------------------

/// Sessions of the fake by index, fetched once (handles stay valid).
class session_cache {
public:
  explicit session_cache(const testing::fake_slack& srv) : srv_(srv) {
    // nop
  }

  testing::ws_session_ptr get(size_t index) {
    if (index >= cache_.size())
      cache_.resize(index + 1);
    if (!cache_[index])
      cache_[index] = srv_.session(index, std::chrono::milliseconds{0});
    return cache_[index];
  }

  bool ended(size_t index) {
    auto s = get(index);
    return s && s->ended();
  }

private:
  const testing::fake_slack& srv_;
  std::vector<testing::ws_session_ptr> cache_;
};

struct driver_stats {
  size_t no_session = 0;
  size_t closes_1000 = 0;
  size_t closes_1001 = 0;
  size_t goodbyes = 0;
  /// Longest stretch without an open session at the fake, while the driver
  /// ran.
  clock_type::duration longest_outage{};
};

/// How the main thread steers the driver.
struct driver_control {
  enum phase_type : int {
    /// Network faults; close frames and goodbyes at random.
    faulty,
    /// The network heals: nothing ends a session on purpose.
    healing,
    /// A clean network; ends sessions only when asked (`request`).
    clean,
    stopped,
  };
  std::atomic<int> phase{faulty};
  /// Clean phase: 1 asks for a goodbye, 2 for a close frame (1000).
  std::atomic<int> request{0};
  /// The first event number sent in the clean phase (-1: none yet).
  std::atomic<int64_t> clean_from{-1};
  /// An open session exists at the fake (as of the driver's last tick).
  std::atomic<bool> have_session{false};
};

// Streams numbered events at `rate` on the newest open session and ends a
// session now and then, until told to stop.
driver_stats drive(const testing::fake_slack& srv, ledger& led,
                   const soak_params& p, driver_control& ctl) {
  driver_stats st;
  // Its own stream: the proxy's tunnels use the same seed.
  std::mt19937_64 rng{(uint64_t{p.seed} << 32) ^ 0x5eed50a4ull};
  std::exponential_distribution<double> control_gap{
      1.0 / static_cast<double>(std::max<int64_t>(p.control_mean.count(), 1))};
  auto next_control_in = [&] {
    return std::chrono::milliseconds{static_cast<int64_t>(control_gap(rng))};
  };
  auto period = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(1.0 / p.event_rate));
  auto next = clock_type::now();
  auto next_control = next + next_control_in();
  // Since when no session is open (valid while `in_outage`).
  clock_type::time_point outage_since;
  bool in_outage = false;
  // Sessions nothing more is sent on: the fake silently discards what is
  // sent after its own close frame, and in the clean phase nothing goes to a
  // session after its goodbye either (the client may close it before the
  // fake writes what was queued).
  std::vector<bool> retired;
  for (;;) {
    auto phase = ctl.phase.load();
    if (phase == driver_control::stopped)
      break;
    std::this_thread::sleep_until(next);
    auto now = clock_type::now();
    next += period;
    // A long hiccup of this thread (a loaded machine) is not made up for
    // with a burst.
    if (now - next > std::chrono::seconds{1})
      next = now;
    // The newest session that is still open; one of the last few (a failed
    // handshake may have come after it).
    testing::ws_session_ptr s;
    size_t index = 0;
    auto count = srv.session_count();
    retired.resize(count);
    for (size_t i = count; i > 0 && i + 3 > count; --i) {
      if (retired[i - 1])
        continue;
      auto candidate = srv.session(i - 1, std::chrono::milliseconds{0});
      if (candidate && !candidate->ended()) {
        s = std::move(candidate);
        index = i - 1;
        break;
      }
    }
    ctl.have_session = s != nullptr;
    if (!s) {
      ++st.no_session;
      if (!in_outage) {
        in_outage = true;
        outage_since = now;
      }
      st.longest_outage = std::max(st.longest_outage, now - outage_since);
      continue;
    }
    in_outage = false;
    size_t n = 0;
    {
      // Recorded before the send, so that a fast delivery finds it.
      std::lock_guard<std::mutex> guard{led.mtx};
      n = led.sent_on.size();
      led.sent_on.push_back(static_cast<uint32_t>(index));
      led.seen.push_back(0);
    }
    if (phase == driver_control::clean && ctl.clean_from.load() < 0)
      ctl.clean_from = static_cast<int64_t>(n);
    auto num = std::to_string(n);
    std::string text =
        R"({"type":"message","channel":"C1","user":"U0SOAK","text":"e)";
    text.append(num).append(R"(","ts":")").append(num).append(R"(.0"})");
    s->send(std::move(text));
    int what = -1; // 0 goodbye, 1 close 1000, 2 close 1001
    if (phase == driver_control::faulty && now >= next_control) {
      next_control = now + next_control_in();
      auto x = std::uniform_int_distribution<int>{0, 3}(rng);
      what = x < 2 ? 0 : x - 1;
    } else if (phase == driver_control::clean) {
      if (auto r = ctl.request.exchange(0); r != 0)
        what = r - 1;
    }
    // The counters are faults: the clean phase's goodbye and close frame are
    // not.
    bool faulty = phase == driver_control::faulty;
    switch (what) {
    case 0:
      st.goodbyes += faulty ? 1 : 0;
      s->send_goodbye();
      if (!faulty)
        retired[index] = true;
      break;
    case 1:
      st.closes_1000 += faulty ? 1 : 0;
      s->close(1000);
      retired[index] = true;
      break;
    case 2:
      ++st.closes_1001;
      s->close(1001, "going away");
      retired[index] = true;
      break;
    default:
      break;
    }
  }
  return st;
}

// -- resources ----------------------------------------------------------------

size_t open_fds() {
  size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (auto* entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    ::closedir(dir);
    if (n > 0)
      --n; // the directory's own descriptor
  }
  return n;
}

struct sample {
  double at_s = 0;
  size_t rss = 0;
  size_t threads = 0;
  size_t fds = 0;
};

sample take_sample(clock_type::time_point t0) {
  return {seconds_between(t0, clock_type::now()), resident_bytes(),
          thread_count(), open_fds()};
}

struct series {
  size_t first = 0;
  size_t last = 0;
  size_t max = 0;
  size_t reference = 0;
};

template <class F>
series summarize(const std::vector<sample>& xs, size_t ref_index, F get) {
  series s;
  if (xs.empty())
    return s;
  s.first = get(xs.front());
  s.last = get(xs.back());
  s.reference = get(xs[std::min(ref_index, xs.size() - 1)]);
  for (auto& x : xs)
    s.max = std::max(s.max, get(x));
  return s;
}

/// Descriptors the soak's connections may hold at a time beyond the usual:
/// each connection is four (client, proxy twice, fake), and a WebSocket and a
/// Web API connection may each be half replaced at a sample.
constexpr size_t fd_noise = 8;

/// Descriptors grow steadily when the lowest count of the last quarter of
/// the run is above the highest count between the reference sample and the
/// first quarter, by more than the noise: the floor rose past everything the
/// start ever needed.
bool fds_grew(const std::vector<sample>& xs, size_t ref_index) {
  if (xs.size() < ref_index + 4)
    return false;
  auto span = xs.size() - ref_index;
  auto head_end = ref_index + std::max<size_t>(span / 4, 1);
  auto tail_begin = xs.size() - std::max<size_t>(span / 4, 1);
  size_t head_max = 0;
  for (auto i = ref_index; i < head_end; ++i)
    head_max = std::max(head_max, xs[i].fds);
  size_t tail_min = SIZE_MAX;
  for (auto i = tail_begin; i < xs.size(); ++i)
    tail_min = std::min(tail_min, xs[i].fds);
  return tail_min > head_max + fd_noise;
}

// -- client log ---------------------------------------------------------------

/// Counts the client's warnings and errors (faults make plenty) and shows
/// only the first few of them, so that a long run does not flood stderr.
struct log_counter {
  std::mutex mtx;
  size_t warnings = 0;
  size_t errors = 0;
  size_t shown = 0;
};

logger_ptr counting_logger(const std::shared_ptr<log_counter>& c,
                           const char* tag) {
  return std::make_shared<logger>(
      log_level::warn, [c, tag](log_level lvl, const std::string& line) {
        std::lock_guard<std::mutex> guard{c->mtx};
        if (lvl == log_level::error)
          ++c->errors;
        else
          ++c->warnings;
        if (c->shown < 10) {
          ++c->shown;
          std::fprintf(stderr, "caf-rtm-bench: soak %s: client log: %s\n", tag,
                       line.c_str());
        }
      });
}

std::string counts_text(const std::map<std::string, size_t>& xs) {
  std::vector<std::pair<size_t, std::string>> sorted;
  sorted.reserve(xs.size());
  for (auto& [k, v] : xs)
    sorted.emplace_back(v, k);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  for (auto& [v, k] : sorted)
    out.append(out.empty() ? "" : ", ")
        .append(k)
        .append(" ")
        .append(grouped(static_cast<long long>(v)));
  return out.empty() ? "none" : out;
}

// -- one run ------------------------------------------------------------------

void soak_run(env& e, const soak_params& p) {
  const std::string tag = p.tls ? "TLS" : "plain";
  const std::string section = p.tls ? "soak (TLS)" : "soak (plain)";
  const std::string id = "soak." + p.key + ".";
  auto fail = [&](const std::string& what) {
    e.out.fail("soak " + tag + ": " + what);
  };
  testing::fake_slack_options fopts;
  fopts.tls = p.tls;
  fopts.seed = p.seed;
  testing::fake_slack srv{fopts};
  auto faults = p.faults;
  if (!p.via_connect)
    faults.upstream_port = srv.port();
  fault_proxy proxy{faults};
  auto ep = endpoint_of(srv);
  // URLs the fake handed out that still pointed at itself (the client would
  // have bypassed the proxy).
  auto unrewritten = std::make_shared<std::atomic<size_t>>(0);
  if (!p.via_connect) {
    // The client talks to the proxy as if it were Slack; the WebSocket URLs
    // of rtm.connect get the proxy's port too (same host, same ticket).
    ep.base_url = std::string{p.tls ? "https" : "http"} +
                  "://127.0.0.1:" + std::to_string(proxy.port()) + "/api/";
    auto from = "127.0.0.1:" + std::to_string(srv.port()) + "/";
    auto to = "127.0.0.1:" + std::to_string(proxy.port()) + "/";
    srv.on("rtm.connect",
           [&srv, from, to, unrewritten](const testing::recorded_request& req) {
             auto answer = srv.default_answer(req);
             boost::system::error_code ec;
             auto v = boost::json::parse(answer.body, ec);
             if (ec || !v.is_object())
               return answer;
             auto* url = v.get_object().if_contains("url");
             if (url == nullptr || !url->is_string())
               return answer;
             std::string str{url->get_string()};
             auto pos = str.find(from);
             if (pos == std::string::npos) {
               ++*unrewritten;
               return answer;
             }
             str.replace(pos, from.size(), to);
             *url = str;
             answer.body = boost::json::serialize(v);
             return answer;
           });
  }
  // What the process holds without the client: the baseline the descriptors
  // and threads must come back to once the client is closed.
  auto fds_before = open_fds();
  auto threads_before = thread_count();
  auto led = std::make_shared<ledger>();
  auto log_count = std::make_shared<log_counter>();
  auto cfg = config_for(e, ep);
  if (p.via_connect) {
    // Every connection through the proxy as a CONNECT tunnel.
    cfg.proxy = proxy.url();
    cfg.no_proxy.clear();
  }
  // Library defaults (or what the run configured), not the bench's generous
  // timeouts for loaded machines: faults should meet the real ones.
  cfg.connect_timeout = e.opts.client.connect_timeout;
  cfg.request_timeout = e.opts.client.request_timeout;
  cfg.hello_timeout = e.opts.client.hello_timeout;
  // Dead links are noticed within 2 s, and a session that a fault ends early
  // is no reason to back off.
  cfg.ping_interval = std::chrono::seconds{1};
  cfg.pong_timeout = std::chrono::seconds{1};
  cfg.healthy_session = caf::timespan{0};
  cfg.log = counting_logger(log_count, p.tls ? "TLS" : "plain");
  std::vector<sample> samples;
  driver_stats dstats;
  clock_type::time_point t0;
  size_t ref_index = 0;
  bool closed_in_time = false;
  double close_ms = 0;
  client_status status;
  bool status_ok = false;
  std::vector<bool> ended_at_drain;
  int64_t clean_from = -1;
  {
    cleanup guard{e.sys};
    caf::scoped_actor self{e.sys, true};
    auto client = guard.add(e.sys.spawn(rtm_client, cfg));
    auto subscriber = guard.add(spawn_subscriber(e.sys, led));
    bool ok = subscribe(self, client, subscriber);
    self->request(client, caf::timespan{10s}, subscribe_atom_v,
                  lifecycle_atom_v, subscriber)
        .receive([](caf::ok_atom) {}, [&](caf::error&) { ok = false; });
    if (!ok)
      throw std::runtime_error("subscribing failed");
    if (auto up = connect(self, client); !up)
      throw std::runtime_error("connect failed: " + render(up.error()));
    // Faults start once the client is up, so that every run starts alike.
    proxy.inject(true);
    auto stop_sending = std::make_shared<std::atomic<bool>>(false);
    auto sender =
        guard.add(spawn_sender(e.sys, led, client, p.send_every, stop_sending));
    driver_control ctl;
    std::thread driver{[&] {
      dstats = drive(srv, *led, p, ctl);
    }};
    t0 = clock_type::now();
    auto end = t0 + p.run_time;
    samples.push_back(take_sample(t0));
    auto next_sample = t0 + p.sample_every;
    auto next_progress = t0 + std::chrono::seconds{60};
    bool have_ref = false;
    while (clock_type::now() < end) {
      std::this_thread::sleep_until(std::min(next_sample, end));
      auto now = clock_type::now();
      if (now >= next_sample && now < end) {
        next_sample += p.sample_every;
        samples.push_back(take_sample(t0));
        if (!have_ref && now - t0 >= p.reference_after) {
          have_ref = true;
          ref_index = samples.size() - 1;
        }
      }
      if (now >= next_progress) {
        next_progress += std::chrono::seconds{60};
        auto fc = proxy.counts();
        auto rss_mb = static_cast<double>(samples.back().rss) / (1 << 20);
        std::lock_guard<std::mutex> lock{led->mtx};
        std::fprintf(stderr,
                     "caf-rtm-bench: soak %s: %.0f min, %zu events sent, "
                     "%zu delivered, %zu sessions, %zu faults, %zu sends, "
                     "RSS %.1f MB\n",
                     tag.c_str(), seconds_between(t0, now) / 60,
                     led->sent_on.size(), led->delivered, led->ups, fc.faults(),
                     led->sends.size(), rss_mb);
      }
    }
    // The network heals: no new faults, the current windows run out (at
    // most 4 s), sessions they broke are noticed.
    proxy.inject(false);
    ctl.phase = driver_control::healing;
    std::this_thread::sleep_for(p.heal_time);
    // A clean phase: a goodbye and a close frame on a healthy network, where
    // every event must arrive. It needs an open session (the client may be
    // backing off after failed attempts).
    auto session_limit = clock_type::now() + std::chrono::seconds{90};
    while (!ctl.have_session && clock_type::now() < session_limit)
      std::this_thread::sleep_for(50ms);
    ctl.phase = driver_control::clean;
    std::this_thread::sleep_for(p.clean_time / 3);
    ctl.request = 1;
    std::this_thread::sleep_for(p.clean_time / 3);
    ctl.request = 2;
    std::this_thread::sleep_for(p.clean_time / 3);
    ctl.phase = driver_control::stopped;
    driver.join();
    *stop_sending = true;
    // Everything still owed must arrive: every send's outcome, every event
    // sent on a session that is still open.
    auto drain_start = clock_type::now();
    auto drain_limit = drain_start + std::chrono::seconds{90};
    bool drained = true;
    session_cache sessions{srv};
    for (;;) {
      std::vector<uint32_t> owed_on;
      size_t waiting = 0;
      {
        std::lock_guard<std::mutex> lock{led->mtx};
        for (size_t n = 0; n < led->seen.size(); ++n)
          if (led->seen[n] == 0)
            owed_on.push_back(led->sent_on[n]);
        waiting = led->sends.size() - led->acked - led->failed;
      }
      size_t owed = 0;
      for (auto s : owed_on)
        if (!sessions.ended(s))
          ++owed;
      if (owed == 0 && waiting == 0)
        break;
      if (clock_type::now() >= drain_limit) {
        drained = false;
        break;
      }
      std::this_thread::sleep_for(200ms);
    }
    e.out.note("soak " + tag + " drain",
               std::string{drained ? "everything owed arrived within "
                                   : "still waiting after "} +
                   std::to_string(static_cast<int>(
                       millis_between(drain_start, clock_type::now()))) +
                   " ms after the driver stopped (limit 90 s)");
    clean_from = ctl.clean_from.load();
    // Which sessions had ended by now, before closing the client ends the
    // rest: an event owed by one that had not is lost, not a gap.
    for (size_t i = 0; i < srv.session_count(); ++i)
      ended_at_drain.push_back(sessions.ended(i));
    samples.push_back(take_sample(t0));
    self->request(client, caf::timespan{10s}, status_atom_v)
        .receive(
            [&](client_status& x) {
              status = std::move(x);
              status_ok = true;
            },
            [&](caf::error& err) {
              fail("the client did not answer status: " + render(err));
            });
    // Closing must finish: a hang here is a finding as much as a lost event.
    auto close_start = clock_type::now();
    self->request(client, caf::timespan{30s}, close_atom_v)
        .receive([&](caf::ok_atom) { closed_in_time = true; },
                 [&](caf::error& err) {
                   fail("close did not finish within 30 s: " + render(err));
                 });
    close_ms = millis_between(close_start, clock_type::now());
    caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
  }
  // The client is gone: its sockets (and the proxy's and the fake's ends of
  // them) must go too. Tunnels linger up to 10 s after a half-close.
  size_t fds_after = open_fds();
  size_t threads_after = thread_count();
  auto settle_limit = clock_type::now() + std::chrono::seconds{15};
  while ((fds_after > fds_before || threads_after > threads_before) &&
         clock_type::now() < settle_limit) {
    std::this_thread::sleep_for(100ms);
    fds_after = open_fds();
    threads_after = thread_count();
  }
  auto fc = proxy.counts();
  auto fake_open = srv.open_connections();
  // The fake's view of the sends: a message must reach it at most once.
  std::map<size_t, size_t> received;
  size_t fake_sessions = srv.session_count();
  for (size_t i = 0; i < fake_sessions; ++i)
    if (auto s = srv.session(i, std::chrono::milliseconds{0}))
      for (auto& text : s->received()) {
        boost::system::error_code ec;
        auto v = boost::json::parse(text, ec);
        if (ec || !v.is_object())
          continue;
        auto* t = v.get_object().if_contains("text");
        if (t == nullptr || !t->is_string())
          continue;
        std::string_view str = t->get_string();
        size_t n = 0;
        if (str.size() > 1 && str[0] == 's' &&
            std::from_chars(str.data() + 1, str.data() + str.size(), n).ec ==
                std::errc{})
          ++received[n];
      }
  size_t sends_twice = 0;
  size_t acked_unseen = 0;
  for (auto& [n, k] : received)
    if (k > 1)
      ++sends_twice;
  // Undelivered events: gaps if their session had died by the end of the
  // drain, losses if it was still open.
  auto ended_then = [&](uint32_t index) {
    return index < ended_at_drain.size() && ended_at_drain[index];
  };
  size_t sent = 0;
  size_t gaps = 0;
  size_t lost = 0;
  size_t clean_sent = 0;
  size_t lost_clean = 0;
  std::string lost_examples;
  std::map<uint32_t, size_t> gap_sessions;
  ledger& l = *led;
  std::lock_guard<std::mutex> lock{l.mtx};
  sent = l.sent_on.size();
  if (clean_from >= 0)
    clean_sent = sent - static_cast<size_t>(clean_from);
  for (size_t n = 0; n < sent; ++n) {
    if (l.seen[n] > 0)
      continue;
    if (clean_from >= 0 && n >= static_cast<size_t>(clean_from)) {
      ++lost_clean;
      if (lost_clean <= 5)
        lost_examples += " e" + std::to_string(n) +
                         " (clean phase, fake session " +
                         std::to_string(l.sent_on[n]) + ")";
    } else if (ended_then(l.sent_on[n])) {
      ++gaps;
      ++gap_sessions[l.sent_on[n]];
    } else {
      ++lost;
      if (lost <= 5)
        lost_examples += " e" + std::to_string(n) + " (fake session " +
                         std::to_string(l.sent_on[n]) + ")";
    }
  }
  size_t waiting = l.sends.size() - l.acked - l.failed;
  // Rows.
  auto count_row = [&](const std::string& key, const std::string& label,
                       size_t value, const std::string& unit) {
    e.out.add(id + key, section, label, static_cast<double>(value), unit, 0);
  };
  auto zero_row = [&](const std::string& key, const std::string& label,
                      size_t value, const std::string& unit) {
    e.out.add_target(id + key, section, label, static_cast<double>(value), unit,
                     0, "= 0", value == 0);
    if (value > 0)
      fail(label + ": " + grouped(static_cast<long long>(value)));
  };
  auto run_s = seconds_between(t0, t0 + p.run_time);
  e.out.add(id + "duration", section, "fault injection", run_s, "s", 0);
  count_row("events_sent", "events sent (fake, on the newest open session)",
            sent, "events");
  count_row("events_delivered", "events delivered", l.delivered, "events");
  zero_row("events_duplicated", "events delivered twice", l.duplicates,
           "events");
  zero_row("events_disorder", "events out of order within a session",
           l.disorder, "events");
  count_row("events_gaps", "gaps (not delivered, their session died)", gaps,
            "events");
  zero_row("events_lost", "lost (not delivered, session still open)", lost,
           "events");
  count_row("events_clean", "events sent in the clean phase", clean_sent,
            "events");
  zero_row("events_lost_clean",
           "lost in the clean phase (no faults; a goodbye, a close frame)",
           lost_clean, "events");
  if (clean_sent == 0)
    fail("the clean phase sent no event (no open session)");
  if (*unrewritten > 0)
    fail(std::to_string(unrewritten->load()) +
         " rtm.connect URL(s) not pointed at the proxy");
  if (l.unknown > 0)
    fail("events with a number never sent: " + std::to_string(l.unknown));
  count_row("sends", "sends", l.sends.size(), "sends");
  count_row("sends_acked", "sends acked", l.acked, "sends");
  count_row("sends_failed", "sends failed with an error", l.failed, "sends");
  zero_row("sends_no_outcome", "sends without outcome", waiting, "sends");
  zero_row("sends_twice", "sends the fake received twice", sends_twice,
           "sends");
  // An ack comes from the fake, so an acked message must have reached it, and
  // the ack must be that message's (ids are per connection).
  for (size_t n = 0; n < l.sends.size(); ++n)
    if (l.sends[n] == 1 && received.count(n) == 0)
      ++acked_unseen;
  zero_row("sends_acked_unseen", "sends acked but never received by the fake",
           acked_unseen, "sends");
  zero_row("sends_wrong_ack", "sends acked with another message's ack",
           l.wrong_acks, "sends");
  if (l.answered_twice > 0)
    fail("sends answered twice: " + std::to_string(l.answered_twice));
  count_row("faults_drop", "faults: drops (proxy)", fc.drops, "faults");
  count_row("faults_stall", "faults: stalls 0.1-3 s (proxy)", fc.stalls,
            "faults");
  count_row("faults_partial", "faults: partial-write windows (proxy)",
            fc.partial_writes, "faults");
  count_row("faults_slow", "faults: slow-read windows (proxy)", fc.slow_reads,
            "faults");
  count_row("faults_close", "faults: close frames 1000/1001 (fake)",
            dstats.closes_1000 + dstats.closes_1001, "faults");
  count_row("faults_goodbye", "faults: goodbyes (fake)", dstats.goodbyes,
            "faults");
  count_row("tunnels", "connections through the proxy", fc.tunnels,
            "connections");
  count_row("sessions", "sessions (hello reached)", l.ups, "sessions");
  e.out.add(
      id + "longest_outage", section, "longest time without an open session",
      std::chrono::duration<double>(dstats.longest_outage).count(), "s", 1);
  auto rss =
      summarize(samples, ref_index, [](const sample& s) { return s.rss; });
  auto thr =
      summarize(samples, ref_index, [](const sample& s) { return s.threads; });
  auto fds =
      summarize(samples, ref_index, [](const sample& s) { return s.fds; });
  auto mb = [](size_t b) {
    return static_cast<double>(b) / (1024.0 * 1024.0);
  };
  auto ref_at = samples.empty()
                    ? 0.0
                    : samples[std::min(ref_index, samples.size() - 1)].at_s;
  char ref_label[64];
  std::snprintf(ref_label, sizeof(ref_label), "%.0f s", ref_at);
  e.out.add(id + "rss.first", section, "RSS: first", mb(rss.first), "MB", 1);
  bool rss_ok = rss.last <= rss.reference + rss.reference / 2;
  // The series go into the JSON document, for plots and for telling a slow
  // leak from noise.
  auto& rss_row = e.out.add_target(
      id + "rss.last", section, "RSS: last", mb(rss.last), "MB", 1,
      "<= 1.5 x " + grouped(std::llround(mb(rss.reference))) + " MB (at " +
          ref_label + ")",
      rss_ok);
  for (auto& x : samples)
    rss_row.samples.push_back(mb(x.rss));
  e.out.add(id + "rss.max", section, "RSS: max", mb(rss.max), "MB", 1);
  if (!rss_ok)
    fail("RSS grew from " + std::to_string(rss.reference) + " to " +
         std::to_string(rss.last) + " bytes");
  e.out.add(id + "threads.first", section, "threads: first",
            static_cast<double>(thr.first), "threads", 0);
  bool thr_ok = thr.last <= thr.reference + 2;
  auto& thr_row =
      e.out.add_target(id + "threads.last", section, "threads: last",
                       static_cast<double>(thr.last), "threads", 0,
                       "<= " + std::to_string(thr.reference + 2), thr_ok);
  for (auto& x : samples)
    thr_row.samples.push_back(static_cast<double>(x.threads));
  e.out.add(id + "threads.max", section, "threads: max",
            static_cast<double>(thr.max), "threads", 0);
  if (!thr_ok)
    fail("threads grew from " + std::to_string(thr.reference) + " to " +
         std::to_string(thr.last));
  e.out.add(id + "fds.first", section, "descriptors: first",
            static_cast<double>(fds.first), "fds", 0);
  bool fds_ok = !fds_grew(samples, ref_index);
  auto& fds_row = e.out.add_target(
      id + "fds.last", section, "descriptors: last",
      static_cast<double>(fds.last), "fds", 0,
      "no steady growth (> " + std::to_string(fd_noise) + ")", fds_ok);
  for (auto& x : samples)
    fds_row.samples.push_back(static_cast<double>(x.fds));
  e.out.add(id + "fds.max", section, "descriptors: max",
            static_cast<double>(fds.max), "fds", 0);
  if (!fds_ok)
    fail("descriptors grew steadily (" + std::to_string(fds.reference) +
         " at " + ref_label + ", " + std::to_string(fds.last) + " at the end)");
  auto fds_left = fds_after > fds_before ? fds_after - fds_before : 0;
  auto threads_left =
      threads_after > threads_before ? threads_after - threads_before : 0;
  zero_row("fds_left", "descriptors left after close (vs. before the client)",
           fds_left, "fds");
  zero_row("threads_left", "threads left after close (vs. before the client)",
           threads_left, "threads");
  e.out.add(id + "close", section, "close -> replied", close_ms, "ms", 1);
  if (!l.fatal.empty())
    fail("the client stopped: " + l.fatal.front());
  // Notes: what the numbers do not show.
  e.out.note("soak " + tag + " causes",
             "sessions ended by: " + counts_text(l.down_causes) +
                 "; send errors: " + counts_text(l.send_errors) +
                 "; error events: " + counts_text(l.error_events));
  {
    std::string others;
    for (auto& x : l.other_samples)
      others += (others.empty() ? ": " : ", ") + x;
    std::lock_guard<std::mutex> lc{log_count->mtx};
    e.out.note("soak " + tag + " client",
               std::to_string(log_count->warnings) + " warning(s) and " +
                   std::to_string(log_count->errors) +
                   " error(s) logged; fake: " + std::to_string(fake_sessions) +
                   " sessions opened, " + std::to_string(gap_sessions.size()) +
                   " of them with gaps, " + std::to_string(dstats.no_session) +
                   " event slots without an open session, " +
                   std::to_string(fake_open) +
                   " connections open after close; proxy: " +
                   std::to_string(fc.open_tunnels) +
                   " tunnels open after close, " + std::to_string(fc.refused) +
                   " refused" +
                   (lost_examples.empty() ? "" : "; lost:" + lost_examples) +
                   "; " + std::to_string(l.other_events) +
                   " other event(s) delivered" + others);
  }
  if (status_ok)
    e.out.note(
        "soak " + tag + " status",
        "client counters at the end: " + std::to_string(status.sessions) +
            " sessions, " + std::to_string(status.events_received) +
            " events received, " + std::to_string(status.events_delivered) +
            " delivered, " + std::to_string(status.events_duplicate) +
            " duplicates dropped, " + std::to_string(status.frames_malformed) +
            " malformed, " + std::to_string(status.messages_sent) +
            " messages sent, " + std::to_string(status.messages_acked) +
            " acked, " + std::to_string(status.messages_failed) + " failed, " +
            std::to_string(status.send_queue) + " queued, " +
            std::to_string(status.awaiting_ack) + " awaiting an ack");
}

} // namespace

void run_soak(env& e) {
  const auto& o = e.opts;
  soak_params p;
  p.seed = o.soak_seed;
  p.via_connect = o.soak_connect;
  if (o.quick && o.soak_minutes <= 0) {
    // A few seconds, yet every kind of fault a few times.
    p.run_time = 5s;
    p.sample_every = 500ms;
    p.reference_after = 1s;
    p.control_mean = 1500ms;
    p.faults.mean_interval = 1000ms;
    p.clean_time = 3000ms;
  } else {
    auto minutes = o.soak_minutes > 0 ? o.soak_minutes : 30.0;
    p.run_time = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(minutes * 60));
    p.sample_every = minutes < 5 ? 5s : 10s;
    // The first minute warms up (allocator pools, the TLS context, ...).
    p.reference_after = std::min<clock_type::duration>(60s, p.run_time / 5);
    p.control_mean = 20000ms;
    p.faults.mean_interval = 3000ms;
  }
  p.faults.seed = p.seed;
  e.out.note("soak",
             "seed " + std::to_string(p.seed) + "; per transport " +
                 std::to_string(static_cast<int>(
                     std::chrono::duration<double>(p.run_time).count())) +
                 " s of faults (proxy: one per tunnel every " +
                 std::to_string(p.faults.mean_interval.count()) +
                 " ms on average; fake: a close frame or goodbye every " +
                 std::to_string(p.control_mean.count()) +
                 " ms on average), events at " +
                 std::to_string(static_cast<int>(p.event_rate)) +
                 "/s, a send every " + std::to_string(p.send_every.count()) +
                 " ms; client: ping 1 s, pong timeout 1 s, healthy_session "
                 "0, every connection through the proxy " +
                 (p.via_connect ? "(its HTTP CONNECT proxy)"
                                : "(its base URL and the WebSocket URLs "
                                  "point at the proxy)"));
  for (bool tls : {false, true}) {
    auto q = p;
    q.tls = tls;
    q.key = tls ? "tls" : "plain";
    std::fprintf(stderr, "caf-rtm-bench: soak %s ...\n", tls ? "TLS" : "plain");
    try {
      soak_run(e, q);
    } catch (const std::exception& ex) {
      e.out.fail(std::string{"soak "} + (tls ? "TLS" : "plain") + ": " +
                 ex.what());
    }
  }
}

} // namespace caf::rtm::bench
