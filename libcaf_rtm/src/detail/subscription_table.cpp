#include "detail/subscription_table.hpp"

#include <algorithm>
#include <string>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/pattern.hpp"

namespace caf::rtm::detail {

caf::error too_many_patterns() {
  return make_error(errc::invalid_argument, "a subscription holds at most " +
                                                std::to_string(max_patterns) +
                                                " patterns");
}

bool subscription_table::known(const caf::actor_addr& addr) const {
  return std::any_of(actors_.begin(), actors_.end(),
                     [&](const auto& x) { return x.hdl.address() == addr; }) ||
         std::any_of(lifecycle_.begin(), lifecycle_.end(),
                     [&](const auto& x) { return x.address() == addr; });
}

bool subscription_table::add_actor(const caf::actor& hdl,
                                   const std::vector<std::string>& types,
                                   bool batched) {
  auto i = std::find_if(actors_.begin(), actors_.end(), [&](const auto& x) {
    return x.hdl == hdl && x.batched == batched;
  });
  auto is_new = !known(hdl.address());
  if (i == actors_.end()) {
    actors_.push_back({hdl, {}, batched});
    i = std::prev(actors_.end());
  }
  for (const auto& type : types)
    if (std::find(i->types.begin(), i->types.end(), type) == i->types.end())
      i->types.push_back(type);
  return is_new;
}

size_t subscription_table::patterns_with(const caf::actor& hdl,
                                         const std::vector<std::string>& types,
                                         bool batched) const {
  std::vector<std::string_view> all;
  auto i = std::find_if(actors_.begin(), actors_.end(), [&](const auto& x) {
    return x.hdl == hdl && x.batched == batched;
  });
  if (i != actors_.end())
    all.assign(i->types.begin(), i->types.end());
  for (const auto& type : types)
    if (std::find(all.begin(), all.end(), type) == all.end())
      all.emplace_back(type);
  return all.size();
}

bool subscription_table::add_lifecycle(const caf::actor& hdl) {
  auto is_new = !known(hdl.address());
  if (std::find(lifecycle_.begin(), lifecycle_.end(), hdl) == lifecycle_.end())
    lifecycle_.push_back(hdl);
  return is_new;
}

uint64_t subscription_table::add_callback(std::vector<std::string> types) {
  auto id = next_callback_id_++;
  callbacks_.push_back({id, std::move(types)});
  return id;
}

bool subscription_table::remove_actor(const caf::actor_addr& addr) {
  auto before = actors_.size() + lifecycle_.size();
  actors_.erase(
      std::remove_if(actors_.begin(), actors_.end(),
                     [&](const auto& x) { return x.hdl.address() == addr; }),
      actors_.end());
  lifecycle_.erase(
      std::remove_if(lifecycle_.begin(), lifecycle_.end(),
                     [&](const auto& x) { return x.address() == addr; }),
      lifecycle_.end());
  return actors_.size() + lifecycle_.size() < before;
}

bool subscription_table::remove_types(const caf::actor& hdl,
                                      const std::vector<std::string>& types) {
  auto listed = [&](const std::string& x) {
    return std::find(types.begin(), types.end(), x) != types.end();
  };
  for (auto& entry : actors_)
    if (entry.hdl == hdl)
      entry.types.erase(
          std::remove_if(entry.types.begin(), entry.types.end(), listed),
          entry.types.end());
  actors_.erase(std::remove_if(actors_.begin(), actors_.end(),
                               [&](const auto& x) {
                                 return x.hdl == hdl && x.types.empty();
                               }),
                actors_.end());
  return !known(hdl.address());
}

uint64_t subscription_table::add_hooks(bool frames) {
  auto id = next_callback_id_++;
  hooks_.emplace_back(id, frames);
  return id;
}

bool subscription_table::has_batched() const noexcept {
  return std::any_of(actors_.begin(), actors_.end(),
                     [](const auto& x) { return x.batched; });
}

bool subscription_table::has_frame_hooks() const noexcept {
  return std::any_of(hooks_.begin(), hooks_.end(),
                     [](const auto& x) { return x.second; });
}

void subscription_table::remove_callback(uint64_t id) {
  callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                  [id](const auto& x) { return x.id == id; }),
                   callbacks_.end());
  hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(),
                              [id](const auto& x) { return x.first == id; }),
               hooks_.end());
}

bool subscription_table::callback_wants(const envelope& x) const {
  return std::any_of(callbacks_.begin(), callbacks_.end(),
                     [&x](const auto& cb) { return matches(cb.types, x); });
}

bool subscription_table::callback_wants(std::string_view type,
                                        std::string_view subtype) const {
  return std::any_of(callbacks_.begin(), callbacks_.end(), [&](const auto& x) {
    return matches(x.types, type, subtype);
  });
}

} // namespace caf::rtm::detail
