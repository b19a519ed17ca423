// The RTM protocol part: `rtm.connect` hands out the URL; `hello`, `goodbye`,
// `team_migration_started`, `error` and the pongs of the ping monitor's JSON
// pings are control frames; everything else is an event for the router
// (acks of sent messages included: the router's outbox matches them).

#include "detail/protocol.hpp"

#include <string_view>

#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/message_ids.hpp"
#include "detail/slack_answers.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

caf::error server_error(const event& ev) {
  std::string msg = "error event";
  int64_t code = 0;
  if (auto* e = ev.json().if_contains("error"); e && e->is_object()) {
    if (auto* m = e->get_object().if_contains("msg"); m && m->is_string())
      msg = std::string{m->get_string()};
    if (auto* c = e->get_object().if_contains("code"); c && c->is_int64())
      code = c->get_int64();
  }
  return make_error(errc::server_error, code, msg);
}

class rtm_protocol : public protocol {
public:
  explicit rtm_protocol(const client_config& cfg)
      : presence_sub_(cfg.presence_sub),
        batch_presence_aware_(cfg.batch_presence_aware) {
    // nop
  }

  const char* name() const noexcept override {
    return "RTM";
  }

  bool wants_identity() const noexcept override {
    return true;
  }

  std::string endpoint_method() const override {
    return "rtm.connect";
  }

  api_args endpoint_args() const override {
    api_args args;
    if (batch_presence_aware_)
      args["batch_presence_aware"] = "true";
    if (presence_sub_)
      args["presence_sub"] = "true";
    return args;
  }

  caf::expected<rtm_endpoint>
  to_endpoint(const json::object& answer) const override {
    return to_rtm_endpoint(answer);
  }

  bool json_pings() const noexcept override {
    return true;
  }

  bool acks_on_receipt() const noexcept override {
    return false;
  }

  bool times_frames() const noexcept override {
    return false;
  }

  void on_frames(const frame_batch& in, inbound_batch& out,
                 session_context& ctx) const override {
    out.events.reserve(in.sizes.size());
    std::string_view bytes{in.bytes};
    size_t offset = 0;
    for (auto size : in.sizes) {
      auto frame = bytes.substr(offset, size);
      offset += size;
      auto ev = ctx.parser().parse_event(frame, ctx.session());
      if (!ev) {
        if (ctx.parser().last_failure() == frame_parser::failure::malformed)
          ++out.malformed;
        else
          ++out.not_object;
        CAF_RTM_LOG(ctx.log(), debug, "connection",
                    "dropped a frame: ", ctx.parser().last_error());
        keep_other(frame, out);
        continue;
      }
      if (on_control(ev, out, ctx))
        out.events.push_back(std::move(ev));
      else
        keep_other(frame, out);
    }
  }

private:
  static void keep_other(std::string_view frame, inbound_batch& out) {
    out.other_frames.emplace_back(static_cast<uint32_t>(out.events.size()),
                                  std::string{frame});
  }

  // Acts on a control frame; returns false if the frame is internal and must
  // not reach the router.
  static bool on_control(const event& ev, inbound_batch& out,
                         session_context& ctx) {
    auto type = ev.type();
    if (type == "hello") {
      ctx.hello(hello_info{});
    } else if (type == "goodbye" || type == "team_migration_started") {
      out.session_ending = true;
      ctx.goodbye(std::string{type});
    } else if (type == "error" && !ev.reply_to()) {
      // Socket-level trouble such as an expired URL: this session is over.
      ctx.end(server_error(ev), true);
    } else if (type == "pong") {
      if (auto* marker = ev.json().if_contains(message_ids::ping_marker);
          marker && marker->is_string()) {
        ctx.monitor_pong(std::string{marker->get_string()});
        return false;
      }
    }
    return true;
  }

  bool presence_sub_;
  bool batch_presence_aware_;
};

} // namespace

session_context::~session_context() = default;

protocol::~protocol() = default;

protocol_ptr make_rtm_protocol(const client_config& cfg) {
  return std::make_shared<rtm_protocol>(cfg);
}

} // namespace caf::rtm::detail
