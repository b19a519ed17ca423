// caf-rtm-bench: throughput, latency, reconnect times, memory and scale of
// the RTM client and the Socket Mode client against the fake Slack on
// loopback. Every scenario is one or two functions that add rows to a shared
// report; main.cpp runs them in order.

#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/envelope.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/testing/fake_slack.hpp"

namespace caf::rtm::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using frame_maker = std::function<std::string(std::size_t, int64_t)>;

// -- options ------------------------------------------------------------------

struct options {
  bool quick = false;
  std::string json_file;
  std::string plot_file;
  /// Flood size of the throughput runs (RTM and Socket Mode).
  size_t events = 200000;
  /// Idle clients of the largest scale step.
  size_t clients = 1000;
  /// Clients of the aggregated throughput run.
  size_t busy_clients = 100;
  /// Duration of the paced latency runs (RTM events, Socket Mode acks).
  double paced_seconds = 2.0;
  double paced_rate = 10000;
  /// Runs of each reconnect scenario, Socket Mode's refresh included (the
  /// median is reported).
  size_t repetitions = 5;
  /// Rounds of the throughput runs (the median is reported).
  size_t throughput_rounds = 3;
  /// Value of `scheduler.max-threads`.
  size_t scheduler_threads = 0;
  /// The command line as typed (for the report).
  std::string command;
  /// `caf-rtm.*` options from the command line or a config file: the base of
  /// every client configuration of the run.
  client_config client;
  /// `--soak`: only the soak run (faults injected), no other scenario.
  bool soak = false;
  /// Minutes of faults per transport; 0: the default (30, `--quick` 5 s).
  double soak_minutes = 0;
  /// Seeds the fault plans of the proxy and the fake.
  uint32_t soak_seed = 1;
  /// The soak's clients use the fault proxy as their HTTP CONNECT proxy
  /// instead of as the server.
  bool soak_connect = false;
};

// -- the report ---------------------------------------------------------------

enum class verdict { none, pass, miss };

/// One line of the result table.
struct row {
  /// Stable key for the JSON document, e.g. "throughput.small.actor".
  std::string id;
  std::string section;
  std::string label;
  double value = 0;
  std::string unit;
  int decimals = 0;
  /// Empty: no target for this row.
  std::string target;
  verdict status = verdict::none;
  /// Raw samples behind a median (throughput and reconnect runs).
  std::vector<double> samples;
};

class report {
public:
  row& add(std::string id, std::string section, std::string label, double value,
           std::string unit, int decimals);

  /// Adds a row with a target; `met` decides PASS or MISS.
  row& add_target(std::string id, std::string section, std::string label,
                  double value, std::string unit, int decimals,
                  std::string target, bool met);

  /// Free-form facts shown with the settings (payload sizes, ...).
  void note(std::string key, std::string text);

  /// A wrong count or a broken run: the program exits non-zero.
  void fail(std::string what);

  /// A latency distribution, kept for the plot (nanoseconds).
  void distribution(std::string name, std::vector<int64_t> samples_ns);

  const std::vector<row>& rows() const noexcept {
    return rows_;
  }

  const std::vector<std::pair<std::string, std::string>>& notes() const {
    return notes_;
  }

  const std::vector<std::string>& failures() const noexcept {
    return failures_;
  }

  const std::map<std::string, std::vector<int64_t>>& distributions() const {
    return distributions_;
  }

private:
  std::vector<row> rows_;
  std::vector<std::pair<std::string, std::string>> notes_;
  std::vector<std::string> failures_;
  std::map<std::string, std::vector<int64_t>> distributions_;
};

/// What every scenario needs.
struct env {
  caf::actor_system& sys;
  const options& opts;
  report& out;
  logger_ptr log;
};

// -- scenarios (throughput.cpp, reconnect.cpp, scale.cpp, socket_mode.cpp) ----

/// Floor, client -> actor and client -> callbacks, for two payload sizes;
/// latency under flood comes from the small client -> actor run.
void run_throughput(env& e);

/// Latency of a paced run.
void run_latency(env& e);

/// Goodbye, drop, silent peer and sends queued during a reconnect.
void run_reconnect(env& e);

/// RSS and threads of idle RTM clients (plain and TLS), against a fake Slack
/// in a child process.
void run_idle_clients(env& e);

/// Aggregated events/s of many busy clients in one actor system.
void run_busy_clients(env& e);

/// RSS and threads of idle Socket Mode clients (plain and TLS), as
/// `run_idle_clients` measures them for RTM clients.
void run_socket_mode_idle_clients(env& e);

/// Socket Mode: envelopes/s to an actor (and the ratio to the RTM client ->
/// actor row of the run, if there is one), ack latency of a paced run, and
/// refresh -> first envelope on the new connection.
void run_socket_mode(env& e);

/// The caf-rtm tool flooded into a pipe: events/s with a fast reader (and
/// the ratio to the client -> actor row of the run), peak RSS with a fast and
/// a slow reader (cli_pipe.cpp).
void run_cli_pipe(env& e);

/// Hub -> remote bot on loopback: events/s of a flood and latency of a flood
/// and a paced run, a caf-rtm-hub process in between (hub.cpp).
void run_hub(env& e);

/// Minutes of one RTM client, plain and then TLS, with faults injected by a
/// proxy and by the fake: nothing lost, duplicated or left without an answer,
/// no growth of memory, threads or descriptors (soak.cpp).
void run_soak(env& e);

/// One series of idle clients of `kind` (1, 100, ... `opts.clients`), plain
/// or TLS: the rows of both idle-client scenarios.
void measure_idle_clients(env& e, client_kind kind, bool tls);

/// Latency rows `<id>.p50`, `.p99` (with the target < 1 ms if asked),
/// `.p999` and `.max` in the latency section, from sorted nanoseconds.
void add_latency_rows(env& e, const std::string& id, const std::string& label,
                      const std::vector<int64_t>& sorted, bool with_target);

// -- where clients connect to -------------------------------------------------

struct endpoint {
  std::string base_url;
  std::string token;
  std::string ca_file;
  /// What `apps.connections.open` accepts (Socket Mode).
  std::string app_token;
};

endpoint endpoint_of(const testing::fake_slack& srv);

/// The bench's client configuration: the run's `caf-rtm.*` options, then the
/// fake's endpoint, no proxy from the environment, a send rate that never
/// throttles the bench, the bench's logger.
client_config config_for(const env& e, const endpoint& ep);

/// The same for a Socket Mode client: the app token, no bot token (no
/// `auth.test`, so that connecting costs what it costs an app without Web API
/// calls) and no RTM token.
client_config socket_mode_config_for(const env& e, const endpoint& ep);

// -- a fake Slack in a child process ------------------------------------------

/// The hidden `--serve [--tls]` mode: runs a fake Slack (RTM and Socket
/// Mode), prints its base URL, token, CA file ("-" without TLS) and app token
/// on four lines of stdout and lives until stdin closes.
int serve_main(bool tls);

/// This program in serve mode, so that the fake's memory and threads are not
/// counted with the clients'.
class child_server {
public:
  explicit child_server(bool tls);
  ~child_server();

  child_server(const child_server&) = delete;
  child_server& operator=(const child_server&) = delete;

  const endpoint& where() const noexcept {
    return ep_;
  }

private:
  void stop();

  int pid_ = -1;
  int to_child_ = -1;
  endpoint ep_;
};

// -- payloads -----------------------------------------------------------------

/// Pre-rendered Slack events. Frame `seq` is one of the templates (chosen by
/// `seq`) completed with `"seq":<seq>,"sent_ns":<now>}`, so making a frame is
/// one copy and two number conversions. The channel of frame `seq` is channel
/// number `seq % channels`.
class payload_set {
public:
  static constexpr size_t channels = 64;

  /// Messages (some with blocks) and reactions of 100 to 300 bytes.
  static std::shared_ptr<const payload_set> small_events();

  /// Messages with blocks of about 4 KB.
  static std::shared_ptr<const payload_set> large_events();

  std::string make(size_t seq, int64_t now_ns) const;

  /// A frame maker for the fake (keeps the set alive).
  static frame_maker maker(std::shared_ptr<const payload_set> set);

  /// Sizes of the frames as sent (with realistic seq and timestamp).
  size_t min_bytes() const noexcept {
    return min_;
  }
  size_t max_bytes() const noexcept {
    return max_;
  }
  double mean_bytes() const noexcept {
    return mean_;
  }

private:
  void measure();

  std::vector<std::string> prefixes_;
  size_t min_ = 0;
  size_t max_ = 0;
  double mean_ = 0;
};

/// An event that carries `"mark":<mark>` (reconnect runs).
std::string mark_event(int64_t mark);

// -- counting what arrives ----------------------------------------------------

/// Counts events by their `seq` field: every seq in [0, expected) must arrive
/// exactly once. Thread-safe; optionally records latencies and checks the
/// order within `lanes` lanes (lane = seq % lanes; each lane must be fed by
/// one actor at a time, as the client guarantees per channel).
class sink {
public:
  sink(size_t expected, bool keep_latency, size_t lanes);

  /// Counts an event that arrived at `now` (a batch arrives at one time).
  void on_event(const event& ev, clock_type::time_point now);

  void on_event(const event& ev) {
    on_event(ev, clock_type::now());
  }

  /// The same for the event inside an `events_api` envelope
  /// (`payload.event`).
  void on_envelope(const envelope& env, clock_type::time_point now);

  void on_envelope(const envelope& env) {
    on_envelope(env, clock_type::now());
  }

  /// Waits until every event arrived; false if nothing arrived for `stall`.
  bool wait(std::chrono::milliseconds stall);

  size_t expected() const noexcept {
    return expected_;
  }
  size_t received() const noexcept {
    return received_.load();
  }
  size_t duplicates() const noexcept {
    return duplicates_.load();
  }
  size_t out_of_range() const noexcept {
    return out_of_range_.load();
  }
  size_t disorder() const noexcept {
    return disorder_.load();
  }
  /// Events without a seq (hello and the like).
  size_t other() const noexcept {
    return other_.load();
  }
  bool exact() const noexcept {
    return received() == expected_ && duplicates() == 0 &&
           out_of_range() == 0 && disorder() == 0;
  }
  /// When the last expected event arrived.
  clock_type::time_point done_at() const;
  /// Latencies in nanoseconds, one per event (after wait() succeeded).
  const std::vector<int64_t>& latencies() const noexcept {
    return latency_;
  }
  /// "received 999/1000, 1 duplicate(s), ..." for failure messages.
  std::string describe() const;

private:
  void on_json(const boost::json::object& obj, clock_type::time_point now);

  size_t expected_;
  bool keep_latency_;
  std::vector<std::atomic<uint8_t>> seen_;
  std::vector<int64_t> latency_;
  std::vector<int64_t> last_in_lane_;
  std::atomic<size_t> received_{0};
  std::atomic<size_t> duplicates_{0};
  std::atomic<size_t> out_of_range_{0};
  std::atomic<size_t> disorder_{0};
  std::atomic<size_t> other_{0};
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  clock_type::time_point done_at_;
};

/// Spawns an event-based actor running `f(self)`. The function travels as a
/// spawn argument: CAF 0.17 dereferences a null argument tuple when a function
/// is spawned without arguments (undefined behaviour).
template <class F>
caf::actor spawn_fn(caf::actor_system& sys, F f) {
  return sys.spawn([](caf::event_based_actor* self, F fn) { return fn(self); },
                   std::move(f));
}

/// An actor that feeds every event it receives into `s`.
caf::actor spawn_counter(caf::actor_system& sys,
                         const std::shared_ptr<sink>& s);

/// An actor that feeds every envelope it receives into `s`.
caf::actor spawn_envelope_counter(caf::actor_system& sys,
                                  const std::shared_ptr<sink>& s);

/// The same, for a subscription with `batch_atom`: takes `event_batch` and
/// `envelope_batch` (and single envelopes, for those that wait for an
/// answer).
caf::actor spawn_batch_counter(caf::actor_system& sys,
                               const std::shared_ptr<sink>& s);

// -- working with clients -----------------------------------------------------

/// Connects and waits for the first hello.
caf::expected<connected> connect(caf::scoped_actor& self,
                                 const rtm_client_actor& hdl);
caf::expected<connected> connect(caf::scoped_actor& self,
                                 const socket_mode_client_actor& hdl);

/// Subscribes `listener` to every event (or envelope) type, in batches if
/// `batched`.
bool subscribe(caf::scoped_actor& self, const rtm_client_actor& hdl,
               const caf::actor& listener, bool batched = false);
bool subscribe(caf::scoped_actor& self, const socket_mode_client_actor& hdl,
               const caf::actor& listener, bool batched = false);

/// Connects (or closes) many clients, at most `parallel` at a time; returns
/// how many failed. Both clients answer `connect` and `close` alike, so the
/// untyped overloads take either kind.
size_t connect_all(caf::actor_system& sys,
                   const std::vector<rtm_client_actor>& hdls, size_t parallel);
size_t connect_all(caf::actor_system& sys, const std::vector<caf::actor>& hdls,
                   size_t parallel);
size_t close_all(caf::actor_system& sys,
                 const std::vector<rtm_client_actor>& hdls, size_t parallel);
size_t close_all(caf::actor_system& sys, const std::vector<caf::actor>& hdls,
                 size_t parallel);

/// Closes its clients and ends its listener actors when it goes out of scope,
/// so that a scenario that throws half-way leaves nothing running.
class cleanup {
public:
  explicit cleanup(caf::actor_system& sys) : sys_(sys) {
    // nop
  }

  ~cleanup();

  cleanup(const cleanup&) = delete;
  cleanup& operator=(const cleanup&) = delete;

  rtm_client_actor add(rtm_client_actor hdl) {
    clients_.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  socket_mode_client_actor add(socket_mode_client_actor hdl) {
    clients_.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  caf::actor add(caf::actor listener) {
    listeners_.push_back(listener);
    return listener;
  }

  /// Closes every client now; false if one did not close in time.
  bool run();

private:
  caf::actor_system& sys_;
  /// RTM and Socket Mode clients alike.
  std::vector<caf::actor> clients_;
  std::vector<caf::actor> listeners_;
};

/// A child process whose stdout is a pipe to this one.
struct spawned_child {
  pid_t pid = -1;
  /// The pipe's read end (close-on-exec), the caller's to close.
  int out = -1;
};

/// Starts `args[0]` with arguments `args` and environment `env` (null: this
/// process's), its stdout a pipe; throws std::runtime_error if it cannot.
spawned_child spawn_with_stdout(std::vector<std::string> args,
                                std::vector<std::string>* env = nullptr);

/// The path of program `name` next to caf-rtm-bench (the build tree and an
/// installed bin/ alike); empty if there is none.
std::string sibling_program(const std::string& name);

/// One floor run: a fresh fake floods `n` frames made by `maker` on its RTM
/// (or, if `socket_mode`, its Socket Mode) endpoint, read by Beast alone and,
/// if `parse`, parsed by Boost.JSON alone (bench/floor.hpp). A failure is
/// reported as `what` and leaves `ok` false.
struct floor_run {
  bool ok = false;
  double frames_per_s = 0;
  /// CPU time of the whole process (the fake included) per frame.
  double cpu_us_per_frame = 0;
};

floor_run measure_floor(env& e, bool socket_mode, size_t n, frame_maker maker,
                        bool parse, const std::string& what);

/// Waits for session `index` of `srv`; throws if it does not come.
testing::ws_session_ptr session_of(const testing::fake_slack& srv,
                                   size_t index);

// -- numbers ------------------------------------------------------------------

/// `n` with thousands separators: "200,000".
std::string grouped(long long n);

/// Nearest-rank percentile (q in [0, 1]) of sorted samples.
int64_t percentile(const std::vector<int64_t>& sorted, double q);

double median(std::vector<double> xs);

double seconds_between(clock_type::time_point from, clock_type::time_point to);

double millis_between(clock_type::time_point from, clock_type::time_point to);

int64_t now_ns();

/// User and system time of every thread of the process so far, in seconds.
/// Unlike rates, CPU time per event hardly moves when a noisy neighbour takes
/// the cores.
double process_cpu_seconds();

/// CPU microseconds per event since `cpu0` (a `process_cpu_seconds()`).
double cpu_us_per_event(double cpu0, size_t events);

/// Resident set size of this process in bytes, after returning free heap
/// pages to the system (so that freed memory does not hide new allocations).
size_t resident_bytes();

/// Threads of this process.
size_t thread_count();

} // namespace caf::rtm::bench
