#include "net/name_lookups.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "net/io_pool.hpp"

namespace caf::rtm::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

name_lookups::name_lookups(resolver_type resolve, size_t max_threads,
                           std::chrono::steady_clock::duration join_window)
    : st_(std::make_shared<shared_state>()) {
  st_->resolve = std::move(resolve);
  st_->max_threads = max_threads;
  st_->join_window = join_window;
}

name_lookups& name_lookups::system() {
  static name_lookups instance{&name_lookups::getaddrinfo, default_max_threads,
                               default_join_window};
  return instance;
}

std::pair<name_lookups::error_code, name_lookups::endpoints>
name_lookups::getaddrinfo(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  auto rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    return {rc == EAI_NONAME || rc == EAI_NODATA
                ? make_error_code(asio::error::host_not_found)
                : make_error_code(asio::error::host_not_found_try_again),
            endpoints{}};
  endpoints result;
  for (auto* x = res; x != nullptr; x = x->ai_next) {
    tcp::endpoint ep;
    if (x->ai_addrlen <= ep.capacity()) {
      std::memcpy(ep.data(), x->ai_addr, x->ai_addrlen);
      ep.resize(x->ai_addrlen);
      result.push_back(ep);
    }
  }
  ::freeaddrinfo(res);
  return {error_code{}, std::move(result)};
}

void name_lookups::lookup(const executor_type& ex, const std::string& host,
                          const std::string& port, handler_type handler) {
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    auto num = static_cast<unsigned short>(std::stoul(port));
    asio::post(ex, [handler = std::move(handler), addr, num] {
      handler(error_code{}, endpoints{tcp::endpoint{addr, num}});
    });
    return;
  }
  auto now = std::chrono::steady_clock::now();
  auto key = std::make_pair(host, port);
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> guard{st_->mtx};
    if (auto i = st_->youngest.find(key); i != st_->youngest.end()) {
      auto& x = st_->flights.at(i->second);
      if (now - x.started < st_->join_window) {
        x.waiters.push_back(
            waiter{ex, std::move(handler), io_pool::keep_alive(ex.context())});
        return;
      }
    }
    if (st_->flights.size() >= st_->max_threads) {
      asio::post(ex, [handler = std::move(handler)] {
        handler(make_error_code(asio::error::try_again), endpoints{});
      });
      return;
    }
    id = ++st_->next_id;
    auto& x = st_->flights[id];
    x.key = key;
    x.started = now;
    x.waiters.push_back(
        waiter{ex, std::move(handler), io_pool::keep_alive(ex.context())});
    st_->youngest[key] = id;
  }
  try {
    std::thread{[st = st_, id] {
      run(st, id);
    }}.detach();
  } catch (const std::system_error&) {
    // No thread to be had (resource limits): failed attempts, not a crash.
    answer_flight(st_, id, make_error_code(asio::error::no_memory), {});
  }
}

namespace {

// Takes lookup `id` out of the tables: its callers, to be answered.
template <class State>
auto take_waiters(State& st, uint64_t id) {
  std::lock_guard<std::mutex> guard{st.mtx};
  auto i = st.flights.find(id);
  if (i == st.flights.end())
    return decltype(i->second.waiters){};
  auto xs = std::move(i->second.waiters);
  if (auto j = st.youngest.find(i->second.key);
      j != st.youngest.end() && j->second == id)
    st.youngest.erase(j);
  st.flights.erase(i);
  return xs;
}

} // namespace

void name_lookups::answer_flight(const std::shared_ptr<shared_state>& st,
                                 uint64_t id, error_code err,
                                 const endpoints& found) {
  for (auto& x : take_waiters(*st, id)) {
    // A copy per caller, moved into its handler.
    asio::post(x.ex, [handler = std::move(x.handler), err,
                      copy = endpoints{found}]() mutable {
      handler(err, std::move(copy));
    });
    // Last: a context whose pool is gone ends here, with what was posted.
    x.keep.reset();
  }
}

void name_lookups::run(const std::shared_ptr<shared_state>& st, uint64_t id) {
  key_type key;
  {
    std::lock_guard<std::mutex> guard{st->mtx};
    key = st->flights.at(id).key;
  }
  auto [err, found] = st->resolve(key.first, key.second);
  answer_flight(st, id, err, found);
}

size_t name_lookups::running() const {
  std::lock_guard<std::mutex> guard{st_->mtx};
  return st_->flights.size();
}

} // namespace caf::rtm::net
