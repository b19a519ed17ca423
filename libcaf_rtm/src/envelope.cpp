#include "caf/rtm/envelope.hpp"

#include <boost/json/serialize.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/pattern.hpp"
#include "detail/envelope_data.hpp"
#include "detail/event_fields.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace json = boost::json;

namespace caf::rtm {

void intrusive_ptr_add_ref(const envelope::data* ptr) noexcept {
  detail::add_frame_ref(ptr);
}

void intrusive_ptr_release(const envelope::data* ptr) noexcept {
  detail::release_frame(ptr);
}

namespace {

// Each object is walked once, taking the fields as they come: a lookup per
// field walked its members again each time (a fifth of the thread that
// parses envelopes). The inner event is scanned as an RTM event is
// (detail::scan_event).

struct payload_fields {
  std::string_view event_id;
  std::string_view command;
  std::string_view type;
  std::string_view channel_id;
  std::string_view user_id;
  std::string_view text;
  std::string_view team_id;
  std::string_view trigger_id;
  std::string_view response_url;
  std::string_view action_id;
  std::string_view callback_id;
  const json::object* event = nullptr;
  const json::value* channel = nullptr;
  const json::value* user = nullptr;
  const json::value* team = nullptr;
  const json::object* container = nullptr;
  const json::object* view = nullptr;
  /// The first of `actions`, `response_urls` and `authorizations`.
  const json::object* action = nullptr;
  const json::object* response_urls = nullptr;
  const json::object* authorization = nullptr;
};

const json::object* first_object(const json::value& x) {
  if (x.is_array() && !x.get_array().empty() &&
      x.get_array().front().is_object())
    return &x.get_array().front().get_object();
  return nullptr;
}

payload_fields fields_of_payload(const json::object& payload) {
  payload_fields out;
  for (const auto& member : payload) {
    auto key = std::string_view{member.key()};
    const auto& x = member.value();
    if (key == "event_id")
      out.event_id = detail::as_string(x);
    else if (key == "event") {
      if (x.is_object())
        out.event = &x.get_object();
    } else if (key == "command")
      out.command = detail::as_string(x);
    else if (key == "type")
      out.type = detail::as_string(x);
    else if (key == "channel")
      out.channel = &x;
    else if (key == "channel_id")
      out.channel_id = detail::as_string(x);
    else if (key == "user")
      out.user = &x;
    else if (key == "user_id")
      out.user_id = detail::as_string(x);
    else if (key == "text")
      out.text = detail::as_string(x);
    else if (key == "team_id")
      out.team_id = detail::as_string(x);
    else if (key == "team")
      out.team = &x;
    else if (key == "trigger_id")
      out.trigger_id = detail::as_string(x);
    else if (key == "response_url")
      out.response_url = detail::as_string(x);
    else if (key == "response_urls")
      out.response_urls = first_object(x);
    else if (key == "authorizations")
      out.authorization = first_object(x);
    else if (key == "action_id")
      out.action_id = detail::as_string(x);
    else if (key == "callback_id")
      out.callback_id = detail::as_string(x);
    else if (key == "actions")
      out.action = first_object(x);
    else if (key == "view" && x.is_object())
      out.view = &x.get_object();
    else if (key == "container" && x.is_object())
      out.container = &x.get_object();
  }
  return out;
}

std::string_view string_or_id(const json::value* x) {
  return x ? detail::as_string_or_id(*x) : std::string_view{};
}

} // namespace

void envelope::data::index() {
  using namespace detail;
  for (const auto& member : value.get_object()) {
    auto key = std::string_view{member.key()};
    const auto& x = member.value();
    if (key == "envelope_id")
      id = as_string(x);
    else if (key == "type")
      type = as_string(x);
    else if (key == "retry_reason")
      retry_reason = as_string(x);
    else if (key == "retry_attempt") {
      if (x.is_int64() && x.get_int64() >= 0 && x.get_int64() <= UINT32_MAX)
        retry_attempt = static_cast<uint32_t>(x.get_int64());
    } else if (key == "accepts_response_payload") {
      if (x.is_bool())
        accepts_response_payload = x.get_bool();
    } else if (key == "payload" && x.is_object())
      payload = &x.get_object();
  }
  if (payload == nullptr)
    return;
  auto p = fields_of_payload(*payload);
  event_id = p.event_id;
  if (p.event != nullptr) {
    // events_api: what an Events API endpoint would get. The workspace the
    // app is installed in comes first: in a channel shared with another
    // organisation, `team_id` may be the other one's.
    event = p.event;
    inner = scan_event(*p.event);
    if (p.authorization != nullptr)
      team_id = string_field(*p.authorization, "team_id");
    if (team_id.empty())
      team_id = p.team_id;
    return;
  }
  trigger_id = p.trigger_id;
  // A view submission has one per conversation its inputs chose.
  response_url = p.response_url;
  if (response_url.empty() && p.response_urls != nullptr)
    response_url = string_field(*p.response_urls, "response_url");
  if (!p.command.empty()) {
    // slash_commands: the fields of the command's form post.
    inner.type = p.command;
    inner.channel = p.channel_id;
    inner.user = p.user_id;
    inner.text = p.text;
    team_id = p.team_id;
    return;
  }
  // interactive: block_actions, view_submission, shortcut, ...
  inner.type = p.type;
  inner.channel = string_or_id(p.channel);
  if (inner.channel.empty() && p.container != nullptr)
    inner.channel = string_field(*p.container, "channel_id");
  inner.user = string_or_id(p.user);
  view = p.view;
  action = p.action;
  // The workspace the app is installed in (a modal in a channel shared with
  // another organisation), else the interaction's; an install for a whole
  // organisation may send `team: null`, then the user's or the view's.
  if (view != nullptr)
    team_id = string_field(*view, "app_installed_team_id");
  if (team_id.empty())
    team_id = string_or_id(p.team);
  if (team_id.empty())
    team_id = p.team_id;
  if (team_id.empty() && p.user != nullptr && p.user->is_object())
    team_id = string_field(p.user->get_object(), "team_id");
  if (team_id.empty() && view != nullptr)
    team_id = string_field(*view, "team_id");
  // A click names its action (a suggestion request at the top, block_actions
  // in its first action); a view, shortcut or message action its callback.
  action_id = p.action_id;
  if (action_id.empty() && action != nullptr)
    action_id = string_field(*action, "action_id");
  callback_id = p.callback_id;
  if (callback_id.empty() && view != nullptr)
    callback_id = string_field(*view, "callback_id");
  if (view != nullptr)
    private_metadata = string_field(*view, "private_metadata");
  // What `type::subtype` patterns route by.
  inner.subtype = !action_id.empty() ? action_id : callback_id;
}

envelope envelope::parse(std::string_view raw, uint64_t connection,
                         std::string* why) {
  // One frame: its block comes from the heap, not a pool of its own.
  using detail::frame_parser;
  frame_parser parser{frame_parser::default_max_depth,
                      frame_parser::memory::heap};
  auto result = parser.parse_envelope(raw, connection);
  if (!result && why)
    *why = parser.last_error();
  return result;
}

std::string_view envelope::id() const noexcept {
  return data_ ? data_->id : std::string_view{};
}

std::string_view envelope::type() const noexcept {
  return data_ ? data_->type : std::string_view{};
}

std::string_view envelope::event_type() const noexcept {
  return data_ ? data_->inner.type : std::string_view{};
}

std::string_view envelope::event_subtype() const noexcept {
  return data_ ? data_->inner.subtype : std::string_view{};
}

std::string_view envelope::event_id() const noexcept {
  return data_ ? data_->event_id : std::string_view{};
}

std::string_view envelope::channel() const noexcept {
  return data_ ? data_->inner.channel : std::string_view{};
}

std::string_view envelope::user() const noexcept {
  return data_ ? data_->inner.user : std::string_view{};
}

std::string_view envelope::bot_id() const noexcept {
  return data_ ? data_->inner.bot_id : std::string_view{};
}

uint32_t envelope::retry_attempt() const noexcept {
  return data_ ? data_->retry_attempt : 0;
}

std::string_view envelope::retry_reason() const noexcept {
  return data_ ? data_->retry_reason : std::string_view{};
}

bool envelope::accepts_response_payload() const noexcept {
  return data_ ? data_->accepts_response_payload : false;
}

const json::object& envelope::json() const noexcept {
  static const json::object empty;
  return data_ ? data_->value.get_object() : empty;
}

const json::object& envelope::payload() const noexcept {
  static const json::object empty;
  return data_ && data_->payload ? *data_->payload : empty;
}

std::string_view envelope::text() const noexcept {
  return data_ ? data_->inner.text : std::string_view{};
}

std::string_view envelope::thread_ts() const noexcept {
  return data_ ? data_->inner.thread_ts : std::string_view{};
}

const json::object& envelope::event() const noexcept {
  static const json::object empty;
  return data_ && data_->event ? *data_->event : empty;
}

std::string_view envelope::ts() const noexcept {
  return data_ ? data_->inner.ts : std::string_view{};
}

std::string_view envelope::raw() const noexcept {
  return data_ ? data_->raw : std::string_view{};
}

std::string envelope::to_json() const {
  return json::serialize(json());
}

std::string_view envelope::team_id() const noexcept {
  return data_ ? data_->team_id : std::string_view{};
}

std::string_view envelope::trigger_id() const noexcept {
  return data_ ? data_->trigger_id : std::string_view{};
}

std::string_view envelope::response_url() const noexcept {
  return data_ ? data_->response_url : std::string_view{};
}

std::string_view envelope::action_id() const noexcept {
  return data_ ? data_->action_id : std::string_view{};
}

std::string_view envelope::callback_id() const noexcept {
  return data_ ? data_->callback_id : std::string_view{};
}

std::string_view envelope::private_metadata() const noexcept {
  return data_ ? data_->private_metadata : std::string_view{};
}

const json::object& envelope::view() const noexcept {
  static const json::object empty;
  return data_ && data_->view ? *data_->view : empty;
}

const json::object& envelope::action() const noexcept {
  static const json::object empty;
  return data_ && data_->action ? *data_->action : empty;
}

uint64_t envelope::connection() const noexcept {
  return data_ ? data_->session : 0;
}

response no_payload() {
  return make_error(errc::no_payload);
}

bool matches(const std::vector<std::string>& types, const envelope& x) {
  for (const auto& t : types)
    if (t == "*" || t == x.type() ||
        (!x.event_type().empty() &&
         pattern_matches(t, x.event_type(), x.event_subtype())))
      return true;
  return false;
}

} // namespace caf::rtm
