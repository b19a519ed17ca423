// Throughput (floor, client -> actor, client -> callbacks) and latency.
//
// Every run gets a fresh in-process fake Slack whose session floods (or paces)
// pre-rendered frames; the clock starts right before the fake is told to send
// and stops when the last expected event arrived.

#include "bench/bench.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/rtm_client.hpp"

namespace caf::rtm::bench {

namespace {

enum class delivery { actor, batch, callback };

struct payload_case {
  /// Key in row ids ("small", "large").
  std::string key;
  /// Label in the table ("200 B").
  std::string label;
  std::shared_ptr<const payload_set> payload;
};

struct run_spec {
  std::shared_ptr<const payload_set> payload;
  size_t events = 0;
  delivery via = delivery::actor;
  /// Events per second; 0 floods.
  double rate = 0;
  bool keep_latency = false;
  /// wss:// (and https:// for the Web API) instead of plain sockets.
  bool tls = false;
};

struct run_result {
  bool ok = false;
  double events_per_s = 0;
  /// CPU time of the whole process (the fake's writer included) per event.
  double cpu_us_per_event = 0;
  /// Sorted, in nanoseconds (when asked for).
  std::vector<int64_t> latencies;
};

// How a delivery path is labelled in the table and named in row ids.
struct path_names {
  const char* label;
  const char* key_suffix;
};

path_names names_of(delivery via) {
  switch (via) {
  case delivery::actor:
    return {"client -> actor", ".actor"};
  case delivery::batch:
    return {"client -> actor in batches", ".actor_batch"};
  default:
    return {"client -> callback", ".callback"};
  }
}

std::string describe(delivery via) {
  return names_of(via).label;
}

// Beast alone: a WebSocket URL from the library's web-API caller, then a
// synchronous stream reading the same flood the client gets. With `parse`,
// every frame is also parsed as JSON: the floor of any client that looks
// into its events.
run_result run_floor(env& e, const payload_case& pc, size_t events,
                     bool parse) {
  auto what = std::string{parse ? "floor + JSON, " : "floor, "} + pc.label;
  auto x = measure_floor(e, false, events, payload_set::maker(pc.payload),
                         parse, what);
  if (!x.ok)
    return {};
  run_result out;
  out.ok = true;
  out.events_per_s = x.frames_per_s;
  out.cpu_us_per_event = x.cpu_us_per_frame;
  return out;
}

// The full client delivering `spec.events` events to a counting actor or a
// callback on the listener pool.
run_result run_client(env& e, const run_spec& spec, const std::string& what) {
  run_result result;
  testing::fake_slack_options fopts;
  fopts.tls = spec.tls;
  testing::fake_slack srv{fopts};
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto hdl =
      guard.add(e.sys.spawn(rtm_client, config_for(e, endpoint_of(srv))));
  // Callbacks run on several workers: order holds per channel only.
  auto lanes = spec.via == delivery::callback ? payload_set::channels : 1;
  auto counts = std::make_shared<sink>(spec.events, spec.keep_latency, lanes);
  if (spec.via == delivery::actor) {
    if (!subscribe(self, hdl, guard.add(spawn_counter(e.sys, counts))))
      throw std::runtime_error(what + ": subscribe failed");
  } else if (spec.via == delivery::batch) {
    if (!subscribe(self, hdl, guard.add(spawn_batch_counter(e.sys, counts)),
                   true))
      throw std::runtime_error(what + ": subscribe failed");
  } else {
    callback_listener listener{{"*"}, [counts](const event& ev) {
                                 counts->on_event(ev);
                               }};
    bool ok = false;
    self->request(hdl, caf::timespan{10s}, subscribe_atom_v, listener)
        .receive([&](uint64_t) { ok = true; }, [](caf::error&) {});
    if (!ok)
      throw std::runtime_error(what + ": callback subscription failed");
  }
  if (auto up = connect(self, hdl); !up)
    throw std::runtime_error(what + ": connect failed: " + render(up.error()));
  auto s = session_of(srv, 0);
  auto maker = payload_set::maker(spec.payload);
  auto t0 = clock_type::now();
  auto cpu0 = process_cpu_seconds();
  if (spec.rate > 0)
    s->pace(spec.events, spec.rate, maker);
  else
    s->flood(spec.events, maker);
  auto complete = counts->wait(15s);
  result.cpu_us_per_event = cpu_us_per_event(cpu0, spec.events);
  // Close first: a duplicate still in flight would show up by then.
  guard.run();
  if (!complete || !counts->exact()) {
    e.out.fail(what + ": " + counts->describe());
    return result;
  }
  result.ok = true;
  result.events_per_s =
      static_cast<double>(spec.events) / seconds_between(t0, counts->done_at());
  if (spec.keep_latency) {
    result.latencies = counts->latencies();
    std::sort(result.latencies.begin(), result.latencies.end());
  }
  return result;
}

std::string size_note(const payload_set& p) {
  return std::to_string(p.min_bytes()) + "-" + std::to_string(p.max_bytes()) +
         " bytes per event, mean " +
         std::to_string(std::lround(p.mean_bytes()));
}

} // namespace

void run_throughput(env& e) {
  auto n = e.opts.events;
  std::vector<payload_case> cases{
      {"small", "200 B", payload_set::small_events()},
      {"large", "4 KB", payload_set::large_events()},
  };
  const std::string section = "throughput";
  const std::vector<delivery> paths{delivery::actor, delivery::batch,
                                    delivery::callback};
  for (auto& pc : cases) {
    e.out.note("payload " + pc.label, size_note(*pc.payload));
    auto prefix = "throughput." + pc.key;
    // Rounds interleave floor and client runs, so that a noisy neighbour
    // hits all of them alike; each figure is the median of its rounds.
    std::vector<double> floors;
    std::vector<double> json_floors;
    std::vector<double> json_floor_cpu;
    std::vector<std::vector<run_result>> runs(paths.size());
    // Real Slack is always TLS: small events to an actor once more over TLS.
    auto with_tls = pc.key == "small";
    std::vector<run_result> tls_runs;
    for (size_t round = 0; round < e.opts.throughput_rounds; ++round) {
      floors.push_back(run_floor(e, pc, n, false).events_per_s);
      auto json = run_floor(e, pc, n, true);
      json_floors.push_back(json.events_per_s);
      json_floor_cpu.push_back(json.cpu_us_per_event);
      for (size_t i = 0; i < paths.size(); ++i) {
        // Both actor paths do the same work per event (latency included).
        run_spec spec{pc.payload, n, paths[i], 0,
                      paths[i] != delivery::callback};
        runs[i].push_back(
            run_client(e, spec, pc.label + ", " + describe(paths[i])));
      }
      if (with_tls) {
        // The same work per event as the plain actor path it is compared
        // with (latency kept).
        run_spec spec{pc.payload, n, delivery::actor, 0, true, true};
        tls_runs.push_back(run_client(
            e, spec, pc.label + ", TLS, " + describe(delivery::actor)));
      }
    }
    // A row with the median of the rounds, each round's figure kept.
    auto add_median = [&](std::string id, std::string label,
                          std::vector<double> samples, std::string unit,
                          int digits) {
      auto value = median(samples);
      e.out
          .add(std::move(id), section, std::move(label), value, std::move(unit),
               digits)
          .samples = std::move(samples);
      return value;
    };
    auto floor =
        add_median(prefix + ".floor", pc.label + ": floor (Beast alone)",
                   floors, "ev/s", 0);
    auto json_floor =
        add_median(prefix + ".floor_json",
                   pc.label + ": floor + JSON (Beast and Boost.JSON alone)",
                   json_floors, "ev/s", 0);
    auto floor_cpu =
        add_median(prefix + ".floor_json_cpu",
                   pc.label + ": CPU per event, floor + JSON (fake included)",
                   json_floor_cpu, "us", 2);
    double actor_rate = 0;
    for (size_t i = 0; i < paths.size(); ++i) {
      auto& results = runs[i];
      if (!std::all_of(results.begin(), results.end(),
                       [](const run_result& x) { return x.ok; }))
        continue; // reported as a failure already
      std::vector<double> rates;
      std::vector<double> cpu;
      for (auto& x : results) {
        rates.push_back(x.events_per_s);
        cpu.push_back(x.cpu_us_per_event);
      }
      auto actor = paths[i] == delivery::actor;
      auto key = prefix + names_of(paths[i]).key_suffix;
      auto label = pc.label + ": " + describe(paths[i]);
      auto rate = add_median(key, label, std::move(rates), "ev/s", 0);
      if (actor)
        actor_rate = rate;
      auto cpu_median =
          add_median(key + "_cpu", label + ": CPU per event (fake included)",
                     std::move(cpu), "us", 2);
      if (floor_cpu > 0)
        e.out.add(key + "_cpu_ratio", section,
                  label + ": CPU per event / floor + JSON's",
                  100.0 * cpu_median / floor_cpu, "%", 0);
      if (floor > 0)
        e.out.add(key + "_ratio", section, label + " / floor",
                  100.0 * rate / floor, "%", 1);
      // The target: a client that parses every event cannot beat the
      // parsing floor; 75 % of it for small events to an actor.
      if (json_floor > 0) {
        auto ratio = 100.0 * rate / json_floor;
        if (paths[i] != delivery::callback && pc.key == "small")
          e.out.add_target(key + "_json_ratio", section,
                           label + " / floor + JSON", ratio, "%", 1, ">= 75 %",
                           ratio >= 75.0);
        else
          e.out.add(key + "_json_ratio", section, label + " / floor + JSON",
                    ratio, "%", 1);
      }
      if (!actor)
        continue;
      // Latency under flood from the median round.
      auto mid = std::min_element(results.begin(), results.end(),
                                  [&](const auto& a, const auto& b) {
                                    return std::abs(a.events_per_s - rate) <
                                           std::abs(b.events_per_s - rate);
                                  });
      add_latency_rows(e, "latency.flood." + pc.key,
                       "flood, " + pc.label + " (queueing included)",
                       mid->latencies, false);
      e.out.distribution("flood, " + pc.label, std::move(mid->latencies));
    }
    if (with_tls && !tls_runs.empty() &&
        std::all_of(tls_runs.begin(), tls_runs.end(),
                    [](const run_result& x) { return x.ok; })) {
      std::vector<double> rates;
      std::vector<double> cpu;
      for (auto& x : tls_runs) {
        rates.push_back(x.events_per_s);
        cpu.push_back(x.cpu_us_per_event);
      }
      auto key = prefix + ".actor_tls";
      auto label = pc.label + ": client -> actor over TLS";
      auto rate = add_median(key, label, std::move(rates), "ev/s", 0);
      add_median(key + "_cpu", label + ": CPU per event (fake included)",
                 std::move(cpu), "us", 2);
      if (actor_rate > 0)
        e.out.add(key + "_ratio", section, label + " / plain",
                  100.0 * rate / actor_rate, "%", 1);
    }
  }
}

void run_latency(env& e) {
  auto rate = e.opts.paced_rate;
  auto n = static_cast<size_t>(rate * e.opts.paced_seconds);
  run_spec spec{payload_set::small_events(), n, delivery::actor, rate, true};
  auto label = "paced " + std::to_string(static_cast<int>(rate)) + "/s, 200 B";
  auto res = run_client(e, spec, label);
  if (!res.ok)
    return;
  add_latency_rows(e, "latency.paced", label, res.latencies, true);
  e.out.distribution(label, std::move(res.latencies));
}

} // namespace caf::rtm::bench
