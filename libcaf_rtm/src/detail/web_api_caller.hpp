// The actor behind the public `web_api` handle: it issues the HTTP exchanges,
// retries transient failures, waits out rate limits and keeps idle
// connections for the next call.

#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/interfaces.hpp"
#include "detail/token_file.hpp"

namespace caf::rtm::net {
struct net_context;
class http_call;
class connection_cache;
} // namespace caf::rtm::net

namespace caf::rtm::detail {

struct web_api_state {
  static inline const char* name = "caf.rtm.web_api";

  /// Whatever ends the actor, no exchange outlives it.
  ~web_api_state();

  using clock_type = std::chrono::steady_clock;
  using deliver_fn = std::function<void(caf::expected<json_object>)>;

  struct pending_call {
    /// The Web API method, or what the request is (`upload_url`) when it goes
    /// to `url`: names it in logs and errors.
    std::string method;
    /// Its rate limit's key: the method, per token (Slack limits each
    /// workspace on its own). Holds no token, only a hash of it.
    std::string limit_key;
    /// Where the request goes when it is no Web API method (an upload URL);
    /// empty: `{base_url}{method}`. Never logged: it is a credential.
    std::string url;
    /// The encoded request body and its content type.
    std::shared_ptr<const std::string> body;
    std::string content_type;
    /// `Bearer <token>` (the caller's or the call's own token); empty: none.
    std::string authorization;
    /// May a failure that might have reached Slack be retried?
    bool repeatable = false;
    /// Which line it waits in for an exchange slot (see `waiting`).
    enum class lane_kind : uint8_t {
      /// It brings a client's connection back: behind a backlog of uploads
      /// or posts, a reconnect would wait for all of them.
      reconnect,
      /// It carries a `trigger_id`, which Slack takes for 3 s after the
      /// interaction (`views.open`).
      trigger,
      other,
    };
    lane_kind lane = lane_kind::other;
    /// With `repeatable`: also a timeout (false: the timeout is the answer,
    /// whether the request went out whole or not; a large upload's body that
    /// did not make it in time would not make it the next time either).
    bool repeat_timeouts = true;
    /// How the answer is read.
    enum class answer_kind : uint8_t {
      /// Slack's Web API JSON: `ok:true`, or an `error` code.
      web_api,
      /// Any 2xx is success, whatever the body (an upload URL answers with
      /// plain text); delivered as an empty object.
      status_only,
      /// A response_url or webhook: 2xx is success (delivered as an empty
      /// object) unless its body is JSON with `ok:false`; else Slack's code
      /// is the body's text (`no_text`, `expired_url`) or its JSON `error`.
      webhook,
    };
    answer_kind answer = answer_kind::web_api;
    /// Reports the body bytes written so far (on the I/O thread); optional.
    std::function<void(uint64_t)> body_progress;
    deliver_fn deliver;
    /// No attempt starts after this (`api_call::max_wait`).
    std::optional<clock_type::time_point> deadline;
    /// An attempt failed in a way that may have reached Slack (and the call
    /// is repeatable, or it would have ended there).
    bool may_have_reached = false;
    /// What the last attempt that may have reached Slack ended with:
    /// reported when the deadline or the attempt cap ends the call, also
    /// after later attempts that surely did not reach Slack.
    caf::error last_error;
    /// Failed attempts so far (rate-limit waits not included).
    uint32_t failures = 0;
    uint32_t rate_limit_waits = 0;
    /// It calls with the caller's own token (`authorization` is set when an
    /// attempt starts): a rotated token takes over.
    bool own_token = false;
    /// It went out again with a new token after a `token_expired` (once).
    bool renewed = false;
    /// A refresh of the rotated token: `close` lets it end, as Slack may
    /// spend the refresh token, and only its answer holds the next one.
    bool survives_close = false;
    /// An HTTP exchange is in flight: its `http_result` is on its way.
    bool in_flight = false;
    /// That exchange, to cancel it. Not owned: its own operations hold it,
    /// and should they stop (a handler threw on the I/O thread), its
    /// destructor still answers, by the request's deadline at the latest.
    std::weak_ptr<net::http_call> http;
  };

  client_config cfg;
  logger_ptr log;
  /// The client whose caller this is, told of rate limits and failed
  /// refreshes (see `web_api_caller`); null for a caller of its own. Weak:
  /// the client holds its caller, not the other way round.
  caf::actor_addr client;
  std::shared_ptr<const net::net_context> net;
  /// Why the network context could not be built (bad CA file, proxy URL).
  caf::error setup_error;
  std::string authorization;
  uint64_t next_id = 1;
  using call_map = std::unordered_map<uint64_t, pending_call>;
  call_map calls;
  /// A method after a 429 or `ratelimited`: its calls wait in line until
  /// `until`, then go out one at a time (each after the previous one's
  /// answer) until the line is empty. Released all at once, a burst would run
  /// into the limit again together and use up its calls' waits.
  struct rate_limit {
    clock_type::time_point until;
    /// Calls waiting, in order; finished ones are skipped.
    std::deque<uint64_t> line;
    /// The call out now on the method's behalf; 0: none.
    uint64_t probe = 0;
    /// A `retry_atom` for the method is on its way.
    bool timer_armed = false;
  };
  /// By `pending_call::limit_key`.
  std::unordered_map<std::string, rate_limit> rate_limits;
  /// Calls waiting for a free exchange slot (at most `max_exchanges` run at
  /// once), oldest first, a line per `pending_call::lane_kind`: a slot goes
  /// to the first line that holds a call.
  std::array<std::deque<uint64_t>, 3> waiting;
  size_t running = 0;
  /// The rotation of the caller's own token (`cfg.rotation`).
  struct rotation_state {
    bool on = false;
    /// The refresh token to use next (each is good for one refresh).
    std::string refresh_token;
    /// When the token is refreshed before the next call; the epoch: now.
    std::chrono::system_clock::time_point refresh_at;
    /// When the current token expires; the epoch: unknown.
    std::chrono::system_clock::time_point expiry;
    /// The refresh is out; calls that need the token wait in `waiting`.
    bool refreshing = false;
    std::vector<uint64_t> waiting;
    /// The last refresh failed with this and the token is expired (or of
    /// unknown age): calls that need a refresh fail with it until
    /// `failed_until` instead of asking Slack again at once.
    caf::error failure;
    clock_type::time_point failed_until;
    /// What the client heard of since the last refresh that worked: a
    /// refresh retried every 10 s for hours would tell it each time, but
    /// calls that start failing once the token expired are news.
    enum class told { nothing, token_goes_on, calls_fail };
    told failure_told = told::nothing;
    /// A refresh's tokens the token file did not take: written again, with
    /// growing pauses, until it does or a later refresh's tokens are stored.
    std::optional<token_rotated> unstored;
    /// Tells the pending try from those of tokens that are stale now.
    uint64_t store_round = 0;
    caf::timespan store_pause{};
  };
  /// Held while the caller may refresh with `rotation.file`'s tokens.
  token_file_lock_ptr token_file;
  rotation_state rotation;
  /// The counters of `status_atom, call_atom` (the rest is read off the
  /// state when asked).
  api_status stats;
  std::minstd_rand rng;
  /// Idle keep-alive connections (null when `api_keep_alive` is 0).
  std::shared_ptr<net::connection_cache> idle_connections;
  bool closing = false;
  /// Waiting for the idle connections to close before `close` replies.
  bool closing_idle = false;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
  /// An actor that streamed lists send their pages to, monitored while any
  /// does: once it ended, they end instead of fetching on for nobody.
  struct page_sink {
    /// The lists streaming to it now.
    size_t lists = 0;
    bool ended = false;
  };
  /// By the actor's address; a list holds its entry until it ends.
  std::unordered_map<caf::actor_addr, std::shared_ptr<page_sink>> page_sinks;
};

using web_api_self = web_api_core_actor::stateful_pointer<web_api_state>;

/// `client`, if set, gets an `error_event` when a method runs into a rate
/// limit and when a refresh of the caller's token fails.
web_api_core_actor::behavior_type
web_api_caller(web_api_self self, client_config cfg, const caf::actor& client);

/// Starts one Web API call; `deliver` runs once, in the actor's context.
/// Multi-call jobs (paged lists, uploads) chain their calls through it, so
/// every call gets the same retries and rate-limit waits.
void start_call(web_api_self self, api_call x,
                web_api_state::deliver_fn deliver);

/// Starts a prepared request that is no Web API method (the bytes of an
/// upload): `call.method`, `url`, `body`, `content_type` and `deliver` set.
void start_request(web_api_self self, web_api_state::pending_call call);

/// `err` with `what` appended to its context (e.g. which step of an upload
/// failed); Slack's error code stays the first element.
caf::error add_context(caf::error err, std::string what);

} // namespace caf::rtm::detail
