#include "server_state.hpp"

#include "wire.hpp"

#include <boost/json.hpp>       // json::object, json::parse, json::serialize
#include <boost/url/encode.hpp> // urls::encode
#include <boost/url/parse_query.hpp>          // urls::parse_query
#include <boost/url/rfc/unreserved_chars.hpp> // urls::unreserved_chars

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace json = boost::json;
namespace urls = boost::urls;

namespace caf::rtm::testing {

namespace {

/// A 200 answer with `obj` as its JSON body: every answer of Slack's Web API.
http_response json_answer(const json::object& obj) {
  http_response result;
  result.body = json::serialize(obj);
  return result;
}

} // namespace

// -- http_response ------------------------------------------------------------

http_response http_response::ok(const std::string& json_fields) {
  http_response result;
  result.body = "{\"ok\":true";
  if (!json_fields.empty()) {
    result.body += ',';
    result.body += json_fields;
  }
  result.body += '}';
  return result;
}

http_response http_response::error(const std::string& code) {
  json::object obj;
  obj["ok"] = false;
  obj["error"] = code;
  return json_answer(obj);
}

http_response http_response::rate_limited(std::string retry_after) {
  http_response result;
  result.status = 429;
  if (!retry_after.empty())
    result.headers.emplace_back("Retry-After", std::move(retry_after));
  result.body = R"({"ok":false,"error":"ratelimited"})";
  return result;
}

http_response http_response::text(unsigned status, std::string body) {
  http_response result;
  result.status = status;
  result.content_type = "text/plain";
  result.body = std::move(body);
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

/// The token of `Authorization: Bearer <token>` ("" if none).
std::string bearer_token(const recorded_request& req) {
  auto i = req.headers.find("authorization");
  if (i == req.headers.end() || !starts_with_nocase(i->second, "Bearer "))
    return {};
  auto token = i->second.substr(7);
  auto first = token.find_first_not_of(' ');
  auto last = token.find_last_not_of(' ');
  return first == std::string::npos ? std::string{}
                                    : token.substr(first, last - first + 1);
}

/// A method's arguments, from the form or a JSON body (values that are no
/// strings as their JSON text).
std::map<std::string, std::string> args_of(const recorded_request& req) {
  if (!req.form.empty())
    return req.form;
  json::error_code ec;
  auto body = json::parse(req.body, ec);
  std::map<std::string, std::string> result;
  if (ec || !body.is_object())
    return result;
  for (auto& kv : body.get_object())
    result[kv.key()] = kv.value().is_string()
                           ? std::string{kv.value().get_string()}
                           : json::serialize(kv.value());
  return result;
}

/// A non-negative decimal number, nothing else.
std::optional<std::size_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 12 ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<std::size_t>(std::stoull(text));
}

/// Parses JSON given by a test; a typo there is the test's bug, reported on
/// the test's thread.
json::value parse_test_json(const std::string& text, const char* what) {
  json::error_code ec;
  auto result = json::parse(text, ec);
  if (ec)
    throw std::invalid_argument(std::string{"fake_slack: "} + what +
                                " is not JSON: " + ec.message());
  return result;
}

/// Envelope ids look like Slack's: a random UUID.
std::string new_envelope_id() {
  auto hex = random_hex(16);
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) +
         '-' + hex.substr(16, 4) + '-' + hex.substr(20);
}

std::string envelope_json(const std::string& envelope_id,
                          const std::string& type, const std::string& payload,
                          bool accepts_response_payload,
                          std::optional<uint32_t> retry_attempt) {
  json::object obj;
  obj["envelope_id"] = envelope_id;
  obj["type"] = type;
  obj["payload"] = json::parse(payload); // compact JSON we made ourselves
  obj["accepts_response_payload"] = accepts_response_payload;
  if (retry_attempt) {
    obj["retry_attempt"] = *retry_attempt;
    obj["retry_reason"] = *retry_attempt == 0 ? "" : "timeout";
  }
  return json::serialize(obj);
}

json::object debug_info() {
  json::object obj;
  obj["host"] = "fake-slack";
  return obj;
}

} // namespace

scheduler::~scheduler() {
  // nop
}

session_control::~session_control() {
  // nop
}

// -- session_record -----------------------------------------------------------

session_record::session_record(std::size_t index, ack_policy policy,
                               bool socket_mode,
                               std::weak_ptr<server_state> server)
    : index_(index), socket_mode_(socket_mode), server_(std::move(server)),
      policy_(policy) {
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

bool session_record::socket_mode() const {
  return socket_mode_;
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

void session_record::send_disconnect(std::string reason) {
  send(disconnect_json(reason));
}

std::string session_record::send_envelope(std::string type,
                                          std::string payload_json,
                                          bool accepts_response_payload) {
  if (auto server = server_.lock())
    return server->send_envelope(this, type, payload_json,
                                 accepts_response_payload);
  return {};
}

std::string session_record::send_event(std::string event_json) {
  if (auto server = server_.lock())
    return server->send_event(this, event_json);
  return {};
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

void session_record::pause_reading() {
  with_control([](session_control& ctrl) { ctrl.post_pause_reading(); });
}

void session_record::ignore_close() {
  with_control([](session_control& ctrl) { ctrl.post_ignore_close(); });
}

void session_record::go_silent() {
  with_control([](session_control& ctrl) { ctrl.post_silent(); });
}

std::vector<std::string> session_record::received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {texts_.begin(), texts_.end()};
}

bool session_record::wait_received(std::size_t n,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] { return texts_.size() >= n; });
}

std::size_t session_record::pings_received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pings_.size();
}

std::vector<std::string> session_record::ping_payloads() const {
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

void session_record::add_ping(std::string payload) {
  std::lock_guard<std::mutex> guard{mtx_};
  pings_.push_back(std::move(payload));
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
    : opts(std::move(options)), rng_(opts.seed) {
  // nop
}

void server_state::set_scheduler(std::shared_ptr<scheduler> sched) {
  std::lock_guard<std::mutex> guard{mtx_};
  scheduler_ = std::move(sched);
}

std::string server_state::host() const {
  // An address, not "localhost": minimal systems may have no /etc/hosts. The
  // certificate carries the address as an IP subjectAltName.
  return "127.0.0.1";
}

std::string server_state::origin() const {
  return (opts.tls ? "https://" : "http://") + host() + ":" +
         std::to_string(port());
}

std::string server_state::base_url() const {
  return origin() + "/api/";
}

std::string server_state::webhook_url(const std::string& name) const {
  return origin() + "/hooks/" + name;
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
      return http_response::text(500,
                                 std::string{"handler threw: "} + e.what());
    } catch (...) {
      return http_response::text(500, "handler threw");
    }
  }
  return default_response(req);
}

http_response server_state::default_response(const recorded_request& req) {
  if (req.method == "apps.connections.open")
    return connections_open(req);
  // The upload URL is the credential: no token needed.
  if (req.method == upload_method)
    return receive_upload(req);
  if (req.method == webhook_method)
    return receive_webhook(req);
  // The app's credentials are in the form, no token.
  if (req.method == "oauth.v2.access")
    return refresh_token(req);
  auto token = bearer_token(req);
  if (token.empty())
    if (auto i = req.form.find("token"); i != req.form.end())
      token = i->second;
  if (token.empty())
    return http_response::error("not_authed");
  auto other = std::find_if(
      opts.workspaces.begin(), opts.workspaces.end(),
      [&token](const fake_workspace& ws) { return ws.token == token; });
  auto of_other = other != opts.workspaces.end();
  if (token != opts.token && !of_other) {
    if (auto refusal = check_rotated(token))
      return std::move(*refusal);
  }
  if (req.method == "auth.test") {
    json::object obj;
    obj["ok"] = true;
    if (of_other) {
      obj["team_id"] = other->team_id;
      obj["user_id"] = other->user_id;
      obj["bot_id"] = other->bot_id;
      return json_answer(obj);
    }
    obj["url"] = "https://" + opts.team_domain + ".slack.com/";
    obj["team"] = opts.team_name;
    obj["user"] = opts.user_name;
    obj["team_id"] = opts.team_id;
    obj["user_id"] = opts.user_id;
    if (!opts.bot_id.empty())
      obj["bot_id"] = opts.bot_id;
    return json_answer(obj);
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
    return json_answer(obj);
  }
  if (req.method == "conversations.list")
    return conversations_list(req);
  if (req.method == "files.getUploadURLExternal")
    return get_upload_url(req);
  if (req.method == "files.completeUploadExternal")
    return complete_upload(req);
  if (req.method.rfind("chat.", 0) == 0)
    if (auto answer = chat_write(req))
      return std::move(*answer);
  if (req.method.rfind("views.", 0) == 0)
    if (auto answer = views_write(req))
      return std::move(*answer);
  if (req.method == "reactions.add" || req.method == "reactions.remove") {
    auto args = args_of(req);
    if (args["channel"].empty() || args["timestamp"].empty())
      return http_response::error("no_item_specified");
    if (args["name"].empty())
      return http_response::error("invalid_name");
    return http_response::ok();
  }
  return http_response::error("unknown_method");
}

http_response server_state::refresh_token(const recorded_request& req) {
  auto arg = [&](const char* name) {
    auto i = req.form.find(name);
    return i != req.form.end() ? i->second : std::string{};
  };
  // Without a grant type it is an install's code exchange, which the fake
  // does not do.
  if (req.form.count("grant_type") == 0)
    return http_response::error("invalid_code");
  if (arg("grant_type") != "refresh_token")
    return http_response::error("invalid_grant_type");
  if (arg("client_id") != opts.client_id)
    return http_response::error("invalid_client_id");
  if (arg("client_secret") != opts.client_secret)
    return http_response::error("bad_client_secret");
  auto ttl = opts.rotated_token_ttl;
  json::object obj;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& current =
        refresh_token_.empty() ? opts.refresh_token : refresh_token_;
    if (arg("refresh_token") != current)
      return http_response::error("invalid_refresh_token");
    auto n = std::to_string(++refreshes_);
    auto access = "xoxe.xoxb-1-rotated-" + n;
    // The one just used is spent.
    refresh_token_ = "xoxe-1-refresh-" + n;
    rotated_tokens_[access] = clock_type::now() + ttl;
    obj["ok"] = true;
    obj["access_token"] = access;
    obj["refresh_token"] = refresh_token_;
  }
  obj["token_type"] = "bot";
  obj["scope"] = "chat:write";
  obj["bot_user_id"] = opts.user_id;
  obj["app_id"] = opts.app_id;
  obj["team"] = {{"id", opts.team_id}, {"name", opts.team_name}};
  obj["enterprise"] = nullptr;
  obj["is_enterprise_install"] = false;
  auto expires_in = opts.rotated_expires_in.count() > 0
                        ? opts.rotated_expires_in
                        : std::chrono::duration_cast<std::chrono::seconds>(ttl);
  obj["expires_in"] = std::max<int64_t>(1, expires_in.count());
  return json_answer(obj);
}

std::optional<http_response>
server_state::check_rotated(const std::string& token) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = rotated_tokens_.find(token);
  if (i == rotated_tokens_.end())
    return http_response::error("invalid_auth");
  if (clock_type::now() >= i->second)
    return http_response::error("token_expired");
  return std::nullopt;
}

std::optional<http_response>
server_state::chat_write(const recorded_request& req) {
  const auto& m = req.method;
  if (m != "chat.postMessage" && m != "chat.postEphemeral" &&
      m != "chat.update" && m != "chat.delete")
    return std::nullopt;
  // JSON bodies carry blocks as arrays: read them as JSON, the rest as text.
  auto args = args_of(req);
  const auto& channel = args["channel"];
  if (channel.empty())
    return http_response::error("channel_not_found");
  auto has_content = !args["text"].empty() || !args["blocks"].empty() ||
                     !args["attachments"].empty();
  if (m != "chat.delete" && !has_content)
    return http_response::error("no_text");
  json::object obj;
  obj["ok"] = true;
  // The message as Slack shows it in its answer: the bot's, with the text.
  auto bot_message = [&] {
    json::object msg;
    msg["type"] = "message";
    msg["text"] = args["text"];
    msg["user"] = opts.user_id;
    if (!opts.bot_id.empty())
      msg["bot_id"] = opts.bot_id;
    return msg;
  };
  if (m == "chat.postEphemeral") {
    if (args["user"].empty())
      return http_response::error("user_not_in_channel");
    obj["message_ts"] = next_ts();
  } else if (m == "chat.postMessage") {
    auto ts = next_ts();
    obj["channel"] = channel;
    obj["ts"] = ts;
    auto msg = bot_message();
    msg["ts"] = ts;
    if (!args["thread_ts"].empty())
      msg["thread_ts"] = args["thread_ts"];
    obj["message"] = std::move(msg);
  } else {
    // chat.update, chat.delete: the message the arguments name.
    if (args["ts"].empty())
      return http_response::error("message_not_found");
    obj["channel"] = channel;
    obj["ts"] = args["ts"];
    if (m == "chat.update") {
      obj["text"] = args["text"];
      obj["message"] = bot_message();
    }
  }
  return json_answer(obj);
}

std::optional<http_response>
server_state::views_write(const recorded_request& req) {
  const auto& m = req.method;
  if (m != "views.open" && m != "views.push" && m != "views.update" &&
      m != "views.publish")
    return std::nullopt;
  auto args = args_of(req);
  if ((m == "views.open" || m == "views.push") && args["trigger_id"].empty())
    return http_response::error("invalid_arguments");
  if (m == "views.update" && args["view_id"].empty() &&
      args["external_id"].empty())
    return http_response::error("invalid_arguments");
  if (m == "views.publish" && args["user_id"].empty())
    return http_response::error("invalid_arguments");
  // `view` is a JSON object, in a form's field or in a JSON body.
  json::error_code ec;
  auto view = json::parse(args["view"], ec);
  if (ec || !view.is_object())
    return http_response::error("invalid_arguments");
  auto& v = view.get_object();
  if (m == "views.update" && !args["view_id"].empty())
    v["id"] = args["view_id"];
  else
    v["id"] = "V" + random_hex(8);
  if (!args["external_id"].empty())
    v["external_id"] = args["external_id"];
  // What a views.update may pass back to fail on a concurrent change.
  v["hash"] = random_hex(8);
  json::object obj;
  obj["ok"] = true;
  obj["view"] = std::move(view);
  return json_answer(obj);
}

http_response server_state::conversations_list(const recorded_request& req) {
  // A read: Slack takes JSON bodies for most write methods only, and may
  // ignore one here. So does the fake.
  auto args = req.form;
  std::size_t offset = 0;
  if (auto& cursor = args["cursor"]; !cursor.empty()) {
    auto n = parse_count(cursor.rfind("next:", 0) == 0 ? cursor.substr(5) : "");
    if (!n || *n == 0 || *n >= opts.conversation_count)
      return http_response::error("invalid_cursor");
    offset = *n;
  }
  std::size_t limit = 100;
  if (auto& text = args["limit"]; !text.empty()) {
    auto n = parse_count(text);
    if (!n)
      return http_response::error("invalid_limit");
    limit = std::clamp<std::size_t>(*n == 0 ? 100 : *n, 1, 1000);
  }
  auto end = std::min(opts.conversation_count, offset + limit);
  json::array channels;
  for (auto i = offset; i < end; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "C%07zu", i + 1);
    channels.push_back(
        {{"id", id}, {"name", "channel-" + std::to_string(i + 1)}});
  }
  json::object obj;
  obj["ok"] = true;
  obj["channels"] = std::move(channels);
  obj["response_metadata"] = {
      {"next_cursor",
       end < opts.conversation_count ? "next:" + std::to_string(end) : ""}};
  return json_answer(obj);
}

http_response server_state::get_upload_url(const recorded_request& req) {
  // Slack refuses a JSON body here (invalid_arguments): a form only.
  auto args = req.form;
  auto length = parse_count(args["length"]);
  if (args["filename"].empty() || !length)
    return http_response::error("invalid_arguments");
  auto ticket = random_hex(16);
  std::string file_id;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    file_id = "F" + std::to_string(uploads_.size() + 1);
    recorded_upload rec;
    rec.file_id = file_id;
    rec.filename = args["filename"];
    rec.length = *length;
    rec.alt_text = args["alt_txt"];
    rec.snippet_type = args["snippet_type"];
    upload_tickets_[ticket] = uploads_.size();
    uploads_.push_back(std::move(rec));
  }
  json::object obj;
  obj["ok"] = true;
  obj["upload_url"] = origin() + "/upload/v1/" + ticket;
  obj["file_id"] = file_id;
  return json_answer(obj);
}

http_response server_state::receive_upload(const recorded_request& req) {
  auto path = req.target.substr(0, req.target.find('?'));
  auto ticket = path.substr(path.rfind('/') + 1);
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = upload_tickets_.find(ticket);
  if (i == upload_tickets_.end())
    return http_response::text(404, "unknown upload URL");
  auto& rec = uploads_[i->second];
  rec.bytes = req.body;
  ++rec.posts;
  return http_response::text(200, "OK - " + std::to_string(rec.bytes.size()));
}

http_response server_state::receive_webhook(const recorded_request& req) {
  // Slack's webhooks answer in plain text: "ok" or an error code.
  auto answer = http_response::text;
  json::error_code ec;
  auto value = json::parse(req.body, ec);
  if (ec || !value.is_object())
    return answer(400, "invalid_payload");
  const auto& obj = value.get_object();
  if (!obj.contains("text") && !obj.contains("blocks") &&
      !obj.contains("delete_original"))
    return answer(400, "no_text");
  auto path = req.target.substr(0, req.target.find('?'));
  std::lock_guard<std::mutex> guard{mtx_};
  auto& posts = webhook_posts_[path];
  if (posts >= 5)
    return answer(404, "used_url");
  ++posts;
  return answer(200, "ok");
}

http_response server_state::complete_upload(const recorded_request& req) {
  auto args = args_of(req);
  json::error_code ec;
  auto files = json::parse(args["files"], ec);
  if (ec || !files.is_array() || files.get_array().empty())
    return http_response::error("invalid_arguments");
  json::array answer;
  std::lock_guard<std::mutex> guard{mtx_};
  // All or nothing: every id is checked before any file counts as shared.
  std::vector<recorded_upload*> recs;
  for (auto& entry : files.get_array()) {
    auto* obj = entry.if_object();
    auto* id = obj != nullptr ? obj->if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string())
      return http_response::error("invalid_arguments");
    auto rec = std::find_if(uploads_.begin(), uploads_.end(), [&](auto& x) {
      return x.file_id == id->get_string();
    });
    if (rec == uploads_.end() || rec->posts == 0)
      return http_response::error("file_not_found");
    recs.push_back(&*rec);
  }
  for (size_t i = 0; i < recs.size(); ++i) {
    auto* rec = recs[i];
    const auto* obj = files.get_array()[i].if_object();
    rec->completed = true;
    auto* title = obj->if_contains("title");
    rec->title = title != nullptr && title->is_string()
                     ? std::string{title->get_string()}
                     : rec->filename;
    rec->channel_id = args["channel_id"];
    rec->thread_ts = args["thread_ts"];
    rec->initial_comment = args["initial_comment"];
    rec->blocks = args["blocks"];
    answer.push_back({{"id", rec->file_id},
                      {"name", rec->filename},
                      {"title", rec->title},
                      {"size", rec->bytes.size()}});
  }
  json::object obj;
  obj["ok"] = true;
  obj["files"] = std::move(answer);
  return json_answer(obj);
}

std::vector<recorded_upload> server_state::uploads() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return uploads_;
}

http_response server_state::connections_open(const recorded_request& req) {
  // App-level tokens travel only in the header; the form is not looked at.
  auto token = bearer_token(req);
  if (token.empty())
    return http_response::error("not_authed");
  if (token.rfind("xapp-", 0) != 0)
    return http_response::error("not_allowed_token_type");
  if (token != opts.app_token)
    return http_response::error("invalid_auth");
  auto ticket = random_hex(16);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    app_tickets_[ticket] = clock_type::now();
  }
  json::object obj;
  obj["ok"] = true;
  obj["url"] = (opts.tls ? "wss://" : "ws://") + host() + ":" +
               std::to_string(port()) + "/link/?ticket=" + ticket +
               "&app_id=" + urls::encode(opts.app_id, urls::unreserved_chars);
  return json_answer(obj);
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

handshake_plan server_state::plan_handshake(ws_endpoint endpoint,
                                            const std::string& ticket,
                                            const std::string& query) {
  handshake_plan plan;
  plan.endpoint = endpoint;
  auto key = ticket;
  if (endpoint == ws_endpoint::socket_mode) {
    auto params = parse_form(query);
    key = params["ticket"];
    plan.debug_reconnects = params["debug_reconnects"] == "true";
  }
  std::lock_guard<std::mutex> guard{mtx_};
  auto& tickets = endpoint == ws_endpoint::rtm ? tickets_ : app_tickets_;
  if (auto i = tickets.find(key); i != tickets.end()) {
    plan.ticket_valid = clock_type::now() - i->second <= opts.url_ttl;
    tickets.erase(i); // single-use, also when the handshake is refused
  }
  if (!handshake_scripts_.empty()) {
    auto& script = handshake_scripts_.front();
    plan.status = script.status;
    plan.retry_after = std::move(script.retry_after);
    plan.raw = std::move(script.raw);
    handshake_scripts_.pop_front();
  }
  // A scripted 101 is no refusal: the handshake goes on as usual.
  if (plan.status == 101 && endpoint == ws_endpoint::socket_mode &&
      !plan.ticket_valid)
    plan.status = 401;
  if (plan.status != 101)
    ++rejected_handshakes_;
  return plan;
}

void server_state::script_handshake(unsigned status, std::string retry_after) {
  std::lock_guard<std::mutex> guard{mtx_};
  handshake_plan script;
  script.status = status;
  script.retry_after = std::move(retry_after);
  handshake_scripts_.push_back(std::move(script));
}

void server_state::script_handshake_raw(std::string bytes) {
  std::lock_guard<std::mutex> guard{mtx_};
  handshake_plan script;
  script.status = 0; // no upgrade
  script.raw = std::move(bytes);
  handshake_scripts_.push_back(std::move(script));
}

std::size_t server_state::rejected_handshakes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return rejected_handshakes_;
}

std::shared_ptr<session_record>
server_state::open_session(std::weak_ptr<session_control> control) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto rec = std::make_shared<session_record>(sessions_.size(), opts.acks,
                                              false, weak_from_this());
  if (!shut_down_)
    rec->attach(std::move(control));
  sessions_.push_back(rec);
  cv_.notify_all();
  return rec;
}

socket_mode_admission
server_state::open_socket_mode_session(std::weak_ptr<session_control> control) {
  std::lock_guard<std::mutex> guard{mtx_};
  socket_mode_admission result;
  result.rec = std::make_shared<session_record>(sessions_.size(), opts.acks,
                                                true, weak_from_this());
  if (!shut_down_)
    result.rec->attach(std::move(control));
  sessions_.push_back(result.rec);
  if (live_socket_mode_.size() < opts.max_socket_mode_connections) {
    live_socket_mode_.insert(result.rec->index());
    result.admitted = true;
    result.num_connections = live_socket_mode_.size() + opts.ghost_connections;
  }
  cv_.notify_all();
  return result;
}

void server_state::socket_mode_session_gone(std::size_t index) {
  std::lock_guard<std::mutex> guard{mtx_};
  live_socket_mode_.erase(index);
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
    // The scheduler refers to the I/O context, which goes away next.
    scheduler_.reset();
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
                1700000000ULL + static_cast<unsigned long long>(n / 1000000),
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
  // Slack answers none of these.
  if (type == "typing" || type == "presence_sub" || type == "presence_query")
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

// -- Socket Mode --------------------------------------------------------------

void server_state::on_socket_mode_text(std::size_t index,
                                       const std::string& text,
                                       clock_type::time_point read_at) {
  // A flooded client acks every envelope: the ack is parsed on the stack,
  // so that the fake leaves the cores it shares with the client to it.
  unsigned char buf[2048];
  json::monotonic_resource mr{buf, sizeof(buf)};
  json::error_code ec;
  auto val = json::parse(text, ec, &mr);
  if (ec || !val.is_object())
    return;
  auto& obj = val.get_object();
  auto id = obj.if_contains("envelope_id");
  if (id == nullptr || !id->is_string())
    return;
  recorded_ack ack;
  ack.envelope_id = id->get_string();
  if (auto payload = obj.if_contains("payload"))
    ack.payload = json::serialize(*payload);
  ack.raw = text;
  ack.session = index;
  ack.received_at = read_at;
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = envelope_events_.find(ack.envelope_id);
      i != envelope_events_.end())
    forget_event_locked(i->second); // acked: no more redeliveries
  acks_.push_back(std::move(ack));
  cv_.notify_all();
}

std::string server_state::send_envelope(session_record* rec,
                                        const std::string& type,
                                        const std::string& payload_json,
                                        bool accepts_response_payload) {
  auto payload = parse_test_json(payload_json, "envelope payload");
  tracked_event ev;
  ev.type = type;
  ev.payload = json::serialize(payload);
  ev.accepts_response_payload = accepts_response_payload;
  if (payload.is_object())
    if (auto id = payload.get_object().if_contains("event_id");
        id != nullptr && id->is_string())
      ev.event_id = id->get_string();
  std::shared_ptr<session_record> picked;
  std::string frame;
  std::string envelope_id;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (rec == nullptr) {
      picked = pick_live_locked();
      if (!picked)
        return {};
      rec = picked.get();
    }
    if (type == "events_api") {
      track_locked(std::move(ev), rec, frame);
      envelope_id = envelopes_.back().envelope_id;
    } else {
      // Slack retries only events; other envelopes go out once.
      envelope_id = new_envelope_id();
      sent_envelope env;
      env.envelope_id = envelope_id;
      env.type = type;
      env.session = rec->index();
      env.sent_at = clock_type::now();
      envelopes_.push_back(std::move(env));
      frame = envelope_json(envelope_id, type, ev.payload,
                            accepts_response_payload, std::nullopt);
    }
  }
  rec->send(std::move(frame));
  return envelope_id;
}

std::string server_state::send_event(session_record* rec,
                                     const std::string& event_json) {
  auto event = parse_test_json(event_json, "event");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::shared_ptr<session_record> picked;
  std::string frame;
  std::string event_id;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    char buf[32];
    std::snprintf(buf, sizeof(buf), "Ev%010llu",
                  static_cast<unsigned long long>(++event_counter_));
    event_id = buf;
    json::object payload;
    payload["token"] = "x";
    payload["team_id"] = opts.team_id;
    payload["api_app_id"] = opts.app_id;
    payload["event"] = std::move(event);
    payload["type"] = "event_callback";
    payload["event_id"] = event_id;
    payload["event_time"] = now;
    tracked_event ev;
    ev.type = "events_api";
    ev.event_id = event_id;
    ev.payload = json::serialize(payload);
    if (rec == nullptr) {
      picked = pick_live_locked();
      rec = picked.get();
    }
    track_locked(std::move(ev), rec, frame);
  }
  if (rec != nullptr)
    rec->send(std::move(frame));
  return event_id;
}

std::vector<recorded_ack> server_state::acks() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {acks_.begin(), acks_.end()};
}

bool server_state::wait_acks(std::size_t n,
                             std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] { return acks_.size() >= n; });
}

std::vector<sent_envelope> server_state::envelopes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return envelopes_;
}

std::size_t server_state::live_socket_mode_sessions() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return live_socket_mode_.size();
}

std::string server_state::socket_mode_hello(std::size_t num_connections) const {
  json::object info = debug_info();
  info["build_number"] = 1;
  info["approximate_connection_time"] = opts.approximate_connection_time;
  json::object connection_info;
  connection_info["app_id"] = opts.app_id;
  json::object obj;
  obj["type"] = "hello";
  obj["num_connections"] = num_connections;
  obj["debug_info"] = std::move(info);
  obj["connection_info"] = std::move(connection_info);
  return json::serialize(obj);
}

std::shared_ptr<session_record> server_state::pick_live_locked() {
  if (live_socket_mode_.empty())
    return nullptr;
  // Plain modulo rather than a distribution: the same seed then makes the
  // same choices with every standard library.
  auto n = static_cast<std::size_t>(rng_() % live_socket_mode_.size());
  return sessions_[*std::next(live_socket_mode_.begin(),
                              static_cast<std::ptrdiff_t>(n))];
}

std::string server_state::deliver_locked(uint64_t key, tracked_event& ev,
                                         session_record& rec) {
  sent_envelope env;
  env.envelope_id = new_envelope_id();
  env.type = ev.type;
  env.event_id = ev.event_id;
  env.retry_attempt = ev.next_attempt++;
  env.session = rec.index();
  env.sent_at = clock_type::now();
  auto frame = envelope_json(env.envelope_id, ev.type, ev.payload,
                             ev.accepts_response_payload, env.retry_attempt);
  ev.envelope_ids.push_back(env.envelope_id);
  envelope_events_[env.envelope_id] = key;
  envelopes_.push_back(std::move(env));
  return frame;
}

void server_state::track_locked(tracked_event ev, session_record* rec,
                                std::string& frame) {
  auto key = next_event_key_++;
  // An event that finds no session counts as missed: its first delivery is
  // already a retry.
  if (rec == nullptr)
    ev.next_attempt = 1;
  auto& tracked = events_.emplace(key, std::move(ev)).first->second;
  if (rec != nullptr)
    frame = deliver_locked(key, tracked, *rec);
  schedule_redelivery_locked(key, 0);
}

void server_state::schedule_redelivery_locked(uint64_t key, std::size_t k) {
  if (!scheduler_ || k >= opts.redelivery_delays.size()) {
    forget_event_locked(key);
    return;
  }
  std::weak_ptr<server_state> weak = weak_from_this();
  scheduler_->run_after(opts.redelivery_delays[k], [weak, key, k] {
    if (auto self = weak.lock())
      self->on_redelivery_deadline(key, k);
  });
}

void server_state::on_redelivery_deadline(uint64_t key, std::size_t k) {
  std::shared_ptr<session_record> target;
  std::string frame;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = events_.find(key);
    if (shut_down_ || i == events_.end())
      return; // acked
    target = pick_live_locked();
    if (target)
      frame = deliver_locked(key, i->second, *target);
    schedule_redelivery_locked(key, k + 1);
  }
  if (target)
    target->send(std::move(frame));
}

void server_state::forget_event_locked(uint64_t key) {
  auto i = events_.find(key);
  if (i == events_.end())
    return;
  for (auto& id : i->second.envelope_ids)
    envelope_events_.erase(id);
  events_.erase(i);
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

std::string disconnect_json(const std::string& reason) {
  json::object obj;
  obj["type"] = "disconnect";
  obj["reason"] = reason;
  obj["debug_info"] = debug_info();
  return json::serialize(obj);
}

} // namespace detail

} // namespace caf::rtm::testing
