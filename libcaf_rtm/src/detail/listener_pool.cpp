#include "detail/listener_pool.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include <time.h>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

namespace {

using self_ptr = listener_worker_actor::stateful_pointer<listener_worker_state>;

enum class runs { callback, hook };

// Runs `f`; a throwing callback must not cost the other callbacks this item,
// nor the worker its later items. Reports a failure to the router, and
// returns it.
template <class F>
caf::error guarded(self_ptr self, uint64_t id, std::string_view type, F f,
                   runs kind = runs::callback) {
  std::string what;
  try {
    f();
    return {};
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  auto reason = make_error(errc::listener_failed, what);
  self->send(self->state.router,
             callback_failure{reason,
                              (kind == runs::callback ? "callback " : "hook ") +
                                  std::to_string(id) + " threw on a " +
                                  std::string{type} + " event",
                              kind == runs::hook});
  return reason;
}

// Runs the `Member` hook of every hook subscription with `xs`. The failure
// of an `on_frame` or `on_close` hook goes to the `on_error` hooks here, on
// the hook worker, not through the router: a close stops this worker once
// the callback workers are through, and the session's last `on_close` may
// fail after that. That of an `on_error` hook goes to no hook (it would feed
// itself).
template <class Member, class... Ts>
void run_hooks(self_ptr self, Member member, std::string_view what,
               const Ts&... xs) {
  constexpr bool error_hooks =
      std::is_same_v<Member, decltype(&hook_listener::on_error)>;
  std::vector<caf::error> failures;
  for (auto& [id, hooks] : self->state.hooks)
    if (auto& fn = hooks.*member)
      if (auto err = guarded(
              self, id, what, [&] { fn(xs...); }, runs::hook))
        failures.push_back(std::move(err));
  if constexpr (!error_hooks)
    for (auto& err : failures)
      run_hooks(self, &hook_listener::on_error, "error", err, false);
}

// Done means done: the router holds the socket while too many items wait
// here, so it must learn exactly when they are through.
void report_done(self_ptr self, size_t items) {
  self->send(self->state.router, progress_atom_v, static_cast<uint64_t>(items));
}

// Tells the router what a message's items did: at its end, and at least
// every `progress_interval` within it (a batch may hold hundreds of slow
// calls), so that the router's watch never takes slow callbacks for stuck
// ones.
class progress_report {
public:
  explicit progress_report(self_ptr self) : self_(self), last_(coarse_now()) {
    // nop
  }

  void step() {
    ++done_;
    auto now = coarse_now();
    if (now - last_ >= self_->state.progress_interval) {
      flush();
      last_ = now;
    }
  }

  void finish() {
    flush();
  }

private:
  // The coarse monotonic clock (a tick of the kernel: 4 or 10 ms; the
  // interval is at least 25 ms) costs a third of the precise one, and this
  // runs once per callback event.
  static caf::timespan coarse_now() {
#ifdef CLOCK_MONOTONIC_COARSE
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::seconds{ts.tv_sec} +
           std::chrono::nanoseconds{ts.tv_nsec};
#else
    return std::chrono::steady_clock::now().time_since_epoch();
#endif
  }

  void flush() {
    if (done_ > 0)
      report_done(self_, std::exchange(done_, 0));
  }

  self_ptr self_;
  caf::timespan last_;
  size_t done_ = 0;
};

template <class T>
void run_all(self_ptr self, const std::vector<T>& items) {
  progress_report progress{self};
  for (const auto& x : items) {
    for (auto& cb : self->state.callbacks)
      if (cb.wants(x))
        guarded(self, cb.id, x.type(), [&] { cb.run(x); });
    progress.step();
  }
  progress.finish();
}

} // namespace

bool listener_worker_state::entry::wants(const event& ev) const {
  return on_event && matches(types, ev);
}

bool listener_worker_state::entry::wants(const envelope& env) const {
  return on_envelope && matches(types, env);
}

void listener_worker_state::entry::run(const event& ev) const {
  on_event(ev);
}

void listener_worker_state::entry::run(const envelope& env) const {
  on_envelope(env);
}

listener_worker_actor::behavior_type listener_worker(
    listener_worker_actor::stateful_pointer<listener_worker_state> self,
    worker_sink_actor router, caf::timespan progress_interval) {
  self->state.router = std::move(router);
  self->state.progress_interval = progress_interval;
  return {
      [self](const std::vector<event>& events) { run_all(self, events); },
      [self](const std::vector<envelope>& envelopes) {
        run_all(self, envelopes);
      },
      [self](subscribe_atom, uint64_t id, callback_listener& listener) {
        self->state.callbacks.push_back(
            {id, std::move(listener.types), std::move(listener.fn), nullptr});
      },
      [self](subscribe_atom, uint64_t id, envelope_listener& listener) {
        self->state.callbacks.push_back(
            {id, std::move(listener.types), nullptr, std::move(listener.fn)});
      },
      [self](subscribe_atom, uint64_t id, hook_listener& hooks) {
        self->state.hooks.emplace_back(id, std::move(hooks));
      },
      [self](const raw_frames& frames) {
        // Frames count like events: reading waits while hooks lag behind.
        progress_report progress{self};
        for (const auto& text : frames.texts) {
          run_hooks(self, &hook_listener::on_frame, "raw frame",
                    std::string_view{text});
          progress.step();
        }
        progress.finish();
      },
      // Each counts as one item (see tell_lifecycle).
      [self](const error_event& x) {
        run_hooks(self, &hook_listener::on_error, "error", x.reason, false);
        report_done(self, 1);
      },
      [self](const fatal_event& x) {
        run_hooks(self, &hook_listener::on_error, "error", x.reason, true);
        report_done(self, 1);
      },
      [self](const disconnected& x) {
        run_hooks(self, &hook_listener::on_close, "close", x);
        report_done(self, 1);
      },
      [self](unsubscribe_atom, uint64_t id) {
        auto& xs = self->state.callbacks;
        xs.erase(std::remove_if(xs.begin(), xs.end(),
                                [id](const auto& x) { return x.id == id; }),
                 xs.end());
        auto& hs = self->state.hooks;
        hs.erase(std::remove_if(hs.begin(), hs.end(),
                                [id](const auto& x) { return x.first == id; }),
                 hs.end());
      },
  };
}

size_t listener_pool::pick(std::string_view channel) const {
  return std::hash<std::string_view>{}(channel) % workers_.size();
}

} // namespace caf::rtm::detail
