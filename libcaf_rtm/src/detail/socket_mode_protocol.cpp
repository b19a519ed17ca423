// The Socket Mode protocol part: `apps.connections.open` (with the app-level
// token) hands out the URL; `hello` and `disconnect` are control frames;
// every envelope is acknowledged on this connection as it arrives, before the
// router sees it, unless it accepts a response payload (the router acks those
// once a subscriber answered, or at the deadline). Frames that are neither
// are counted and dropped; the connection stays.

#include "detail/protocol.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

// Values a server may send that no real hello holds are capped, not wrapped:
// a count that wrapped to a small one would hide stale connections, seconds
// beyond ~292 years overflow a timespan.
constexpr int64_t max_connections = std::numeric_limits<uint32_t>::max();
constexpr int64_t max_connection_seconds = int64_t{100} * 365 * 24 * 3600;
/// Longer envelope ids are dropped as malformed (Slack's are about 36).
constexpr size_t max_envelope_id_size = 255;

using clock_type = std::chrono::steady_clock;

// When the frames acked on receipt in a batch were read, for the latencies
// of their acks once those are written: offsets from the first of them, so
// that no sum of clock readings can overflow.
class ack_read_times {
public:
  void add(clock_type::time_point read_at) noexcept {
    if (count_++ == 0)
      first_ = read_at;
    offsets_ += read_at - first_;
  }

  // The acks were written at `now`.
  void report(clock_type::time_point now, inbound_batch& out) const {
    if (count_ == 0)
      return;
    auto longest = std::chrono::duration_cast<caf::timespan>(now - first_);
    out.ack_latency_max = std::max(out.ack_latency_max, longest);
    out.ack_latency_sum +=
        longest * count_ - std::chrono::duration_cast<caf::timespan>(offsets_);
  }

private:
  uint32_t count_ = 0;
  clock_type::time_point first_{};
  clock_type::duration offsets_{0};
};

hello_info to_hello_info(const json::object& hello) {
  hello_info info;
  if (auto* x = hello.if_contains("num_connections");
      x && x->is_int64() && x->get_int64() >= 0)
    info.num_connections =
        static_cast<uint32_t>(std::min(x->get_int64(), max_connections));
  if (auto* debug = object_field(hello, "debug_info"))
    if (auto* x = debug->if_contains("approximate_connection_time");
        x && x->is_int64() && x->get_int64() >= 0)
      info.approximate_connection_time = std::chrono::seconds{
          std::min(x->get_int64(), max_connection_seconds)};
  if (auto* conn = object_field(hello, "connection_info"))
    info.app_id = std::string{string_field(*conn, "app_id")};
  return info;
}

class socket_mode_protocol : public protocol {
public:
  explicit socket_mode_protocol(const client_config& cfg)
      // The bot's own identity comes from whichever caller makes its Web
      // API calls: the client's own with `bot_token`, or the shared one.
      : with_identity_(!cfg.bot_token.empty() || cfg.api != nullptr),
        debug_reconnects_(cfg.debug_reconnects),
        ack_after_delivery_(cfg.ack_after_delivery) {
    // nop
  }

  const char* name() const noexcept override {
    return "Socket Mode";
  }

  bool wants_identity() const noexcept override {
    return with_identity_;
  }

  std::string endpoint_method() const override {
    return "apps.connections.open";
  }

  api_args endpoint_args() const override {
    return {};
  }

  caf::expected<rtm_endpoint>
  to_endpoint(const json::object& answer) const override {
    rtm_endpoint result;
    result.url = std::string{string_field(answer, "url")};
    if (result.url.empty())
      return make_error(errc::malformed_response,
                        "apps.connections.open without url");
    // Slack then refreshes the connection every 360 s: for testing refreshes.
    if (debug_reconnects_)
      result.url += result.url.find('?') == std::string::npos
                        ? "?debug_reconnects=true"
                        : "&debug_reconnects=true";
    return result;
  }

  bool json_pings() const noexcept override {
    return false;
  }

  bool acks_on_receipt() const noexcept override {
    return !ack_after_delivery_;
  }

  bool times_frames() const noexcept override {
    return true;
  }

  void on_frames(const frame_batch& in, inbound_batch& out,
                 session_context& ctx) const override {
    out.envelopes.reserve(in.sizes.size());
    std::string_view bytes{in.bytes};
    size_t offset = 0;
    ack_read_times acked;
    for (size_t i = 0; i < in.sizes.size(); ++i) {
      auto frame = bytes.substr(offset, in.sizes[i]);
      offset += in.sizes[i];
      auto read_at =
          i < in.read_at.size() ? in.read_at[i] : clock_type::time_point{};
      auto env = ctx.parser().parse_envelope(frame, ctx.session(), read_at);
      if (!env) {
        // E.g. `UNAUTHENTICATED: cache_error` as plain text.
        if (ctx.parser().last_failure() == frame_parser::failure::malformed)
          ++out.malformed;
        else
          ++out.not_object;
        CAF_RTM_LOG(ctx.log(), debug, "connection", "session ", ctx.session(),
                    ": dropped a frame: ", ctx.parser().last_error());
        keep_other(frame, out);
        continue;
      }
      if (env.id().size() > max_envelope_id_size) {
        // Slack's ids are about 36 characters. One of megabytes would be
        // copied into every ack, wait and report made for it.
        ++out.malformed;
        CAF_RTM_LOG(ctx.log(), warn, "connection", "session ", ctx.session(),
                    ": dropped an envelope with an id of ", env.id().size(),
                    " bytes");
        keep_other(frame, out);
        continue;
      }
      if (!env.id().empty()) {
        // The router acks the others once subscribers answered.
        // A frame without a read time (none should come) counts as acked
        // at once: no latency from the clock's epoch.
        if (!env.accepts_response_payload() && !ack_after_delivery_ &&
            ack(env, out, ctx))
          acked.add(read_at != clock_type::time_point{} ? read_at
                                                        : clock_type::now());
        out.envelopes.push_back(std::move(env));
        continue;
      }
      keep_other(frame, out);
      auto type = env.type();
      if (type == "hello") {
        ctx.hello(to_hello_info(env.json()));
      } else if (type == "disconnect") {
        on_disconnect(std::string{string_field(env.json(), "reason")}, out,
                      ctx);
      } else {
        ++out.unknown;
        CAF_RTM_LOG(ctx.log(), debug, "connection", "session ", ctx.session(),
                    ": dropped a frame that is no envelope: type '", type, "'");
      }
    }
    // The acks of a batch go to the I/O layer together, once it is parsed:
    // one clock reading for all of them.
    acked.report(clock_type::now(), out);
  }

private:
  static void keep_other(std::string_view frame, inbound_batch& out) {
    out.other_frames.emplace_back(static_cast<uint32_t>(out.envelopes.size()),
                                  std::string{frame});
  }

  // Returns whether the ack was written.
  static bool ack(const envelope& env, inbound_batch& out,
                  session_context& ctx) {
    // Built as text, on the stack for the ids Slack sends: no JSON object
    // and no allocation per envelope (the connection packs the acks of a
    // batch into one buffer). An id with anything JSON must escape (never
    // seen from Slack) is escaped.
    auto id = env.id();
    auto plain = std::all_of(id.begin(), id.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
    });
    constexpr std::string_view head = R"({"envelope_id":")";
    constexpr std::string_view tail = "\"}";
    std::array<char, 256> buf;
    bool written;
    if (plain && head.size() + id.size() + tail.size() <= buf.size()) {
      auto* pos = std::copy(head.begin(), head.end(), buf.data());
      pos = std::copy(id.begin(), id.end(), pos);
      pos = std::copy(tail.begin(), tail.end(), pos);
      written =
          ctx.write_first({buf.data(), static_cast<size_t>(pos - buf.data())});
    } else {
      std::string ack = R"({"envelope_id":)";
      ack += json::serialize(json::string_view{id.data(), id.size()});
      ack += '}';
      written = ctx.write_first(ack);
    }
    if (written)
      ++out.acked;
    else
      ++out.acks_unwritten;
    return written;
  }

  static void on_disconnect(const std::string& reason, inbound_batch& out,
                            session_context& ctx) {
    if (reason == "link_disabled" || reason == "too_many_websockets") {
      // The connection goes now, with Slack's reason. `link_disabled`
      // (Socket Mode was switched off for the app) is a fatal Slack error
      // (is_fatal): no reconnect can help, the client stops.
      // `too_many_websockets` (this connection is one too many) comes
      // instead of a hello: a failed attempt, after which the supervisor
      // backs off before it tries again.
      ctx.end(make_error(errc::slack_error, reason, std::string{}), true);
    } else {
      // `warning` (a refresh comes in about 10 s), `refresh_requested`, or a
      // reason this library does not know: the next connection is made
      // before this one goes.
      out.session_ending = true;
      ctx.goodbye(reason.empty() ? std::string{"disconnect"} : reason);
    }
  }

  bool with_identity_;
  bool debug_reconnects_;
  bool ack_after_delivery_;
};

} // namespace

protocol_ptr make_socket_mode_protocol(const client_config& cfg) {
  return std::make_shared<socket_mode_protocol>(cfg);
}

} // namespace caf::rtm::detail
