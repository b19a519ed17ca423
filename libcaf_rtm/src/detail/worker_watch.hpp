// The router's watch over its listener workers: what each one owes (calls
// of callbacks and hooks handed to it and not reported done) and when it
// last finished something. A worker that owes calls and finished nothing for
// the stall timeout runs a callback or hook that does not return; told once
// per stall. Per worker: other workers, or the hook worker, making progress
// must not hide one that is stuck.

#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace caf::rtm::detail {

class worker_watch {
public:
  using time_point = caf::actor_clock::time_point;

  /// A worker found stuck.
  struct stall {
    caf::actor_addr worker;
    /// Calls it owes.
    uint64_t owed = 0;
    /// Since when it finished nothing (or since it got work while idle).
    time_point since;
  };

  /// `worker` got `n` more calls to run.
  void assigned(const caf::actor_addr& worker, uint64_t n, time_point now);

  /// `worker` finished `n` calls.
  void done(const caf::actor_addr& worker, uint64_t n, time_point now);

  /// `worker` ended: it owes nothing any more.
  void forget(const caf::actor_addr& worker);

  /// Workers that owe calls and finished nothing since `now - limit`, not
  /// told yet: from now on they count as told, until they make progress.
  std::vector<stall> newly_stalled(time_point now, caf::timespan limit);

  /// When the next worker may become stuck (the earliest `since + limit` of
  /// those that owe calls and were not told), if any may.
  std::optional<time_point> next_check(caf::timespan limit) const;

private:
  struct entry {
    caf::actor_addr worker;
    uint64_t owed = 0;
    time_point since;
    bool told = false;
  };

  entry& at(const caf::actor_addr& worker);

  std::vector<entry> entries_;
};

} // namespace caf::rtm::detail
