// Instantiates the HTTP exchange and the WebSocket session over TLS.

#include "net/http_exchange.hpp"
#include "net/websocket_session.hpp"

namespace caf::rtm::net {

http_call_ptr start_tls_http_post(const net_context& ctx, http_request_data req,
                                  http_call::handler_type handler) {
  return start_http_exchange<tls_stream>(ctx, std::move(req),
                                         std::move(handler));
}

ws_client_ptr start_tls_ws_client(const net_context& ctx,
                                  const endpoint_url& url,
                                  const ws_options& opts,
                                  detail::io_sink_actor owner) {
  return start_websocket_session<tls_stream>(ctx, url, opts, std::move(owner));
}

} // namespace caf::rtm::net
