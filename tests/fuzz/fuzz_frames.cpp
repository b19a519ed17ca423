// Fuzz target: one batch of WebSocket text frames through the frame handling
// of both protocol parts, as the connection actor runs it. The input is split
// at '\n' into frames (so the seed files read as one frame per line). Each
// frame must end up in exactly one place (an event or envelope for the
// router, a control action on the session, or a drop counter), and every ack
// must be well-formed JSON naming its envelope.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "detail/frame_parser.hpp"
#include "detail/internal_messages.hpp"
#include "detail/message_ids.hpp"
#include "detail/protocol.hpp"
#include "fuzz_check.hpp"

namespace json = boost::json;

using namespace caf::rtm;
using namespace caf::rtm::detail;

namespace {

constexpr uint64_t session_nr = 11;

// The session as the connection actor would implement it, minus the actor:
// records what the protocol asks of it.
class recording_context final : public session_context {
public:
  recording_context()
      : log_(std::make_shared<logger>(log_level::debug,
                                      [](log_level, const std::string& line) {
                                        // Debug lines quote hostile frames:
                                        // format them, then drop them.
                                        fuzz::touch(line);
                                      })) {
    // nop
  }

  uint64_t session() const noexcept override {
    return session_nr;
  }

  frame_parser& parser() noexcept override {
    return parser_;
  }

  const logger_ptr& log() const noexcept override {
    return log_;
  }

  void hello(hello_info info) override {
    hellos.push_back(std::move(info));
  }

  void goodbye(std::string reason) override {
    goodbyes.push_back(std::move(reason));
  }

  void end(caf::error reason, bool orderly) override {
    CAF_RTM_FUZZ_CHECK(reason);
    fuzz::touch(render(reason));
    ends.push_back(orderly);
  }

  void monitor_pong(std::string payload) override {
    pongs.push_back(std::move(payload));
  }

  // As the connection: nothing is written once the session began to end.
  bool write_first(std::string_view text) override {
    writes.emplace_back(text);
    written.push_back(ends.empty());
    return written.back();
  }

  std::vector<hello_info> hellos;
  std::vector<std::string> goodbyes;
  std::vector<bool> ends;
  std::vector<std::string> pongs;
  /// Every ack the protocol tried to write, and whether it was written.
  std::vector<std::string> writes;
  std::vector<bool> written;

private:
  frame_parser parser_;
  logger_ptr log_;
};

size_t count_type(const std::vector<event>& xs, std::string_view type) {
  size_t n = 0;
  for (const auto& x : xs)
    if (x.type() == type)
      ++n;
  return n;
}

void check_rtm(const frame_batch& in, const client_config& cfg) {
  auto proto = make_rtm_protocol(cfg);
  recording_context ctx;
  inbound_batch out;
  proto->on_frames(in, out, ctx);
  // Every frame is delivered, dropped as malformed or not an object, or is a
  // pong of the ping monitor (which the router never sees).
  CAF_RTM_FUZZ_CHECK(out.events.size() + out.malformed + out.not_object +
                         ctx.pongs.size() ==
                     in.sizes.size());
  CAF_RTM_FUZZ_CHECK(out.envelopes.empty() && out.unknown == 0);
  CAF_RTM_FUZZ_CHECK(out.acked == 0 && ctx.writes.empty());
  size_t errors = 0;
  for (const auto& ev : out.events) {
    CAF_RTM_FUZZ_CHECK(ev.valid());
    CAF_RTM_FUZZ_CHECK(ev.session() == session_nr);
    if (ev.type() == "error" && !ev.reply_to())
      ++errors;
    // Pongs with the monitor's marker never reach the router.
    if (ev.type() == "pong")
      if (auto* x = ev.json().if_contains(message_ids::ping_marker))
        CAF_RTM_FUZZ_CHECK(!x->is_string());
  }
  CAF_RTM_FUZZ_CHECK(ctx.hellos.size() == count_type(out.events, "hello"));
  CAF_RTM_FUZZ_CHECK(ctx.goodbyes.size() ==
                     count_type(out.events, "goodbye") +
                         count_type(out.events, "team_migration_started"));
  for (const auto& reason : ctx.goodbyes)
    CAF_RTM_FUZZ_CHECK(reason == "goodbye" ||
                       reason == "team_migration_started");
  CAF_RTM_FUZZ_CHECK(out.session_ending == !ctx.goodbyes.empty());
  CAF_RTM_FUZZ_CHECK(ctx.ends.size() == errors);
}

void check_socket_mode(const frame_batch& in, const client_config& cfg) {
  auto proto = make_socket_mode_protocol(cfg);
  recording_context ctx;
  inbound_batch out;
  proto->on_frames(in, out, ctx);
  // Every frame is an envelope for the router, a hello, a disconnect (which
  // either ends the session or announces its end), or a counted drop.
  CAF_RTM_FUZZ_CHECK(out.envelopes.size() + out.malformed + out.not_object +
                         out.unknown + ctx.hellos.size() + ctx.goodbyes.size() +
                         ctx.ends.size() ==
                     in.sizes.size());
  CAF_RTM_FUZZ_CHECK(out.events.empty() && ctx.pongs.empty());
  CAF_RTM_FUZZ_CHECK(out.session_ending == !ctx.goodbyes.empty());
  for (const auto& reason : ctx.goodbyes)
    CAF_RTM_FUZZ_CHECK(!reason.empty());
  for (auto orderly : ctx.ends)
    CAF_RTM_FUZZ_CHECK(orderly);
  // Envelopes that take no response payload are acked on receipt, in order,
  // each with a JSON object that names exactly that envelope.
  // Those it tried to write after the session began to end are counted as
  // not written, and none after.
  auto acked = std::count(ctx.written.begin(), ctx.written.end(), true);
  CAF_RTM_FUZZ_CHECK(out.acked == static_cast<size_t>(acked));
  CAF_RTM_FUZZ_CHECK(out.acked + out.acks_unwritten == ctx.writes.size());
  CAF_RTM_FUZZ_CHECK(
      std::is_sorted(ctx.written.begin(), ctx.written.end(), std::greater<>{}));
  size_t next_ack = 0;
  // Each envelope keeps the read time of its own frame: the frames' times
  // all differ and rise, and so do the envelopes'.
  std::chrono::steady_clock::time_point last_read{};
  for (const auto& env : out.envelopes) {
    CAF_RTM_FUZZ_CHECK(env.valid());
    CAF_RTM_FUZZ_CHECK(!env.id().empty());
    CAF_RTM_FUZZ_CHECK(env.connection() == session_nr);
    auto read_at = frame_parser::read_at(env);
    CAF_RTM_FUZZ_CHECK(
        std::binary_search(in.read_at.begin(), in.read_at.end(), read_at));
    CAF_RTM_FUZZ_CHECK(read_at > last_read);
    last_read = read_at;
    if (env.accepts_response_payload())
      continue;
    CAF_RTM_FUZZ_CHECK(next_ack < ctx.writes.size());
    const auto& text = ctx.writes[next_ack++];
    json::error_code ec;
    auto ack = json::parse(text, ec);
    CAF_RTM_FUZZ_CHECK_MSG(!ec && ack.is_object(), text);
    const auto& obj = ack.get_object();
    CAF_RTM_FUZZ_CHECK_MSG(obj.size() == 1, text);
    auto* id = obj.if_contains("envelope_id");
    CAF_RTM_FUZZ_CHECK_MSG(
        id && id->is_string() && id->get_string() == env.id(), text);
  }
  CAF_RTM_FUZZ_CHECK(next_ack == ctx.writes.size());
  // Every frame was read more than a second ago (two seconds, plus a
  // nanosecond per frame before it); the first acked one the longest ago.
  CAF_RTM_FUZZ_CHECK(out.acked == 0 ||
                     out.ack_latency_max >= std::chrono::seconds{1});
  CAF_RTM_FUZZ_CHECK(out.ack_latency_sum >=
                     std::chrono::seconds{1} * out.acked);
  CAF_RTM_FUZZ_CHECK(out.ack_latency_sum <= out.ack_latency_max * out.acked);
  for (const auto& info : ctx.hellos) {
    CAF_RTM_FUZZ_CHECK(info.approximate_connection_time.count() >= 0);
    fuzz::touch(info.app_id);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  frame_batch in;
  // Each frame read a nanosecond after the one before, two seconds ago.
  auto read_at = std::chrono::steady_clock::now() - std::chrono::seconds{2};
  size_t pos = 0;
  for (;;) {
    auto end = input.find('\n', pos);
    auto frame =
        input.substr(pos, end == std::string_view::npos ? std::string_view::npos
                                                        : end - pos);
    in.bytes.append(frame.data(), frame.size());
    in.sizes.push_back(static_cast<uint32_t>(frame.size()));
    in.read_at.push_back(read_at);
    read_at += std::chrono::nanoseconds{1};
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  client_config cfg;
  cfg.bot_token = "xoxb-fuzz";
  check_rtm(in, cfg);
  check_socket_mode(in, cfg);
  return 0;
}
