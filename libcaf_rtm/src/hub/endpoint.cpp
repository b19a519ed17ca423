#include "caf/rtm/hub/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::hub {

namespace {

caf::error bad(std::string_view text, const char* why) {
  return make_error(errc::invalid_argument,
                    "hub address \"" + std::string{text} + "\": " + why);
}

} // namespace

caf::expected<hub_endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return bad(text, "want host:port");
  auto host = text.substr(0, colon);
  auto port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    return bad(text, "an IPv6 address goes in brackets: [::1]:port");
  if (host.empty())
    return bad(text, "no host");
  for (auto c : host)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '[' ||
        c == ']')
      return bad(text, "not a host name or address");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535)
    return bad(text, "the port must be 1 to 65535");
  return hub_endpoint{std::string{host}, static_cast<uint16_t>(port)};
}

std::string to_string(const hub_endpoint& x) {
  auto port = std::to_string(x.port);
  if (x.host.find(':') != std::string::npos)
    return "[" + x.host + "]:" + port;
  return x.host + ":" + port;
}

bool is_loopback(std::string_view host) {
  if (host == "localhost")
    return true;
  std::string str{host};
  in_addr v4;
  if (inet_pton(AF_INET, str.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, str.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

} // namespace caf::rtm::hub
