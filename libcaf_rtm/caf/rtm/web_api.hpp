// The web-API caller: performs Slack Web API calls for the client's actors and
// for users.
//
//   auto api = sys.spawn(caf::rtm::web_api, cfg);
//   self->request(api, 30s, caf::rtm::call_atom_v, "chat.postMessage",
//                 caf::rtm::api_args{{"channel", "C1"}, {"text", "hi"}});
//
// Every call is an HTTP POST to `{base_url}{method}` with the token as
// `Authorization: Bearer` and form-encoded arguments. Transient failures (5xx,
// network errors, timeouts, transient Slack errors) are retried with backoff;
// HTTP 429 and `ratelimited` wait out `Retry-After` with a timer, and hold back
// later calls of the same method meanwhile. Waiting calls never block others.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/messages.hpp"

namespace caf::rtm {

/// Whether a Web API call is retried after a failure that may have reached
/// Slack (a timeout while waiting for the answer, a 5xx, `internal_error`, a
/// connection lost after the request went out). Failures that surely did not
/// reach Slack (connect, TLS, the request not written) and rate limits are
/// retried whatever the mode.
enum class api_retry : uint8_t {
  /// Retried only if the method is safe to repeat: reads (`*.list`,
  /// `*.info`, `*.history`, `*.replies`, `*.members`, `*.get*`,
  /// `*.lookup*`, `search.*`), `auth.test`, `rtm.connect`,
  /// `apps.connections.open`, `conversations.open`. Anything else (say
  /// `chat.postMessage`) fails with `delivery_unknown` instead of posting
  /// twice.
  automatic,
  /// Always retried: for calls the caller knows to be idempotent.
  always,
};

/// Whether `method` can be repeated without effect (see api_retry).
bool safe_to_repeat(std::string_view method);

/// A Web API call with everything a call can say.
struct api_call {
  std::string method;
  /// Form-encoded arguments (what most methods take).
  api_args args;
  /// A JSON body instead of `args`, sent as application/json when not empty:
  /// for nested arguments such as `blocks`, `attachments` or `metadata`.
  json_object json;
  /// A token for this call only (a bot serving several workspaces, a user
  /// token); empty: the caller's own.
  std::string token;
  api_retry retry = api_retry::automatic;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_call& x) {
  return f(caf::meta::type_name("caf::rtm::api_call"), x.method, x.args, x.json,
           x.token, x.retry);
}

/// The web-API caller, as users see it.
using web_api_actor = caf::typed_actor<
    // Any Web API method; replies with Slack's answer (`ok:true`) or an error
    // (`errc::slack_error` with Slack's code, HTTP and network errors).
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    caf::replies_to<call_atom, api_call>::with<json_object>,
    // Cancels every call in flight; replies once their sockets are closed.
    caf::replies_to<close_atom>::with<caf::ok_atom>>;

/// Spawn with `sys.spawn(caf::rtm::web_api, cfg)`; uses `cfg.token` and the
/// network and retry options of `cfg`.
web_api_actor::behavior_type web_api(web_api_actor::pointer self,
                                     client_config cfg);

} // namespace caf::rtm
