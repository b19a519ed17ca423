#include "caf/rtm/reply.hpp"

#include <algorithm>
#include <iterator>

#include <boost/json/object.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/event_fields.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace caf::rtm {

namespace {

// The thread of a message with these `thread_ts` and `ts` fields. A thread's
// first message carries its own ts as `thread_ts` once it has replies (in an
// edit, in a button's message): it is in the channel, not in its thread.
std::string thread_of(std::string_view thread_ts, std::string_view ts,
                      reply_in where) {
  if (!thread_ts.empty() && thread_ts != ts)
    return std::string{thread_ts};
  if (where == reply_in::place)
    return {};
  return std::string{ts};
}

// The message a reply to event `ev` answers: its thread and its `ts` (empty
// when it names no message, so that no reply is threaded under an event's
// own `event_ts`).
struct replied_message {
  std::string_view thread_ts;
  std::string_view ts;
};

replied_message replied_to(const boost::json::object& ev) {
  // An edit, a deletion or a new reply in a thread: the event's own ts is
  // the change's, the thread is the message's.
  auto subtype = detail::string_field(ev, "subtype");
  const boost::json::object* inner = nullptr;
  if (subtype == "message_changed" || subtype == "message_replied")
    inner = detail::object_field(ev, "message");
  else if (subtype == "message_deleted")
    inner = detail::object_field(ev, "previous_message");
  if (inner != nullptr)
    return {detail::string_field(*inner, "thread_ts"),
            detail::string_field(*inner, "ts")};
  // An event about an item, without a ts of its own (a message with one,
  // such as a `pinned_item`, is the message): a reaction names the message
  // by `item.ts`, a pin or a star carries it as `item.message`. The
  // message's thread is not in the event.
  auto ts = detail::string_field(ev, "ts");
  if (const auto* item = detail::object_field(ev, "item");
      item != nullptr && ts.empty()) {
    if (auto item_ts = detail::string_field(*item, "ts"); !item_ts.empty())
      return {{}, item_ts};
    if (const auto* msg = detail::object_field(*item, "message"))
      return {detail::string_field(*msg, "thread_ts"),
              detail::string_field(*msg, "ts")};
    return {};
  }
  return {detail::string_field(ev, "thread_ts"), ts};
}

api_call post(std::string_view channel, std::string text, std::string thread,
              reply_in where) {
  api_call call;
  call.method = "chat.postMessage";
  call.args["channel"] = std::string{channel};
  call.args["text"] = std::move(text);
  if (!thread.empty()) {
    call.args["thread_ts"] = std::move(thread);
    if (where == reply_in::thread_and_channel)
      call.args["reply_broadcast"] = "true";
  }
  return call;
}

caf::expected<api_call> ephemeral(std::string_view channel,
                                  std::string_view user, std::string thread,
                                  std::string text) {
  if (channel.empty() || user.empty())
    return make_error(errc::invalid_argument,
                      channel.empty()
                          ? "an ephemeral reply needs a channel to go to"
                          : "an ephemeral reply needs a user to show it to");
  api_call call;
  call.method = "chat.postEphemeral";
  call.args["channel"] = std::string{channel};
  call.args["user"] = std::string{user};
  call.args["text"] = std::move(text);
  if (!thread.empty())
    call.args["thread_ts"] = std::move(thread);
  return call;
}

// `chat.update` or `chat.delete` of the message a post's answer names.
caf::expected<api_call> change(const json_object& posted, const char* method) {
  auto channel = detail::string_field(posted.value, "channel");
  auto ts = detail::string_field(posted.value, "ts");
  if (channel.empty() || ts.empty())
    return make_error(errc::invalid_argument,
                      std::string{method} +
                          ": the answer names no message (channel and ts)");
  api_call call;
  call.method = method;
  call.args["channel"] = std::string{channel};
  call.args["ts"] = std::string{ts};
  return call;
}

} // namespace

std::string reply_thread(const event& ev, reply_in where) {
  auto msg = replied_to(ev.json());
  return thread_of(msg.thread_ts, msg.ts, where);
}

std::string reply_thread(const envelope& env, reply_in where) {
  if (!env.event().empty()) {
    auto msg = replied_to(env.event());
    return thread_of(msg.thread_ts, msg.ts, where);
  }
  // An interaction: the message it came from, if any, read by the same
  // rules as an event (`ts`, else `event_ts`).
  const auto* val = env.payload().if_contains("message");
  if (val == nullptr || !val->is_object())
    return {};
  auto msg = detail::scan_event(val->get_object());
  return thread_of(msg.thread_ts, msg.ts, where);
}

json_object reply_message(const event& ev, std::string_view text,
                          reply_in where) {
  json_object result;
  result.value["type"] = "message";
  result.value["channel"] = ev.channel();
  // A JSON value copies strings into its own storage: nothing to move.
  result.value["text"] = text;
  if (auto thread = reply_thread(ev, where); !thread.empty()) {
    result.value["thread_ts"] = thread;
    if (where == reply_in::thread_and_channel)
      result.value["reply_broadcast"] = true;
  }
  return result;
}

api_call reply_call(const event& ev, std::string text, reply_in where) {
  return post(ev.channel(), std::move(text), reply_thread(ev, where), where);
}

api_call reply_call(const envelope& env, std::string text, reply_in where) {
  auto call =
      post(env.channel(), std::move(text), reply_thread(env, where), where);
  call.team_id = std::string{env.team_id()};
  return call;
}

caf::expected<api_call> reply_ephemeral(const event& ev, std::string text) {
  return ephemeral(ev.channel(), ev.user(), reply_thread(ev, reply_in::place),
                   std::move(text));
}

caf::expected<api_call> reply_ephemeral(const envelope& env, std::string text) {
  auto call = ephemeral(env.channel(), env.user(),
                        reply_thread(env, reply_in::place), std::move(text));
  if (call)
    call->team_id = std::string{env.team_id()};
  return call;
}

caf::expected<api_call> update_call(const json_object& posted,
                                    std::string text) {
  auto call = change(posted, "chat.update");
  if (call) {
    call->args["text"] = std::move(text);
    // Without it, Slack keeps the message's blocks and changes only the
    // notification text. `with_blocks` sets new ones.
    call->args["blocks"] = "[]";
  }
  return call;
}

caf::expected<api_call> delete_call(const json_object& posted) {
  return change(posted, "chat.delete");
}

api_call with_blocks(api_call call, boost::json::array blocks) {
  // A form carries everything as text; in JSON, Slack's flags are booleans
  // and its nested arguments JSON. Every other argument stays a string (a
  // text "true" included).
  static constexpr std::string_view flags[] = {
      "reply_broadcast", "unfurl_links", "unfurl_media",
      "mrkdwn",          "link_names",   "as_user"};
  static constexpr std::string_view nested[] = {"attachments", "metadata"};
  auto is_one_of = [](std::string_view key, const auto& names) {
    return std::find(std::begin(names), std::end(names), key) !=
           std::end(names);
  };
  for (auto& [key, val] : call.args) {
    if (is_one_of(key, flags) && (val == "true" || val == "false")) {
      call.json.value[key] = val == "true";
      continue;
    }
    if (is_one_of(key, nested)) {
      boost::json::error_code ec;
      auto parsed = detail::parse_json(val, ec);
      if (!ec) {
        call.json.value[key] = std::move(parsed);
        continue;
      }
    }
    call.json.value[key] = val;
  }
  call.args.clear();
  call.json.value["blocks"] = std::move(blocks);
  return call;
}

webhook_post with_blocks(webhook_post post, boost::json::array blocks) {
  post.message.value["blocks"] = std::move(blocks);
  return post;
}

caf::expected<webhook_post> respond(const envelope& env, std::string_view text,
                                    respond_as how) {
  auto url = env.response_url();
  if (url.empty())
    return make_error(errc::invalid_argument,
                      "the envelope carries no response_url");
  webhook_post result;
  result.url = std::string{url};
  result.message.value["text"] = text;
  switch (how) {
  case respond_as::ephemeral:
    result.message.value["response_type"] = "ephemeral";
    break;
  case respond_as::in_channel:
    result.message.value["response_type"] = "in_channel";
    break;
  case respond_as::replacement:
    result.message.value["replace_original"] = true;
    break;
  }
  return result;
}

} // namespace caf::rtm
