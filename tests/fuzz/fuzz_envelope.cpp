// Fuzz target: a Socket Mode frame as the server sends it, parsed into an
// envelope. Hostile input must give an invalid envelope with a reason, never
// a crash; a valid envelope's views must agree with its JSON, survive copies,
// and survive a round trip through to_json() and CAF's serialization.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "caf/rtm/envelope.hpp"
#include "detail/json_views.hpp"
#include "fuzz_check.hpp"
#include "json_compare.hpp"

namespace json = boost::json;

using caf::rtm::envelope;
using caf::rtm::detail::as_string_or_id;
using caf::rtm::detail::object_field;
using caf::rtm::detail::string_field;

namespace {

constexpr uint64_t connection_nr = 3;

// What the views must show, field by field as the documentation of envelope
// describes them for events_api, slash_commands and interactive payloads.
struct expected_views {
  explicit expected_views(const json::object& obj) {
    id = string_field(obj, "envelope_id");
    type = string_field(obj, "type");
    retry_reason = string_field(obj, "retry_reason");
    if (auto* x = obj.if_contains("retry_attempt");
        x && x->is_int64() && x->get_int64() >= 0 &&
        x->get_int64() <= UINT32_MAX)
      retry_attempt = static_cast<uint32_t>(x->get_int64());
    if (auto* x = obj.if_contains("accepts_response_payload");
        x && x->is_bool())
      accepts_response_payload = x->get_bool();
    payload = object_field(obj, "payload");
    if (payload == nullptr)
      return;
    event_id = string_field(*payload, "event_id");
    if (auto* ev = object_field(*payload, "event")) {
      if (auto* auth = first_object(*payload, "authorizations"))
        team_id = string_field(*auth, "team_id");
      if (team_id.empty())
        team_id = string_field(*payload, "team_id");
      event = ev;
      event_type = string_field(*ev, "type");
      event_subtype = string_field(*ev, "subtype");
      bot_id = string_field(*ev, "bot_id");
      ts = string_field(*ev, "ts");
      if (ts.empty())
        ts = string_field(*ev, "event_ts");
      text = string_field(*ev, "text");
      thread_ts = string_field(*ev, "thread_ts");
      channel = id_of(*ev, "channel");
      if (channel.empty())
        channel = string_field(*ev, "channel_id");
      if (channel.empty())
        if (auto* item = object_field(*ev, "item"))
          channel = string_field(*item, "channel");
      user = id_of(*ev, "user");
      return;
    }
    trigger_id = string_field(*payload, "trigger_id");
    response_url = string_field(*payload, "response_url");
    if (response_url.empty())
      if (auto* first = first_object(*payload, "response_urls"))
        response_url = string_field(*first, "response_url");
    if (auto cmd = string_field(*payload, "command"); !cmd.empty()) {
      event_type = cmd;
      channel = string_field(*payload, "channel_id");
      user = string_field(*payload, "user_id");
      text = string_field(*payload, "text");
      team_id = string_field(*payload, "team_id");
      return;
    }
    event_type = string_field(*payload, "type");
    channel = id_of(*payload, "channel");
    if (channel.empty())
      if (auto* container = object_field(*payload, "container"))
        channel = string_field(*container, "channel_id");
    user = id_of(*payload, "user");
    view = object_field(*payload, "view");
    action = first_object(*payload, "actions");
    if (view != nullptr)
      team_id = string_field(*view, "app_installed_team_id");
    if (team_id.empty())
      team_id = id_of(*payload, "team");
    if (team_id.empty())
      team_id = string_field(*payload, "team_id");
    if (team_id.empty())
      if (auto* u = object_field(*payload, "user"))
        team_id = string_field(*u, "team_id");
    if (team_id.empty() && view != nullptr)
      team_id = string_field(*view, "team_id");
    action_id = string_field(*payload, "action_id");
    if (action_id.empty() && action != nullptr)
      action_id = string_field(*action, "action_id");
    callback_id = string_field(*payload, "callback_id");
    if (callback_id.empty() && view != nullptr)
      callback_id = string_field(*view, "callback_id");
    if (view != nullptr)
      private_metadata = string_field(*view, "private_metadata");
    event_subtype = !action_id.empty() ? action_id : callback_id;
  }

  // The first element of the array `key`, if it is an object.
  static const json::object* first_object(const json::object& obj,
                                          std::string_view key) {
    auto* x = obj.if_contains(key);
    if (x == nullptr || !x->is_array() || x->get_array().empty() ||
        !x->get_array().front().is_object())
      return nullptr;
    return &x->get_array().front().get_object();
  }

  static std::string_view id_of(const json::object& obj, std::string_view key) {
    if (auto* x = obj.if_contains(key))
      return as_string_or_id(*x);
    return {};
  }

  std::string_view id, type, event_type, event_id, channel, user, bot_id;
  /// Of the inner event (events_api); a command's text; an interaction's
  /// action_id or callback_id as its subtype.
  std::string_view event_subtype, ts, text, thread_ts;
  /// Of commands and interactions (team_id: of every kind).
  std::string_view team_id, trigger_id, response_url, action_id, callback_id,
      private_metadata;
  const json::object* event = nullptr;
  const json::object* view = nullptr;
  const json::object* action = nullptr;
  std::string_view retry_reason;
  uint32_t retry_attempt = 0;
  bool accepts_response_payload = false;
  const json::object* payload = nullptr;
};

void check_views(const envelope& env) {
  using caf::rtm::fuzz::touch;
  for (auto x :
       {env.id(), env.type(), env.event_type(), env.event_id(), env.channel(),
        env.user(), env.bot_id(), env.retry_reason(), env.raw(),
        env.event_subtype(), env.ts(), env.text(), env.thread_ts(),
        env.team_id(), env.trigger_id(), env.response_url(), env.action_id(),
        env.callback_id(), env.private_metadata()})
    touch(x);
  expected_views want{env.json()};
  CAF_RTM_FUZZ_CHECK_MSG(env.id() == want.id, env.id());
  CAF_RTM_FUZZ_CHECK_MSG(env.type() == want.type, env.type());
  CAF_RTM_FUZZ_CHECK_MSG(env.event_type() == want.event_type, env.event_type());
  CAF_RTM_FUZZ_CHECK_MSG(env.event_id() == want.event_id, env.event_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.channel() == want.channel, env.channel());
  CAF_RTM_FUZZ_CHECK_MSG(env.user() == want.user, env.user());
  CAF_RTM_FUZZ_CHECK_MSG(env.bot_id() == want.bot_id, env.bot_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.event_subtype() == want.event_subtype,
                         env.event_subtype());
  CAF_RTM_FUZZ_CHECK_MSG(env.ts() == want.ts, env.ts());
  CAF_RTM_FUZZ_CHECK_MSG(env.text() == want.text, env.text());
  CAF_RTM_FUZZ_CHECK_MSG(env.thread_ts() == want.thread_ts, env.thread_ts());
  if (want.event != nullptr)
    CAF_RTM_FUZZ_CHECK(&env.event() == want.event);
  else
    CAF_RTM_FUZZ_CHECK(env.event().empty());
  CAF_RTM_FUZZ_CHECK_MSG(env.team_id() == want.team_id, env.team_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.trigger_id() == want.trigger_id, env.trigger_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.response_url() == want.response_url,
                         env.response_url());
  CAF_RTM_FUZZ_CHECK_MSG(env.action_id() == want.action_id, env.action_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.callback_id() == want.callback_id,
                         env.callback_id());
  CAF_RTM_FUZZ_CHECK_MSG(env.private_metadata() == want.private_metadata,
                         env.private_metadata());
  if (want.view != nullptr)
    CAF_RTM_FUZZ_CHECK(&env.view() == want.view);
  else
    CAF_RTM_FUZZ_CHECK(env.view().empty());
  if (want.action != nullptr)
    CAF_RTM_FUZZ_CHECK(&env.action() == want.action);
  else
    CAF_RTM_FUZZ_CHECK(env.action().empty());
  CAF_RTM_FUZZ_CHECK_MSG(env.retry_reason() == want.retry_reason,
                         env.retry_reason());
  CAF_RTM_FUZZ_CHECK(env.retry_attempt() == want.retry_attempt);
  CAF_RTM_FUZZ_CHECK(env.accepts_response_payload() ==
                     want.accepts_response_payload);
  if (want.payload != nullptr)
    CAF_RTM_FUZZ_CHECK(&env.payload() == want.payload);
  else
    CAF_RTM_FUZZ_CHECK(env.payload().empty());
  // Subscriptions: "*" covers everything, a type covers its envelopes and
  // the envelopes whose inner event has that type.
  CAF_RTM_FUZZ_CHECK(caf::rtm::matches({"*", "app_mention"}, env));
  CAF_RTM_FUZZ_CHECK(!caf::rtm::matches({}, env));
  CAF_RTM_FUZZ_CHECK(
      caf::rtm::matches({"app_mention"}, env) ==
      (env.type() == "app_mention" || env.event_type() == "app_mention"));
  CAF_RTM_FUZZ_CHECK(caf::rtm::matches({std::string{env.type()}}, env));
}

void check_invalid(const envelope& env, const std::string& why) {
  CAF_RTM_FUZZ_CHECK(!env.valid());
  CAF_RTM_FUZZ_CHECK(!why.empty());
  CAF_RTM_FUZZ_CHECK(env.id().empty() && env.type().empty());
  CAF_RTM_FUZZ_CHECK(env.event_type().empty() && env.channel().empty());
  CAF_RTM_FUZZ_CHECK(env.raw().empty() && env.json().empty());
  CAF_RTM_FUZZ_CHECK(env.payload().empty());
  CAF_RTM_FUZZ_CHECK(env.retry_attempt() == 0);
  CAF_RTM_FUZZ_CHECK(!env.accepts_response_payload());
  CAF_RTM_FUZZ_CHECK(env.to_json() == "{}");
  // An invalid envelope is no subscription's match, except for "*".
  CAF_RTM_FUZZ_CHECK(!caf::rtm::matches({"app_mention"}, env));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::string why;
  auto env = envelope::parse(input, connection_nr, &why);
  if (!env) {
    check_invalid(env, why);
    return 0;
  }
  CAF_RTM_FUZZ_CHECK(env.raw() == input);
  CAF_RTM_FUZZ_CHECK(env.connection() == connection_nr);
  check_views(env);
  // Copies share the parsed frame: views of a copy stay valid after the
  // original handle is gone.
  auto copy = env;
  env = envelope{};
  check_views(copy);
  auto text = copy.to_json();
  auto again = envelope::parse(text, connection_nr, &why);
  CAF_RTM_FUZZ_CHECK_MSG(again.valid(), text);
  CAF_RTM_FUZZ_CHECK_MSG(caf::rtm::fuzz::same_json(again.json(), copy.json()),
                         text);
  CAF_RTM_FUZZ_CHECK(again.id() == copy.id());
  CAF_RTM_FUZZ_CHECK(again.event_type() == copy.event_type());
  CAF_RTM_FUZZ_CHECK(again.channel() == copy.channel());
  CAF_RTM_FUZZ_CHECK(again.user() == copy.user());
  CAF_RTM_FUZZ_CHECK(
      caf::rtm::fuzz::same_json(again.payload(), copy.payload()));
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  CAF_RTM_FUZZ_CHECK(!sink(copy));
  envelope loaded;
  caf::binary_deserializer source{nullptr, buf};
  CAF_RTM_FUZZ_CHECK(!source(loaded));
  CAF_RTM_FUZZ_CHECK(loaded.valid());
  CAF_RTM_FUZZ_CHECK(loaded.raw() == copy.raw());
  CAF_RTM_FUZZ_CHECK(loaded.connection() == connection_nr);
  CAF_RTM_FUZZ_CHECK(loaded.json() == copy.json());
  return 0;
}
