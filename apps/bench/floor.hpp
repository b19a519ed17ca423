// The floor of the throughput runs: Beast alone reading WebSocket frames, no
// JSON, no actors. Kept behind this small non-template interface because its
// translation unit is the only one of the bench that instantiates Beast.

#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace caf::rtm::bench {

/// Parses each frame the way the client does (one reused parser, the DOM in
/// an arena), without anything else the client does with an event: the JSON
/// part of "floor + JSON".
class json_only {
public:
  json_only();
  ~json_only();

  json_only(const json_only&) = delete;
  json_only& operator=(const json_only&) = delete;

  void operator()(std::string_view text);

  /// Frames that parsed as JSON objects.
  size_t objects() const noexcept {
    return objects_;
  }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  size_t objects_ = 0;
};

struct floor_result {
  /// Text frames read after `start` returned.
  size_t frames = 0;
  /// From just before `start` to the last frame.
  double seconds = 0;
  /// Empty on success.
  std::string error;
};

/// Opens `ws_url` (ws://host:port/path) with a synchronous Beast stream,
/// reads the server's first frame (hello), calls `start` (which makes the
/// server send `expected` frames) and reads until they all arrived, handing
/// each text frame to `on_frame` when given.
floor_result
read_frames(const std::string& ws_url, size_t expected,
            const std::function<void()>& start,
            const std::function<void(std::string_view)>& on_frame = nullptr);

} // namespace caf::rtm::bench
