#include "detail/paged_call.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

namespace {

using page_fn = std::function<void(uint64_t, json_object)>;
using done_fn = std::function<void(caf::expected<uint64_t>)>;
/// Before page `index` is handed on: an error ends the list instead.
using check_fn = std::function<caf::error(uint64_t)>;

struct paged_job {
  /// The call of the next page (the previous page's cursor set).
  api_call call;
  /// Pages received so far.
  uint64_t pages = 0;
  /// Every cursor used so far: one handed out again means a loop.
  std::unordered_set<std::string> cursors;
  page_fn on_page;
  done_fn done;
  check_fn check;
};

using job_ptr = std::shared_ptr<paged_job>;

// Slack's cursors are tens of bytes. Each one is kept (to find loops) and
// sent back: a server handing out megabytes per page would grow both.
constexpr size_t max_cursor_size = 4096;

// Slack takes JSON bodies for most write methods only, and a paged list is
// a read: its JSON arguments go as a form instead, as Slack takes them from
// every method (strings as they are, other values as their JSON text, the
// form's way for arrays). A JSON body replaces the form, so the JSON's
// fields replace `args`.
void as_form(api_call& x) {
  if (x.json.value.empty())
    return;
  api_args args;
  for (const auto& field : x.json.value) {
    const auto& v = field.value();
    args.emplace(std::string{field.key()}, v.is_string()
                                               ? std::string{v.get_string()}
                                               : boost::json::serialize(v));
  }
  x.args = std::move(args);
  x.json.value = {};
}

void set_cursor(api_call& x, const std::string& cursor) {
  x.args["cursor"] = cursor;
}

// Only reads take a cursor: a call with one is safe to repeat, whatever its
// method's name says.
void read_with_cursor(api_call& x) {
  if (x.retry == api_retry::automatic)
    x.retry = api_retry::always;
}

std::string cursor_of(const api_call& x) {
  auto i = x.args.find("cursor");
  return i != x.args.end() ? i->second : std::string{};
}

// `response_metadata.next_cursor`; empty on the last page.
std::string next_cursor(const boost::json::object& page) {
  auto* meta = page.if_contains("response_metadata");
  if (meta == nullptr || !meta->is_object())
    return {};
  auto* cursor = meta->get_object().if_contains("next_cursor");
  if (cursor == nullptr || !cursor->is_string())
    return {};
  return std::string{cursor->get_string()};
}

void fetch_next(web_api_self self, const job_ptr& job) {
  start_call(self, job->call, [self, job](caf::expected<json_object> res) {
    auto index = job->pages;
    if (!res)
      return job->done(
          add_context(std::move(res.error()), "page " + std::to_string(index)));
    if (job->check)
      if (auto err = job->check(index))
        return job->done(std::move(err));
    auto cursor = next_cursor(res->value);
    ++job->pages;
    job->on_page(index, std::move(*res));
    if (cursor.empty())
      return job->done(job->pages);
    const auto& method = job->call.method;
    if (cursor.size() > max_cursor_size)
      return job->done(make_error(
          errc::malformed_response, method,
          "page " + std::to_string(index) + " handed out a cursor over " +
              std::to_string(max_cursor_size) + " bytes"));
    if (!job->cursors.insert(cursor).second)
      return job->done(make_error(
          errc::cursor_loop, method,
          "page " + std::to_string(index) +
              " handed out a cursor used before: the list would never end"));
    auto cap = self->state.cfg.max_pages;
    if (job->pages >= cap)
      return job->done(
          make_error(errc::too_many_pages, method,
                     "more than max_pages (" + std::to_string(cap) + ")"));
    set_cursor(job->call, cursor);
    read_with_cursor(job->call);
    fetch_next(self, job);
  });
}

void start_pages(web_api_self self, api_call first, page_fn on_page,
                 done_fn done, check_fn check = nullptr) {
  auto job = std::make_shared<paged_job>();
  as_form(first);
  // A cursor the caller starts from counts as used.
  if (auto cursor = cursor_of(first); !cursor.empty())
    job->cursors.insert(std::move(cursor));
  job->call = std::move(first);
  if (!job->cursors.empty())
    read_with_cursor(job->call);
  job->on_page = std::move(on_page);
  job->done = std::move(done);
  job->check = std::move(check);
  fetch_next(self, job);
}

using sink_ptr = std::shared_ptr<web_api_state::page_sink>;

sink_ptr watch_sink(web_api_self self, const caf::actor& sink) {
  auto& entry = self->state.page_sinks[sink.address()];
  if (!entry) {
    entry = std::make_shared<web_api_state::page_sink>();
    self->monitor(sink); // an actor that ended already sends down at once
  }
  ++entry->lists;
  return entry;
}

void unwatch_sink(web_api_self self, const caf::actor_addr& addr,
                  const sink_ptr& watch) {
  if (--watch->lists > 0 || watch->ended)
    return; // other lists stream to it, or its down message came
  self->state.page_sinks.erase(addr);
  self->demonitor(addr);
}

} // namespace

void page_sink_ended(web_api_self self, const caf::actor_addr& addr) {
  auto& sinks = self->state.page_sinks;
  if (auto i = sinks.find(addr); i != sinks.end()) {
    i->second->ended = true;
    sinks.erase(i);
  }
}

void collect_pages(web_api_self self, api_call first,
                   caf::typed_response_promise<std::vector<json_object>> rp) {
  auto pages = std::make_shared<std::vector<json_object>>();
  start_pages(
      self, std::move(first),
      [pages](uint64_t, json_object page) {
        pages->push_back(std::move(page));
      },
      [pages, rp](caf::expected<uint64_t> res) mutable {
        if (res)
          rp.deliver(std::move(*pages));
        else
          rp.deliver(std::move(res.error()));
      });
}

void stream_pages(web_api_self self, api_call first, const caf::actor& sink,
                  caf::typed_response_promise<uint64_t> rp) {
  if (!sink) {
    rp.deliver(make_error(errc::invalid_argument,
                          "paged call without an actor for the pages"));
    return;
  }
  auto method = first.method;
  auto watch = watch_sink(self, sink);
  start_pages(
      self, std::move(first),
      // From the caller's own context, one page per handler run: the pages
      // reach the sink's mailbox in order.
      [sink, method](uint64_t index, json_object page) {
        caf::anon_send(sink, api_page{method, index, std::move(page)});
      },
      [self, addr = sink.address(), watch,
       rp](caf::expected<uint64_t> res) mutable {
        unwatch_sink(self, addr, watch);
        if (res)
          rp.deliver(*res);
        else
          rp.deliver(std::move(res.error()));
      },
      // A sink that ended would take no more pages: the list stops instead
      // of using up the method's rate limit for nobody.
      [watch, method](uint64_t index) -> caf::error {
        if (!watch->ended)
          return {};
        return make_error(errc::invalid_argument, method,
                          "page " + std::to_string(index) +
                              ": the actor for the pages ended");
      });
}

} // namespace caf::rtm::detail
