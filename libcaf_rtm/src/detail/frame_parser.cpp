#include "detail/frame_parser.hpp"

#include <cmath>

// basic_parser_impl.hpp: the parser's template code, instantiated here for
// strict_handler (once in the library, as Boost.JSON asks).
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include "detail/envelope_data.hpp"
#include "detail/event_data.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

// What json::parser does (Boost.JSON's detail::handler), except that a
// number that is not a finite double fails the parse. Boost.JSON 1.81 has no
// option for that; checking each number as the parser reads it costs nothing
// and never walks a frame twice.
struct strict_handler {
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  json::value_stack st;

  bool on_document_begin(json::error_code&) {
    return true;
  }

  bool on_document_end(json::error_code&) {
    return true;
  }

  bool on_object_begin(json::error_code&) {
    return true;
  }

  bool on_object_end(size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }

  bool on_array_begin(json::error_code&) {
    return true;
  }

  bool on_array_end(size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }

  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }

  bool on_key(json::string_view s, size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }

  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }

  bool on_string(json::string_view s, size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }

  bool on_number_part(json::string_view, json::error_code&) {
    return true;
  }

  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }

  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }

  bool on_double(double d, json::string_view, json::error_code& ec) {
    // 1e999 reads as inf, 0e999 as NaN: serialized, they would be Infinity
    // and NaN, which are not JSON.
    if (!std::isfinite(d)) {
      ec = json::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }

  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }

  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }

  bool on_comment_part(json::string_view, json::error_code&) {
    return true;
  }

  bool on_comment(json::string_view, json::error_code&) {
    return true;
  }
};

json::parse_options options_with_depth(size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  return opts;
}

} // namespace

// json::parser's interface over strict_handler.
class strict_json_parser {
public:
  explicit strict_json_parser(size_t max_depth)
      : p_(options_with_depth(max_depth)) {
    // nop
  }

  /// Parses all of `text` into a value allocated from `sp`; a null value and
  /// `ec` set on failure.
  json::value parse(std::string_view text, json::storage_ptr sp,
                    json::error_code& ec) {
    p_.reset();
    p_.handler().st.reset(std::move(sp));
    size_t n = 0;
    try {
      n = p_.write_some(false, text.data(), text.size(), ec);
    } catch (...) {
      // Out of memory: what was built points into the frame's arena, which
      // goes with the frame. Dropped now, while the caller still fills it.
      p_.reset();
      p_.handler().st.reset();
      throw;
    }
    if (!ec && n < text.size())
      ec = json::error::extra_data;
    if (ec || !p_.done()) {
      if (!ec)
        ec = json::error::incomplete;
      // Drops what was built and the arena it points into.
      p_.reset();
      p_.handler().st.reset();
      return nullptr;
    }
    return p_.handler().st.release();
  }

private:
  json::basic_parser<strict_handler> p_;
};

json::value parse_json(std::string_view text, json::error_code& ec,
                       size_t max_depth) {
  strict_json_parser parser{max_depth};
  return parser.parse(text, {}, ec);
}

frame_parser::frame_parser(size_t max_depth, memory mem)
    : max_depth_(max_depth),
      parser_(std::make_unique<strict_json_parser>(max_depth)),
      pool_(mem == memory::pooled ? frame_pool_owner{}
                                  : frame_pool_owner{nullptr}) {
  // nop
}

frame_parser::~frame_parser() = default;

arena_overflow* arena_overflow::instance() {
  static auto* ptr = new arena_overflow;
  return ptr;
}

namespace {

thread_local size_t arena_overflows = 0;

// The arena this thread fills, if any (frame_storage::filling).
thread_local json::memory_resource* filled_arena = nullptr;

} // namespace

frame_storage* frame_storage::instance() {
  static auto* ptr = new frame_storage;
  return ptr;
}

frame_storage::filling::filling(json::memory_resource& arena) noexcept
    : previous_(filled_arena) {
  filled_arena = &arena;
}

frame_storage::filling::~filling() {
  filled_arena = previous_;
}

void* frame_storage::do_allocate(size_t n, size_t align) {
  if (filled_arena != nullptr)
    return filled_arena->allocate(n, align);
  return ::operator new (n, std::align_val_t{align});
}

void frame_storage::do_deallocate(void* p, size_t, size_t align) {
  // The arena gives back nothing one by one; it goes as a whole.
  if (filled_arena != nullptr)
    return;
  ::operator delete (p, std::align_val_t{align});
}

bool frame_storage::do_is_equal(const memory_resource& other) const noexcept {
  return this == &other;
}

size_t arena_overflow::count() noexcept {
  return arena_overflows;
}

void* arena_overflow::do_allocate(size_t n, size_t align) {
  ++arena_overflows;
  return ::operator new (n, std::align_val_t{align});
}

void arena_overflow::do_deallocate(void* p, size_t, size_t align) {
  ::operator delete (p, std::align_val_t{align});
}

bool arena_overflow::do_is_equal(const memory_resource& other) const noexcept {
  return this == &other;
}

void frame_parser::learn(bool overflowed) noexcept {
  if (overflowed) {
    if (arena_factor_ < max_arena_factor)
      ++arena_factor_;
    fitting_ = 0;
  } else if (++fitting_ >= frames_before_shrinking) {
    // Try one size smaller now and then: one odd frame must not keep every
    // later event large for good.
    if (arena_factor_ > min_arena_factor)
      --arena_factor_;
    fitting_ = 0;
  }
}

template <class T>
caf::intrusive_ptr<T> frame_parser::parse(std::string_view frame,
                                          uint64_t session) {
  // The handle owns its data from here; an early return frees it.
  caf::intrusive_ptr<T> d{make_frame<T>(frame, session,
                                        frame.size() * arena_factor_ + 256,
                                        pool_.get()),
                          false};
  // Before `value`, so that all of it is gone when the filling ends.
  frame_storage::filling filling{d->arena};
  json::error_code ec;
  auto overflows = arena_overflow::count();
  auto value =
      parser_->parse(d->raw, json::storage_ptr{frame_storage::instance()}, ec);
  learn(arena_overflow::count() != overflows);
  // The JSON parser's scratch stack (every value of the arrays and objects
  // still open) only grows: one large frame would keep many times its size
  // for the connection's life. A new parser lets it go.
  if (frame.size() > rebuild_parser_above)
    parser_ = std::make_unique<strict_json_parser>(max_depth_);
  if (ec) {
    last_error_ = ec == json::error::exponent_overflow
                      ? "malformed JSON: a number out of range"
                      : "malformed JSON: " + ec.message();
    last_kind_ = failure::malformed;
    return nullptr;
  }
  d->value = std::move(value);
  if (!d->value.is_object()) {
    last_error_ = "not a JSON object";
    last_kind_ = failure::not_object;
    return nullptr;
  }
  d->index();
  last_kind_ = failure::none;
  return d;
}

namespace {

// A frame's block as make_frame laid it out: from the data struct on.
template <class T>
memory_span block_span(const T* x) noexcept {
  if (x == nullptr)
    return {};
  auto size = x->size_class != frame_pool::no_class
                  ? frame_pool::block_size(x->size_class)
                  : sizeof(T) + x->raw.size();
  return {reinterpret_cast<const char*>(x), size};
}

} // namespace

memory_span frame_parser::block_of(const event& x) noexcept {
  return block_span(x.data_.get());
}

memory_span frame_parser::block_of(const envelope& x) noexcept {
  return block_span(x.data_.get());
}

std::chrono::steady_clock::time_point
frame_parser::read_at(const envelope& x) noexcept {
  return x.data_ ? x.data_->read_at : std::chrono::steady_clock::time_point{};
}

event frame_parser::parse_event(std::string_view frame, uint64_t session) {
  auto d = parse<event::data>(frame, session);
  if (!d)
    return {};
  return event{caf::intrusive_ptr<const event::data>{std::move(d)}};
}

envelope
frame_parser::parse_envelope(std::string_view frame, uint64_t session,
                             std::chrono::steady_clock::time_point read_at) {
  auto d = parse<envelope::data>(frame, session);
  if (!d)
    return {};
  d->read_at = read_at;
  return envelope{caf::intrusive_ptr<const envelope::data>{std::move(d)}};
}

} // namespace caf::rtm::detail
