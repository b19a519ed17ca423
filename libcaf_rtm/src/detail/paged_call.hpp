// Cursor pagination on top of the web-API caller: the pages of one list are
// fetched one after the other, each as a call of its own (retries and
// rate-limit waits apply between pages), until `next_cursor` is empty.

#pragma once

#include <cstdint>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "detail/web_api_caller.hpp"

namespace caf::rtm::detail {

/// Fetches every page of the list `first` starts and replies with all of
/// them, in order (or with the error that ended the list).
void collect_pages(web_api_self self, api_call first,
                   caf::typed_response_promise<std::vector<json_object>> rp);

/// Fetches every page, sending each to `sink` as an `api_page` as it
/// arrives; replies with the number of pages (or with the error that ended
/// the list). A sink that ends ends its lists.
void stream_pages(web_api_self self, api_call first, const caf::actor& sink,
                  caf::typed_response_promise<uint64_t> rp);

/// The sink of streamed lists at `addr` ended (its down message).
void page_sink_ended(web_api_self self, const caf::actor_addr& addr);

} // namespace caf::rtm::detail
