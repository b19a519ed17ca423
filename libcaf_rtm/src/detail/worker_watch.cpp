#include "detail/worker_watch.hpp"

#include <algorithm>

namespace caf::rtm::detail {

worker_watch::entry& worker_watch::at(const caf::actor_addr& worker) {
  // A handful of workers (`concurrency` plus the hook worker): a vector.
  auto i = std::find_if(entries_.begin(), entries_.end(),
                        [&](const entry& x) { return x.worker == worker; });
  if (i != entries_.end())
    return *i;
  entries_.push_back(entry{worker, 0, {}, false});
  return entries_.back();
}

void worker_watch::assigned(const caf::actor_addr& worker, uint64_t n,
                            time_point now) {
  if (n == 0)
    return;
  auto& x = at(worker);
  if (x.owed == 0)
    x.since = now; // idle until now: its time starts with this work
  x.owed += n;
}

void worker_watch::done(const caf::actor_addr& worker, uint64_t n,
                        time_point now) {
  auto& x = at(worker);
  x.owed -= std::min(n, x.owed);
  x.since = now;
  x.told = false;
}

void worker_watch::forget(const caf::actor_addr& worker) {
  entries_.erase(
      std::remove_if(entries_.begin(), entries_.end(),
                     [&](const entry& x) { return x.worker == worker; }),
      entries_.end());
}

std::vector<worker_watch::stall>
worker_watch::newly_stalled(time_point now, caf::timespan limit) {
  std::vector<stall> result;
  for (auto& x : entries_) {
    if (x.owed > 0 && !x.told && now - x.since >= limit) {
      x.told = true;
      result.push_back(stall{x.worker, x.owed, x.since});
    }
  }
  return result;
}

std::optional<worker_watch::time_point>
worker_watch::next_check(caf::timespan limit) const {
  std::optional<time_point> result;
  for (auto& x : entries_)
    if (x.owed > 0 && !x.told && (!result || x.since + limit < *result))
      result = x.since + limit;
  return result;
}

} // namespace caf::rtm::detail
