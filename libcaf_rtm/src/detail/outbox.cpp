#include "detail/outbox.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/message_ids.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

// How long an ack of a message whose session died may still come from the
// next session (Slack sends it right after hello, if at all).
constexpr auto orphan_grace = std::chrono::seconds{2};

// Slack ignores typing indicators closer together than this per channel.
constexpr auto typing_interval = std::chrono::seconds{3};

// Channels remembered for the typing interval before old ones are pruned.
constexpr size_t typing_channels_kept = 1024;

// Slack's limit on message text, in characters.
constexpr size_t max_text_chars = 4000;

// Room for the id the client adds: `"id":<up to 19 digits>,`.
constexpr size_t id_overhead = 26;

size_t utf8_chars(std::string_view x) {
  return static_cast<size_t>(std::count_if(x.begin(), x.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string with_id(int64_t id, const std::string& body) {
  std::string result = "{\"id\":";
  result += std::to_string(id);
  if (body.size() > 2) {
    result += ',';
    result.append(body, 1, std::string::npos);
  } else {
    result += '}';
  }
  return result;
}

} // namespace

outbox::outbox(limits lim, time_point now)
    : limits_(lim), bucket_(lim.rate, lim.burst, now),
      next_id_(message_ids::first_router_id) {
  // nop
}

// -- commands -----------------------------------------------------------------

namespace {

// Messages Slack never acks: sent as any message, they would wait for an
// ack until `ack_timeout` and count as failed.
bool never_acked(std::string_view type) {
  return type == "typing" || type == "presence_query";
}

// A user's own `presence_sub` (plain or without an ack) is refused: the
// router states its list after every hello (enqueue_standing), and a list of
// the user's would replace it until the next one.
caf::error users_presence_sub(std::string_view type) {
  if (type == "presence_sub")
    return make_error(errc::invalid_argument,
                      "presence_sub goes through presence_atom");
  return caf::none;
}

// Slack's code and text of an `ok:false` reply.
caf::error rejection(const event& ev) {
  std::string code = "unknown";
  std::string msg;
  if (auto* e = ev.json().if_contains("error"); e && e->is_object()) {
    const auto& obj = e->get_object();
    if (auto* c = obj.if_contains("code"))
      code = json::serialize(*c);
    if (auto* m = obj.if_contains("msg"); m && m->is_string())
      msg = std::string{m->get_string()};
  } else if (e && e->is_string()) {
    code = std::string{e->get_string()};
  }
  return make_error(errc::send_rejected, code, msg);
}

} // namespace

caf::error outbox::enqueue(json::object msg, send_handler done, time_point now,
                           std::optional<time_point> deadline) {
  std::string body;
  if (auto err = check(msg, body))
    return err;
  std::string_view type = msg.at("type").get_string();
  if (auto err = users_presence_sub(type))
    return err;
  // Answered once handed to the connection, as with enqueue_unacked.
  queue_.push_back({std::move(body), std::move(done), nullptr, deadline,
                    never_acked(type), false, type == "ping", next_seq_++});
  pump(now);
  return caf::none;
}

caf::error outbox::enqueue_unacked(json::object msg, send_handler done,
                                   time_point now) {
  std::string body;
  if (auto err = check(msg, body))
    return err;
  if (auto err = users_presence_sub(msg.at("type").get_string()))
    return err;
  queue_.push_back({std::move(body), std::move(done), nullptr, std::nullopt,
                    true, false, false, next_seq_++});
  pump(now);
  return caf::none;
}

caf::error outbox::enqueue_standing(json::object msg, send_handler done,
                                    time_point now) {
  auto err = queue_standing(std::move(msg), std::move(done));
  pump(now);
  return err;
}

caf::error outbox::queue_standing(json::object msg, send_handler done) {
  drop_standing();
  std::string body;
  // There is one at most: a full queue does not keep it out, and it goes
  // first (the session's subscription must not wait behind a backlog, nor be
  // lost to one until the next hello).
  if (auto err = check(msg, body); err && err != errc::send_queue_full)
    return err;
  queue_.push_front({std::move(body), std::move(done), nullptr, std::nullopt,
                     true, true, false, next_seq_++});
  return caf::none;
}

void outbox::drop_standing() noexcept {
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [](const queued_item& x) { return x.standing; }),
               queue_.end());
}

caf::error outbox::refusal(const json::object& msg) const {
  auto copy = msg;
  std::string body;
  if (auto err = check(copy, body); err && err != errc::send_queue_full)
    return err;
  return caf::none;
}

caf::error outbox::check(json::object& msg, std::string& body) const {
  auto* type = msg.if_contains("type");
  if (type == nullptr || !type->is_string())
    return make_error(errc::invalid_argument,
                      "an RTM message needs a string \"type\"");
  if (auto* text = msg.if_contains("text");
      text && text->is_string() &&
      utf8_chars(text->get_string()) > max_text_chars)
    return make_error(errc::text_too_long, "text over " +
                                               std::to_string(max_text_chars) +
                                               " characters");
  msg.erase("id"); // ids are the client's business
  body = json::serialize(msg);
  if (body.size() + id_overhead > limits_.max_message_size)
    return make_error(errc::message_too_large,
                      std::to_string(body.size()) + " bytes, limit " +
                          std::to_string(limits_.max_message_size));
  if (queued() >= limits_.queue_size)
    return make_error(errc::send_queue_full,
                      std::to_string(queued()) + " messages waiting");
  return caf::none;
}

bool outbox::typing(const std::string& channel, time_point now) {
  if (!write_ || channel.empty())
    return false;
  if (auto i = last_typing_.find(channel);
      i != last_typing_.end() && now - i->second < typing_interval)
    return false;
  json::object msg;
  auto id = next_id_;
  msg["id"] = id;
  msg["type"] = "typing";
  msg["channel"] = channel;
  auto frame = json::serialize(msg);
  // Slack ends the session of a client that sends a frame over its limit.
  if (frame.size() > limits_.max_message_size)
    return false;
  // Typing is best effort: it never waits for, nor delays, real messages.
  if (!queue_.empty() || !unsent_.empty() || !bucket_.try_take(now))
    return false;
  if (last_typing_.size() >= typing_channels_kept) {
    for (auto i = last_typing_.begin(); i != last_typing_.end();)
      i = now - i->second >= typing_interval ? last_typing_.erase(i) : ++i;
  }
  ++next_id_;
  last_typing_[channel] = now;
  write_(id, std::move(frame));
  return true;
}

caf::error outbox::ping(ping_handler done, time_point now) {
  if (!write_)
    return make_error(errc::not_connected, "no session");
  if (queued() >= limits_.queue_size)
    return make_error(errc::send_queue_full,
                      std::to_string(queued()) + " messages waiting");
  queue_.push_back({R"({"type":"ping"})", nullptr, std::move(done),
                    std::nullopt, false, false, false, next_seq_++});
  pump(now);
  return caf::none;
}

// -- sessions -----------------------------------------------------------------

void outbox::session_up(uint64_t session, writer write, time_point now) {
  session_up(session, std::move(write), now, {}, nullptr);
}

caf::error outbox::session_up(uint64_t session, writer write, time_point now,
                              json::object statement, send_handler done) {
  session_ = session;
  write_ = std::move(write);
  // Its owner states a standing request anew for every session: what still
  // waits of it was said for an older one. The new statement goes before
  // anything the burst would send now.
  drop_standing();
  caf::error err;
  if (!statement.empty())
    err = queue_standing(std::move(statement), std::move(done));
  auto grace = std::min<caf::timespan>(orphan_grace, limits_.ack_timeout);
  for (auto& [id, x] : acks_)
    if (x.orphaned)
      x.deadline = std::min(x.deadline, now + grace);
  pump(now);
  return err;
}

void outbox::session_ending(uint64_t session) {
  if (session != session_ || !write_)
    return;
  write_ = nullptr;
  fail_queued_pings();
}

void outbox::fail_queued_pings() {
  // A user's ping checks the session it was asked on: one still waiting for
  // a token when that session stops writing never goes out, and no next
  // session may be coming.
  std::vector<ping_handler> failed;
  for (auto i = queue_.begin(); i != queue_.end();) {
    if (i->on_pong) {
      failed.push_back(std::move(i->on_pong));
      i = queue_.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& f : failed)
    f(make_error(errc::not_connected,
                 "session ended before the ping went out"));
}

void outbox::session_down(uint64_t session) {
  for (auto& [id, x] : acks_)
    if (x.session == session)
      x.orphaned = true;
  // The connection handed back what it never wrote before it ended (its
  // message came first); the rest reached the socket.
  for (auto i = unacked_.begin(); i != unacked_.end();)
    i = i->second.session == session ? unacked_.erase(i) : std::next(i);
  if (session == session_) {
    session_ending(session);
    session_ = 0;
  }
  // A ping's pong comes on its own session or never.
  for (auto i = pongs_.begin(); i != pongs_.end();) {
    if (i->second.session == session) {
      i->second.on_pong(make_error(errc::not_connected, "session ended"));
      i = pongs_.erase(i);
    } else {
      ++i;
    }
  }
}

void outbox::written(int64_t id) {
  unacked_.erase(id);
}

void outbox::unsent(int64_t id, time_point now) {
  // A connection hands a message back only once its session writes no more:
  // whatever went to that session from here on would be lost with it.
  if (auto i = acks_.find(id); i != acks_.end()) {
    session_ending(i->second.session);
    --stats_.sent;
    hand_back({std::move(i->second.body), std::move(i->second.on_ack), nullptr,
               i->second.send_by, false, false, i->second.ping, i->second.seq});
    acks_.erase(i);
    pump(now);
  } else if (auto k = unacked_.find(id); k != unacked_.end()) {
    session_ending(k->second.session);
    --stats_.sent;
    // The next hello states a standing request as it is by then.
    if (!k->second.standing)
      hand_back({std::move(k->second.body), nullptr, nullptr, k->second.send_by,
                 true, false, false, k->second.seq});
    unacked_.erase(k);
    pump(now);
  } else if (auto j = pongs_.find(id); j != pongs_.end()) {
    j->second.on_pong(make_error(errc::not_connected, "session ended"));
    pongs_.erase(j);
  }
}

void outbox::hand_back(queued_item item) {
  // In the order they were first queued, however they come back: one the
  // connection bounced at once (its session was ending) comes back before
  // older ones still queued in its I/O layer, and one sent again and handed
  // back again keeps its place.
  auto pos = std::upper_bound(
      unsent_.begin(), unsent_.end(), item.seq,
      [](uint64_t seq, const queued_item& x) { return seq < x.seq; });
  unsent_.insert(pos, std::move(item));
}

void outbox::unsent_after(uint64_t session, int64_t last_handed,
                          time_point now) {
  session_ending(session);
  std::vector<int64_t> ids;
  for (auto& [id, x] : acks_)
    if (x.session == session && id > last_handed)
      ids.push_back(id);
  for (auto& [id, x] : unacked_)
    if (x.session == session && id > last_handed)
      ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (auto id : ids)
    unsent(id, now);
}

// -- the wire -----------------------------------------------------------------

bool outbox::on_reply(const event& ev, time_point now) {
  auto reply_to = ev.reply_to();
  if (!reply_to)
    return false;
  if (ev.ok()) {
    on_ack(ev, *reply_to);
    return true;
  }
  if (ev.type() != "pong")
    return false;
  if (auto i = pongs_.find(*reply_to); i != pongs_.end()) {
    i->second.on_pong(
        std::chrono::duration_cast<caf::timespan>(now - i->second.sent));
    pongs_.erase(i);
    return true;
  }
  // A ping sent as a message: its pong is its ack.
  if (auto i = acks_.find(*reply_to); i != acks_.end() && i->second.ping) {
    auto done = std::move(i->second.on_ack);
    acks_.erase(i);
    ++stats_.acked;
    send_ack ack;
    ack.id = *reply_to;
    done(std::move(ack));
    return true;
  }
  return false;
}

void outbox::on_ack(const event& ev, int64_t id) {
  auto i = acks_.find(id);
  if (i == acks_.end()) {
    if (*ev.ok())
      return; // e.g. the ack of a typing indicator, or of a timed-out message
    // Slack refused a ping (sent too fast): that is its answer, no pong
    // comes.
    if (auto j = pongs_.find(id); j != pongs_.end()) {
      j->second.on_pong(rejection(ev));
      pongs_.erase(j);
      return;
    }
    // The ping monitor's own pings (`pings = rtm`) are none of the user's.
    if (!message_ids::is_router_id(id))
      return;
    if (late_refusals_.count++ == 0)
      late_refusals_.first = rejection(ev);
    return;
  }
  auto done = std::move(i->second.on_ack);
  acks_.erase(i);
  if (*ev.ok()) {
    ++stats_.acked;
    send_ack ack;
    ack.id = id;
    ack.ts = std::string{ev.ts()};
    if (auto* text = ev.json().if_contains("text"); text && text->is_string())
      ack.text = std::string{text->get_string()};
    done(std::move(ack));
    return;
  }
  ++stats_.failed;
  done(rejection(ev));
}

// -- time ---------------------------------------------------------------------

void outbox::on_wakeup(time_point now) {
  expire(now);
  pump(now);
}

std::optional<outbox::time_point> outbox::next_wakeup(time_point now) {
  std::optional<time_point> result;
  auto consider = [&result](time_point t) {
    if (!result || t < *result)
      result = t;
  };
  if (write_ && queued() > 0)
    consider(now + bucket_.time_to_next(now));
  for (auto& [id, x] : acks_)
    consider(effective_deadline(x));
  for (auto& [id, x] : pongs_)
    consider(effective_deadline(x));
  for (const auto* xs : {&unsent_, &queue_})
    for (auto& x : *xs)
      if (x.deadline)
        consider(*x.deadline);
  return result;
}

void outbox::pump(time_point now) {
  while (write_ && (!unsent_.empty() || !queue_.empty())) {
    // The standing statement first (it is at the front of queue_ if
    // queued), then what came back unwritten, then the queue.
    auto standing_first = !queue_.empty() && queue_.front().standing;
    auto& from = unsent_.empty() || standing_first ? queue_ : unsent_;
    // Past its max_wait (the wakeup that fails it may not have come yet):
    // never written.
    if (auto& x = from.front(); x.deadline && *x.deadline <= now) {
      auto done = std::move(x.on_ack);
      from.pop_front();
      fail_expired(done);
      continue;
    }
    if (!bucket_.try_take(now))
      return; // the router wakes us at next_wakeup()
    auto item = std::move(from.front());
    from.pop_front();
    // A fresh id even for a message that comes back unsent: ids are unique
    // per connection, and the old one may have reached the old connection.
    auto id = next_id_++;
    if (item.on_pong) {
      pongs_.emplace(id, awaiting_pong{std::move(item.on_pong), now,
                                       now + limits_.ack_timeout,
                                       caf::timespan{0}, session_});
      write_(id, with_id(id, item.body));
      continue;
    }
    auto frame = with_id(id, item.body);
    ++stats_.sent;
    if (item.no_ack) {
      // Answered now; kept until its socket has it only in case the
      // connection hands it back unwritten.
      auto done = std::move(item.on_ack);
      unacked_.emplace(id,
                       written_unacked{session_, std::move(item.body),
                                       item.standing, item.deadline, item.seq});
      write_(id, std::move(frame));
      if (done) {
        send_ack ack;
        ack.id = id;
        done(std::move(ack));
      }
      continue;
    }
    acks_.emplace(id, awaiting{std::move(item.on_ack), session_, now,
                               now + limits_.ack_timeout, caf::timespan{0},
                               false, std::move(item.body), item.deadline,
                               item.ping, item.seq});
    write_(id, std::move(frame));
  }
}

void outbox::fail_expired(const send_handler& done) {
  ++stats_.failed;
  // One Slack never acks was answered when it was first handed over: its
  // caller asked for no late write, and gets no second answer.
  if (done)
    done(make_error(errc::send_expired, "not sent within its max_wait"));
  else
    ++expired_answered_;
}

void outbox::expire_queued(std::deque<queued_item>& xs, time_point now) {
  // Messages that could not go out in time never will: the caller gave up.
  for (auto i = xs.begin(); i != xs.end();) {
    if (!i->deadline || *i->deadline > now) {
      ++i;
      continue;
    }
    auto done = std::move(i->on_ack);
    i = xs.erase(i);
    fail_expired(done);
  }
}

void outbox::expire(time_point now) {
  expire_queued(unsent_, now);
  expire_queued(queue_, now);
  for (auto i = acks_.begin(); i != acks_.end();) {
    if (effective_deadline(i->second) > now) {
      ++i;
      continue;
    }
    ++stats_.failed;
    auto id = i->first;
    auto done = std::move(i->second.on_ack);
    auto orphaned = i->second.orphaned;
    i = acks_.erase(i);
    if (orphaned)
      done(make_error(errc::delivery_unknown,
                      "session ended before the ack of message " +
                          std::to_string(id)));
    else
      done(make_error(errc::ack_timeout,
                      "no ack for message " + std::to_string(id)));
  }
  for (auto i = pongs_.begin(); i != pongs_.end();) {
    if (effective_deadline(i->second) > now) {
      ++i;
      continue;
    }
    auto done = std::move(i->second.on_pong);
    i = pongs_.erase(i);
    done(make_error(errc::ack_timeout, "no pong"));
  }
}

void outbox::hold_replies(time_point now) {
  if (!replies_held_since_)
    replies_held_since_ = now;
}

void outbox::release_replies(time_point now) {
  if (!replies_held_since_)
    return;
  for (auto& [id, x] : acks_)
    extend(x, now);
  for (auto& [id, x] : pongs_)
    extend(x, now);
  replies_held_since_.reset();
}

// -- ending -------------------------------------------------------------------

uint64_t outbox::fail_queued(const caf::error& err) {
  uint64_t answered = 0;
  for (auto* q : {&unsent_, &queue_}) {
    auto items = std::move(*q);
    q->clear();
    for (auto& x : items) {
      if (x.on_pong) {
        x.on_pong(err);
      } else if (x.standing) {
        if (x.on_ack) // the client's own: no user message failed
          x.on_ack(err);
      } else {
        ++stats_.failed;
        if (x.on_ack)
          x.on_ack(err);
        else if (x.no_ack)
          ++answered;
      }
    }
  }
  return answered;
}

void outbox::fail_awaiting(const caf::error& err) {
  auto acks = std::move(acks_);
  acks_.clear();
  // Messages without an ack are answered already; their connection still
  // tells whether it wrote them, and one handed back must fail with a word
  // (`fail_queued`), not vanish.
  for (auto& [id, x] : acks) {
    ++stats_.failed;
    x.on_ack(make_error(errc::delivery_unknown,
                        "message " + std::to_string(id) +
                            " sent, no ack: " + render(err)));
  }
  auto pongs = std::move(pongs_);
  pongs_.clear();
  for (auto& [id, x] : pongs)
    x.on_pong(err);
}

} // namespace caf::rtm::detail
