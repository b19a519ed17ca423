// The stream layers under the WebSocket sessions, on loopback sockets.

#include <catch2/catch.hpp>

#include <deque>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "net/corked_stream.hpp"
#include "net/tls_stream.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using caf::rtm::net::corked_stream;
using caf::rtm::net::tcp_stream;

namespace {

// A corked_stream over a connected loopback socket and the socket's peer.
struct socket_pair {
  asio::io_context io;
  tcp::socket peer{io};
  std::optional<corked_stream<tcp_stream>> stream;
  std::deque<std::string> texts; // alive until written
  size_t completed = 0;

  socket_pair() {
    tcp::acceptor acceptor{io, {asio::ip::address_v4::loopback(), 0}};
    tcp_stream client{asio::make_strand(io)};
    client.socket().connect(acceptor.local_endpoint());
    acceptor.accept(peer);
    stream.emplace(std::move(client));
  }

  // Writes `text` (corked or not) and runs until the write completed.
  void write(std::string text, bool cork) {
    stream->cork(cork);
    texts.push_back(std::move(text));
    auto size = texts.back().size();
    asio::async_write(*stream, asio::buffer(texts.back()),
                      [this, size](error_code ec, size_t n) {
                        CHECK(!ec);
                        CHECK(n == size);
                        ++completed;
                      });
    io.run();
    io.restart();
  }

  // Bytes the peer can read right now without waiting.
  size_t available() {
    error_code ec;
    return peer.available(ec);
  }

  std::string read_exactly(size_t n) {
    std::string result(n, '\0');
    asio::read(peer, asio::buffer(result));
    return result;
  }
};

} // namespace

TEST_CASE("corked writes complete at once and leave with the first uncorked "
          "one",
          "[streams][cork]") {
  socket_pair p;
  p.write("one ", true);
  p.write("two ", true);
  CHECK(p.completed == 2);
  // Nothing went out yet: the peer has nothing to read.
  CHECK(p.available() == 0);
  p.write("three", false);
  CHECK(p.completed == 3);
  CHECK(p.read_exactly(13) == "one two three");
}

TEST_CASE("an uncorked stream writes each write as it comes",
          "[streams][cork]") {
  socket_pair p;
  p.write("alpha", false);
  CHECK(p.read_exactly(5) == "alpha");
  p.write("beta", false);
  CHECK(p.read_exactly(4) == "beta");
}

TEST_CASE("a corked stream writes once it gathered 64 KB", "[streams][cork]") {
  socket_pair p;
  p.write(std::string(40 * 1024, 'a'), true);
  CHECK(p.available() == 0);
  // Over the limit: everything gathered goes out though still corked. The
  // peer reads meanwhile (the socket buffers may hold less than 80 KB).
  std::string got;
  std::thread reader{[&] {
    got = p.read_exactly(80 * 1024);
  }};
  p.write(std::string(40 * 1024, 'b'), true);
  reader.join();
  CHECK(got == std::string(40 * 1024, 'a') + std::string(40 * 1024, 'b'));
}
