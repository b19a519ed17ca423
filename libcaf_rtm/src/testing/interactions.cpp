// What a user does in Slack that reaches a Socket Mode app as an envelope: a
// slash command, a click, a modal submitted, a shortcut. Payloads in Slack's
// shape, with a response_url on the fake and a fresh trigger_id, built on
// the public `send_envelope`.

#include "caf/rtm/testing/fake_slack.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

#include <boost/json.hpp> // json::object, json::parse, json::serialize

#include "wire.hpp"

namespace json = boost::json;
using caf::rtm::testing::detail::random_hex;

namespace caf::rtm::testing {

namespace {

// A trigger id as Slack writes them: digits, a dot, digits, a dot, hex.
std::string new_trigger_id() {
  return "1337.42." + random_hex(16);
}

// Slack's `action_ts`: seconds with microseconds.
std::string now_ts() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  auto frac = std::to_string(us % 1000000);
  return std::to_string(us / 1000000) + '.' +
         std::string(6 - frac.size(), '0') + frac;
}

json::object user_of(const fake_slack_options& opts,
                     const std::string& user_id) {
  return {{"id", user_id},
          {"username", "user"},
          {"name", "user"},
          {"team_id", opts.team_id}};
}

json::object team_of(const fake_slack_options& opts) {
  return {{"id", opts.team_id}, {"domain", opts.team_domain}};
}

} // namespace

std::string fake_slack::send_slash_command(const std::string& command,
                                           const std::string& text,
                                           const std::string& user_id,
                                           const std::string& channel_id) {
  const auto& opts = options();
  // The fields of the form Slack would post to a request URL.
  json::object payload{
      {"token", "x"},
      {"team_id", opts.team_id},
      {"team_domain", opts.team_domain},
      {"channel_id", channel_id},
      {"channel_name", "channel"},
      {"user_id", user_id},
      {"user_name", "user"},
      {"command", command},
      {"text", text},
      {"api_app_id", opts.app_id},
      {"is_enterprise_install", "false"},
      {"response_url", webhook_url("commands-" + random_hex(8))},
      {"trigger_id", new_trigger_id()},
  };
  return send_envelope("slash_commands", json::serialize(payload), true);
}

std::string fake_slack::send_block_action(const std::string& action_id,
                                          const std::string& value,
                                          const std::string& user_id,
                                          const std::string& channel_id,
                                          const std::string& message_ts) {
  const auto& opts = options();
  json::object action{
      {"action_id", action_id},
      {"block_id", "actions"},
      {"text", {{"type", "plain_text"}, {"text", action_id}}},
      {"value", value},
      {"type", "button"},
      {"action_ts", now_ts()},
  };
  // The message shows the button that was clicked, as Slack sends it.
  json::object button{
      {"type", "button"},
      {"action_id", action_id},
      {"text", {{"type", "plain_text"}, {"text", action_id}}},
      {"value", value},
  };
  json::object message{
      {"type", "message"},
      {"user", opts.user_id},
      {"ts", message_ts},
      {"text", "a message with buttons"},
      {"blocks", json::array{{{"type", "actions"},
                              {"block_id", "actions"},
                              {"elements", json::array{std::move(button)}}}}},
  };
  if (!opts.bot_id.empty())
    message["bot_id"] = opts.bot_id;
  json::object payload{
      {"type", "block_actions"},
      {"user", user_of(opts, user_id)},
      {"api_app_id", opts.app_id},
      {"token", "x"},
      {"container",
       {{"type", "message"},
        {"message_ts", message_ts},
        {"channel_id", channel_id},
        {"is_ephemeral", false}}},
      {"trigger_id", new_trigger_id()},
      {"team", team_of(opts)},
      {"enterprise", nullptr},
      {"is_enterprise_install", false},
      {"channel", {{"id", channel_id}, {"name", "channel"}}},
      {"message", std::move(message)},
      {"state", {{"values", json::object{}}}},
      {"response_url", webhook_url("actions-" + random_hex(8))},
      {"actions", json::array{std::move(action)}},
  };
  return send_envelope("interactive", json::serialize(payload), false);
}

std::string fake_slack::send_view_submission(
    const std::string& callback_id, const std::string& values_json,
    const std::string& private_metadata, const std::string& user_id) {
  json::error_code ec;
  auto values = json::parse(values_json, ec);
  if (ec || !values.is_object())
    throw std::invalid_argument("send_view_submission: values_json is not a "
                                "JSON object");
  const auto& opts = options();
  // An input block for each input the values name, as the modal had them.
  json::array blocks;
  for (const auto& [block_id, inputs] : values.get_object())
    if (inputs.is_object())
      for (const auto& [action_id, input] : inputs.get_object()) {
        const auto* type = input.is_object()
                               ? input.get_object().if_contains("type")
                               : nullptr;
        blocks.push_back(json::object{
            {"type", "input"},
            {"block_id", block_id},
            {"label", {{"type", "plain_text"}, {"text", block_id}}},
            {"element",
             {{"type",
               type != nullptr ? *type : json::value{"plain_text_input"}},
              {"action_id", action_id}}},
        });
      }
  auto view_id = "V" + random_hex(5);
  json::object view{
      {"id", view_id},
      {"team_id", opts.team_id},
      {"type", "modal"},
      {"callback_id", callback_id},
      {"private_metadata", private_metadata},
      {"title", {{"type", "plain_text"}, {"text", callback_id}}},
      {"submit", {{"type", "plain_text"}, {"text", "Submit"}}},
      {"blocks", std::move(blocks)},
      {"state", {{"values", std::move(values)}}},
      {"hash", "1700000000." + random_hex(4)},
      {"app_id", opts.app_id},
      {"app_installed_team_id", opts.team_id},
      {"external_id", ""},
      {"root_view_id", view_id},
      {"previous_view_id", nullptr},
      {"clear_on_close", false},
      {"notify_on_close", false},
  };
  if (!opts.bot_id.empty())
    view["bot_id"] = opts.bot_id;
  json::object payload{
      {"type", "view_submission"},
      {"team", team_of(opts)},
      {"user", user_of(opts, user_id)},
      {"api_app_id", opts.app_id},
      {"token", "x"},
      {"trigger_id", new_trigger_id()},
      {"view", std::move(view)},
      {"response_urls", json::array{}},
      {"is_enterprise_install", false},
      {"enterprise", nullptr},
  };
  return send_envelope("interactive", json::serialize(payload), true);
}

std::string fake_slack::send_shortcut(const std::string& callback_id,
                                      const std::string& user_id) {
  const auto& opts = options();
  json::object payload{
      {"type", "shortcut"},
      {"token", "x"},
      {"action_ts", now_ts()},
      {"team", team_of(opts)},
      {"user", user_of(opts, user_id)},
      {"is_enterprise_install", false},
      {"enterprise", nullptr},
      {"callback_id", callback_id},
      {"trigger_id", new_trigger_id()},
  };
  return send_envelope("interactive", json::serialize(payload), false);
}

} // namespace caf::rtm::testing
