#include "caf/rtm/hub/workspaces.hpp"

#include <cctype>
#include <filesystem>
#include <system_error>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::hub {

namespace {

caf::error invalid(const std::string& name, std::string what) {
  return make_error(errc::invalid_config,
                    "workspace " + name + ": " + std::move(what));
}

bool valid_name(const std::string& name) {
  if (name.empty())
    return false;
  for (auto c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' &&
        c != '.')
      return false;
  return true;
}

// The value of option `opt` as its own type. CAF's parser types a value by
// its spelling (`1` is an integer even where a double belongs): a value that
// does not fit is read again from its text, which converts what converts
// and refuses the rest.
caf::expected<caf::config_value> typed_value(const caf::config_option& opt,
                                             const caf::config_value& x) {
  if (!opt.check(x))
    return x;
  auto text = caf::holds_alternative<std::string>(x) ? caf::get<std::string>(x)
                                                     : caf::to_string(x);
  return opt.parse(text);
}

// A value of option `key` as its option's type; `where` names the section or
// entry in errors.
caf::expected<caf::config_value>
checked_value(const caf::config_option_set& options, const std::string& key,
              const caf::config_value& x, const std::string& where) {
  auto opt = options.qualified_name_lookup("caf-rtm", key);
  if (opt == nullptr)
    return make_error(errc::invalid_config, where + ": unknown option " + key);
  auto typed = typed_value(*opt, x);
  if (!typed) {
    auto type = opt->type_name();
    return make_error(errc::invalid_config,
                      where + ": " + key + ": expected " +
                          std::string{type.data(), type.size()});
  }
  // A log level is a string to CAF; the client ignores one it cannot read.
  if (key == "log-level") {
    auto* name = caf::get_if<std::string>(&*typed);
    if (name == nullptr || !parse_log_level(*name))
      return make_error(errc::invalid_config,
                        where + ": log-level: expected quiet, error, warn, "
                                "info, debug or trace");
  }
  return typed;
}

// Whether two paths name one file (`a.json` and `./a.json`, or a link and
// its target), whether it exists yet or not.
bool same_file(const std::string& x, const std::string& y) {
  std::error_code ec;
  auto cx = std::filesystem::weakly_canonical(x, ec);
  if (ec)
    return x == y;
  auto cy = std::filesystem::weakly_canonical(y, ec);
  if (ec)
    return x == y;
  return cx == cy;
}

} // namespace

caf::expected<caf::settings> check_defaults(const caf::settings& file,
                                            const caf::settings& parsed) {
  caf::config_option_set options;
  add_options(options);
  auto result = parsed;
  for (const auto& [key, x] : file) {
    auto typed = checked_value(options, key, x, "[caf-rtm]");
    if (!typed)
      return std::move(typed.error());
    if (result.count(key) == 0)
      result[key] = std::move(*typed);
  }
  return result;
}

caf::expected<std::vector<workspace_config>>
read_workspaces(const caf::settings& defaults,
                const caf::settings& workspaces) {
  if (workspaces.empty())
    return make_error(errc::invalid_config,
                      "no workspaces: the [workspaces] section needs one "
                      "entry per client, e.g. acme = { token = \"xoxb-...\" }");
  // The `caf-rtm.*` options as the library declares them: names and types.
  caf::config_option_set options;
  add_options(options);
  std::vector<workspace_config> result;
  for (const auto& [name, value] : workspaces) {
    if (!valid_name(name))
      return invalid(name, "names are made of letters, digits, '_', '-' and "
                           "'.'");
    auto* entry = caf::get_if<caf::settings>(&value);
    if (entry == nullptr)
      return invalid(name, "want a block of options: " + name +
                               " = { token = \"...\" }");
    auto merged = defaults;
    for (const auto& [key, x] : *entry) {
      auto typed = checked_value(options, key, x, "workspace " + name);
      if (!typed)
        return std::move(typed.error());
      merged[key] = std::move(*typed);
    }
    // A hub serves remote bots: Socket Mode envelopes are acked once a bot's
    // node took them, so that Slack sends again what a killed hub held; what
    // no bot took is left unacked, so that Slack sends it again, perhaps to
    // another hub of the app.
    if (merged.count("ack-after-delivery") == 0)
      merged["ack-after-delivery"] = true;
    // Follows ack-after-delivery unless the entry itself says otherwise (an
    // entry that turns ack-after-delivery off turns this off too, whatever
    // the defaults say).
    auto ack = caf::get_or(merged, "ack-after-delivery", true);
    if (merged.count("redeliver-unclaimed") == 0 ||
        (!ack && entry->count("redeliver-unclaimed") == 0))
      merged["redeliver-unclaimed"] = ack;
    // client_config::from reads `caf-rtm.*` from a configuration's content.
    caf::actor_system_config tmp;
    tmp.content["caf-rtm"] = std::move(merged);
    workspace_config ws;
    ws.name = name;
    ws.cfg = client_config::from(tmp);
    ws.kind =
        ws.cfg.app_token.empty() ? client_kind::rtm : client_kind::socket_mode;
    if (auto err = ws.cfg.validate(ws.kind))
      return invalid(name, render(err));
    // Each would spend the refresh token the other just stored.
    const auto& rot = ws.cfg.rotation;
    for (const auto& other : result) {
      if (!rot.file.empty() && !other.cfg.rotation.file.empty() &&
          same_file(other.cfg.rotation.file, rot.file))
        return invalid(name, "token-file " + rot.file + " is workspace " +
                                 other.name + "'s too");
      if (!rot.refresh_token.empty() &&
          other.cfg.rotation.refresh_token == rot.refresh_token)
        return invalid(name,
                       "refresh-token is workspace " + other.name + "'s too");
    }
    result.push_back(std::move(ws));
  }
  return result;
}

} // namespace caf::rtm::hub
