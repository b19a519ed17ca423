#include "detail/paged_call.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include <caf/sec.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

namespace {

/// Called once the consumer of a page is done with it: none fetches the
/// next page, an error ends the list.
using next_fn = std::function<void(caf::error)>;
using page_fn = std::function<void(uint64_t, json_object, next_fn)>;
using done_fn = std::function<void(caf::expected<uint64_t>)>;

struct paged_job {
  /// The call of the next page (the previous page's cursor set).
  api_call call;
  /// Pages received so far.
  uint64_t pages = 0;
  /// Every cursor used so far: one handed out again means a loop.
  std::unordered_set<std::string> cursors;
  page_fn on_page;
  done_fn done;
};

using job_ptr = std::shared_ptr<paged_job>;

// Slack's cursors are tens of bytes. Each one is kept (to find loops) and
// sent back: a server handing out megabytes per page would grow both.
constexpr size_t max_cursor_size = 4096;

// The cursor goes where the call's other arguments are.
void set_cursor(api_call& x, const std::string& cursor) {
  if (!x.json.value.empty())
    x.json.value["cursor"] = cursor;
  else
    x.args["cursor"] = cursor;
}

std::string cursor_of(const api_call& x) {
  if (!x.json.value.empty()) {
    if (auto* c = x.json.value.if_contains("cursor"); c && c->is_string())
      return std::string{c->get_string()};
    return {};
  }
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

void fetch_after(web_api_self self, const job_ptr& job, uint64_t index,
                 const std::string& cursor);

void fetch_next(web_api_self self, const job_ptr& job) {
  start_call(self, job->call, [self, job](caf::expected<json_object> res) {
    auto index = job->pages;
    if (!res)
      return job->done(
          add_context(std::move(res.error()), "page " + std::to_string(index)));
    auto cursor = next_cursor(res->value);
    ++job->pages;
    job->on_page(index, std::move(*res),
                 [self, job, index, cursor](caf::error err) {
                   if (err)
                     return job->done(std::move(err));
                   fetch_after(self, job, index, cursor);
                 });
  });
}

// Page `index` handed out `cursor` and its consumer is done with it: the
// next page, or the end of the list.
void fetch_after(web_api_self self, const job_ptr& job, uint64_t index,
                 const std::string& cursor) {
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
  fetch_next(self, job);
}

void start_pages(web_api_self self, api_call first, page_fn on_page,
                 done_fn done) {
  auto job = std::make_shared<paged_job>();
  // A cursor the caller starts from counts as used.
  if (auto cursor = cursor_of(first); !cursor.empty())
    job->cursors.insert(std::move(cursor));
  job->call = std::move(first);
  job->on_page = std::move(on_page);
  job->done = std::move(done);
  fetch_next(self, job);
}

caf::error sink_failed(const std::string& method, uint64_t index,
                       const std::string& why) {
  return make_error(errc::invalid_argument, method,
                    "page " + std::to_string(index) +
                        ": the actor for the pages did not take it (" + why +
                        ")");
}

void watch_sink(web_api_self self, const caf::actor& sink) {
  if (self->state.page_sinks[sink.address()]++ == 0)
    self->monitor(sink);
}

void unwatch_sink(web_api_self self, const caf::actor_addr& sink) {
  auto& sinks = self->state.page_sinks;
  auto i = sinks.find(sink);
  if (i == sinks.end() || --i->second > 0)
    return; // ended (its down message came), or other lists still stream
  sinks.erase(i);
  self->demonitor(sink);
}

// The sink answered for wait `wait`, unless close or exit ended it first.
void resume_pages(web_api_self self, uint64_t wait, caf::error err) {
  auto& waits = self->state.page_waits;
  auto i = waits.find(wait);
  if (i == waits.end())
    return;
  auto next = std::move(i->second.next);
  waits.erase(i);
  next(std::move(err));
}

} // namespace

void end_page_waits(web_api_self self, const caf::error& err) {
  auto waits = std::exchange(self->state.page_waits, {});
  for (auto& [id, wait] : waits)
    wait.next(err);
}

void end_page_waits_of(web_api_self self, const caf::actor_addr& sink) {
  auto& st = self->state;
  // No longer monitored: the lists still fetching find the sink gone when
  // they send it their page.
  st.page_sinks.erase(sink);
  std::vector<web_api_state::page_wait> ended;
  for (auto i = st.page_waits.begin(); i != st.page_waits.end();) {
    if (i->second.sink == sink) {
      ended.push_back(std::move(i->second));
      i = st.page_waits.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& wait : ended)
    wait.next(sink_failed(wait.method, wait.index, "it ended"));
}

void collect_pages(web_api_self self, api_call first,
                   caf::typed_response_promise<std::vector<json_object>> rp) {
  auto pages = std::make_shared<std::vector<json_object>>();
  start_pages(
      self, std::move(first),
      [pages](uint64_t, json_object page, const next_fn& next) {
        pages->push_back(std::move(page));
        next(caf::error{});
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
  watch_sink(self, sink);
  start_pages(
      self, std::move(first),
      // One page at a time: the sink's answer (any, a handler returning
      // nothing answers too) lets the list go on. Sent without waiting,
      // pages would pile up in a slow sink's mailbox, and a list would be
      // fetched to its end for a sink that ended.
      [self, sink, method](uint64_t index, json_object page, next_fn next) {
        auto& st = self->state;
        auto wait = st.next_page_wait++;
        st.page_waits.emplace(wait,
                              web_api_state::page_wait{sink.address(), method,
                                                       index, std::move(next)});
        self->request(sink, caf::infinite,
                      api_page{method, index, std::move(page)})
            .then([self, wait]() { resume_pages(self, wait, caf::error{}); },
                  [self, wait, index, method](caf::error& err) {
                    if (err == caf::sec::unexpected_response) {
                      // The sink answered with a value of its own.
                      resume_pages(self, wait, caf::error{});
                      return;
                    }
                    resume_pages(
                        self, wait,
                        sink_failed(method, index, caf::to_string(err)));
                  });
      },
      [self, addr = sink.address(), rp](caf::expected<uint64_t> res) mutable {
        unwatch_sink(self, addr);
        if (res)
          rp.deliver(*res);
        else
          rp.deliver(std::move(res.error()));
      });
}

} // namespace caf::rtm::detail
