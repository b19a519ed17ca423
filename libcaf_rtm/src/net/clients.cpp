// Picks the plain or TLS variant by scheme: https and wss mean TLS, whatever
// the port.

#include "net/http_client.hpp"
#include "net/ws_client.hpp"

namespace caf::rtm::net {

http_call::~http_call() = default;

ws_client::~ws_client() = default;

http_call_ptr start_http_post(const net_context& ctx, http_request_data req,
                              http_call::handler_type handler) {
  if (req.url.tls)
    return start_tls_http_post(ctx, std::move(req), std::move(handler));
  return start_plain_http_post(ctx, std::move(req), std::move(handler));
}

ws_client_ptr start_ws_client(const net_context& ctx, const endpoint_url& url,
                              const ws_options& opts,
                              detail::io_sink_actor owner) {
  if (url.tls)
    return start_tls_ws_client(ctx, url, opts, std::move(owner));
  return start_plain_ws_client(ctx, url, opts, std::move(owner));
}

} // namespace caf::rtm::net
