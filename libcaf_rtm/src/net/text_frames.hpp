// Text frames packed into one buffer. The acks of a batch travel to the I/O
// thread, and wait there to be written, as one allocation instead of one
// string each: a string allocated on a worker and freed on the I/O thread
// costs glibc's malloc more than building the ack.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace caf::rtm::net {

class text_frames {
public:
  /// Appends a frame.
  void add(std::string_view text) {
    text_.append(text);
    ends_.push_back(text_.size());
  }

  size_t size() const noexcept {
    return ends_.size();
  }

  bool empty() const noexcept {
    return ends_.empty();
  }

  /// Frame `i` (< size()).
  std::string_view operator[](size_t i) const noexcept {
    auto begin = i == 0 ? size_t{0} : ends_[i - 1];
    return std::string_view{text_}.substr(begin, ends_[i] - begin);
  }

private:
  std::string text_;
  /// Where each frame ends in `text_`.
  std::vector<size_t> ends_;
};

} // namespace caf::rtm::net
