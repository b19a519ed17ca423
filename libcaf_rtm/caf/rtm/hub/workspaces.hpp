// A hub's configuration file: one client per entry of its `[workspaces]`
// section, each holding that client's `caf-rtm.*` options without the
// prefix; the `[caf-rtm]` section gives defaults for every entry.
//
//   [caf-rtm]
//   log-level = "info"
//
//   [workspaces]
//   acme = {
//     token = "xoxb-..."
//   }
//   shop = {
//     app-token = "xapp-..."
//     bot-token = "xoxb-..."
//     connections = 2
//   }
//
// An entry with an app token runs a Socket Mode client, any other an RTM
// client. Unless an entry or the defaults say otherwise, a hub's Socket Mode
// clients ack envelopes once a bot's node took them (`ack-after-delivery`),
// and leave those no bot took to Slack's retries (`redeliver-unclaimed`).

#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/settings.hpp>

#include "caf/rtm/client_config.hpp"

namespace caf::rtm::hub {

struct workspace_config {
  std::string name;
  client_kind kind = client_kind::rtm;
  client_config cfg;
};

/// Reads every entry of `workspaces` (a dictionary of dictionaries) on top of
/// `defaults` (the `caf-rtm` section, possibly empty), in name order. Values
/// are checked against the option's type (a number where a string belongs,
/// say) and each client configuration is validated; an unknown option, an
/// entry that is not a `{ ... }` block, a name that is not
/// [A-Za-z0-9_.-]+ or no entry at all is an `invalid_config` error that
/// names the entry.
caf::expected<std::vector<workspace_config>>
read_workspaces(const caf::settings& defaults, const caf::settings& workspaces);

/// The `[caf-rtm]` defaults of a hub's configuration file, checked like an
/// entry: `file` is the section as written (read without type checks),
/// `parsed` what CAF kept of it and of the command line (CAF drops a value
/// whose type does not fit its option, without a word). An unknown option or
/// a value that does not fit is an `invalid_config` error naming the key; a
/// value CAF dropped that converts (an integer for a decimal) is put back;
/// what `parsed` holds wins (the command line overrides the file).
caf::expected<caf::settings> check_defaults(const caf::settings& file,
                                            const caf::settings& parsed);

} // namespace caf::rtm::hub
