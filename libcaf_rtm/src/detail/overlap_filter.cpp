#include "detail/overlap_filter.hpp"

#include <functional>
#include <string_view>

namespace caf::rtm::detail {

bool overlap_filter::duplicate(const event& ev, time_point now) {
  if (!active_)
    return false;
  if (ends_at_ && now >= *ends_at_) {
    active_ = false;
    seen_.clear();
    order_.clear();
    return false;
  }
  auto h = std::hash<std::string_view>{}(ev.raw());
  auto [i, added] = seen_.emplace(h, ev.session());
  if (!added)
    return i->second != ev.session();
  order_.push_back(h);
  if (order_.size() > capacity_) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  return false;
}

} // namespace caf::rtm::detail
