// Parses frames into events, reusing one JSON parser (and its scratch memory)
// for every frame of a connection.

#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "caf/rtm/event.hpp"

namespace boost::json {
class parser;
} // namespace boost::json

namespace caf::rtm::detail {

class event_parser {
public:
  enum class failure { none, malformed, not_object };

  explicit event_parser(size_t max_depth = 64);
  ~event_parser();

  event_parser(const event_parser&) = delete;
  event_parser& operator=(const event_parser&) = delete;

  /// Copies `frame` into a new event and parses it. Returns an invalid event
  /// on failure; `last_failure()` says why.
  event parse(std::string_view frame, uint64_t session);

  failure last_failure() const noexcept {
    return last_kind_;
  }

  const std::string& last_error() const noexcept {
    return last_error_;
  }

private:
  std::unique_ptr<boost::json::parser> parser_;
  failure last_kind_ = failure::none;
  std::string last_error_;
};

} // namespace caf::rtm::detail
