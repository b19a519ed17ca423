// Everything a user of caf-rtm needs: the client actor, its configuration,
// the message vocabulary, errors, the logger and the web-API caller.

#pragma once

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/client_guard.hpp"
#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/hooks.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/pattern.hpp"
#include "caf/rtm/reply.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/type_ids.hpp"
#include "caf/rtm/web_api.hpp"
