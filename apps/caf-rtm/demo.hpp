// The demo: a short scripted Slack workspace on the embedded fake server.

#pragma once

#include <functional>
#include <string>

#include "caf/rtm/testing/fake_slack.hpp"

namespace caf::rtm::cli {

/// Plays the workspace on `srv` (call from its own thread): messages, a
/// reaction, typing, a mention the client answers, then a goodbye and the
/// next session. Narrates on stderr. Calls `done` at the end (true if every
/// step was observed).
void play_demo(testing::fake_slack& srv, const std::function<void(bool)>& done);

} // namespace caf::rtm::cli
