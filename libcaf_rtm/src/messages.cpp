#include "caf/rtm/messages.hpp"

#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "detail/event_parser.hpp"

namespace json = boost::json;

namespace caf::rtm {

// -- json_object --------------------------------------------------------------

std::string to_json(const json_object& x) {
  return json::serialize(x.value);
}

json_object json_object_from(std::string_view text) {
  json::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object())
    return {};
  return json_object{std::move(value.get_object())};
}

// -- event --------------------------------------------------------------------

// One allocation holds this struct, the frame right behind it, and the arena
// of the parsed JSON behind the frame. Freed when the last event referring to
// it goes away, on whichever thread that happens.
struct event::data {
  data(std::string_view frame, unsigned char* arena_mem, size_t arena_size,
       uint64_t session_nr)
      : raw(frame), arena(arena_mem, arena_size),
        value(json::storage_ptr{&arena}), session(session_nr) {
    // nop
  }

  static data* make(std::string_view frame, uint64_t session) {
    constexpr size_t align = alignof(std::max_align_t);
    auto arena_offset =
        (sizeof(data) + frame.size() + align - 1) / align * align;
    // Enough for the DOM of a typical event; bigger ones spill to the heap.
    auto arena_size = frame.size() * 2 + 256;
    auto* mem =
        static_cast<unsigned char*>(::operator new(arena_offset + arena_size));
    auto* text = mem + sizeof(data);
    std::memcpy(text, frame.data(), frame.size());
    return new (mem)
        data(std::string_view{reinterpret_cast<char*>(text), frame.size()},
             mem + arena_offset, arena_size, session);
  }

  static void destroy(const data* ptr) noexcept {
    ptr->~data();
    ::operator delete(const_cast<data*>(ptr));
  }

  mutable std::atomic<size_t> refs{1};
  std::string_view raw;
  // Declared before `value`: the arena must outlive the value it holds.
  json::monotonic_resource arena;
  json::value value;
  std::string_view type;
  std::string_view subtype;
  std::string_view channel;
  std::string_view user;
  std::string_view bot_id;
  std::string_view ts;
  std::optional<int64_t> reply_to;
  std::optional<bool> ok;
  uint64_t session;
};

void intrusive_ptr_add_ref(const event::data* ptr) noexcept {
  ptr->refs.fetch_add(1, std::memory_order_relaxed);
}

void intrusive_ptr_release(const event::data* ptr) noexcept {
  if (ptr->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    event::data::destroy(ptr);
}

namespace {

std::string_view string_field(const json::object& obj, std::string_view key) {
  if (auto* x = obj.if_contains(key); x && x->is_string())
    return x->get_string();
  return {};
}

std::string_view as_string(const json::value& x) {
  if (x.is_string())
    return x.get_string();
  return {};
}

// A string, or the `id` of an object (some events carry whole channel or
// user objects).
std::string_view as_string_or_id(const json::value& x) {
  if (x.is_object())
    return string_field(x.get_object(), "id");
  return as_string(x);
}

// One pass over the top-level members instead of a lookup per field: this
// runs for every event.
void extract_fields(event::data& d) {
  const auto& obj = d.value.get_object();
  std::string_view event_ts;
  const json::object* item = nullptr;
  for (const auto& member : obj) {
    auto key = std::string_view{member.key()};
    const auto& x = member.value();
    switch (key.size()) {
    case 2:
      if (key == "ts")
        d.ts = as_string(x);
      else if (key == "ok" && x.is_bool())
        d.ok = x.get_bool();
      break;
    case 4:
      if (key == "type")
        d.type = as_string(x);
      else if (key == "user")
        d.user = as_string_or_id(x);
      else if (key == "item" && x.is_object())
        item = &x.get_object();
      break;
    case 6:
      if (key == "bot_id")
        d.bot_id = as_string(x);
      break;
    case 7:
      if (key == "subtype")
        d.subtype = as_string(x);
      else if (key == "channel")
        d.channel = as_string_or_id(x);
      break;
    case 8:
      if (key == "event_ts")
        event_ts = as_string(x);
      else if (key == "reply_to" && x.is_int64())
        d.reply_to = x.get_int64();
      else if (key == "reply_to" && x.is_uint64() &&
               x.get_uint64() <= INT64_MAX)
        d.reply_to = static_cast<int64_t>(x.get_uint64());
      break;
    default:
      break;
    }
  }
  if (d.ts.empty())
    d.ts = event_ts;
  if (d.channel.empty() && item != nullptr)
    d.channel = string_field(*item, "channel");
}

} // namespace

event event::parse(std::string raw, uint64_t session, std::string* why) {
  event_parser parser;
  auto result = parser.parse(raw, session);
  if (!result && why)
    *why = parser.last_error();
  return result;
}

std::string_view event::type() const noexcept {
  return data_ ? data_->type : std::string_view{};
}

std::string_view event::subtype() const noexcept {
  return data_ ? data_->subtype : std::string_view{};
}

std::string_view event::channel() const noexcept {
  return data_ ? data_->channel : std::string_view{};
}

std::string_view event::user() const noexcept {
  return data_ ? data_->user : std::string_view{};
}

std::string_view event::bot_id() const noexcept {
  return data_ ? data_->bot_id : std::string_view{};
}

std::string_view event::ts() const noexcept {
  return data_ ? data_->ts : std::string_view{};
}

std::optional<int64_t> event::reply_to() const noexcept {
  return data_ ? data_->reply_to : std::nullopt;
}

std::optional<bool> event::ok() const noexcept {
  return data_ ? data_->ok : std::nullopt;
}

const boost::json::object& event::json() const noexcept {
  static const json::object empty;
  return data_ ? data_->value.get_object() : empty;
}

std::string_view event::raw() const noexcept {
  return data_ ? data_->raw : std::string_view{};
}

std::string event::to_json() const {
  return json::serialize(json());
}

uint64_t event::session() const noexcept {
  return data_ ? data_->session : 0;
}

// -- event_parser -------------------------------------------------------------

event_parser::event_parser(size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  parser_ = std::make_unique<json::parser>(json::storage_ptr{}, opts);
}

event_parser::~event_parser() = default;

event event_parser::parse(std::string_view frame, uint64_t session) {
  // The event owns its data from here; an early return frees it.
  caf::intrusive_ptr<event::data> d{event::data::make(frame, session), false};
  parser_->reset(json::storage_ptr{&d->arena});
  json::error_code ec;
  parser_->write(d->raw.data(), d->raw.size(), ec);
  if (ec) {
    last_error_ = "malformed JSON: " + ec.message();
    parser_->reset();
    last_kind_ = failure::malformed;
    return {};
  }
  d->value = parser_->release();
  if (!d->value.is_object()) {
    last_error_ = "not a JSON object";
    last_kind_ = failure::not_object;
    return {};
  }
  extract_fields(*d);
  last_kind_ = failure::none;
  return event{caf::intrusive_ptr<const event::data>{std::move(d)}};
}

} // namespace caf::rtm
