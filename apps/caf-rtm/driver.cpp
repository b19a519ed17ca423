#include "caf-rtm/driver.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "caf-rtm/printer.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/reply.hpp"
#include "common/cli.hpp"

namespace json = boost::json;

namespace caf::rtm::cli {

namespace {

using self_ptr = caf::stateful_actor<driver_state>*;

void finish(self_ptr self, int code);

// Under a flood, a flush per request would write a few lines at a time and
// wake the reader for each; at most one flush per interval lets stdio write
// full 64 KB blocks in between. A quiet stream still shows each line at once.
constexpr auto flush_interval = std::chrono::milliseconds{1};

void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  st.last_flush = std::chrono::steady_clock::now();
  if (st.out.empty() && !st.opts.lines)
    return;
  bool ok =
      std::fwrite(st.out.data(), 1, st.out.size(), stdout) == st.out.size();
  st.out.clear();
  // The printer's flush flushes stdout (and tells whether its own writes
  // failed).
  ok =
      (st.opts.lines ? st.opts.lines->flush() : std::fflush(stdout) == 0) && ok;
  // The reader went away (`caf-rtm | head -1`): nobody reads the events.
  if (!ok && !st.stdout_closed) {
    st.stdout_closed = true;
    std::fprintf(stderr, "caf-rtm: cannot write to stdout\n");
    finish(self, exit_other);
  }
}

// A flush request: now, or when the interval since the last flush is over.
void request_flush(self_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  auto due = st.last_flush + flush_interval;
  if (now >= due)
    return flush(self);
  if (!st.flush_timer_set) {
    st.flush_timer_set = true;
    self->delayed_send(self, due - now, flush_due_atom_v);
  }
}

// Writes a line; the flush happens once the events queued so far are done,
// so a burst costs one write instead of one per line.
void emit(self_ptr self, const std::string& line) {
  auto& st = self->state;
  st.out += line;
  st.out += '\n';
  if (st.out.size() > size_t{64} * 1024)
    return flush(self);
  if (!st.flush_pending) {
    st.flush_pending = true;
    self->send(self, caf::flush_atom_v);
  }
}

std::string describe(const caf::error& err) {
  auto text = render(err);
  constexpr std::string_view prefix = "caf_rtm: ";
  if (text.compare(0, prefix.size(), prefix) == 0)
    text.erase(0, prefix.size());
  return text;
}

// A Slack error code with what Slack said beyond it (missing_scope's
// needed and provided scopes, say).
std::string with_detail(const std::string& code, const caf::error& err) {
  auto detail = slack_error_detail(err);
  return detail.empty() ? code : code + " (" + detail + ")";
}

void complete(self_ptr self, int code, const client_status* st) {
  auto& s = self->state;
  flush(self);
  // Lines lost on the way out (the last flush failed, say) are a failure
  // like any other write to stdout.
  if (s.stdout_closed && code == exit_ok)
    code = exit_other;
  if (s.opts.stats) {
    auto elapsed = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - s.started)
                       .count();
    json::object stats;
    auto printed = s.printed + (s.opts.lines ? s.opts.lines->printed() : 0);
    stats["events"] = printed;
    stats["elapsed_s"] = elapsed;
    stats["events_per_s"] =
        elapsed > 0 ? static_cast<double>(printed) / elapsed : 0.0;
    stats["reconnects"] = s.sessions - std::min(s.sessions, s.opts.connections);
    stats["rtt_ms"] =
        st ? std::chrono::duration<double, std::milli>(st->last_rtt).count()
           : 0.0;
    if (st) {
      stats["events_received"] = st->events_received;
      stats["dropped_frames"] = st->frames_malformed + st->frames_not_object +
                                st->frames_binary + st->frames_unknown;
      if (s.opts.socket_mode) {
        stats["acks"] = st->envelopes_acked;
        stats["duplicates"] = st->events_duplicate;
        stats["late_acks"] = st->acks_late;
        stats["failed_acks"] = st->acks_failed;
        stats["unclaimed"] = st->envelopes_unclaimed;
        stats["connections"] = st->connections;
        stats["ack_latency_max_ms"] =
            std::chrono::duration<double, std::milli>(st->ack_latency_max)
                .count();
      } else {
        stats["messages_sent"] = st->messages_sent;
        stats["messages_acked"] = st->messages_acked;
      }
    }
    std::fprintf(stderr, "%s\n", json::serialize(stats).c_str());
  }
  if (auto f = std::move(s.opts.on_exit))
    f(code);
  self->quit();
}

// Ends the program: status (for --stats), then an orderly close of the
// client, both bounded so a signal exits within a second. Replies to mentions
// that are on their way get a moment to be acked first.
void finish(self_ptr self, int code) {
  auto& st = self->state;
  if (st.finishing)
    return;
  if (st.replies_pending > 0 && !st.exit_when_drained) {
    st.exit_when_drained = code;
    self->delayed_send(self, std::chrono::milliseconds{500}, drained_atom_v);
    return;
  }
  st.finishing = true;
  // Envelopes whose answer from stdin has not come are acked empty now: the
  // client's close would wait for them until its ack deadline.
  for (auto& [id, rp] : st.responses)
    rp.deliver(make_error(errc::no_payload));
  st.responses.clear();
  flush(self);
  auto close_then_complete =
      [self, code](const std::optional<client_status>& status) {
        // A hub's client is the hub's to close.
        if (self->state.opts.from_hub) {
          complete(self, code, status ? &*status : nullptr);
          return;
        }
        self->request(self->state.client, std::chrono::milliseconds{800},
                      close_atom_v)
            .then(
                [self, code, status](caf::ok_atom) {
                  complete(self, code, status ? &*status : nullptr);
                },
                [self, code, status](caf::error&) {
                  complete(self, code, status ? &*status : nullptr);
                });
      };
  if (!st.client) // --hub: no hub delivers now
    return close_then_complete(std::nullopt);
  self->request(st.client, std::chrono::milliseconds{150}, status_atom_v)
      .then([=](client_status& s) { close_then_complete(std::move(s)); },
            [=](caf::error&) { close_then_complete(std::nullopt); });
}

void maybe_done_sending(self_ptr self) {
  auto& st = self->state;
  if (st.input_lines && st.next_result > *st.input_lines)
    finish(self, exit_ok);
}

// A stdin line is done (handled, or has its result): the reader may read
// one more.
void line_done(self_ptr self) {
  if (self->state.opts.lines_done)
    ++*self->state.opts.lines_done;
}

void store_result(self_ptr self, uint64_t n, std::string line) {
  auto& st = self->state;
  st.results.emplace(n, std::move(line));
  line_done(self);
  for (auto i = st.results.find(st.next_result); i != st.results.end();
       i = st.results.find(st.next_result)) {
    emit(self, i->second);
    st.results.erase(i);
    ++st.next_result;
  }
  maybe_done_sending(self);
}

std::string result_line(uint64_t n, const caf::expected<send_ack>& res) {
  json::object line;
  line["sent"] = n;
  line["ok"] = static_cast<bool>(res);
  if (res)
    line["ts"] = res->ts;
  else
    line["error"] = describe(res.error());
  return json::serialize(line);
}

void send_line(self_ptr self, uint64_t n, const std::string& text) {
  if (!self->state.client) { // --hub: no hub delivers now
    self->state.waiting_lines.emplace_back(n, text);
    return;
  }
  json::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object())
    return store_result(
        self, n,
        result_line(n, make_error(errc::invalid_argument,
                                  "line is not a JSON object")));
  // The result line of `n`, in input order; none if its link to a hub
  // broke meanwhile (reported then).
  auto on_ack = [self, n](send_ack& ack) {
    if (self->state.pending_sends.erase(n) > 0)
      store_result(self, n, result_line(n, ack));
  };
  auto on_error = [self, n](caf::error& err) {
    if (self->state.pending_sends.erase(n) > 0)
      store_result(self, n, result_line(n, std::move(err)));
  };
  json_object msg{std::move(value.get_object())};
  self->state.pending_sends.insert(n);
  auto& client = self->state.client;
  if (auto max_wait = self->state.opts.max_wait; max_wait.count() > 0)
    self->request(client, caf::infinite, send_atom_v, std::move(msg), max_wait)
        .then(on_ack, on_error);
  else
    self->request(client, caf::infinite, send_atom_v, std::move(msg))
        .then(on_ack, on_error);
}

// What follows a mention of `own_id` in `text`, if it mentions it.
std::optional<std::string> after_mention(const std::string& own_id,
                                         const json::object& obj) {
  auto* text = obj.if_contains("text");
  if (own_id.empty() || text == nullptr || !text->is_string())
    return std::nullopt;
  std::string_view t = text->get_string();
  auto mention = "<@" + own_id + ">";
  auto pos = t.find(mention);
  if (pos == std::string_view::npos)
    return std::nullopt;
  return std::string{t.substr(pos + mention.size())};
}

// Counts a reply in flight; `line` reports it once done.
std::function<void(std::string)> start_reply(self_ptr self) {
  ++self->state.replies_pending;
  return [self](const std::string& line) {
    auto& st = self->state;
    emit(self, line);
    if (--st.replies_pending == 0 && st.exit_when_drained)
      finish(self, *st.exit_when_drained);
  };
}

// The demo's RTM bot: answer messages that mention it over RTM.
void answer_mention(self_ptr self, const event& ev) {
  auto& st = self->state;
  auto rest = after_mention(st.own_id, ev.json());
  if (!rest)
    return;
  json_object reply;
  reply.value["type"] = "message";
  reply.value["channel"] = std::string{ev.channel()};
  reply.value["text"] = "You said:" + *rest;
  auto n = ++st.replies;
  auto done = start_reply(self);
  self->request(st.client, caf::infinite, send_atom_v, std::move(reply))
      .then(
          [done, n](send_ack& ack) { done(result_line(n, ack)); },
          [done, n](caf::error& err) { done(result_line(n, std::move(err))); });
}

// The demo's Socket Mode bot: answer app mentions with chat.postMessage.
void answer_app_mention(self_ptr self, const envelope& env) {
  if (env.event().empty())
    return;
  std::string rest{env.text()};
  if (auto pos = rest.find('>'); pos != std::string::npos)
    rest.erase(0, pos + 1);
  auto n = ++self->state.replies;
  auto done = start_reply(self);
  api_args args{{"channel", std::string{env.channel()}},
                {"text", "You said:" + rest}};
  self->request(self->state.client, caf::infinite, call_atom_v,
                std::string{"chat.postMessage"}, std::move(args))
      .then(
          [done, n](json_object& answer) {
            json::object line;
            line["posted"] = n;
            line["ok"] = true;
            if (auto* ts = answer.value.if_contains("ts"))
              line["ts"] = *ts;
            done(json::serialize(line));
          },
          [done, n](caf::error& err) {
            json::object line;
            line["posted"] = n;
            line["ok"] = false;
            line["error"] = describe(err);
            done(json::serialize(line));
          });
}

// The demo's Socket Mode bot: /deploy is acked at once (a deploy takes longer
// than the ack's three seconds) and answered through its response_url.
void answer_later(self_ptr self, const envelope& cmd) {
  auto post = respond(cmd, "Deployed", respond_as::in_channel);
  if (!post)
    return;
  auto n = ++self->state.replies;
  auto done = start_reply(self);
  auto line = [n](bool ok, const std::string& error) {
    json::object x;
    x["responded"] = n;
    x["ok"] = ok;
    if (!error.empty())
      x["error"] = error;
    return json::serialize(x);
  };
  self->request(self->state.client, caf::infinite, webhook_atom_v,
                std::move(*post))
      .then(
          [done, line](caf::ok_atom) { done(line(true, {})); },
          [done, line](caf::error& err) { done(line(false, describe(err))); });
}

// An envelope that accepts a response payload, under --respond: the stdin
// line `{"envelope_id":...,"payload":{...}}` answers it.
void answer_from_stdin(self_ptr self, const std::string& text) {
  auto& st = self->state;
  json::error_code ec;
  auto value = json::parse(text, ec);
  const json::object* obj =
      !ec && value.is_object() ? &value.get_object() : nullptr;
  const json::value* id = obj ? obj->if_contains("envelope_id") : nullptr;
  const json::value* payload = obj ? obj->if_contains("payload") : nullptr;
  if (id == nullptr || !id->is_string() ||
      (payload != nullptr && !payload->is_object())) {
    std::fprintf(stderr, "caf-rtm: --respond: not an answer: want "
                         "{\"envelope_id\":...,\"payload\":{...}}\n");
    return;
  }
  auto i = st.responses.find(std::string{id->get_string()});
  if (i == st.responses.end()) {
    std::fprintf(stderr,
                 "caf-rtm: --respond: envelope %s waits for no answer (acked "
                 "already?)\n",
                 std::string{id->get_string()}.c_str());
    return;
  }
  json_object answer;
  if (payload != nullptr)
    answer.value = payload->get_object();
  i->second.deliver(std::move(answer));
  st.responses.erase(i);
  if (st.done_when_answered && st.responses.empty())
    finish(self, exit_ok);
}

// Envelope `id` takes no answer from stdin any more: its time is up.
void forget_response(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (st.responses.erase(id) > 0 && st.done_when_answered &&
      st.responses.empty())
    finish(self, exit_ok);
}

// Prints an envelope (if wanted); answers it where the program should.
caf::result<json_object> on_envelope(self_ptr self, const envelope& env) {
  auto& st = self->state;
  // Declined, not taken: one that waits for its ack is left to Slack where
  // the client's configuration says so (redeliver_unclaimed).
  if (st.finishing || st.done_when_answered)
    return make_error(errc::not_taken, "exiting");
  if (matches(st.opts.events, env)) {
    emit(self, line_of(env));
    ++st.printed;
  }
  if (st.opts.answer_mentions && env.event_type() == "app_mention")
    answer_app_mention(self, env);
  if (st.opts.answer_mentions && env.event_type() == "/deploy")
    answer_later(self, env);
  std::optional<caf::result<json_object>> answer;
  if (env.accepts_response_payload()) {
    if (st.opts.answer_mentions && env.event_type() == "/echo") {
      // The demo answers /echo through the ack's payload.
      json_object payload;
      payload.value["text"] = "echo: " + std::string{env.text()};
      answer = std::move(payload);
    } else if (st.opts.respond) {
      auto rp = self->make_response_promise();
      std::string id{env.id()};
      st.responses.emplace(id, rp);
      // Past the client's deadline nobody takes the answer any more.
      self->delayed_send(self, st.opts.ack_deadline, caf::timeout_atom_v,
                         std::move(id));
      answer = caf::result<json_object>{caf::delegated<json_object>{}};
    }
  }
  if (st.opts.count > 0 && st.printed >= st.opts.count) {
    // --respond: the answers of the envelopes printed come after them (a
    // close now would ack them empty).
    if (st.responses.empty())
      finish(self, exit_ok);
    else
      st.done_when_answered = true;
  }
  if (answer)
    return std::move(*answer);
  // No payload: the client acks it empty at once.
  return no_payload();
}

// Starts the client (a hub's is started already: then this only says who it
// is) and reports how that went.
void connect(self_ptr self) {
  auto& st = self->state;
  self->request(st.client, caf::infinite, connect_atom_v)
      .then(
          [self](connected& info) {
            self->state.own_id = info.endpoint.self_id;
            if (self->state.opts.socket_mode)
              CAF_RTM_LOG(self->state.opts.log, info, "caf-rtm",
                          "connected in Socket Mode as app ", info.app_id);
            else
              CAF_RTM_LOG(self->state.opts.log, info, "caf-rtm",
                          "connected as ", info.endpoint.self_name, " in ",
                          info.endpoint.team_name);
          },
          [self](caf::error& err) {
            auto& st = self->state;
            if (st.finishing) // a fatal_event said it already
              return;
            if (auto code = slack_error_code(err); !code.empty())
              std::fprintf(stderr, "caf-rtm: Slack error: %s\n",
                           with_detail(code, err).c_str());
            else
              std::fprintf(stderr, "caf-rtm: could not connect: %s\n",
                           describe(err).c_str());
            finish(self, exit_code_for(err, st.opts.reconnect_on));
          });
}

// An error of the client or of CAF (connecting to a hub), readable.
std::string describe_any(self_ptr self, const caf::error& err) {
  if (err.category() == error_category)
    return describe(err);
  return self->system().render(err);
}

// --hub: a hub delivers (again); its client handle is the one to use now.
void on_hub_up(self_ptr self, const hub::hub_up& x) {
  auto& st = self->state;
  if (st.finishing)
    return;
  auto first = !st.hub_seen;
  st.hub_seen = true;
  st.client = x.info.handle();
  st.opts.socket_mode = x.info.kind == client_kind::socket_mode;
  // Only now is it known which kind of client the workspace has.
  const char* mismatch = nullptr;
  if (st.opts.sends && st.opts.socket_mode)
    mismatch = "--send is RTM only, and the hub runs this workspace in "
               "Socket Mode";
  else if (st.opts.respond && !st.opts.socket_mode)
    mismatch = "--respond needs Socket Mode, and the hub runs this workspace "
               "over RTM";
  if (mismatch != nullptr) {
    std::fprintf(stderr, "caf-rtm: %s\n", mismatch);
    return finish(self, exit_usage);
  }
  CAF_RTM_LOG(st.opts.log, info, "caf-rtm", "subscribed on hub ", x.hub);
  if (first)
    connect(self);
  auto lines = std::move(st.waiting_lines);
  st.waiting_lines.clear();
  for (auto& [n, text] : lines)
    send_line(self, n, text);
}

void on_hub_down(self_ptr self, const hub::hub_down& x) {
  auto& st = self->state;
  if (st.finishing)
    return;
  if (!x.final) {
    CAF_RTM_LOG(
        st.opts.log, warn, "caf-rtm", "hub ", x.hub, ": ",
        describe_any(self, x.reason), "; next attempt in ",
        std::chrono::duration_cast<std::chrono::milliseconds>(x.retry_in)
            .count(),
        " ms");
    // Their results went with the link: the hub may or may not have sent
    // them. Later lines wait for the hub that comes next: CAF answers no
    // request to the node that went away, so they must not go to its handle.
    st.client = nullptr;
    auto lost = std::move(st.pending_sends);
    st.pending_sends.clear();
    for (auto n : lost)
      store_result(self, n,
                   result_line(n, make_error(errc::delivery_unknown,
                                             "the link to the hub broke "
                                             "before the result came")));
    return;
  }
  std::fprintf(stderr, "caf-rtm: hub %s: %s\n", x.hub.c_str(),
               describe_any(self, x.reason).c_str());
  // A name the hub does not have is a usage error, as a bad option is.
  finish(self, is(x.reason, errc::unknown_workspace) ||
                       is(x.reason, errc::invalid_config)
                   ? exit_usage
                   : exit_no_connection);
}

void on_hub_gap(self_ptr self, const hub::hub_gap& x) {
  auto& st = self->state;
  auto span =
      std::chrono::duration_cast<std::chrono::milliseconds>(x.until - x.since);
  if (x.dropped)
    CAF_RTM_LOG(st.opts.log, warn, "caf-rtm", "the hub dropped ",
                x.missed.count,
                " events for this node: it did not take them in time (they "
                "arrived at the hub within ",
                span.count(), " ms)");
  else if (x.missed.known)
    CAF_RTM_LOG(st.opts.log, warn, "caf-rtm", "no hub delivered for ",
                span.count(), " ms: ", x.missed.count,
                " events arrived at the hub meanwhile (of any type)");
  else
    CAF_RTM_LOG(st.opts.log, warn, "caf-rtm", "no hub delivered for ",
                span.count(),
                " ms: events of that time are lost (count "
                "unknown)");
}

} // namespace

caf::behavior driver(caf::stateful_actor<driver_state>* self, caf::actor client,
                     driver_options opts) {
  auto& st = self->state;
  st.client = std::move(client);
  st.opts = std::move(opts);
  st.started = std::chrono::steady_clock::now();
  if (st.opts.duration.count() > 0)
    self->delayed_send(self, st.opts.duration, caf::timeout_atom_v);
  if (st.client)
    connect(self);
  return {
      [self](const event& ev) {
        auto& st = self->state;
        if (st.finishing)
          return;
        if (st.opts.answer_mentions && ev.type() == "message")
          answer_mention(self, ev);
        if (!matches(st.opts.events, ev))
          return;
        emit(self, line_of(ev));
        ++st.printed;
        if (st.opts.count > 0 && st.printed >= st.opts.count)
          finish(self, exit_ok);
      },
      [self](const envelope& env) -> caf::result<json_object> {
        return on_envelope(self, env);
      },
      [self](caf::flush_atom) { request_flush(self); },
      [self](flush_due_atom) {
        self->state.flush_timer_set = false;
        request_flush(self);
      },
      [self](drained_atom) {
        // The replies took too long: end anyway.
        auto& st = self->state;
        st.replies_pending = 0;
        if (st.exit_when_drained)
          finish(self, *st.exit_when_drained);
      },
      [self](line_atom, uint64_t n, const std::string& text) {
        if (self->state.opts.respond) {
          answer_from_stdin(self, text);
          line_done(self);
        } else {
          send_line(self, n, text);
        }
      },
      [self](long_line_atom, uint64_t n) {
        auto what = "line over " + std::to_string(max_line_size) + " bytes";
        if (self->state.opts.respond) {
          std::fprintf(stderr, "caf-rtm: --respond: %s, dropped\n",
                       what.c_str());
          line_done(self);
        } else {
          store_result(self, n,
                       result_line(n, make_error(errc::invalid_argument,
                                                 std::move(what))));
        }
      },
      [self](eof_atom, uint64_t lines) {
        // --respond goes on answering until the end; --send is done.
        if (self->state.opts.respond)
          return;
        self->state.input_lines = lines;
        maybe_done_sending(self);
      },
      [self](eof_atom, uint64_t, const std::string& failure) {
        // Reading stdin failed: the rest of the input is unknown.
        if (self->state.finishing)
          return;
        std::fprintf(stderr, "caf-rtm: %s\n", failure.c_str());
        finish(self, exit_other);
      },
      [self](close_atom) { finish(self, exit_ok); },
      [self](caf::timeout_atom) { finish(self, exit_ok); },
      [self](caf::timeout_atom, const std::string& envelope_id) {
        forget_response(self, envelope_id);
      },
      [self](enough_atom) { finish(self, exit_ok); },
      // Lifecycle: diagnostics on stderr, exits on fatal errors.
      [self](const connected&) {
        ++self->state.sessions; // the client logs it
      },
      [self](const disconnected& x) {
        auto& st = self->state;
        CAF_RTM_LOG(st.opts.log, info, "caf-rtm", "session ", x.session,
                    " ended: ", x.cause ? describe(x.cause) : "closed");
        // A hub's client reconnects on its own; --no-reconnect with --hub
        // only limits the attempts to reach the hub.
        if (!st.opts.reconnect_on && !st.opts.from_hub)
          finish(self, exit_no_connection);
      },
      [self](const connecting& x) {
        CAF_RTM_LOG(self->state.opts.log, debug, "caf-rtm",
                    "connecting, attempt ", x.attempt);
      },
      [self](const reconnecting& x) {
        CAF_RTM_LOG(
            self->state.opts.log, info, "caf-rtm", "reconnecting in ",
            std::chrono::duration_cast<std::chrono::milliseconds>(x.delay)
                .count(),
            " ms");
      },
      [self](const error_event& x) {
        // The client logged it already (same logger). An envelope it acked
        // empty at its deadline (which may come before the driver's own:
        // it counts from the frame's read) takes no answer any more.
        if (is(x.reason, errc::no_response))
          if (auto id = context_string(x.reason); !id.empty())
            forget_response(self, id);
      },
      [self](const hub::hub_up& x) { on_hub_up(self, x); },
      [self](const hub::hub_down& x) { on_hub_down(self, x); },
      [self](const hub::hub_gap& x) { on_hub_gap(self, x); },
      [self](const fatal_event& x) {
        if (self->state.finishing)
          return;
        auto code = slack_error_code(x.reason);
        std::fprintf(
            stderr, "caf-rtm: %s\n",
            code.empty()
                ? describe(x.reason).c_str()
                : ("Slack error: " + with_detail(code, x.reason)).c_str());
        finish(self, exit_code_for(x.reason, self->state.opts.reconnect_on));
      },
  };
}

} // namespace caf::rtm::cli
