// Parses frames into events or envelopes, reusing one JSON parser (and its
// scratch memory) for the frames of a connection; a frame over 64 KB gets
// the next frames a new one, so that its scratch memory is let go.

#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/error.hpp>
#include <boost/json/value.hpp>
#include <caf/intrusive_ptr.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"
#include "detail/frame_pool.hpp"
#include "detail/prefetch.hpp"

namespace caf::rtm::detail {

class strict_json_parser;

/// Like `boost::json::parse`, but a number that is not a finite double (1e999,
/// 400 digits, 0e999) is an error (`exponent_overflow`) instead of inf or
/// NaN: Boost.JSON 1.81 serializes those as Infinity and NaN, which no JSON
/// parser reads back. For text from the network that is handed on (Web API
/// answers).
boost::json::value parse_json(std::string_view text,
                              boost::json::error_code& ec,
                              size_t max_depth = 32);

class frame_parser {
public:
  enum class failure { none, malformed, not_object };

  /// Where the events and envelopes get their memory: a pool of the
  /// parser's, for a connection's stream of frames (see frame_pool), or the
  /// heap, for a parser of one frame (a pool would outlive it with the event).
  enum class memory { pooled, heap };

  /// How deep a frame's JSON may nest.
  static constexpr size_t default_max_depth = 64;

  explicit frame_parser(size_t max_depth = default_max_depth,
                        memory mem = memory::pooled);
  ~frame_parser();

  frame_parser(const frame_parser&) = delete;
  frame_parser& operator=(const frame_parser&) = delete;

  /// Copies `frame` into a new event and parses it. Returns an invalid event
  /// on failure; `last_failure()` says why. A number that is not a finite
  /// double makes the frame malformed (see `parse_json`).
  event parse_event(std::string_view frame, uint64_t session);

  /// Copies `frame` into a new envelope and parses it. Returns an invalid
  /// envelope on failure; `last_failure()` says why. Any JSON object parses:
  /// whether it is an envelope (has an envelope_id) is the caller's question.
  /// `read_at` is when the I/O layer read it (see `read_at` below).
  envelope parse_envelope(std::string_view frame, uint64_t session,
                          std::chrono::steady_clock::time_point read_at = {});

  /// When the I/O layer read the frame of `x`; unset (the epoch) for an
  /// envelope parsed from text or received from another node.
  static std::chrono::steady_clock::time_point
  read_at(const envelope& x) noexcept;

  /// The block of `x` (its fields, its frame and its parsed JSON, as one
  /// allocation), for a prefetch; empty for an invalid one.
  static memory_span block_of(const event& x) noexcept;
  static memory_span block_of(const envelope& x) noexcept;

  failure last_failure() const noexcept {
    return last_kind_;
  }

  const std::string& last_error() const noexcept {
    return last_error_;
  }

  /// Where its events and envelopes get their memory (null: the heap).
  frame_pool* pool() const noexcept {
    return pool_.get();
  }

  /// Bytes of arena per byte of frame that the next frame gets.
  size_t arena_factor() const noexcept {
    return arena_factor_;
  }

private:
  template <class T>
  caf::intrusive_ptr<T> parse(std::string_view frame, uint64_t session);

  // Sizes the arenas after the frames seen: a frame whose JSON outgrew its
  // arena (an envelope's DOM takes over five times its text, a small event's
  // under two) makes later ones bigger; a long run that fit, smaller.
  void learn(bool overflowed) noexcept;

  static constexpr size_t min_arena_factor = 2;
  static constexpr size_t max_arena_factor = 8;
  static constexpr size_t frames_before_shrinking = 1024;

  // Larger frames are rare (Slack's events are a few KB): a new JSON parser
  // after them costs nothing noticeable and bounds what a parser keeps.
  static constexpr size_t rebuild_parser_above = size_t{64} * 1024;

  size_t max_depth_;
  std::unique_ptr<strict_json_parser> parser_;
  /// Where the events and envelopes of this parser get their memory (the
  /// heap if it holds no pool).
  frame_pool_owner pool_;
  size_t arena_factor_ = min_arena_factor;
  size_t fitting_ = 0;
  failure last_kind_ = failure::none;
  std::string last_error_;
};

/// The block of the item after `xs[i]` (see frame_parser::block_of); empty
/// for the last one.
template <class Items>
memory_span next_block(const Items& xs, size_t i) noexcept {
  return i + 1 < xs.size() ? frame_parser::block_of(xs[i + 1]) : memory_span{};
}

} // namespace caf::rtm::detail
