#include "detail/web_api_caller.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include <boost/json/value.hpp>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/messages.hpp"
#include "detail/backoff.hpp"
#include "detail/file_uploader.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"
#include "detail/paged_call.hpp"
#include "detail/slack_answers.hpp"
#include "detail/stray_errors.hpp"
#include "detail/token_file.hpp"
#include "detail/token_refresh.hpp"
#include "detail/wait_deadline.hpp"
#include "detail/webhook_poster.hpp"
#include "net/http_client.hpp"
#include "net/net_context.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

// The caller ends while a refresh is out: that refresh runs on (see
// `issue`), and its I/O thread stores its own, newer tokens. Older ones the
// file did not take must not be written over them.
void drop_unstored_behind_refresh(web_api_state& st) {
  if (st.rotation.refreshing && st.rotation.unstored) {
    CAF_RTM_LOG(st.log, error, "web_api",
                "the rotated tokens were never stored; a refresh still out "
                "stores its own");
    st.rotation.unstored.reset();
  }
}

// The caller ends: tokens the file did not take get a last try, and the file
// is free for the next caller. (A refresh still out holds the lock until it
// stored its tokens.)
void let_go_of_token_file(web_api_state& st) {
  drop_unstored_behind_refresh(st);
  if (auto& unstored = st.rotation.unstored) {
    if (auto err = save_token_file(st.cfg.rotation.file, *unstored))
      CAF_RTM_LOG(st.log, error, "web_api",
                  "the rotated tokens were never stored: ", render(err),
                  "; a restart will not find them");
    else
      CAF_RTM_LOG(st.log, info, "web_api", "the rotated tokens are stored in ",
                  st.cfg.rotation.file, " now");
    unstored.reset();
  }
  st.token_file.reset();
}

using self_ptr = web_api_self;
using clock_type = web_api_state::clock_type;

constexpr auto default_retry_after = std::chrono::seconds{30};

// A Retry-After beyond this is treated as this: a broken or hostile answer
// must not block a method for years.
constexpr auto max_retry_after = std::chrono::minutes{5};

// The shortest wait after a rate limit.
constexpr auto min_retry_after = std::chrono::seconds{1};

// Idle keep-alive connections kept at most (all to the same host, normally).
constexpr size_t max_idle_connections = 4;

// A call that opens a WebSocket session: the client's traffic goes over the
// session from then on, and the next Web API call may be far off. Keeping its
// connection would hold a second idle TLS connection per client (and one per
// client of a reconnect wave) for nothing.
bool opens_session(const std::string& method) {
  return method == "rtm.connect" || method == "rtm.start" ||
         method == "apps.connections.open";
}

// A call that brings a client's connection back (`auth.test` tells a new
// client who it is): it goes ahead of a backlog.
bool brings_connection(const std::string& method) {
  return opens_session(method) || method == "auth.test";
}

// Requests over `api_queue_size` that bring a connection back may open: a
// backlog of posts must not keep a client from reconnecting. A reserve, not
// an exemption: anyone may call these methods (a hub's nodes too).
constexpr size_t connection_reserve = 64;

// HTTP exchanges of one caller at once; more calls wait for a free slot, so
// a burst of calls cannot open connections without bound.
constexpr size_t max_exchanges = 16;

// -- completing calls ---------------------------------------------------------

void answer_closes(self_ptr self) {
  auto& st = self->state;
  // Before the reply: a caller started after it finds the file free.
  let_go_of_token_file(st);
  for (auto& rp : st.close_promises)
    rp.deliver(caf::ok_atom_v);
  st.close_promises.clear();
}

void maybe_finish_close(self_ptr self) {
  auto& st = self->state;
  if (!st.closing || !st.calls.empty() || st.closing_idle)
    return;
  answer_closes(self);
  self->quit();
}

void issue(self_ptr self, uint64_t id);

void next_in_line(self_ptr self, const std::string& key);

// The call `id` no longer holds the line of its rate limit `key` (answered,
// failed or waiting for a retry): the next call in line goes.
void leave_line(self_ptr self, const std::string& key, uint64_t id) {
  auto& limits = self->state.rate_limits;
  if (auto r = limits.find(key); r != limits.end() && r->second.probe == id) {
    r->second.probe = 0;
    next_in_line(self, key);
  }
}

void finish(self_ptr self, uint64_t id, caf::expected<json_object> result) {
  auto& calls = self->state.calls;
  auto i = calls.find(id);
  if (i == calls.end())
    return;
  auto deliver = std::move(i->second.deliver);
  auto method = std::move(i->second.method);
  auto key = std::move(i->second.limit_key);
  if (!result)
    CAF_RTM_LOG(self->state.log, info, "web_api", method,
                " failed: ", render(result.error()));
  calls.erase(i);
  ++(result ? self->state.stats.requests_succeeded
            : self->state.stats.requests_failed);
  deliver(std::move(result));
  leave_line(self, key, id);
  maybe_finish_close(self);
}

// -- deadlines ----------------------------------------------------------------

bool too_late(const web_api_state::pending_call& call,
              clock_type::time_point t) {
  return call.deadline && t > *call.deadline;
}

// The call cannot start another attempt before its deadline: `send_expired`
// if no attempt may have reached Slack (it never will), else what the last
// attempt ended with.
void expire(self_ptr self, uint64_t id) {
  auto& call = self->state.calls.at(id);
  if (call.may_have_reached && call.last_error)
    return finish(self, id, std::move(call.last_error));
  finish(self, id,
         make_error(errc::send_expired,
                    call.method + " not sent within its max_wait"));
}

// Tells the client whose caller this is (if any) what went wrong while its
// calls go on, for its lifecycle subscribers.
void tell_client(self_ptr self, caf::error reason, std::string what) {
  if (auto client = caf::actor_cast<caf::actor>(self->state.client))
    caf::anon_send(client, error_event{std::move(reason), std::move(what)});
}

// -- token rotation -----------------------------------------------------------

// A refresh failed a moment ago: calls that need one fail with its error
// rather than ask Slack again for each of them.
constexpr auto refresh_hold = std::chrono::seconds{10};

// Whether a call with the caller's own token must wait for a refresh first.
bool refresh_due(const web_api_state::rotation_state& rot) {
  return rot.on &&
         (rot.refreshing || std::chrono::system_clock::now() >= rot.refresh_at);
}

bool refresh_held(const web_api_state::rotation_state& rot) {
  return refresh_due(rot) && !rot.refreshing && rot.failure &&
         clock_type::now() < rot.failed_until;
}

// Ends call `id` if it can no longer go out: nothing goes out once close
// began, a call past its deadline never will, and one that needs the
// token a refresh just failed to get has that refresh's error. True if it
// ended.
bool ended_unsent(self_ptr self, uint64_t id,
                  const web_api_state::pending_call& call) {
  auto& st = self->state;
  if (st.closing) {
    finish(self, id, make_error(errc::closed, "web API caller closed"));
    return true;
  }
  if (too_late(call, clock_type::now())) {
    expire(self, id);
    return true;
  }
  if (call.own_token && refresh_held(st.rotation)) {
    finish(self, id, st.rotation.failure);
    return true;
  }
  return false;
}

// -- rate limits --------------------------------------------------------------

// A `retry_atom` for the limit `key` once its wait is over (one at a time).
void arm(self_ptr self, const std::string& key, web_api_state::rate_limit& rl) {
  if (rl.timer_armed || rl.probe != 0)
    return;
  rl.timer_armed = true;
  auto now = clock_type::now();
  auto wait = rl.until > now ? rl.until - now : clock_type::duration{0};
  self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(wait),
                     retry_atom_v, key);
}

// Puts call `id` in the line of the limit `key` (in order of arrival: a call
// that ran into the limit itself goes before later ones), or ends it if the
// wait surely ends after its deadline.
void hold(self_ptr self, const std::string& key, uint64_t id) {
  auto& st = self->state;
  auto& rl = st.rate_limits[key];
  if (too_late(st.calls.at(id), rl.until)) {
    expire(self, id); // not the probe: leaves `rl` alone
  } else {
    auto pos = std::lower_bound(rl.line.begin(), rl.line.end(), id);
    if (pos == rl.line.end() || *pos != id)
      rl.line.insert(pos, id);
  }
  arm(self, key, rl);
}

// The wait of the limit `key` is over: the first call in line goes.
void next_in_line(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto r = st.rate_limits.find(key);
  if (r == st.rate_limits.end())
    return;
  auto& rl = r->second;
  if (rl.probe != 0 || rl.timer_armed)
    return;
  if (clock_type::now() < rl.until)
    return arm(self, key, rl);
  while (!rl.line.empty()) {
    auto id = rl.line.front();
    rl.line.pop_front();
    auto call = st.calls.find(id);
    if (call == st.calls.end())
      continue;
    // A call that ends without going out ends here, not as the probe:
    // finishing a probe moves the line on from within, and a long line
    // would go one call deeper into the stack each time.
    if (ended_unsent(self, id, call->second))
      continue;
    rl.probe = id;
    return issue(self, id);
  }
  st.rate_limits.erase(r);
}

// An exchange ended: the next waiting call may start.
void release_slot(self_ptr self) {
  auto& st = self->state;
  --st.running;
  while (st.running < max_exchanges) {
    auto queue = std::find_if(st.waiting.begin(), st.waiting.end(),
                              [](const auto& xs) { return !xs.empty(); });
    if (queue == st.waiting.end())
      break;
    auto next = queue->front();
    queue->pop_front();
    issue(self, next);
  }
}

// -- token rotation -----------------------------------------------------------

void on_refreshed(self_ptr self, caf::expected<json_object> answer);

// Sends the refresh; one at a time, as each refresh token is good once.
void start_refresh(self_ptr self) {
  auto& st = self->state;
  auto& rot = st.rotation;
  rot.refreshing = true;
  web_api_state::pending_call call;
  call.method = "oauth.v2.access";
  call.body = std::make_shared<const std::string>(
      refresh_request_body(st.cfg.rotation, rot.refresh_token));
  call.content_type = "application/x-www-form-urlencoded";
  // No token: the app's credentials are in the body. A repeat after a lost
  // answer is refused if Slack took the first (the refresh token is spent),
  // and reported as such.
  call.repeatable = true;
  call.survives_close = true;
  call.lane = web_api_state::pending_call::lane_kind::reconnect;
  call.deliver = [self](caf::expected<json_object> answer) {
    on_refreshed(self, std::move(answer));
  };
  CAF_RTM_LOG(st.log, info, "web_api", "refreshing the rotated token");
  start_request(self, std::move(call));
}

// Call `id` needs the caller's token and a refresh is due: it waits for it,
// unless the token is still good (an early refresh runs alongside). True if
// it waits.
bool waits_for_token(self_ptr self, uint64_t id) {
  auto& rot = self->state.rotation;
  if (!refresh_due(rot))
    return false;
  // In line before the refresh starts: one that ends at once (a bad URL)
  // must find it there.
  auto waits = std::chrono::system_clock::now() >= rot.expiry;
  if (waits)
    rot.waiting.push_back(id);
  if (!rot.refreshing)
    start_refresh(self);
  return waits;
}

// Slack refused call `id` with `token_expired`: it goes again once with a
// new token (Slack did nothing with it). True if it does.
bool renews_token(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& call = st.calls.at(id);
  if (!st.rotation.on || !call.own_token || call.renewed)
    return false;
  // A refresh just failed: its error says more than Slack's.
  if (refresh_held(st.rotation)) {
    finish(self, id, st.rotation.failure);
    return true;
  }
  call.renewed = true;
  // Slack says the token is expired, whatever it was said to live; a
  // refresh since the call went out: the new token may do.
  if (call.authorization == st.authorization) {
    st.rotation.refresh_at = {};
    st.rotation.expiry = {};
  }
  self->send(self, retry_atom_v, id);
  return true;
}

// The client hears of the first failure since the last refresh that worked,
// and again when calls start failing with it (the log has every one).
void tell_refresh_failure(self_ptr self, caf::error reason,
                          web_api_state::rotation_state::told kind) {
  auto& rot = self->state.rotation;
  if (rot.failure_told == kind)
    return;
  rot.failure_told = kind;
  using told = web_api_state::rotation_state::told;
  tell_client(self, std::move(reason),
              kind == told::calls_fail
                  ? "token rotation failed; calls that need the token fail"
                  : "token rotation failed; the current token goes on until "
                    "it expires");
}

void on_refreshed(self_ptr self, caf::expected<json_object> answer) {
  auto& st = self->state;
  auto& rot = st.rotation;
  rot.refreshing = false;
  auto waiting = std::exchange(rot.waiting, {});
  auto now = std::chrono::system_clock::now();
  auto tokens = answer ? read_refresh_answer(*answer, now)
                       : caf::expected<token_rotated>{answer.error()};
  if (!tokens && st.closing) {
    // The calls that waited are closed already; nothing more goes out.
    CAF_RTM_LOG(st.log, info, "web_api",
                "token rotation ended by close: ", render(tokens.error()));
    for (auto id : waiting)
      finish(self, id, make_error(errc::closed, "web API caller closed"));
    return;
  }
  if (!tokens)
    ++st.stats.token_refreshes_failed;
  if (!tokens && now < rot.expiry) {
    // The token still works: the calls go with it, and the refresh is tried
    // again after the hold (or when the token expires, if sooner). A refusal
    // for good (a spent refresh token, wrong credentials) is not asked again
    // before the token expires.
    auto for_good = is_fatal(tokens.error());
    if (for_good)
      CAF_RTM_LOG(st.log, error, "web_api",
                  "token rotation refused: ", render(tokens.error()),
                  "; the current token goes on until it expires");
    else
      CAF_RTM_LOG(st.log, warn, "web_api",
                  "token rotation failed: ", render(tokens.error()),
                  "; the current token goes on until it expires");
    tell_refresh_failure(self, add_context(tokens.error(), "token rotation"),
                         web_api_state::rotation_state::told::token_goes_on);
    rot.refresh_at =
        for_good ? rot.expiry
                 : std::min(now + std::chrono::duration_cast<
                                      std::chrono::system_clock::duration>(
                                      caf::timespan{refresh_hold}),
                            rot.expiry);
    for (auto id : waiting)
      issue(self, id);
    return;
  }
  if (!tokens) {
    rot.failure = add_context(std::move(tokens.error()), "token rotation");
    rot.failed_until = clock_type::now() + refresh_hold;
    CAF_RTM_LOG(st.log, error, "web_api",
                "token rotation failed: ", render(rot.failure));
    tell_refresh_failure(self, rot.failure,
                         web_api_state::rotation_state::told::calls_fail);
    for (auto id : waiting)
      finish(self, id, rot.failure);
    return;
  }
  ++st.stats.tokens_rotated;
  rot.failure = caf::error{};
  rot.failure_told = web_api_state::rotation_state::told::nothing;
  // The file took this refresh's tokens (else `unstored` holds them now):
  // older ones must not be written over them.
  if (rot.unstored && rot.unstored->access_token != tokens->access_token) {
    rot.unstored.reset();
    ++rot.store_round;
  }
  st.log->add_transient_secret(tokens->access_token);
  st.authorization = "Bearer " + tokens->access_token;
  if (!tokens->refresh_token.empty()) {
    st.log->add_transient_secret(tokens->refresh_token);
    rot.refresh_token = tokens->refresh_token;
  }
  rot.refresh_at =
      next_refresh(tokens->expires_at, now, st.cfg.rotation.refresh_before);
  rot.expiry = tokens->expires_at > 0
                   ? unix_time(tokens->expires_at)
                   : std::chrono::system_clock::time_point::max();
  // The listener got the tokens from the I/O thread already.
  CAF_RTM_LOG(st.log, info, "web_api", "token rotated; expires at ",
              tokens->expires_at);
  for (auto id : waiting)
    issue(self, id);
}

// -- issuing requests ---------------------------------------------------------

// Where a refresh's tokens go, on the I/O thread that reads its answer.
struct token_keeper {
  caf::actor listener;
  std::string file;
  // The refresh token the refresh spends: the one to keep if Slack's answer
  // holds no new one.
  std::string spent;
  logger_ptr log;
  // Nobody else refreshes with the file's tokens until these are stored.
  token_file_lock_ptr lock;

  // The tokens the file failed to take, if any.
  std::optional<unstored_tokens> save(const token_rotated& tokens) const {
    if (file.empty())
      return std::nullopt;
    auto kept = tokens;
    if (kept.refresh_token.empty())
      kept.refresh_token = spent;
    auto err = save_token_file(file, kept);
    if (!err)
      return std::nullopt;
    CAF_RTM_LOG(log, error, "web_api",
                "the rotated tokens could not be stored: ", render(err));
    return unstored_tokens{std::move(kept), std::move(err)};
  }
};

// A refresh's tokens that the file did not take: a restart would find only
// the spent refresh token, so they are written again until the file takes
// them, the first time after a second, then less and less often.
constexpr auto first_store_pause = caf::timespan{std::chrono::seconds{1}};
constexpr auto max_store_pause = caf::timespan{std::chrono::minutes{5}};

void on_unstored(self_ptr self, unstored_tokens x) {
  auto& rot = self->state.rotation;
  CAF_RTM_LOG(self->state.log, info, "web_api",
              "the rotated tokens are written again until ",
              self->state.cfg.rotation.file, " takes them");
  rot.unstored = std::move(x.tokens);
  rot.store_pause = first_store_pause;
  ++rot.store_round;
  // The reason names the file.
  tell_client(self, std::move(x.reason),
              "token rotation: the new tokens could not be stored; tried "
              "again until they are");
  self->delayed_send(self, rot.store_pause, store_atom_v, rot.store_round);
}

void store_again(self_ptr self, uint64_t round) {
  auto& st = self->state;
  auto& rot = st.rotation;
  if (round != rot.store_round || !rot.unstored)
    return;
  // A refresh is out: its I/O thread may be storing newer tokens right now,
  // which these must not replace. Tried again after it (`on_refreshed`
  // drops these if its tokens were stored).
  if (rot.refreshing) {
    self->delayed_send(self, rot.store_pause, store_atom_v, rot.store_round);
    return;
  }
  if (auto err = save_token_file(st.cfg.rotation.file, *rot.unstored)) {
    rot.store_pause = std::min(rot.store_pause * 2, max_store_pause);
    CAF_RTM_LOG(
        st.log, warn, "web_api",
        "the rotated tokens still cannot be stored: ", render(err),
        "; next try in ",
        std::chrono::duration_cast<std::chrono::seconds>(rot.store_pause)
            .count(),
        " s");
    self->delayed_send(self, rot.store_pause, store_atom_v, rot.store_round);
    return;
  }
  rot.unstored.reset();
  CAF_RTM_LOG(st.log, info, "web_api", "the rotated tokens are stored in ",
              st.cfg.rotation.file, " now");
}

void issue(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto& call = i->second;
  if (ended_unsent(self, id, call))
    return;
  if (call.own_token) {
    if (waits_for_token(self, id))
      return;
    call.authorization = st.authorization;
  }
  // The method ran into a rate limit: its calls go in line, one at a time.
  if (auto r = st.rate_limits.find(call.limit_key);
      r != st.rate_limits.end() && r->second.probe != id)
    return hold(self, r->first, id);
  if (st.running >= max_exchanges) {
    st.waiting[static_cast<size_t>(call.lane)].push_back(id);
    return;
  }
  auto url = net::parse_endpoint(
      call.url.empty() ? net::join_url(st.cfg.base_url, call.method)
                       : call.url);
  if (!url)
    return finish(self, id, std::move(url.error()));
  net::http_request_data req;
  req.url = std::move(*url);
  req.authorization = call.authorization;
  req.timeout = st.cfg.request_timeout;
  req.body_limit = st.cfg.max_response_size;
  req.body = call.body;
  req.content_type = call.content_type;
  req.replay_safe = call.repeatable;
  // A refresh takes a fresh connection: re-sent after a kept-alive one
  // turned out closed, it could spend its refresh token twice.
  req.cache = call.survives_close ? nullptr : st.idle_connections;
  req.keep_connection = !opens_session(call.method);
  req.body_progress = call.body_progress;
  if (call.url.empty())
    CAF_RTM_LOG(st.log, debug, "web_api", "POST ", st.cfg.base_url,
                call.method);
  else
    CAF_RTM_LOG(st.log, debug, "web_api", "POST ", call.method, " (",
                call.body ? call.body->size() : size_t{0}, " bytes)");
  auto hdl = caf::actor_cast<web_api_core_actor>(self);
  ++st.running;
  call.in_flight = true;
  // A refresh's tokens go to the file and the listener from here: the caller
  // may be gone when they come (an exit does not cancel a refresh), and
  // Slack spent the refresh token it was given.
  std::optional<token_keeper> keeper;
  if (call.survives_close)
    keeper = token_keeper{st.cfg.rotation.listener, st.cfg.rotation.file,
                          st.rotation.refresh_token, st.log, st.token_file};
  call.http = net::start_http_post(
      *st.net, std::move(req),
      [hdl, id,
       keeper{std::move(keeper)}](net::http_response_data res) mutable {
        std::optional<token_rotated> tokens;
        if (keeper && !res.error)
          tokens = tokens_of_refresh(res.status, res.body,
                                     std::chrono::system_clock::now());
        // Before the caller uses the new token: a process that ends after
        // a call with it must find its refresh token on disk.
        if (tokens)
          if (auto unstored = keeper->save(*tokens))
            caf::anon_send(hdl, std::move(*unstored));
        // Before the result: a caller that closes once it has the result
        // leaves the file free for the next one.
        if (keeper)
          keeper->lock.reset();
        caf::anon_send(hdl, http_result{id, std::move(res.error), res.sent,
                                        static_cast<uint16_t>(res.status),
                                        std::move(res.retry_after),
                                        std::move(res.body)});
        // After the result: a call made once the listener has the tokens
        // finds the caller using them.
        if (tokens && keeper->listener)
          caf::anon_send(keeper->listener, std::move(*tokens));
      });
}

// A failure that may have reached Slack: retried only if repeating the call
// is harmless, else reported as such (never a blind second post).
void retry_if_repeatable(self_ptr self, uint64_t id, caf::error err);

void retry_or_fail(self_ptr self, uint64_t id, caf::error err) {
  auto& st = self->state;
  auto& call = st.calls.at(id);
  ++call.failures;
  auto cap = st.cfg.api_retry.max_attempts;
  if (st.closing || (cap > 0 && call.failures >= cap)) {
    // An attempt that may have reached Slack tells more than a later one
    // that did not (a refused connection, say).
    if (call.may_have_reached && call.last_error)
      return finish(self, id, std::move(call.last_error));
    return finish(self, id, std::move(err));
  }
  auto delay = backoff_delay(st.cfg.api_retry, call.failures, st.rng);
  if (too_late(call, clock_type::now() + delay))
    return expire(self, id);
  ++st.stats.retries;
  // Not the method's turn while it backs off.
  leave_line(self, call.limit_key, id);
  CAF_RTM_LOG(
      st.log, info, "web_api", call.method, ": ", render(err), "; retry ",
      call.failures, " in ",
      std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(),
      " ms");
  self->delayed_send(self, delay, retry_atom_v, id);
}

// A repeatable call whose attempt may have reached Slack: tried again; if the
// tries run out, that attempt's error is the one reported.
void retry_reached(self_ptr self, uint64_t id, caf::error err) {
  auto& call = self->state.calls.at(id);
  call.may_have_reached = true;
  call.last_error = err;
  retry_or_fail(self, id, std::move(err));
}

int64_t to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

void wait_out_rate_limit(self_ptr self, uint64_t id,
                         const std::string& retry_after) {
  auto& st = self->state;
  auto& call = st.calls.at(id);
  ++st.stats.rate_limit_hits;
  // Slack did not process it: a closing caller ends it as never sent.
  if (st.closing)
    return finish(self, id,
                  make_error(errc::closed, "web API caller is closing"));
  // At least a second: a `Retry-After: 0` (or a date already past, with a
  // clock behind the server's) would send the line's calls back to back.
  caf::timespan wait = std::clamp(
      parse_retry_after(retry_after)
          .value_or(caf::timespan{default_retry_after}),
      caf::timespan{min_retry_after}, caf::timespan{max_retry_after});
  wait += retry_after_jitter(st.rng);
  // The method's other calls wait for Slack's `Retry-After` even when this
  // call gives up: without it the next one would go out at once, into the
  // limit.
  auto& rl = st.rate_limits[call.limit_key];
  auto now = clock_type::now();
  // Once per wait that starts (the calls in line and those that were out
  // together run into the same one).
  if (rl.until <= now)
    tell_client(self,
                make_error(errc::rate_limited,
                           call.method + " rate limited by Slack for " +
                               std::to_string(to_ms(wait)) + " ms"),
                "web API");
  rl.until = std::max(rl.until, now + wait);
  if (++call.rate_limit_waits > st.cfg.max_rate_limit_waits) {
    auto key = call.limit_key;
    finish(self, id,
           make_error(errc::rate_limited,
                      call.method + " still rate limited after " +
                          std::to_string(call.rate_limit_waits - 1) +
                          " waits"));
    // Arms the limit's timer unless the line already moved on: the limit
    // then ends (and is forgotten) when its wait is over.
    return next_in_line(self, key);
  }
  if (rl.probe == id)
    rl.probe = 0;
  CAF_RTM_LOG(st.log, info, "web_api", call.method,
              " rate limited; retrying in ", to_ms(wait), " ms");
  // Slack did not process this attempt; the call waits in line.
  auto key = call.limit_key;
  hold(self, key, id);
}

// Call `id` got an answer it cannot read (`err`: not HTTP, not JSON, too
// large). Its request went out: a call that is not harmless to repeat may
// have had its effect, and must not look as if it failed (a bot would post
// again).
void finish_unreadable(self_ptr self, uint64_t id, caf::error err) {
  auto& call = self->state.calls.at(id);
  if (call.repeatable)
    return finish(self, id, std::move(err));
  finish(self, id,
         make_error(errc::delivery_unknown,
                    call.method +
                        " may have reached Slack; its answer could "
                        "not be read (" +
                        render(err) + ")"));
}

// Slack's documentation of these two codes: "it's possible some aspect of
// the operation succeeded". A post may be in the channel. (Its other codes
// say nothing was done.)
bool maybe_done(std::string_view code) {
  return code == "internal_error" || code == "fatal_error";
}

// Whether Slack refuses `method` with `code` because what it asks for is
// done: after an attempt that may have gone through, the repeat's refusal
// means that attempt did.
bool done_already(std::string_view method, std::string_view code) {
  static constexpr std::pair<std::string_view, std::string_view> pairs[] = {
      {"reactions.add", "already_reacted"},
      {"reactions.remove", "no_reaction"},
      {"pins.add", "already_pinned"},
      {"pins.remove", "no_pin"},
      {"pins.remove", "not_pinned"},
      {"stars.add", "already_starred"},
      {"stars.remove", "not_starred"},
      {"chat.delete", "message_not_found"},
      {"conversations.archive", "already_archived"},
      {"conversations.unarchive", "not_archived"},
      {"conversations.kick", "not_in_channel"},
      {"files.delete", "file_deleted"},
  };
  for (auto [m, c] : pairs)
    if (method == m && code == c)
      return true;
  return false;
}

// A call not safe to repeat that Slack answered so: as any failure that may
// have reached Slack.
caf::error may_have_reached(const std::string& method, const caf::error& err) {
  return make_error(errc::delivery_unknown,
                    method + " may have reached Slack: " + render(err));
}

// Slack answers most errors with status 200 and `ok:false`; anything else is
// HTTP-level trouble.
void handle_http_result(self_ptr self, http_result& res,
                        web_api_state::call_map::iterator i) {
  auto id = res.request_id;
  if (res.error) {
    // Cancelled by `close` after the request went out: Slack may have it,
    // and a post must not look as if it was never sent.
    if (is(res.error, errc::closed) && res.sent)
      return retry_if_repeatable(self, id, std::move(res.error));
    if (is(res.error, errc::response_too_large) ||
        is(res.error, errc::malformed_response))
      return res.sent ? finish_unreadable(self, id, std::move(res.error))
                      : finish(self, id, std::move(res.error));
    if (is_fatal(res.error) || is(res.error, errc::closed))
      return finish(self, id, std::move(res.error));
    // Sent whole or cut off while written: the next attempt would take as
    // long.
    if (is(res.error, errc::timeout) && i->second.repeatable &&
        !i->second.repeat_timeouts)
      return finish(self, id, std::move(res.error));
    if (res.sent)
      return retry_if_repeatable(self, id, std::move(res.error));
    return retry_or_fail(self, id, std::move(res.error));
  }
  if (res.status == 429)
    return wait_out_rate_limit(self, id, res.retry_after);
  if (res.status >= 500)
    return retry_if_repeatable(
        self, id, make_error(errc::http_error, res.status, "server error"));
  using answer_kind = web_api_state::pending_call::answer_kind;
  if (i->second.answer == answer_kind::webhook) {
    auto answer = read_webhook_answer(res.status, res.body);
    if (!answer && maybe_done(slack_error_code(answer.error()))) {
      // As for a call: repeated if harmless (`retry = always`).
      if (!i->second.repeatable)
        return finish(self, id,
                      may_have_reached(i->second.method, answer.error()));
      return retry_reached(self, id, answer.error());
    }
    return finish(self, id, std::move(answer));
  }
  if (i->second.answer == answer_kind::status_only) {
    if (res.status >= 200 && res.status < 300)
      return finish(self, id, json_object{});
    return finish(
        self, id,
        make_error(errc::http_error, res.status, "unexpected HTTP status"));
  }
  auto unexpected_status = [&] {
    finish(self, id,
           make_error(errc::http_error, res.status, "unexpected HTTP status"));
  };
  json::error_code ec;
  // Strict about numbers: the answer goes to the caller, who may serialize
  // it, and 1e999 must not come out as Infinity.
  auto body = parse_json(res.body, ec);
  if (ec || !body.is_object()) {
    if (res.status != 200)
      return unexpected_status();
    return finish_unreadable(
        self, id,
        make_error(errc::malformed_response,
                   ec ? "body is not JSON: " + ec.message()
                      : std::string{"body is not a JSON object"}));
  }
  auto& obj = body.get_object();
  auto* ok = obj.if_contains("ok");
  // Slack answers 200; another 2xx (from a proxy, say) with ok:true is done
  // all the same, and a post must not read as failed.
  if (ok != nullptr && ok->is_bool() && ok->get_bool() && res.status >= 200 &&
      res.status < 300)
    return finish(self, id, json_object{std::move(obj)});
  auto code = std::string{string_field(obj, "error")};
  if (code.empty()) {
    if (res.status != 200)
      return unexpected_status();
    return finish_unreadable(self, id,
                             make_error(errc::malformed_response,
                                        "answer has neither ok:true nor "
                                        "error"));
  }
  if (code == "ratelimited")
    return wait_out_rate_limit(self, id, res.retry_after);
  if (code == "token_expired" && renews_token(self, id))
    return;
  if (i->second.may_have_reached && done_already(i->second.method, code)) {
    // Slack's way of marking a success with something to say.
    json::object done;
    done["ok"] = true;
    done["warning"] = code;
    return finish(self, id, json_object{std::move(done)});
  }
  auto refusal = slack_refusal(obj, code);
  // Slack's own trouble (internal_error, ...): the call may have had its
  // effect, so only a harmless one is repeated.
  if (is_transient_slack_error(code) && i->second.repeatable) {
    // Slack answered, but only these say that part of the work may be done
    // (`service_unavailable` and the like did nothing): a later "done
    // already" then means this attempt did it.
    if (maybe_done(code))
      return retry_reached(self, id, refusal);
    return retry_or_fail(self, id, refusal);
  }
  if (maybe_done(code))
    return finish(self, id, may_have_reached(i->second.method, refusal));
  finish(self, id, std::move(refusal));
}

void on_http_result(self_ptr self, http_result& res) {
  auto& st = self->state;
  auto i = st.calls.find(res.request_id);
  if (i == st.calls.end())
    return;
  i->second.in_flight = false;
  i->second.http.reset();
  handle_http_result(self, res, i);
  // The slot goes to the next call only now: after a 429, the method's line
  // must stand before another call of it goes out.
  release_slot(self);
}

void retry_if_repeatable(self_ptr self, uint64_t id, caf::error err) {
  auto& call = self->state.calls.at(id);
  if (call.repeatable)
    return retry_reached(self, id, std::move(err));
  finish(self, id,
         make_error(errc::delivery_unknown,
                    call.method + " may have reached Slack; not repeated (" +
                        render(err) + ")"));
}

// Wraps a typed response promise into a deliver function.
web_api_state::deliver_fn
make_deliver(caf::typed_response_promise<json_object> rp) {
  return [rp](caf::expected<json_object> x) mutable {
    if (x)
      rp.deliver(std::move(*x));
    else
      rp.deliver(std::move(x.error()));
  };
}

// Why a new request for `method` cannot start: `api_queue_size` requests
// are open. Checked where a request comes in, not for the later steps of an
// upload or a list, which replace the step before them.
caf::error queue_full(web_api_self self, const std::string& method) {
  auto& st = self->state;
  // Closing, or unable to call at all: the request fails for that reason.
  if (st.closing || st.setup_error)
    return caf::none;
  auto cap = st.cfg.api_queue_size +
             (brings_connection(method) ? connection_reserve : 0);
  if (st.calls.size() < cap)
    return caf::none;
  return make_error(errc::send_queue_full,
                    method + ": " + std::to_string(st.calls.size()) +
                        " Web API requests are open (api_queue_size)");
}

// Answers `rp` with `queue_full`'s error, if any; true if it did.
template <class Promise>
bool refused_when_full(web_api_self self, Promise& rp,
                       const std::string& method) {
  auto err = queue_full(self, method);
  if (!err)
    return false;
  ++self->state.stats.requests_refused;
  rp.deliver(std::move(err));
  return true;
}

} // namespace

void start_request(web_api_self self, web_api_state::pending_call call) {
  auto& st = self->state;
  if (st.setup_error)
    return call.deliver(st.setup_error);
  if (st.closing)
    return call.deliver(make_error(errc::closed, "web API caller is closing"));
  auto id = st.next_id++;
  auto deadline = call.deadline;
  // Slack limits each method per workspace (token). A request to a URL of
  // its own (an upload's bytes, sent without the token) is limited on that
  // URL only: one upload's 429 must not hold every other upload in line.
  // The caller's own token: one key whatever token rotation made of it.
  call.limit_key = call.method + ' ' +
                   std::to_string(std::hash<std::string>{}(
                       !call.url.empty() ? call.url
                       : call.own_token  ? std::string{"own token"}
                                         : call.authorization));
  st.calls.emplace(id, std::move(call));
  // Answers in time even while the call waits for a slot or in a line.
  if (deadline)
    self->delayed_send(self,
                       std::chrono::duration_cast<caf::timespan>(
                           *deadline - clock_type::now()),
                       timeout_atom_v, id);
  issue(self, id);
}

void start_call(web_api_self self, api_call x,
                web_api_state::deliver_fn deliver) {
  auto& st = self->state;
  if (st.setup_error)
    return deliver(st.setup_error);
  if (st.closing)
    return deliver(make_error(errc::closed, "web API caller is closing"));
  const auto& method = x.method;
  if (method.empty() || method.find_first_of("/?# ") != std::string::npos)
    return deliver(make_error(errc::invalid_argument,
                              "not a Web API method name: " + method));
  if (auto err = check_max_wait(x.max_wait, "call"))
    return deliver(std::move(err));
  if (!x.token.empty()) {
    if (auto err = check_token(x.token, "the call's token"))
      return deliver(std::move(err));
    st.log->add_transient_secret(x.token);
  }
  web_api_state::pending_call call;
  if (!x.json.value.empty()) {
    call.body = std::make_shared<const std::string>(to_json(x.json));
    call.content_type = "application/json; charset=utf-8";
  } else {
    call.body = std::make_shared<const std::string>(
        net::form_encode({x.args.begin(), x.args.end()}));
    call.content_type = "application/x-www-form-urlencoded";
  }
  call.own_token = x.token.empty();
  if (!call.own_token)
    call.authorization = "Bearer " + x.token;
  call.repeatable = x.retry == api_retry::always || safe_to_repeat(method);
  using lane_kind = web_api_state::pending_call::lane_kind;
  if (brings_connection(method))
    call.lane = lane_kind::reconnect;
  else if (x.args.count("trigger_id") > 0 ||
           x.json.value.contains("trigger_id"))
    call.lane = lane_kind::trigger;
  call.method = std::move(x.method);
  call.deliver = std::move(deliver);
  call.deadline = wait_deadline(clock_type::now(), x.max_wait);
  start_request(self, std::move(call));
}

caf::error add_context(caf::error err, std::string what) {
  if (!err)
    return err;
  auto ctx = err.context() + caf::make_message(std::move(what));
  return caf::error{err.code(), err.category(), std::move(ctx)};
}

web_api_state::~web_api_state() {
  let_go_of_token_file(*this);
  // A refresh runs on: its tokens go to the listener (see `issue`).
  for (auto& [id, call] : calls)
    if (auto http = call.http.lock(); http && !call.survives_close)
      http->cancel();
  if (idle_connections)
    net::shutdown_connection_cache(idle_connections, nullptr);
}

web_api_core_actor::behavior_type
web_api_caller(web_api_self self, client_config cfg, const caf::actor& client) {
  auto& st = self->state;
  if (client)
    st.client = client.address();
  cfg.token = trim_token(cfg.token);
  // The file's tokens are newer than the configured ones. Locked before it
  // is read: a caller that let go of it a moment ago may have stored newer
  // tokens than those a client read before it spawned this one. (The
  // client logs that the file replaced its tokens.)
  caf::expected<bool> from_file{false};
  if (!cfg.rotation.file.empty()) {
    if (auto lock = lock_token_file(cfg.rotation.file))
      st.token_file = std::move(*lock);
    else
      from_file = std::move(lock.error());
  }
  if (from_file)
    from_file = load_token_file(cfg.rotation, cfg.token);
  cfg.log = make_logger(cfg.log, {cfg.token, cfg.rotation.client_secret,
                                  cfg.rotation.refresh_token});
  st.log = cfg.log;
  if (from_file && *from_file && !client)
    CAF_RTM_LOG(st.log, info, "web_api", "the tokens of ", cfg.rotation.file,
                " replace the configured ones");
  st.authorization = "Bearer " + cfg.token;
  if (!cfg.rotation.refresh_token.empty()) {
    auto& rot = st.rotation;
    rot.on = true;
    rot.refresh_token = cfg.rotation.refresh_token;
    // The token's age is unknown: refreshed `refresh_before` its expiry, or
    // before the first call when that is unknown too.
    if (cfg.rotation.expires_at > 0) {
      rot.expiry = unix_time(cfg.rotation.expires_at);
      rot.refresh_at =
          rot.expiry -
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              cfg.rotation.refresh_before);
    }
  }
  st.rng.seed(std::random_device{}());
  if (!from_file) {
    st.setup_error = std::move(from_file.error());
  } else if (auto err = cfg.validate()) {
    st.setup_error = std::move(err);
  } else if (auto ctx = net::make_net_context(cfg, st.log)) {
    st.net = std::move(*ctx);
  } else {
    st.setup_error = std::move(ctx.error());
  }
  if (st.setup_error) {
    // Every call fails with it; the callers report it.
    CAF_RTM_LOG(st.log, debug, "web_api", render(st.setup_error));
    // A caller that cannot refresh leaves the file to one that can.
    st.token_file.reset();
  } else if (cfg.api_keep_alive.count() > 0) {
    st.idle_connections = net::make_connection_cache(
        *st.net, cfg.api_keep_alive, max_idle_connections);
  }
  st.cfg = std::move(cfg);
  ignore_stray_errors(self);
  // Ended without close (its front or the client exits): every call still
  // open gets `closed` now. CAF drops a response promise that goes with its
  // actor without a word, and a requester without a timeout would wait for
  // good.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    st.closing = true;
    // Before the loop below finishes the refresh's call (which clears
    // `refreshing`).
    drop_unstored_behind_refresh(st);
    for (auto& xs : st.waiting)
      xs.clear();
    while (!st.calls.empty()) {
      auto i = st.calls.begin();
      if (auto http = i->second.http.lock(); http && !i->second.survives_close)
        http->cancel();
      finish(self, i->first, make_error(errc::closed, "web API caller ended"));
    }
    // A `close` waiting for the idle connections is answered too.
    answer_closes(self);
    self->quit(std::move(msg.reason));
  });
  // Only the actors that streamed lists send their pages to are monitored.
  self->set_down_handler(
      [self](caf::down_msg& msg) { page_sink_ended(self, msg.source); });
  return {
      [self](call_atom, std::string& method,
             api_args& args) -> caf::typed_response_promise<json_object> {
        auto rp = self->make_response_promise<json_object>();
        if (refused_when_full(self, rp, method))
          return rp;
        api_call x;
        x.method = std::move(method);
        x.args = std::move(args);
        start_call(self, std::move(x), make_deliver(rp));
        return rp;
      },
      [self](call_atom,
             api_call& x) -> caf::typed_response_promise<json_object> {
        auto rp = self->make_response_promise<json_object>();
        if (refused_when_full(self, rp, x.method))
          return rp;
        start_call(self, std::move(x), make_deliver(rp));
        return rp;
      },
      [self](call_atom, api_call& x, all_pages_atom)
          -> caf::typed_response_promise<std::vector<json_object>> {
        auto rp = self->make_response_promise<std::vector<json_object>>();
        if (refused_when_full(self, rp, x.method))
          return rp;
        collect_pages(self, std::move(x), rp);
        return rp;
      },
      [self](call_atom, api_call& x,
             caf::actor& sink) -> caf::typed_response_promise<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        if (refused_when_full(self, rp, x.method))
          return rp;
        stream_pages(self, std::move(x), sink, rp);
        return rp;
      },
      [self](upload_atom,
             file_upload& x) -> caf::typed_response_promise<json_object> {
        auto rp = self->make_response_promise<json_object>();
        // Before the file is read.
        if (refused_when_full(self, rp, "upload"))
          return rp;
        start_upload(self, std::move(x), make_deliver(rp));
        return rp;
      },
      [self](status_atom, call_atom) {
        auto& st = self->state;
        auto result = st.stats;
        result.requests_open = st.calls.size();
        result.requests_in_flight = st.running;
        auto now = clock_type::now();
        result.methods_rate_limited = static_cast<uint64_t>(std::count_if(
            st.rate_limits.begin(), st.rate_limits.end(),
            [now](const auto& kv) { return kv.second.until > now; }));
        return result;
      },
      [self](webhook_atom,
             webhook_post& x) -> caf::typed_response_promise<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        if (refused_when_full(self, rp, "webhook post"))
          return rp;
        start_webhook_post(self, std::move(x),
                           [rp](caf::expected<json_object> res) mutable {
                             if (res)
                               rp.deliver(caf::ok_atom_v);
                             else
                               rp.deliver(std::move(res.error()));
                           });
        return rp;
      },
      [self](close_atom) -> caf::typed_response_promise<caf::ok_atom> {
        auto& st = self->state;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.close_promises.push_back(rp);
        st.closing = true;
        std::vector<uint64_t> waiting;
        for (auto& [id, call] : st.calls) {
          if (call.in_flight) {
            // Its result finishes the call.
            if (auto http = call.http.lock(); http && !call.survives_close)
              http->cancel();
          } else {
            waiting.push_back(id);
          }
        }
        // After the cancellations above (same executor, run in order): a call
        // that still completes cannot put its connection back. Before finishing
        // the waiting calls: the last of them must not reply to close early.
        if (st.idle_connections) {
          st.closing_idle = true;
          auto hdl = caf::actor_cast<web_api_core_actor>(self);
          net::shutdown_connection_cache(
              std::exchange(st.idle_connections, nullptr),
              [hdl] { caf::anon_send(hdl, closed_atom_v); });
        }
        // Calls waiting for a slot have no exchange: finished below.
        for (auto& xs : st.waiting)
          xs.clear();
        for (auto id : waiting)
          finish(self, id, make_error(errc::closed, "web API caller closed"));
        maybe_finish_close(self);
        return rp;
      },
      [self](unstored_tokens& x) { on_unstored(self, std::move(x)); },
      [self](store_atom, uint64_t round) { store_again(self, round); },
      [self](closed_atom) {
        self->state.closing_idle = false;
        maybe_finish_close(self);
      },
      [self](http_result& res) { on_http_result(self, res); },
      [self](retry_atom, uint64_t id) { issue(self, id); },
      [self](retry_atom, std::string& key) {
        auto& limits = self->state.rate_limits;
        if (auto r = limits.find(key); r != limits.end())
          r->second.timer_armed = false;
        next_in_line(self, key);
      },
      [self](timeout_atom, uint64_t id) {
        auto& calls = self->state.calls;
        // An attempt in flight started in time: its answer stands.
        if (auto i = calls.find(id); i != calls.end() && !i->second.in_flight)
          expire(self, id);
      },
  };
}

} // namespace caf::rtm::detail
