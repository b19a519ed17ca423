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
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>

#include "net/corked_stream.hpp"
#include "net/tls_stream.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using caf::rtm::net::corked_stream;
using caf::rtm::net::tcp_stream;
using caf::rtm::net::tls_stream;

namespace {

// A corked_stream over a connected loopback socket and the socket's peer.
struct socket_pair {
  asio::io_context io;
  tcp::socket peer{io};
  std::optional<corked_stream<tcp_stream>> stream;
  std::deque<std::string> texts; // alive until written
  size_t completed = 0;
  bool saw_chunk = false;

  socket_pair() {
    tcp::acceptor acceptor{io, {asio::ip::address_v4::loopback(), 0}};
    tcp_stream client{io.get_executor()};
    client.connect(acceptor.local_endpoint());
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

  // Reads through the stream in pieces of `piece` bytes (as Beast does) until
  // `n` bytes came or a read fails; `ec` tells why it stopped.
  std::string read_through(size_t n, size_t piece, error_code& ec) {
    std::string result;
    std::string buf(piece, '\0');
    while (result.size() < n && !ec) {
      stream->async_read_some(asio::buffer(buf), [&](error_code err, size_t k) {
        ec = err;
        result.append(buf, 0, k);
        saw_chunk |= stream->holds_chunk();
      });
      io.run();
      io.restart();
    }
    return result;
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
  p.write(std::string(size_t{40} * 1024, 'a'), true);
  CHECK(p.available() == 0);
  // Over the limit: everything gathered goes out though still corked. The
  // peer reads meanwhile (the socket buffers may hold less than 80 KB).
  std::string got;
  std::thread reader{[&] {
    got = p.read_exactly(size_t{80} * 1024);
  }};
  p.write(std::string(size_t{40} * 1024, 'b'), true);
  reader.join();
  CHECK(got == std::string(size_t{40} * 1024, 'a') +
                   std::string(size_t{40} * 1024, 'b'));
}

// Bytes 0, 1, ..., 250, 0, 1, ...: a misplaced piece shows.
std::string pattern(size_t n) {
  std::string result(n, '\0');
  for (size_t i = 0; i < n; ++i)
    result[i] = static_cast<char>(i % 251);
  return result;
}

// The peer writes `sent` while the stream reads it: first one full read of
// 1,536 bytes (a backlog: Beast's buffer filled up), then pieces of `piece`.
std::string read_while_written(socket_pair& p, const std::string& sent,
                               size_t piece, error_code& ec) {
  std::thread writer{[&] {
    asio::write(p.peer, asio::buffer(sent));
  }};
  auto got = p.read_through(1536, 1536, ec);
  CHECK(!ec);
  if (!ec)
    got += p.read_through(sent.size() - got.size(), piece, ec);
  writer.join();
  return got;
}

TEST_CASE("reads under a backlog come in chunks, in order, and a drained "
          "stream keeps no chunk",
          "[streams][chunk]") {
  socket_pair p;
  auto sent = pattern(size_t{300} * 1024);
  error_code ec;
  // After the full first read, reads take a chunk while the writer is ahead.
  auto got = read_while_written(p, sent, 1536, ec);
  CHECK(!ec);
  CHECK(got == sent);
  CHECK(p.saw_chunk);
  // Everything read: a short read drained the socket, so the chunk is gone
  // at the latest after one more message.
  std::string tail = "tail";
  asio::write(p.peer, asio::buffer(tail));
  CHECK(p.read_through(4, 1536, ec) == "tail");
  CHECK(!ec);
  CHECK(!p.stream->holds_chunk());
}

TEST_CASE("a read asking for a chunk or more goes straight to the socket",
          "[streams][chunk]") {
  // Beast reads the payload of a big message into the message's own buffer:
  // a chunk in between would only add a copy.
  socket_pair p;
  auto sent = pattern(size_t{600} * 1024);
  error_code ec;
  auto got = read_while_written(p, sent, size_t{256} * 1024, ec);
  CHECK(!ec);
  CHECK(got == sent);
  CHECK(!p.saw_chunk);
}

TEST_CASE("bytes a chunk holds reach the reader before the end of the stream",
          "[streams][chunk]") {
  socket_pair p;
  auto sent = pattern(size_t{100} * 1024);
  asio::write(p.peer, asio::buffer(sent));
  p.peer.close();
  error_code ec;
  auto got = p.read_through(sent.size() + 1, 1536, ec);
  CHECK(got == sent);
  CHECK(ec == asio::error::eof);
  CHECK(!p.stream->holds_chunk());
}

TEST_CASE("a teardown writes what a corked stream gathered first",
          "[streams][cork]") {
  // Beast may answer the server's close frame while the session's acks are
  // corked: the answer and the acks must still go out.
  socket_pair p;
  p.write("ack ack ", true);
  std::string got(8, '\0');
  std::thread peer{[&] {
    error_code ec;
    asio::read(p.peer, asio::buffer(got), ec);
    // The server ends the TCP connection first; the client's teardown
    // reads until then.
    p.peer.shutdown(tcp::socket::shutdown_send, ec);
    char rest[64];
    while (!ec)
      p.peer.read_some(asio::buffer(rest), ec);
    p.peer.close(ec);
  }};
  bool done = false;
  async_teardown(boost::beast::role_type::client, *p.stream,
                 [&done](error_code) { done = true; });
  p.io.run();
  peer.join();
  CHECK(done);
  CHECK(got == "ack ack ");
}

TEST_CASE("a TLS stream whose socket was closed never touches the "
          "descriptor number again",
          "[streams][tls]") {
  // A timeout closes the socket while an operation may still start; by then
  // the number may belong to another connection of the process.
  asio::io_context io;
  tcp::acceptor acceptor{io, {asio::ip::address_v4::loopback(), 0}};
  tcp_stream client{io.get_executor()};
  client.connect(acceptor.local_endpoint());
  tcp::socket server{io};
  acceptor.accept(server);
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  tls_stream tls{std::move(client), ctx};
  auto fd = tls.next_layer().native_handle();
  tls.next_layer().close();
  // The next socket gets the lowest free number: the one just closed.
  tcp::socket other{io};
  other.connect(acceptor.local_endpoint());
  tcp::socket other_peer{io};
  acceptor.accept(other_peer);
  REQUIRE(other.native_handle() == fd);
  error_code result;
  bool done = false;
  tls.async_handshake([&](error_code ec) {
    result = ec;
    done = true;
  });
  io.run();
  CHECK(done);
  CHECK(result == asio::error::bad_descriptor);
  // No ClientHello reached the other connection.
  error_code ec;
  CHECK(other_peer.available(ec) == 0);
}
