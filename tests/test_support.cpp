#include "test_support.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/rtm_client.hpp"

namespace caf::rtm::test {

system_fixture::system_fixture() {
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  sys = std::make_unique<caf::actor_system>(cfg);
  self = std::make_unique<caf::scoped_actor>(*sys, true);
}

system_fixture::~system_fixture() {
  // Without this, a failed assertion that skipped a close would leave the
  // actor system waiting for the client forever.
  for (auto& hdl : tracked)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  tracked.clear();
  self.reset();
}

client_config config_for(const testing::fake_slack& srv, logger_ptr log) {
  client_config cfg;
  cfg.token = srv.options().token;
  cfg.base_url = srv.base_url();
  if (srv.options().tls)
    cfg.ca_file = srv.ca_file();
  cfg.proxy_from_environment = false;
  cfg.connect_timeout = 5s;
  cfg.request_timeout = 5s;
  cfg.api_retry = retry_policy{10ms, 50ms, 3};
  cfg.reconnect = retry_policy{10ms, 200ms, 0};
  cfg.hello_timeout = 5s;
  cfg.log = std::move(log);
  return cfg;
}

client_config socket_mode_config_for(const testing::fake_slack& srv,
                                     logger_ptr log) {
  auto cfg = config_for(srv, std::move(log));
  cfg.token.clear();
  cfg.app_token = srv.options().app_token;
  return cfg;
}

std::string code_of(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() != error_category)
    return caf::to_string(err);
  return to_string(static_cast<errc>(err.code()));
}

void recorder::add_event(const event& ev) {
  std::lock_guard<std::mutex> guard{mtx_};
  events_.push_back(ev);
}

void recorder::add_envelope(const envelope& env) {
  std::lock_guard<std::mutex> guard{mtx_};
  envelopes_.push_back(env);
}

std::vector<envelope> recorder::envelopes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return envelopes_;
}

size_t recorder::envelope_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return envelopes_.size();
}

bool recorder::wait_envelopes(size_t n,
                              std::chrono::milliseconds timeout) const {
  return eventually([&] { return envelope_count() >= n; }, timeout);
}

void recorder::add_lifecycle(std::string what) {
  std::lock_guard<std::mutex> guard{mtx_};
  lifecycle_.push_back(std::move(what));
}

std::vector<event> recorder::events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_;
}

std::vector<std::string> recorder::lifecycle() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return lifecycle_;
}

size_t recorder::event_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_.size();
}

size_t recorder::lifecycle_count(const std::string& prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto& x : lifecycle_)
    if (x.rfind(prefix, 0) == 0)
      ++n;
  return n;
}

bool recorder::wait_events(size_t n, std::chrono::milliseconds timeout) const {
  return eventually([&] { return event_count() >= n; }, timeout);
}

bool recorder::wait_lifecycle(const std::string& prefix, size_t n,
                              std::chrono::milliseconds timeout) const {
  return eventually([&] { return lifecycle_count(prefix) >= n; }, timeout);
}

caf::actor spawn_recorder(caf::actor_system& sys, const recorder_ptr& rec) {
  return spawn_fn(sys, [rec](caf::event_based_actor*) -> caf::behavior {
    return {
        [rec](const event& ev) { rec->add_event(ev); },
        [rec](const envelope& env) { rec->add_envelope(env); },
        [rec](const connecting& x) {
          rec->add_lifecycle("connecting:" + std::to_string(x.attempt));
        },
        [rec](const connected& x) {
          rec->add_lifecycle("connected:" + std::to_string(x.session));
        },
        [rec](const disconnected& x) {
          rec->add_lifecycle("disconnected:" + std::to_string(x.session) + ":" +
                             code_of(x.cause) + ":" +
                             std::to_string(x.close_code));
        },
        [rec](const reconnecting& x) {
          rec->add_lifecycle("reconnecting:" + std::to_string(x.attempt));
        },
        [rec](const error_event& x) {
          rec->add_lifecycle("error:" + code_of(x.reason));
        },
        [rec](const fatal_event& x) {
          rec->add_lifecycle("fatal:" + code_of(x.reason));
        },
    };
  });
}

connected_client connect_client(system_fixture& fx, const client_config& cfg,
                                std::vector<std::string> types,
                                bool expect_success) {
  connected_client result;
  result.rec = std::make_shared<recorder>();
  result.hdl = fx.track(fx.sys->spawn(rtm_client, cfg));
  result.listener = fx.track(spawn_recorder(*fx.sys, result.rec));
  auto& self = *fx.self;
  auto ok = request<caf::ok_atom>(self, result.hdl, caf::timespan{5s},
                                  subscribe_atom_v, result.listener,
                                  std::move(types));
  if (!ok)
    throw std::runtime_error("subscribe failed: " + render(ok.error()));
  ok = request<caf::ok_atom>(self, result.hdl, caf::timespan{5s},
                             subscribe_atom_v, lifecycle_atom_v,
                             result.listener);
  if (!ok)
    throw std::runtime_error("subscribe failed: " + render(ok.error()));
  auto up =
      request<connected>(self, result.hdl, caf::timespan{20s}, connect_atom_v);
  if (expect_success && !up)
    throw std::runtime_error("connect failed: " + render(up.error()));
  return result;
}

void close_client(system_fixture& fx, const rtm_client_actor& hdl) {
  auto ok =
      request<caf::ok_atom>(*fx.self, hdl, caf::timespan{20s}, close_atom_v);
  if (!ok)
    throw std::runtime_error("close failed: " + render(ok.error()));
}

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/caf-rtm-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string temp_dir::write(const std::string& name,
                            const std::string& content) const {
  auto file = path + "/" + name;
  std::ofstream{file} << content;
  return file;
}

} // namespace caf::rtm::test
