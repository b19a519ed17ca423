#include "hub/drop_log.hpp"

#include <algorithm>

namespace caf::rtm::hub::detail {

namespace {

// Makes room for one more record in `xs`: when full, the oldest goes (its
// node is the least likely to return).
template <class Map>
void make_room(Map& xs, size_t capacity) {
  if (xs.size() < capacity)
    return;
  auto oldest = std::min_element(xs.begin(), xs.end(), [](auto& x, auto& y) {
    return x.second.at < y.second.at;
  });
  xs.erase(oldest);
}

template <class Map>
void erase_expired(Map& xs, caf::timestamp now, caf::timespan ttl) {
  for (auto i = xs.begin(); i != xs.end();) {
    if (now - i->second.at > ttl)
      i = xs.erase(i);
    else
      ++i;
  }
}

} // namespace

void drop_log::record(const caf::node_id& node, caf::timestamp at,
                      uint64_t events_received) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(at);
  if (back_since(node, at))
    return;
  if (auto i = entries_.find(node); i != entries_.end()) {
    // The first record of an outage stays; one of an outage that is over
    // (the node came back, and its lookup took nothing) is replaced.
    if (!back_since(node, i->second.at))
      return;
    entries_.erase(i);
  }
  make_room(entries_, capacity_);
  entries_.emplace(node, entry{at, events_received});
}

void drop_log::add_unreported(const caf::node_id& node, caf::timestamp since,
                              uint64_t count) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(since);
  if (auto i = unreported_.find(node); i != unreported_.end()) {
    i->second.at = std::min(i->second.at, since);
    i->second.count = std::max(i->second.count, count);
    return;
  }
  make_room(unreported_, capacity_);
  unreported_.emplace(node, unreported{since, count});
}

bool drop_log::contains(const caf::node_id& node, caf::timestamp now) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(now);
  return entries_.count(node) > 0;
}

bool drop_log::came_back(const caf::node_id& node, caf::timestamp now) {
  std::lock_guard<std::mutex> guard{mtx_};
  expire(now);
  if (auto i = returns_.find(node); i != returns_.end()) {
    i->second.at = std::max(i->second.at, now);
  } else {
    make_room(returns_, capacity_);
    returns_.emplace(node, return_time{now});
  }
  return entries_.count(node) > 0;
}

bool drop_log::back_since(const caf::node_id& node, caf::timestamp at) const {
  auto i = returns_.find(node);
  return i != returns_.end() && i->second.at > at;
}

uint64_t events_counted(const client_status& status) {
  return status.events_received -
         std::min(status.envelopes_unclaimed, status.events_received);
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
    result.since = std::min(result.since, j->second.at);
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
  erase_expired(entries_, now, ttl_);
  erase_expired(unreported_, now, ttl_);
  erase_expired(returns_, now, ttl_);
}

} // namespace caf::rtm::hub::detail
