// The demo: a short scripted Slack workspace on the embedded fake server.

#pragma once

#include <atomic>
#include <functional>

#include "caf/rtm/testing/fake_slack.hpp"

namespace caf::rtm::cli {

/// Plays the workspace on `srv` (call from its own thread): messages, a
/// reaction, typing, a mention the client answers, then a goodbye, the next
/// session and a last mention. Narrates on stderr. Calls `done` once at the
/// end: true if every step was observed (the answer to the last mention
/// proves the client has handled everything before it). Returns early, with
/// `done(false)`, once `stop` is set.
void play_demo(testing::fake_slack& srv, const std::atomic<bool>& stop,
               const std::function<void(bool)>& done);

/// Plays a Slack app on `srv` in Socket Mode, as `play_demo` does: an event,
/// a mention the client answers with chat.postMessage, a slash command it
/// answers through the ack, a retried envelope it delivers once, a refresh,
/// and a last slash command (its answer ends the demo).
void play_socket_mode_demo(testing::fake_slack& srv,
                           const std::atomic<bool>& stop,
                           const std::function<void(bool)>& done);

} // namespace caf::rtm::cli
