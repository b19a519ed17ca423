// Fuzz target: an RTM frame as the server sends it, parsed into an event.
// Hostile input must give an invalid event with a reason, never a crash; a
// valid event's views must agree with its JSON, survive copies, and survive a
// round trip through to_json() and through CAF's serialization.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "caf/rtm/event.hpp"
#include "detail/json_views.hpp"
#include "fuzz_check.hpp"
#include "json_compare.hpp"

namespace json = boost::json;

using caf::rtm::event;
using caf::rtm::detail::as_string;
using caf::rtm::detail::as_string_or_id;
using caf::rtm::detail::string_field;

namespace {

constexpr uint64_t session_nr = 7;

// What the views must show, looked up field by field as the documentation of
// event describes them (the library indexes in a single pass instead).
struct expected_views {
  explicit expected_views(const json::object& obj) {
    if (auto* x = obj.if_contains("type"))
      type = as_string(*x);
    if (auto* x = obj.if_contains("subtype"))
      subtype = as_string(*x);
    if (auto* x = obj.if_contains("channel"))
      channel = as_string_or_id(*x);
    if (channel.empty())
      channel = string_field(obj, "channel_id");
    if (channel.empty())
      if (auto* item = obj.if_contains("item"); item && item->is_object())
        channel = string_field(item->get_object(), "channel");
    if (auto* x = obj.if_contains("user"))
      user = as_string_or_id(*x);
    if (auto* x = obj.if_contains("bot_id"))
      bot_id = as_string(*x);
    ts = string_field(obj, "ts");
    if (ts.empty())
      ts = string_field(obj, "event_ts");
    text = string_field(obj, "text");
    thread_ts = string_field(obj, "thread_ts");
    if (auto* x = obj.if_contains("reply_to")) {
      if (x->is_int64())
        reply_to = x->get_int64();
      else if (x->is_uint64() && x->get_uint64() <= INT64_MAX)
        reply_to = static_cast<int64_t>(x->get_uint64());
    }
    if (auto* x = obj.if_contains("ok"); x && x->is_bool())
      ok = x->get_bool();
  }

  std::string_view type, subtype, channel, user, bot_id, ts, text, thread_ts;
  std::optional<int64_t> reply_to;
  std::optional<bool> ok;
};

void check_views(const event& ev) {
  using caf::rtm::fuzz::touch;
  touch(ev.type());
  touch(ev.subtype());
  touch(ev.channel());
  touch(ev.user());
  touch(ev.bot_id());
  touch(ev.ts());
  touch(ev.text());
  touch(ev.thread_ts());
  touch(ev.raw());
  expected_views want{ev.json()};
  CAF_RTM_FUZZ_CHECK_MSG(ev.type() == want.type, ev.type());
  CAF_RTM_FUZZ_CHECK_MSG(ev.subtype() == want.subtype, ev.subtype());
  CAF_RTM_FUZZ_CHECK_MSG(ev.channel() == want.channel, ev.channel());
  CAF_RTM_FUZZ_CHECK_MSG(ev.user() == want.user, ev.user());
  CAF_RTM_FUZZ_CHECK_MSG(ev.bot_id() == want.bot_id, ev.bot_id());
  CAF_RTM_FUZZ_CHECK_MSG(ev.ts() == want.ts, ev.ts());
  CAF_RTM_FUZZ_CHECK_MSG(ev.text() == want.text, ev.text());
  CAF_RTM_FUZZ_CHECK_MSG(ev.thread_ts() == want.thread_ts, ev.thread_ts());
  CAF_RTM_FUZZ_CHECK(ev.reply_to() == want.reply_to);
  CAF_RTM_FUZZ_CHECK(ev.ok() == want.ok);
}

void check_invalid(const event& ev, const std::string& why) {
  CAF_RTM_FUZZ_CHECK(!ev.valid());
  CAF_RTM_FUZZ_CHECK(!why.empty());
  CAF_RTM_FUZZ_CHECK(ev.type().empty() && ev.channel().empty());
  CAF_RTM_FUZZ_CHECK(ev.raw().empty() && ev.json().empty());
  CAF_RTM_FUZZ_CHECK(!ev.reply_to() && !ev.ok());
  CAF_RTM_FUZZ_CHECK(ev.to_json() == "{}");
  CAF_RTM_FUZZ_CHECK(ev.session() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::string why;
  auto ev = event::parse(input, session_nr, &why);
  if (!ev) {
    check_invalid(ev, why);
    return 0;
  }
  CAF_RTM_FUZZ_CHECK(ev.raw() == input);
  CAF_RTM_FUZZ_CHECK(ev.session() == session_nr);
  check_views(ev);
  // Copies share the parsed frame: views of a copy stay valid after the
  // original handle is gone.
  auto copy = ev;
  ev = event{};
  check_views(copy);
  // to_json() is what users log and forward: it must parse to the same JSON
  // and the same event.
  auto text = copy.to_json();
  auto again = event::parse(text, session_nr, &why);
  CAF_RTM_FUZZ_CHECK_MSG(again.valid(), text);
  CAF_RTM_FUZZ_CHECK_MSG(caf::rtm::fuzz::same_json(again.json(), copy.json()),
                         text);
  CAF_RTM_FUZZ_CHECK(again.type() == copy.type());
  CAF_RTM_FUZZ_CHECK(again.channel() == copy.channel());
  CAF_RTM_FUZZ_CHECK(again.user() == copy.user());
  CAF_RTM_FUZZ_CHECK(again.ts() == copy.ts());
  CAF_RTM_FUZZ_CHECK(again.reply_to() == copy.reply_to());
  // Events cross actor (and node) boundaries via inspect(): the frame goes
  // as received and is parsed again on arrival.
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  CAF_RTM_FUZZ_CHECK(!sink(copy));
  event loaded;
  caf::binary_deserializer source{nullptr, buf};
  CAF_RTM_FUZZ_CHECK(!source(loaded));
  CAF_RTM_FUZZ_CHECK(loaded.valid());
  CAF_RTM_FUZZ_CHECK(loaded.raw() == copy.raw());
  CAF_RTM_FUZZ_CHECK(loaded.session() == session_nr);
  CAF_RTM_FUZZ_CHECK(loaded.json() == copy.json());
  return 0;
}
