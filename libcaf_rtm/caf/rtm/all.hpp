// Everything a user of caf-rtm needs: the client actor, its configuration,
// the message vocabulary, errors and the web-API caller.

#pragma once

#include "caf/rtm/actors.hpp"
#include "caf/rtm/client.hpp"
#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/web_api.hpp"
