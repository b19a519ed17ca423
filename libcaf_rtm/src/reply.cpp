#include "caf/rtm/reply.hpp"

#include <boost/json/object.hpp>

#include "detail/event_fields.hpp"

namespace caf::rtm {

namespace {

// The thread of a message with these `thread_ts` and `ts` fields.
std::string thread_of(std::string_view thread_ts, std::string_view ts,
                      reply_in where) {
  if (!thread_ts.empty())
    return std::string{thread_ts};
  if (where == reply_in::place)
    return {};
  return std::string{ts};
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

} // namespace

std::string reply_thread(const event& ev, reply_in where) {
  return thread_of(ev.thread_ts(), ev.ts(), where);
}

std::string reply_thread(const envelope& env, reply_in where) {
  // events_api: the inner event's fields, indexed at parse time.
  if (!env.event().empty())
    return thread_of(env.thread_ts(), env.ts(), where);
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
  return post(env.channel(), std::move(text), reply_thread(env, where), where);
}

} // namespace caf::rtm
