#include "net/url.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/base64.hpp"

namespace urls = boost::urls;

namespace caf::rtm::net {

namespace {

std::string lower(std::string_view x) {
  std::string result{x};
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return result;
}

const char* getenv_nonempty(const char* name) {
  auto* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

// Reads the host and port of `u` into `host` and `port`, checked; returns
// what is wrong, or null. Boost.URL 1.81 is lenient where it must not be: it
// reads "h:443api/x" as port 443 and path "api/x" and "h:x" as an empty port
// and path "x", and percent-decoding puts any byte into a host.
const char* read_authority(const urls::url_view& u,
                           std::string_view default_port, std::string& host,
                           std::string& port) {
  switch (u.host_type()) {
  case urls::host_type::ipv6:
    host = u.encoded_host_address();
    break;
  case urls::host_type::name:
  case urls::host_type::ipv4:
    host = u.host();
    break;
  default:
    return "URL without a usable host";
  }
  if (host.empty())
    return "URL without a host";
  // A host name never holds more than letters, digits, dots, dashes and
  // underscores (and colons for IPv6): no controls for Host and CONNECT lines.
  for (auto c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != '_' && c != ':')
      return "URL with characters that cannot be in a host";
  // With an authority, a path is empty or starts with '/'; anything else is
  // a port run into a path ("host:443api/").
  auto path = u.encoded_path();
  if (!path.empty() && path.front() != '/')
    return "URL with a bad port (a path must start with '/')";
  port = default_port;
  if (!u.has_port() || u.port().empty()) // "host:" means the default port
    return nullptr;
  auto digits = u.port();
  unsigned long value = 0;
  for (auto c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return "URL with a port that is not a number";
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535)
      return "URL with a port above 65535";
  }
  if (value == 0)
    return "URL with port 0";
  port = std::to_string(value);
  return nullptr;
}

} // namespace

std::string endpoint_url::host_header() const {
  std::string result =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  auto default_port = tls ? "443" : "80";
  if (port != default_port) {
    result += ':';
    result += port;
  }
  return result;
}

bool endpoint_url::host_is_ip() const {
  auto parsed = urls::parse_authority(
      host.find(':') != std::string::npos ? "[" + host + "]" : host);
  if (!parsed)
    return false;
  auto kind = parsed->host_type();
  return kind == urls::host_type::ipv4 || kind == urls::host_type::ipv6;
}

caf::expected<endpoint_url> parse_endpoint(std::string_view text) {
  auto parsed = urls::parse_uri(text);
  if (!parsed)
    return make_error(errc::invalid_url,
                      std::string{"not a URL: "} + parsed.error().message());
  const auto& u = *parsed;
  endpoint_url result;
  auto scheme = lower(u.scheme());
  if (scheme == "https" || scheme == "wss")
    result.tls = true;
  else if (scheme != "http" && scheme != "ws")
    return make_error(errc::invalid_url, "unsupported scheme: " + scheme);
  result.websocket = scheme == "ws" || scheme == "wss";
  if (auto why = read_authority(u, result.tls ? "443" : "80", result.host,
                                result.port))
    return make_error(errc::invalid_url, why);
  result.target =
      u.encoded_path().empty() ? "/" : std::string{u.encoded_path()};
  if (u.has_query()) {
    result.target += '?';
    result.target += u.encoded_query();
  }
  return result;
}

std::string base_url_problem(std::string_view url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed)
    return {}; // parse_endpoint says why
  if (parsed->has_query())
    return "a query";
  if (parsed->has_fragment())
    return "a fragment";
  if (parsed->has_userinfo())
    return "user info";
  return {};
}

bool is_loopback_host(std::string_view host) {
  if (lower(host) == "localhost")
    return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string{host}, ec);
  return !ec && addr.is_loopback();
}

namespace {

// The domain a host name belongs to: the name itself with two labels or
// fewer (slack.com), else without its first label (api.slack.com ->
// slack.com). An address stands for itself.
std::string domain_of(const endpoint_url& url) {
  if (url.host_is_ip())
    return lower(url.host);
  auto host = lower(url.host);
  auto labels = std::count(host.begin(), host.end(), '.') + 1;
  if (labels <= 2)
    return host;
  return host.substr(host.find('.') + 1);
}

bool in_domain(const std::string& host, const std::string& domain) {
  return host == domain || (host.size() > domain.size() &&
                            host.compare(host.size() - domain.size(),
                                         domain.size(), domain) == 0 &&
                            host[host.size() - domain.size() - 1] == '.');
}

caf::error untrusted(std::string what) {
  return make_error(errc::untrusted_url, std::move(what));
}

// True if `host` is in the domain of an entry of `list` (comma-separated host
// names or `.suffix`es, as ws_hosts).
bool listed(std::string_view list, const std::string& host) {
  for (size_t pos = 0; pos <= list.size();) {
    auto end = list.find(',', pos);
    if (end == std::string::npos)
      end = list.size();
    auto entry = lower(list.substr(pos, end - pos));
    entry.erase(std::remove(entry.begin(), entry.end(), ' '), entry.end());
    if (!entry.empty() && entry.front() == '.')
      entry.erase(0, 1);
    if (!entry.empty() && in_domain(host, entry))
      return true;
    pos = end + 1;
  }
  return false;
}

} // namespace

caf::error check_ws_url(const client_config& cfg, std::string_view text) {
  auto url = parse_endpoint(text);
  if (!url)
    return untrusted("WebSocket URL from the Web API: " + render(url.error()));
  if (!url->websocket)
    return untrusted("WebSocket URL from the Web API is not ws:// or wss://");
  auto base = parse_endpoint(cfg.base_url);
  if (!base)
    return std::move(base.error());
  if (!url->tls && !cfg.allow_insecure &&
      (base->tls || !is_loopback_host(url->host)))
    return untrusted("the Web API handed out a plain ws:// URL (set "
                     "allow_insecure to allow it)");
  auto host = lower(url->host);
  if (in_domain(host, domain_of(*base)) || listed(cfg.ws_hosts, host))
    return caf::none;
  return untrusted("the Web API handed out a WebSocket URL for " + host +
                   ", outside " + domain_of(*base) +
                   " (list it in ws_hosts to allow it)");
}

caf::expected<endpoint_url> check_post_url(const client_config& cfg,
                                           std::string_view text,
                                           std::string_view what) {
  // The URL itself is a credential: no error repeats it.
  std::string name{what};
  auto url = parse_endpoint(text);
  if (!url)
    return untrusted(name + ": " + render(url.error()));
  if (url->websocket)
    return untrusted(name + " is not http:// or https://");
  auto base = parse_endpoint(cfg.base_url);
  if (!base)
    return std::move(base.error());
  if (!url->tls && !cfg.allow_insecure &&
      (base->tls || !is_loopback_host(url->host)))
    return untrusted(name +
                     " is plain http:// (set allow_insecure to allow it)");
  auto host = lower(url->host);
  if (in_domain(host, domain_of(*base)) || listed(cfg.ws_hosts, host))
    return url;
  return untrusted(name + " is for " + host + ", outside " + domain_of(*base) +
                   " (list it in ws_hosts to allow it)");
}

std::string join_url(std::string_view base, std::string_view method) {
  std::string result{base};
  if (result.empty() || result.back() != '/')
    result += '/';
  result += method;
  return result;
}

std::string
form_encode(const std::vector<std::pair<std::string, std::string>>& args) {
  urls::url u;
  for (const auto& [key, value] : args)
    u.params().append({key, value});
  // Boost.URL keeps '+' literal in query values; in a form body it would mean
  // a space, so encode it.
  std::string result;
  for (char c : u.encoded_query()) {
    if (c == '+')
      result += "%2B";
    else
      result += c;
  }
  return result;
}

namespace {

// True if `addr` lies in `cidr` ("10.0.0.0/8", "fd00::/8"); false for
// anything that is not a range of the same address family.
bool in_range(const boost::asio::ip::address& addr, const std::string& cidr) {
  namespace ip = boost::asio::ip;
  boost::system::error_code ec;
  if (addr.is_v4()) {
    auto range = ip::make_network_v4(cidr, ec);
    return !ec &&
           ip::network_v4{addr.to_v4(), range.prefix_length()}.canonical() ==
               range.canonical();
  }
  auto range = ip::make_network_v6(cidr, ec);
  return !ec &&
         ip::network_v6{addr.to_v6(), range.prefix_length()}.canonical() ==
             range.canonical();
}

} // namespace

bool proxy_settings::applies_to(std::string_view target_host) const {
  if (!enabled() || bypass_all)
    return false;
  auto host = lower(target_host);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code not_ip;
  auto addr = boost::asio::ip::make_address(host, not_ip);
  for (const auto& entry : no_proxy) {
    if (host == entry)
      return false;
    if (!not_ip && entry.find('/') != std::string::npos &&
        in_range(addr, entry))
      return false;
    if (host.size() > entry.size() &&
        host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
        host[host.size() - entry.size() - 1] == '.')
      return false;
  }
  return true;
}

void parse_no_proxy(std::string_view list, proxy_settings& out) {
  size_t pos = 0;
  while (pos < list.size()) {
    auto end = list.find_first_of(", \t", pos);
    if (end == std::string_view::npos)
      end = list.size();
    auto entry = lower(list.substr(pos, end - pos));
    pos = end + 1;
    if (entry.empty())
      continue;
    if (entry == "*") {
      out.bypass_all = true;
      continue;
    }
    if (entry.rfind("*.", 0) == 0)
      entry.erase(0, 2);
    else if (entry[0] == '.')
      entry.erase(0, 1);
    // Drop a port ("host:8080"), but not the colons of an IPv6 address.
    if (auto colon = entry.rfind(':');
        colon != std::string::npos && entry.find(':') == colon)
      entry.erase(colon);
    if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']')
      entry = entry.substr(1, entry.size() - 2);
    // Hosts are compared without their brackets: an entry that still has
    // some ("[[::1]]") would match nothing, not even itself.
    if (!entry.empty() && entry.find_first_of("[]") == std::string::npos)
      out.no_proxy.push_back(std::move(entry));
  }
}

caf::expected<proxy_settings> make_proxy_settings(const client_config& cfg,
                                                  bool tls) {
  proxy_settings result;
  std::string url = cfg.proxy;
  if (url.empty() && cfg.proxy_from_environment) {
    // HTTP_PROXY must not send TLS targets (the tokens) elsewhere: curl
    // ignores it for https, and so do we.
    auto names = tls ? std::vector<const char*>{"HTTPS_PROXY", "https_proxy"}
                     : std::vector<const char*>{"http_proxy", "HTTP_PROXY"};
    for (auto name : names)
      if (auto* value = getenv_nonempty(name)) {
        url = value;
        break;
      }
  }
  std::string no_proxy = cfg.no_proxy;
  if (no_proxy.empty() && cfg.proxy_from_environment) {
    for (auto name : {"NO_PROXY", "no_proxy"})
      if (auto* value = getenv_nonempty(name)) {
        no_proxy = value;
        break;
      }
  }
  parse_no_proxy(no_proxy, result);
  if (url.empty())
    return result;
  // "proxy:3128" without a scheme is common in environment variables.
  if (url.find("://") == std::string::npos)
    url = "http://" + url;
  // A bad proxy is the configuration's fault (or the environment's): no
  // message repeats the URL, which may hold credentials.
  auto bad = [](std::string why) {
    return make_error(errc::invalid_config, "proxy: " + std::move(why));
  };
  auto parsed = urls::parse_uri(url);
  if (!parsed)
    return bad("not a URL");
  if (lower(parsed->scheme()) != "http")
    return bad("only http:// proxies are supported");
  if (auto why = read_authority(*parsed, "80", result.host, result.port))
    return bad(why);
  if (parsed->has_userinfo()) {
    std::string credentials = parsed->user();
    credentials += ':';
    credentials += parsed->password();
    result.authorization = "Basic " + detail::base64(credentials);
  }
  return result;
}

} // namespace caf::rtm::net
