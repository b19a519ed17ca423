// Where a hub listens, as bot nodes and the command line name it:
// "host:port", "[::1]:port" for IPv6 addresses.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace caf::rtm::hub {

struct hub_endpoint {
  std::string host;
  uint16_t port = 0;
};

/// Parses "host:port" or "[v6-address]:port" (port 1 to 65535);
/// `invalid_argument` otherwise.
caf::expected<hub_endpoint> parse_endpoint(std::string_view text);

/// "host:port", or "[host]:port" for a host with a ':' (IPv6).
std::string to_string(const hub_endpoint& x);

/// Whether `host` names this machine only: 127.0.0.0/8, ::1 or "localhost".
/// Anything else, the wildcard addresses included, reaches other machines.
bool is_loopback(std::string_view host);

} // namespace caf::rtm::hub
