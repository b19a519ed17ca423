// Name lookups for every connection of the process. getaddrinfo cannot be
// interrupted, and Asio runs all lookups of an I/O context one after the other
// on a single thread: one slow name server would hold up every connection of
// the process, past any connect_timeout. So each lookup runs on a thread of
// its own, and a caller that stops waiting leaves it to finish in the
// background.
//
// During a name server outage such threads pile up: every attempt of every
// client waits for its lookup, gives up at its connect timeout, and tries
// again later while the old lookup still runs. Lookups of one host and port
// therefore share one thread and one answer while the lookup is young (a hub
// of many workspaces looks up the same few Slack hosts, and reconnects all at
// once after an outage); one older than a join window is left alone, as it
// may hang in a name server's timeout long after the network came back. At
// most `max_threads` lookups run at once; past that a lookup fails at once
// with `try_again`, a failed attempt like any other, retried at the client's
// pace.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace caf::rtm::net {

class name_lookups {
public:
  using executor_type = boost::asio::io_context::executor_type;
  using endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
  using error_code = boost::system::error_code;
  using handler_type = std::function<void(error_code, endpoints)>;
  /// Resolves (host, port), blocking.
  using resolver_type = std::function<std::pair<error_code, endpoints>(
      const std::string&, const std::string&)>;

  /// Lookups the process runs at once by default (each is a thread).
  static constexpr size_t default_max_threads = 64;

  /// How long after its start a lookup takes in more callers by default.
  static constexpr std::chrono::seconds default_join_window{2};

  name_lookups(resolver_type resolve, size_t max_threads,
               std::chrono::steady_clock::duration join_window);

  /// The process's: getaddrinfo, at most `default_max_threads` at once.
  static name_lookups& system();

  /// getaddrinfo for TCP, any address family the machine has.
  static std::pair<error_code, endpoints> getaddrinfo(const std::string& host,
                                                      const std::string& port);

  /// Resolves `host` and `port` and posts the result to `ex`; an address
  /// needs no lookup.
  void lookup(const executor_type& ex, const std::string& host,
              const std::string& port, handler_type handler);

  /// Lookups running now (threads).
  size_t running() const;

private:
  struct waiter {
    executor_type ex;
    handler_type handler;
    /// The context outlives its pool until the result is posted to it (see
    /// io_pool::keep_alive).
    std::shared_ptr<boost::asio::io_context> keep;
  };

  using key_type = std::pair<std::string, std::string>; // host, port

  /// One running lookup and the callers that wait for its answer.
  struct flight {
    key_type key;
    std::chrono::steady_clock::time_point started;
    std::vector<waiter> waiters;
  };

  // Held by the threads too: an instance that ends before its lookups leaves
  // them what they need.
  struct shared_state {
    resolver_type resolve;
    size_t max_threads;
    std::chrono::steady_clock::duration join_window;
    mutable std::mutex mtx;
    uint64_t next_id = 0;
    /// Every running lookup, by id.
    std::map<uint64_t, flight> flights;
    /// The youngest lookup of each host and port: the one to join.
    std::map<key_type, uint64_t> youngest;
  };

  static void run(const std::shared_ptr<shared_state>& st, uint64_t id);

  // Answers the callers of lookup `id` (and takes it out of the tables).
  static void answer_flight(const std::shared_ptr<shared_state>& st,
                            uint64_t id, error_code err,
                            const endpoints& found);

  std::shared_ptr<shared_state> st_;
};

} // namespace caf::rtm::net
