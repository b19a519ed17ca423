// Fuzz target: the URL helpers on arbitrary strings. URLs come from the
// configuration, from the environment (HTTPS_PROXY, NO_PROXY) and from the
// Web API (the WebSocket URL of rtm.connect and apps.connections.open), so
// none of them is trusted. Whatever a parser accepts ends up in request
// lines, Host and CONNECT lines and Proxy-Authorization headers: it must not
// carry controls or spaces there.
//
// The input is split at '\n'; every line is tried as an endpoint, a proxy
// URL, a NO_PROXY list and a host. The first line is also the base URL and
// the second the ws_hosts list of the WebSocket URL check; consecutive lines
// are joined and form-encoded as key/value pairs.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "fuzz_check.hpp"
#include "net/url.hpp"

using namespace caf::rtm;

namespace {

// More lines add little but cost quadratic time (every host against every
// NO_PROXY list).
constexpr size_t max_lines = 12;

std::vector<std::string_view> split_lines(std::string_view input) {
  std::vector<std::string_view> result;
  size_t pos = 0;
  while (result.size() < max_lines) {
    auto end = input.find('\n', pos);
    if (end == std::string_view::npos) {
      result.push_back(input.substr(pos));
      break;
    }
    result.push_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  return result;
}

std::string lower(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string scheme_of(std::string_view url) {
  auto colon = url.find(':');
  return colon == std::string_view::npos ? std::string{}
                                         : lower(url.substr(0, colon));
}

void check_endpoint(std::string_view text) {
  auto url = net::parse_endpoint(text);
  if (!url) {
    fuzz::touch(render(url.error()));
    return;
  }
  CAF_RTM_FUZZ_CHECK_MSG(!url->host.empty(), text);
  // The library refuses such hosts: they would split the Host line, the
  // CONNECT line or the TLS server name.
  CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(url->host), url->host);
  CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(url->port), url->port);
  CAF_RTM_FUZZ_CHECK_MSG(!url->target.empty() && url->target.front() == '/',
                         url->target);
  CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(url->target), url->target);
  auto header = url->host_header();
  CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(header), header);
  // TLS is decided by the scheme alone, never by the port.
  auto scheme = scheme_of(text);
  CAF_RTM_FUZZ_CHECK_MSG(url->tls == (scheme == "https" || scheme == "wss"),
                         text);
  CAF_RTM_FUZZ_CHECK_MSG(url->websocket == (scheme == "ws" || scheme == "wss"),
                         text);
  fuzz::sink = fuzz::sink + url->host_is_ip();
}

// Decodes standard Base64 (no line breaks); false on anything else.
bool base64_decode(std::string_view in, std::string& out) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (in.size() % 4 != 0)
    return false;
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (auto c : in) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0)
      return false;
    auto pos = alphabet.find(c);
    if (pos == std::string_view::npos)
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return padding <= 2;
}

void check_no_proxy_matching(const net::proxy_settings& proxy,
                             const std::vector<std::string_view>& hosts) {
  for (const auto& entry : proxy.no_proxy) {
    CAF_RTM_FUZZ_CHECK_MSG(!entry.empty(), entry);
    CAF_RTM_FUZZ_CHECK_MSG(entry == lower(entry), entry);
    CAF_RTM_FUZZ_CHECK_MSG(entry.find_first_of(", \t") == std::string::npos,
                           entry);
    if (!proxy.enabled())
      continue;
    // A host named in NO_PROXY, and every host below it, bypasses the proxy.
    if (entry.find('/') == std::string::npos) {
      CAF_RTM_FUZZ_CHECK_MSG(!proxy.applies_to(entry), entry);
      CAF_RTM_FUZZ_CHECK_MSG(!proxy.applies_to("sub." + entry), entry);
    }
  }
  for (auto host : hosts) {
    auto applies = proxy.applies_to(host);
    if (!proxy.enabled() || proxy.bypass_all)
      CAF_RTM_FUZZ_CHECK(!applies);
  }
}

void check_proxy(std::string_view proxy_url, std::string_view no_proxy,
                 const std::vector<std::string_view>& hosts) {
  client_config cfg;
  cfg.proxy = std::string{proxy_url};
  cfg.no_proxy = std::string{no_proxy};
  // The environment must not make runs differ.
  cfg.proxy_from_environment = false;
  auto proxy = net::make_proxy_settings(cfg);
  if (!proxy) {
    fuzz::touch(render(proxy.error()));
    return;
  }
  CAF_RTM_FUZZ_CHECK_MSG(proxy->enabled() == !proxy_url.empty(), proxy_url);
  if (proxy->enabled()) {
    // The proxy host is resolved and connected to; its credentials become a
    // Proxy-Authorization line.
    CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(proxy->host),
                           proxy->host);
    CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(proxy->port),
                           proxy->port);
    const auto& auth = proxy->authorization;
    if (!auth.empty()) {
      CAF_RTM_FUZZ_CHECK_MSG(auth.rfind("Basic ", 0) == 0, auth);
      std::string credentials;
      CAF_RTM_FUZZ_CHECK_MSG(base64_decode(auth.substr(6), credentials), auth);
      CAF_RTM_FUZZ_CHECK_MSG(credentials.find(':') != std::string::npos,
                             credentials);
    }
  }
  check_no_proxy_matching(*proxy, hosts);
}

void check_join(std::string_view base, std::string_view method) {
  auto url = net::join_url(base, method);
  std::string want{base};
  if (want.empty() || want.back() != '/')
    want += '/';
  want += method;
  CAF_RTM_FUZZ_CHECK_MSG(url == want, url);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

// Decodes one component of application/x-www-form-urlencoded text as a
// server does; false if it is not well-formed.
bool form_decode(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      auto hi = hex_value(in[i + 1]);
      auto lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

void check_form(const std::vector<std::string_view>& lines) {
  std::vector<std::pair<std::string, std::string>> args;
  for (size_t i = 0; i + 1 < lines.size(); i += 2)
    args.emplace_back(std::string{lines[i]}, std::string{lines[i + 1]});
  auto body = net::form_encode(args);
  // Nothing but printable ASCII, and a server decodes the same pairs.
  CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(body), body);
  std::vector<std::pair<std::string, std::string>> decoded;
  if (!body.empty()) {
    size_t pos = 0;
    for (;;) {
      auto end = body.find('&', pos);
      auto pair = std::string_view{body}.substr(
          pos, end == std::string::npos ? std::string::npos : end - pos);
      auto eq = pair.find('=');
      std::string key;
      std::string value;
      CAF_RTM_FUZZ_CHECK_MSG(form_decode(pair.substr(0, eq), key), body);
      if (eq != std::string_view::npos)
        CAF_RTM_FUZZ_CHECK_MSG(form_decode(pair.substr(eq + 1), value), body);
      decoded.emplace_back(std::move(key), std::move(value));
      if (end == std::string::npos)
        break;
      pos = end + 1;
    }
  }
  CAF_RTM_FUZZ_CHECK_MSG(decoded == args, body);
}

void check_ws_urls(const std::vector<std::string_view>& lines) {
  client_config cfg;
  cfg.base_url = std::string{lines[0]};
  if (lines.size() > 1)
    cfg.ws_hosts = std::string{lines[1]};
  auto base = net::parse_endpoint(cfg.base_url);
  for (auto insecure : {false, true}) {
    cfg.allow_insecure = insecure;
    for (auto line : lines) {
      if (auto err = net::check_ws_url(cfg, line)) {
        fuzz::touch(render(err));
        continue;
      }
      // Accepted: a WebSocket URL with a clean host; wss for an https Web
      // API unless insecure URLs are allowed.
      auto url = net::parse_endpoint(line);
      CAF_RTM_FUZZ_CHECK_MSG(url && url->websocket, line);
      CAF_RTM_FUZZ_CHECK_MSG(!fuzz::has_control_or_space(url->host), line);
      CAF_RTM_FUZZ_CHECK_MSG(static_cast<bool>(base), cfg.base_url);
      if (!insecure)
        CAF_RTM_FUZZ_CHECK_MSG(
            url->tls || (!base->tls && net::is_loopback_host(url->host)), line);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto lines = split_lines({reinterpret_cast<const char*>(data), size});
  for (size_t i = 0; i < lines.size(); ++i) {
    auto next = lines[(i + 1) % lines.size()];
    check_endpoint(lines[i]);
    fuzz::sink = fuzz::sink + net::is_loopback_host(lines[i]);
    check_proxy(lines[i], next, lines);
    // The same text as a NO_PROXY list, behind a proxy that is always on.
    net::proxy_settings proxy;
    proxy.host = "proxy.example";
    proxy.port = "3128";
    net::parse_no_proxy(lines[i], proxy);
    check_no_proxy_matching(proxy, lines);
    check_join(lines[i], next);
  }
  check_form(lines);
  check_ws_urls(lines);
  return 0;
}
