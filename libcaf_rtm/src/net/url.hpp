// URLs as the network layer needs them: where to connect, whether to speak
// TLS (decided by the scheme, never by the port) and through which proxy.

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "caf/rtm/client_config.hpp"

namespace caf::rtm::net {

struct endpoint_url {
  /// https or wss.
  bool tls = false;
  /// ws or wss.
  bool websocket = false;
  /// Host name or address, without IPv6 brackets.
  std::string host;
  /// Explicit port or the scheme's default.
  std::string port;
  /// Path and query, at least "/".
  std::string target;

  /// The Host header value: host, plus the port when not the default.
  std::string host_header() const;

  /// True if `host` is an IP address (no SNI, IP certificate check).
  bool host_is_ip() const;
};

/// Parses an http, https, ws or wss URL. A host with characters that cannot
/// be in a host name (controls, spaces, ...) is refused: it would end up in
/// Host and CONNECT lines. So is a port that is not 1 to 65535 or runs into
/// the path ("host:443api/"); an empty port is the scheme's default.
caf::expected<endpoint_url> parse_endpoint(std::string_view url);

/// What keeps `url` (parsed by parse_endpoint already) from being a base URL
/// that method names are appended to: "a query", "a fragment" or "user
/// info"; empty if nothing does.
std::string base_url_problem(std::string_view url);

/// True for `localhost` and loopback addresses (127.0.0.0/8, ::1).
bool is_loopback_host(std::string_view host);

/// Whether a WebSocket URL the Web API handed out may be used: ws or wss;
/// wss when the base URL is https, plain ws only for a loopback host or with
/// `allow_insecure`; the host is the base URL's host, in its domain, or in
/// `ws_hosts`. Fails with `untrusted_url`, a server error worth retrying.
caf::error check_ws_url(const client_config& cfg, std::string_view url);

/// Whether a URL Slack handed out for a POST without the token (an upload
/// URL from files.getUploadURLExternal, a response_url, a webhook) may get
/// the bytes, by the same rules: http or https; https when the base URL is
/// https, plain http only for a loopback host or with `allow_insecure`; the
/// host in the base URL's domain or in `ws_hosts`. Fails with
/// `untrusted_url`; its text names `what` ("upload URL") and the host, never
/// the URL (a credential).
caf::expected<endpoint_url> check_post_url(const client_config& cfg,
                                           std::string_view url,
                                           std::string_view what);

/// Joins a base URL ending in '/' (or not) and a Web API method name.
std::string join_url(std::string_view base, std::string_view method);

/// Form-encodes arguments (application/x-www-form-urlencoded).
std::string
form_encode(const std::vector<std::pair<std::string, std::string>>& args);

/// An HTTP CONNECT proxy and the hosts that bypass it.
struct proxy_settings {
  std::string host;
  std::string port;
  /// "Basic ..." when the proxy URL carries credentials.
  std::string authorization;
  /// Lower-case NO_PROXY entries (a leading dot removed); entries with a
  /// slash are CIDR ranges, matched against hosts given as IP addresses.
  std::vector<std::string> no_proxy;
  bool bypass_all = false;

  bool enabled() const noexcept {
    return !host.empty();
  }

  /// True if connections to `host` go through the proxy.
  bool applies_to(std::string_view host) const;
};

/// Reads the proxy settings for TLS targets (https, wss: everything Slack)
/// or plain ones from the config, falling back to the environment as curl
/// does: HTTPS_PROXY or https_proxy for TLS targets, http_proxy (or
/// HTTP_PROXY) for plain ones; NO_PROXY or no_proxy for both. A malformed
/// proxy URL (host and port checked as by `parse_endpoint`) fails with
/// `invalid_config`.
caf::expected<proxy_settings> make_proxy_settings(const client_config& cfg,
                                                  bool tls = true);

/// Parses NO_PROXY syntax: comma- or space-separated host names, domain
/// suffixes (".example.com" or "example.com"), IP addresses, CIDR ranges of
/// IP addresses ("10.0.0.0/8", "fd00::/8"), or "*".
void parse_no_proxy(std::string_view list, proxy_settings& out);

} // namespace caf::rtm::net
