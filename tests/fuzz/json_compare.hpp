// JSON equality for round trips through serialize and parse.

#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/json/value.hpp>

namespace caf::rtm::fuzz {

/// Structural equality that lets the last bits of a double differ: Boost.JSON
/// 1.81 parses doubles quickly rather than exactly, so a number may not
/// survive serialize + parse bit for bit. Object members compare by key.
inline bool same_json(const boost::json::value& x,
                      const boost::json::value& y) {
  if (x.is_double() && y.is_double()) {
    auto a = x.get_double();
    auto b = y.get_double();
    // Near the subnormal range one step of the parser's error is a large
    // part of the value: a few steps of the smallest double are let through.
    return a == b ||
           std::abs(a - b) <= 1e-14 * std::max(std::abs(a), std::abs(b)) ||
           std::abs(a - b) <= 2 * std::numeric_limits<double>::denorm_min();
  }
  if (x.kind() != y.kind())
    return false;
  if (x.is_array()) {
    const auto& xs = x.get_array();
    const auto& ys = y.get_array();
    return xs.size() == ys.size() &&
           std::equal(xs.begin(), xs.end(), ys.begin(), same_json);
  }
  if (x.is_object()) {
    const auto& xs = x.get_object();
    const auto& ys = y.get_object();
    if (xs.size() != ys.size())
      return false;
    for (const auto& member : xs) {
      auto* other = ys.if_contains(member.key());
      if (other == nullptr || !same_json(member.value(), *other))
        return false;
    }
    return true;
  }
  return x == y;
}

} // namespace caf::rtm::fuzz
