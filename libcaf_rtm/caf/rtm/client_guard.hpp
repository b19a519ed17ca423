// Owning a client the RAII way. A client that is never closed keeps running,
// and with it the actor system: an early return or an exception after the
// spawn would leave the program hanging in the actor system's destructor.
// A guard closes its client when it goes out of scope.
//
//   caf::rtm::client_guard client{sys, sys.spawn(caf::rtm::rtm_client, cfg)};
//   self->request(*client, 30s, caf::rtm::connect_atom_v).receive(...);
//   // ... any return or throw closes the client here.
//
// For code outside actors (caf_main, threads, tests): the destructor waits
// for the close. Inside an actor, link to the client (it closes when the
// actor ends, normally too) or send it close_atom yourself: actors must not
// block.

#pragma once

#include <chrono>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/type_ids.hpp"

namespace caf::rtm {

template <class Handle>
class client_guard {
public:
  /// Takes ownership of `hdl`; `timeout` bounds the close in the destructor
  /// (after it the client is killed with `user_shutdown`).
  client_guard(caf::actor_system& sys, Handle hdl,
               caf::timespan timeout = std::chrono::seconds{10})
      : sys_(&sys), hdl_(std::move(hdl)), timeout_(timeout) {
    // nop
  }

  client_guard(const client_guard&) = delete;
  client_guard& operator=(const client_guard&) = delete;

  client_guard(client_guard&& other) noexcept
      : sys_(other.sys_), hdl_(std::exchange(other.hdl_, Handle{})),
        timeout_(other.timeout_) {
    // nop
  }

  client_guard& operator=(client_guard&& other) noexcept {
    if (this != &other) {
      close();
      sys_ = other.sys_;
      hdl_ = std::exchange(other.hdl_, Handle{});
      timeout_ = other.timeout_;
    }
    return *this;
  }

  ~client_guard() {
    close();
  }

  const Handle& get() const noexcept {
    return hdl_;
  }

  const Handle& operator*() const noexcept {
    return hdl_;
  }

  const Handle* operator->() const noexcept {
    return &hdl_;
  }

  /// Gives up ownership: the caller closes the client.
  Handle release() noexcept {
    return std::exchange(hdl_, Handle{});
  }

  /// Closes the client now and waits for the close (bounded by the timeout);
  /// true if it replied in time. Does nothing after release or a close.
  bool close() {
    if (!hdl_)
      return true;
    auto hdl = std::exchange(hdl_, Handle{});
    bool closed = false;
    caf::scoped_actor self{*sys_};
    self->request(hdl, timeout_, close_atom_v)
        .receive([&](caf::ok_atom) { closed = true; },
                 [](caf::error&) {
                   // A client that does not answer in time is killed.
                 });
    if (!closed)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return closed;
  }

private:
  caf::actor_system* sys_;
  Handle hdl_;
  caf::timespan timeout_;
};

} // namespace caf::rtm
