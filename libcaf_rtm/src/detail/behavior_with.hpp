// A typed behaviour made of handlers that several actors share and the
// actor's own. CAF 0.17 builds a typed behaviour from one list of handlers in
// one constructor call, so the shared ones travel as a tuple of lambdas.

#pragma once

#include <tuple>
#include <utility>

namespace caf::rtm::detail {

/// `Behavior{shared..., own...}`, where `shared` is a tuple of handlers.
template <class Behavior, class Shared, class... Handlers>
Behavior behavior_with(Shared shared, Handlers... own) {
  return std::apply(
      [&](auto&... xs) {
        return Behavior{std::move(xs)..., std::move(own)...};
      },
      shared);
}

} // namespace caf::rtm::detail
