#include "server_state.hpp"

#include "wire.hpp"

#include <boost/json.hpp> // json::object, json::parse, json::serialize
#include <boost/url/parse_query.hpp> // urls::parse_query

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

namespace json = boost::json;
namespace urls = boost::urls;

namespace caf::rtm::testing {

// -- http_response ------------------------------------------------------------

http_response http_response::ok(std::string json_fields) {
  http_response result;
  result.body = "{\"ok\":true";
  if (!json_fields.empty()) {
    result.body += ',';
    result.body += json_fields;
  }
  result.body += '}';
  return result;
}

http_response http_response::error(std::string code) {
  http_response result;
  json::object obj;
  obj["ok"] = false;
  obj["error"] = code;
  result.body = json::serialize(obj);
  return result;
}

http_response http_response::rate_limited(std::string retry_after) {
  http_response result;
  result.status = 429;
  if (!retry_after.empty())
    result.headers.emplace_back("Retry-After", std::move(retry_after));
  result.body = R"({"ok":false,"error":"ratelimited"})";
  return result;
}

ws_session::~ws_session() {
  // nop
}

namespace detail {

namespace {

bool starts_with_nocase(std::string_view str, std::string_view prefix) {
  if (str.size() < prefix.size())
    return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(str[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string text_frame(const std::string& text) {
  std::string out;
  append_frame(out, op_text, text);
  return out;
}

} // namespace

session_control::~session_control() {
  // nop
}

// -- session_record -----------------------------------------------------------

session_record::session_record(std::size_t index, ack_policy policy)
    : index_(index), policy_(policy) {
  // nop
}

session_record::~session_record() {
  // nop
}

template <class F>
void session_record::with_control(F&& f) {
  // Holding the link lock while posting keeps the server's shutdown from
  // running in between (it detaches every record before tearing down I/O).
  std::lock_guard<std::mutex> guard{link_mtx_};
  if (auto ctrl = control_.lock())
    f(*ctrl);
}

std::size_t session_record::index() const {
  return index_;
}

void session_record::send(std::string text) {
  with_control(
      [&](session_control& ctrl) { ctrl.post_data(text_frame(text)); });
}

void session_record::send_fragmented(std::string text, std::size_t parts) {
  parts = std::max<std::size_t>(parts, 1);
  std::string out;
  auto base = text.size() / parts;
  auto extra = text.size() % parts;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < parts; ++i) {
    auto len = base + (i < extra ? 1 : 0);
    append_frame(out, i == 0 ? op_text : op_continuation,
                 std::string_view{text}.substr(pos, len), i + 1 == parts);
    pos += len;
  }
  with_control([&](session_control& ctrl) { ctrl.post_data(std::move(out)); });
}

void session_record::send_binary(std::string bytes) {
  std::string out;
  append_frame(out, op_binary, bytes);
  with_control([&](session_control& ctrl) { ctrl.post_data(std::move(out)); });
}

void session_record::send_raw(std::string bytes) {
  with_control(
      [&](session_control& ctrl) { ctrl.post_data(std::move(bytes)); });
}

void session_record::send_goodbye() {
  send(R"({"type":"goodbye"})");
}

void session_record::flood(
    std::size_t n, std::function<std::string(std::size_t, int64_t)> make) {
  if (n == 0 || !make)
    return;
  with_control([&](session_control& ctrl) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      requested_ += n;
    }
    ctrl.post_flood(n, std::move(make));
  });
}

void session_record::pace(
    std::size_t n, double per_second,
    std::function<std::string(std::size_t, int64_t)> make) {
  if (n == 0 || !make)
    return;
  with_control([&](session_control& ctrl) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      requested_ += n;
    }
    ctrl.post_pace(n, per_second, std::move(make));
  });
}

void session_record::ack(int64_t id, std::string ts) {
  std::optional<std::string> text;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = pending_texts_.find(id); i != pending_texts_.end()) {
      text = std::move(i->second);
      pending_texts_.erase(i);
    }
  }
  send(ack_ok_json(id, ts, text));
}

void session_record::ack_error(int64_t id, int code, std::string msg) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    pending_texts_.erase(id);
  }
  send(ack_error_json(id, code, msg));
}

void session_record::set_ack_policy(ack_policy policy) {
  std::lock_guard<std::mutex> guard{mtx_};
  policy_ = policy;
}

void session_record::close(uint16_t code, std::string reason) {
  with_control(
      [&](session_control& ctrl) { ctrl.post_close(code, std::move(reason)); });
}

void session_record::drop() {
  with_control([](session_control& ctrl) { ctrl.post_drop(); });
}

void session_record::go_silent() {
  with_control([](session_control& ctrl) { ctrl.post_silent(); });
}

std::vector<std::string> session_record::received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return texts_;
}

bool session_record::wait_received(std::size_t n,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] { return texts_.size() >= n; });
}

std::size_t session_record::pings_received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pings_;
}

std::vector<std::string> session_record::pongs_received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pongs_;
}

bool session_record::ended() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return ended_;
}

bool session_record::wait_ended(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] { return ended_; });
}

std::optional<uint16_t> session_record::close_code_received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return close_code_;
}

std::size_t session_record::frames_written() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return written_;
}

bool session_record::wait_written(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  // An ended session never writes the rest: stop waiting early.
  cv_.wait_for(guard, timeout,
               [&] { return written_ >= requested_ || ended_; });
  return written_ >= requested_;
}

void session_record::attach(std::weak_ptr<session_control> control) {
  std::lock_guard<std::mutex> guard{link_mtx_};
  control_ = std::move(control);
}

void session_record::detach() {
  std::lock_guard<std::mutex> guard{link_mtx_};
  control_.reset();
}

ack_policy session_record::policy() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return policy_;
}

void session_record::add_text(std::string text) {
  std::lock_guard<std::mutex> guard{mtx_};
  texts_.push_back(std::move(text));
  cv_.notify_all();
}

void session_record::add_ping() {
  std::lock_guard<std::mutex> guard{mtx_};
  ++pings_;
  cv_.notify_all();
}

void session_record::add_pong(std::string payload) {
  std::lock_guard<std::mutex> guard{mtx_};
  pongs_.push_back(std::move(payload));
  cv_.notify_all();
}

void session_record::set_close_code(uint16_t code) {
  std::lock_guard<std::mutex> guard{mtx_};
  close_code_ = code;
  cv_.notify_all();
}

void session_record::add_written(std::size_t frames) {
  std::lock_guard<std::mutex> guard{mtx_};
  written_ += frames;
  cv_.notify_all();
}

void session_record::mark_ended() {
  std::lock_guard<std::mutex> guard{mtx_};
  ended_ = true;
  cv_.notify_all();
}

void session_record::remember_text(int64_t id, std::string text) {
  std::lock_guard<std::mutex> guard{mtx_};
  pending_texts_[id] = std::move(text);
}

// -- server_state -------------------------------------------------------------

server_state::server_state(fake_slack_options options)
    : opts(std::move(options)) {
  // nop
}

std::string server_state::host() const {
  // An address, not "localhost": minimal systems may have no /etc/hosts. The
  // certificate carries the address as an IP subjectAltName.
  return "127.0.0.1";
}

std::string server_state::base_url() const {
  return (opts.tls ? "https://" : "http://") + host() + ":" +
         std::to_string(port()) + "/api/";
}

uint16_t server_state::port() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return port_;
}

void server_state::set_port(uint16_t port) {
  std::lock_guard<std::mutex> guard{mtx_};
  port_ = port;
}

http_response server_state::handle_api(recorded_request req) {
  auto ct = req.headers.find("content-type");
  if (ct != req.headers.end()
          ? starts_with_nocase(ct->second, "application/x-www-form-urlencoded")
          : !req.body.empty())
    req.form = parse_form(req.body);
  std::optional<http_response> scripted;
  handler fn;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    requests_.push_back(req);
    cv_.notify_all();
    if (auto i = scripts_.find(req.method);
        i != scripts_.end() && !i->second.empty()) {
      scripted = std::move(i->second.front());
      i->second.pop_front();
    } else if (auto j = handlers_.find(req.method); j != handlers_.end()) {
      fn = j->second;
    }
  }
  if (scripted)
    return std::move(*scripted);
  if (fn) {
    // A throwing handler is a test bug; answer 500 rather than let the
    // exception reach the I/O thread.
    try {
      return fn(req);
    } catch (const std::exception& e) {
      http_response result;
      result.status = 500;
      result.content_type = "text/plain";
      result.body = std::string{"handler threw: "} + e.what();
      return result;
    } catch (...) {
      http_response result;
      result.status = 500;
      result.content_type = "text/plain";
      result.body = "handler threw";
      return result;
    }
  }
  return default_response(req);
}

http_response server_state::default_response(const recorded_request& req) {
  std::string token;
  if (auto i = req.headers.find("authorization");
      i != req.headers.end() && starts_with_nocase(i->second, "Bearer ")) {
    token = i->second.substr(7);
    auto first = token.find_first_not_of(' ');
    auto last = token.find_last_not_of(' ');
    token = first == std::string::npos ? std::string{}
                                       : token.substr(first, last - first + 1);
  }
  if (token.empty())
    if (auto i = req.form.find("token"); i != req.form.end())
      token = i->second;
  if (token.empty())
    return http_response::error("not_authed");
  if (token != opts.token)
    return http_response::error("invalid_auth");
  http_response result;
  if (req.method == "auth.test") {
    json::object obj;
    obj["ok"] = true;
    obj["url"] = "https://" + opts.team_domain + ".slack.com/";
    obj["team"] = opts.team_name;
    obj["user"] = opts.user_name;
    obj["team_id"] = opts.team_id;
    obj["user_id"] = opts.user_id;
    if (!opts.bot_id.empty())
      obj["bot_id"] = opts.bot_id;
    result.body = json::serialize(obj);
    return result;
  }
  if (req.method == "rtm.connect") {
    auto ticket = random_hex(16);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      tickets_[ticket] = clock_type::now();
    }
    json::object obj;
    obj["ok"] = true;
    obj["url"] = (opts.tls ? "wss://" : "ws://") + host() + ":" +
                 std::to_string(port()) + "/ws/" + ticket;
    obj["self"] = {{"id", opts.user_id}, {"name", opts.user_name}};
    obj["team"] = {{"id", opts.team_id},
                   {"name", opts.team_name},
                   {"domain", opts.team_domain}};
    result.body = json::serialize(obj);
    return result;
  }
  return http_response::error("unknown_method");
}

void server_state::script(const std::string& method, http_response response) {
  std::lock_guard<std::mutex> guard{mtx_};
  scripts_[method].push_back(std::move(response));
}

void server_state::on(const std::string& method, handler fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fn)
    handlers_[method] = std::move(fn);
  else
    handlers_.erase(method);
}

std::vector<recorded_request> server_state::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

std::vector<recorded_request>
server_state::requests(const std::string& method) const {
  std::vector<recorded_request> result;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& req : requests_)
    if (req.method == method)
      result.push_back(req);
  return result;
}

bool server_state::wait_requests(const std::string& method, std::size_t n,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] {
    auto count = std::count_if(requests_.begin(), requests_.end(),
                               [&](auto& req) { return req.method == method; });
    return static_cast<std::size_t>(count) >= n;
  });
}

bool server_state::redeem_ticket(const std::string& ticket) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tickets_.find(ticket);
  if (i == tickets_.end())
    return false;
  auto issued = i->second;
  tickets_.erase(i);
  return clock_type::now() - issued <= opts.url_ttl;
}

std::shared_ptr<session_record>
server_state::open_session(std::weak_ptr<session_control> control) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto rec = std::make_shared<session_record>(sessions_.size(), opts.acks);
  if (!shut_down_)
    rec->attach(std::move(control));
  sessions_.push_back(rec);
  cv_.notify_all();
  return rec;
}

ws_session_ptr server_state::session(std::size_t index,
                                     std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{mtx_};
  if (!cv_.wait_for(guard, timeout, [&] { return sessions_.size() > index; }))
    return nullptr;
  return sessions_[index];
}

std::size_t server_state::session_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sessions_.size();
}

std::size_t server_state::open_sessions() const {
  auto all = all_sessions();
  return static_cast<std::size_t>(std::count_if(
      all.begin(), all.end(), [](auto& rec) { return !rec->ended(); }));
}

std::vector<std::shared_ptr<session_record>>
server_state::all_sessions() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sessions_;
}

void server_state::shut_down() {
  std::vector<std::shared_ptr<session_record>> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    shut_down_ = true;
    all = sessions_;
  }
  for (auto& rec : all)
    rec->detach();
}

std::string server_state::next_ts() {
  uint64_t n;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    n = ++ts_counter_;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%llu.%06llu",
                static_cast<unsigned long long>(1700000000 + n / 1000000),
                static_cast<unsigned long long>(n % 1000000));
  return buf;
}

rtm_replies server_state::on_client_text(session_record& rec,
                                         const std::string& text) {
  rtm_replies result;
  json::error_code ec;
  auto val = json::parse(text, ec);
  if (ec || !val.is_object())
    return result;
  auto& obj = val.get_object();
  auto id_val = obj.if_contains("id");
  if (id_val == nullptr)
    return result;
  int64_t id = 0;
  if (id_val->is_int64())
    id = id_val->get_int64();
  else if (id_val->is_uint64() &&
           id_val->get_uint64() <=
               static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    id = static_cast<int64_t>(id_val->get_uint64());
  else
    return result;
  std::string type;
  if (auto t = obj.if_contains("type"); t != nullptr && t->is_string())
    type = t->get_string();
  if (type == "ping") {
    json::object pong;
    pong["type"] = "pong";
    pong["reply_to"] = id;
    for (auto& kv : obj)
      if (kv.key() != "type" && kv.key() != "id" && !kv.value().is_object() &&
          !kv.value().is_array())
        pong[kv.key()] = kv.value();
    result.now.push_back(json::serialize(pong));
    return result;
  }
  if (type == "typing")
    return result;
  auto ts = next_ts();
  auto text_val = obj.if_contains("text");
  if (opts.echo_messages) {
    json::object ev;
    ev["type"] = "message";
    if (auto channel = obj.if_contains("channel"))
      ev["channel"] = *channel;
    if (text_val != nullptr)
      ev["text"] = *text_val;
    ev["user"] = opts.user_id;
    ev["ts"] = ts;
    ev["reply_to"] = id;
    result.later.push_back(json::serialize(ev));
  }
  switch (rec.policy()) {
  case ack_policy::ok: {
    json::object ack;
    ack["ok"] = true;
    ack["reply_to"] = id;
    ack["ts"] = ts;
    if (text_val != nullptr)
      ack["text"] = *text_val;
    result.later.push_back(json::serialize(ack));
    break;
  }
  case ack_policy::error:
    result.later.push_back(ack_error_json(id, 2, "message text is missing"));
    break;
  case ack_policy::manual:
    if (text_val != nullptr && text_val->is_string())
      rec.remember_text(id, std::string{text_val->get_string()});
    break;
  }
  return result;
}

// -- free functions -----------------------------------------------------------

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> form;
  auto params = urls::parse_query(body);
  if (!params)
    return form;
  urls::encoding_opts opt{true}; // `+` is a space in form bodies
  for (auto param : *params) {
    if (param.key.empty())
      continue;
    form[param.key.decode(opt)] =
        param.has_value ? param.value.decode(opt) : std::string{};
  }
  return form;
}

std::string ack_ok_json(int64_t id, const std::string& ts,
                        const std::optional<std::string>& text) {
  json::object obj;
  obj["ok"] = true;
  obj["reply_to"] = id;
  obj["ts"] = ts;
  if (text)
    obj["text"] = *text;
  return json::serialize(obj);
}

std::string ack_error_json(int64_t id, int code, const std::string& msg) {
  json::object obj;
  obj["ok"] = false;
  obj["reply_to"] = id;
  obj["error"] = {{"code", code}, {"msg", msg}};
  return json::serialize(obj);
}

} // namespace detail

} // namespace caf::rtm::testing
