#include "bench/floor.hpp"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp> // asio::connect
#include <boost/asio/ip/tcp.hpp>  // tcp::resolver
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>  // beast::tcp_stream
#include <boost/beast/websocket/stream.hpp> // websocket::stream
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace caf::rtm::bench {

namespace {

struct ws_url_parts {
  std::string host;
  std::string port;
  std::string target;
};

bool split_url(const std::string& url, ws_url_parts& out) {
  const std::string scheme = "ws://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return false;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos)
    return false;
  out.host = authority.substr(0, colon);
  out.port = authority.substr(colon + 1);
  return true;
}

// Shuts the socket down when nothing moved for a while, so that a lost frame
// (or a server that stops answering) fails the run instead of blocking it
// forever in a synchronous call.
class watchdog {
public:
  watchdog(int fd, const std::atomic<size_t>& progress)
      : thread_([this, fd, &progress] { watch(fd, progress); }) {
    // nop
  }

  ~watchdog() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  void watch(int fd, const std::atomic<size_t>& progress) {
    std::unique_lock<std::mutex> guard{mtx_};
    auto last = progress.load();
    auto last_change = std::chrono::steady_clock::now();
    while (!cv_.wait_for(guard, std::chrono::milliseconds{100},
                         [this] { return done_; })) {
      auto now = std::chrono::steady_clock::now();
      if (auto n = progress.load(); n != last) {
        last = n;
        last_change = now;
      } else if (now - last_change > std::chrono::seconds{15}) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

} // namespace

struct json_only::impl {
  boost::json::parser parser;
  std::vector<unsigned char> arena =
      std::vector<unsigned char>(size_t{64} * 1024);
};

json_only::json_only() : impl_(std::make_unique<impl>()) {
  // nop
}

json_only::~json_only() = default;

void json_only::operator()(std::string_view text) {
  boost::json::monotonic_resource mr{impl_->arena.data(), impl_->arena.size()};
  auto& parser = impl_->parser;
  parser.reset(boost::json::storage_ptr{&mr});
  boost::json::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) {
    parser.reset();
    return;
  }
  auto value = parser.release();
  if (value.is_object())
    ++objects_;
}

floor_result
read_frames(const std::string& ws_url, size_t expected,
            const std::function<void()>& start,
            const std::function<void(std::string_view)>& on_frame) {
  floor_result result;
  ws_url_parts url;
  if (!split_url(ws_url, url)) {
    result.error = "not a ws:// URL";
    return result;
  }
  try {
    asio::io_context ioc;
    tcp::resolver resolver{ioc};
    websocket::stream<beast::tcp_stream> ws{ioc};
    auto& lowest = beast::get_lowest_layer(ws);
    lowest.connect(resolver.resolve(url.host, url.port));
    std::atomic<size_t> frames{0};
    watchdog guard{lowest.socket().native_handle(), frames};
    ws.read_message_max(size_t{16} * 1024 * 1024);
    ws.handshake(url.host + ":" + url.port, url.target);
    beast::flat_buffer buffer;
    ws.read(buffer); // hello
    buffer.consume(buffer.size());
    auto t0 = std::chrono::steady_clock::now();
    start();
    for (size_t n = 0; n < expected;) {
      ws.read(buffer);
      if (ws.got_text()) {
        if (on_frame)
          on_frame(
              {static_cast<const char*>(buffer.data().data()), buffer.size()});
        frames.store(++n, std::memory_order_relaxed);
      }
      buffer.consume(buffer.size());
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    result.frames = frames.load();
    beast::error_code ignored;
    ws.close(websocket::close_code::normal, ignored);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

} // namespace caf::rtm::bench
