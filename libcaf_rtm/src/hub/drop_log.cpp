#include "hub/drop_log.hpp"

#include <algorithm>

namespace caf::rtm::hub::detail {

void drop_log::record(const caf::node_id& node, caf::timestamp at,
                      uint64_t events_received) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(at);
  if (entries_.count(node) > 0)
    return;
  if (entries_.size() >= capacity_) {
    // Full: the oldest record goes (its node is the least likely to return).
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& x, const auto& y) { return x.second.at < y.second.at; });
    entries_.erase(oldest);
  }
  entries_.emplace(node, entry{at, events_received});
}

void drop_log::add_unreported(const caf::node_id& node, caf::timestamp since,
                              uint64_t count) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(since);
  if (auto i = unreported_.find(node); i != unreported_.end()) {
    i->second.since = std::min(i->second.since, since);
    i->second.count = std::max(i->second.count, count);
    return;
  }
  if (unreported_.size() >= capacity_) {
    auto oldest = std::min_element(unreported_.begin(), unreported_.end(),
                                   [](const auto& x, const auto& y) {
                                     return x.second.since < y.second.since;
                                   });
    unreported_.erase(oldest);
  }
  unreported_.emplace(node, unreported{since, count});
}

bool drop_log::contains(const caf::node_id& node, caf::timestamp now) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(now);
  return entries_.count(node) > 0;
}

missed_events drop_log::take(const caf::node_id& node, uint64_t events_received,
                             caf::timestamp now) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(now);
  missed_events result;
  auto i = entries_.find(node);
  if (i == entries_.end())
    return result;
  result.known = true;
  result.since = i->second.at;
  // The counter only grows while the client lives.
  result.count = events_received >= i->second.events_received
                     ? events_received - i->second.events_received
                     : 0;
  entries_.erase(i);
  if (auto j = unreported_.find(node); j != unreported_.end()) {
    result.count += j->second.count;
    result.since = std::min(result.since, j->second.since);
    unreported_.erase(j);
  }
  return result;
}

size_t drop_log::size(caf::timestamp now) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(now);
  return entries_.size();
}

void drop_log::expire(caf::timestamp now) {
  for (auto i = entries_.begin(); i != entries_.end();) {
    if (now - i->second.at > ttl_)
      i = entries_.erase(i);
    else
      ++i;
  }
  for (auto i = unreported_.begin(); i != unreported_.end();) {
    if (now - i->second.since > ttl_)
      i = unreported_.erase(i);
    else
      ++i;
  }
}

} // namespace caf::rtm::hub::detail
