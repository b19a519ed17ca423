#include "detail/file_uploader.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/json_views.hpp"
#include "detail/wait_deadline.hpp"
#include "net/url.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

using clock_type = web_api_state::clock_type;

// Step names, as errors and logs show them.
constexpr const char* get_url_step = "files.getUploadURLExternal";
constexpr const char* bytes_step = "upload_url";
constexpr const char* complete_step = "files.completeUploadExternal";

caf::error in_step(caf::error err, const char* step) {
  return add_context(std::move(err), std::string{"step: "} + step);
}

struct upload_job {
  file_upload x;
  /// The bytes, from `x.content` or read from `x.path`, until they go out.
  std::string bytes;
  uint64_t total = 0;
  std::string file_id;
  /// No step starts after this (`x.max_wait`).
  std::optional<clock_type::time_point> deadline;
  web_api_state::deliver_fn deliver;

  void fail(caf::error err, const char* step) {
    deliver(in_step(std::move(err), step));
  }

  void report(uint64_t sent) const {
    if (x.progress)
      caf::anon_send(x.progress, upload_progress{sent, total});
  }
};

using job_ptr = std::shared_ptr<upload_job>;

// Gives Web API step `step` (`call`) what is left of the upload's max_wait;
// false (and the upload failed) when nothing is.
bool bound_step(const job_ptr& job, api_call& call, const char* step) {
  if (!job->deadline)
    return true;
  auto left = *job->deadline - clock_type::now();
  if (left <= clock_type::duration{0}) {
    job->fail(make_error(errc::send_expired,
                         std::string{step} +
                             " not sent within the upload's max_wait"),
              step);
    return false;
  }
  call.max_wait = std::chrono::duration_cast<caf::timespan>(left);
  if (call.max_wait.count() == 0)
    call.max_wait = caf::timespan{1}; // 0 would mean no limit
  return true;
}

// Reads a whole file, refusing one over `limit` before reading it. Blocks
// the caller for as long as reading `limit` bytes from disk takes, which the
// limit bounds; no other file type (FIFOs, devices) is read at all.
caf::expected<std::string> read_file(const std::string& path, size_t limit) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error(errc::invalid_argument,
                      "cannot upload " + path + ": " +
                          (ec ? ec.message() : "not a regular file"));
  auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return make_error(errc::invalid_argument,
                      "cannot upload " + path + ": " + ec.message());
  if (size > limit)
    return make_error(errc::invalid_argument,
                      path + " has " + std::to_string(size) +
                          " bytes, over max_upload_size (" +
                          std::to_string(limit) + ")");
  std::ifstream in{path, std::ios::binary};
  std::string result(static_cast<size_t>(size), '\0');
  if (!in.read(result.data(), static_cast<std::streamsize>(size)) ||
      in.peek() != std::ifstream::traits_type::eof())
    return make_error(errc::invalid_argument,
                      "cannot upload " + path +
                          ": unreadable, or it changed while read");
  return result;
}

void complete(web_api_self self, const job_ptr& job) {
  json::object entry;
  entry["id"] = job->file_id;
  entry["title"] = job->x.title.empty() ? job->x.filename : job->x.title;
  api_call call;
  call.method = complete_step;
  // Slack takes `files` as a JSON array in a form field.
  call.args["files"] = json::serialize(json::array{std::move(entry)});
  if (!job->x.channel_id.empty())
    call.args["channel_id"] = job->x.channel_id;
  if (!job->x.thread_ts.empty())
    call.args["thread_ts"] = job->x.thread_ts;
  if (!job->x.initial_comment.empty())
    call.args["initial_comment"] = job->x.initial_comment;
  call.token = job->x.token;
  call.retry = job->x.retry;
  if (!bound_step(job, call, complete_step))
    return;
  start_call(self, std::move(call), [job](caf::expected<json_object> res) {
    if (!res)
      return job->fail(std::move(res.error()), complete_step);
    job->deliver(std::move(*res));
  });
}

void send_bytes(web_api_self self, const job_ptr& job, std::string url) {
  auto checked =
      net::check_post_url(self->state.cfg, url, "upload URL from the Web API");
  if (!checked)
    return job->fail(std::move(checked.error()), bytes_step);
  web_api_state::pending_call call;
  call.method = bytes_step;
  call.url = std::move(url);
  // The URL is single-use and signed: the token stays with the Web API.
  call.body = std::make_shared<const std::string>(std::move(job->bytes));
  call.content_type = "application/octet-stream";
  // Nothing is shared before files.completeUploadExternal: bytes that may
  // have arrived are harmless to send again. Not after a timeout, unless
  // asked: a body too large for `request_timeout` would only go out again
  // and again.
  call.repeatable = true;
  call.repeat_timeouts = job->x.retry == api_retry::always;
  call.answer = web_api_state::pending_call::answer_kind::status_only;
  call.deadline = job->deadline;
  if (job->x.progress) {
    // Runs on the I/O thread, after the report below and before the answer
    // reaches this actor: the reports arrive in order. `sent == total` is
    // left to the answer, which says the bytes arrived.
    call.body_progress = [sink = job->x.progress,
                          total = job->total](uint64_t sent) {
      if (sent < total)
        caf::anon_send(sink, upload_progress{sent, total});
    };
  }
  call.deliver = [self, job](caf::expected<json_object> res) {
    if (!res)
      return job->fail(std::move(res.error()), bytes_step);
    job->report(job->total);
    complete(self, job);
  };
  // Each attempt reports 0 first, when it starts writing (see
  // `http_request::body_progress`).
  start_request(self, std::move(call));
}

void get_upload_url(web_api_self self, const job_ptr& job) {
  api_call call;
  call.method = get_url_step;
  call.args["filename"] = job->x.filename;
  call.args["length"] = std::to_string(job->total);
  if (!job->x.alt_text.empty())
    call.args["alt_txt"] = job->x.alt_text;
  if (!job->x.snippet_type.empty())
    call.args["snippet_type"] = job->x.snippet_type;
  call.token = job->x.token;
  // Only hands out an id and a URL: repeating it is harmless.
  call.retry = api_retry::always;
  if (!bound_step(job, call, get_url_step))
    return;
  start_call(
      self, std::move(call), [self, job](caf::expected<json_object> res) {
        if (!res)
          return job->fail(std::move(res.error()), get_url_step);
        auto url = std::string{string_field(res->value, "upload_url")};
        job->file_id = std::string{string_field(res->value, "file_id")};
        if (url.empty() || job->file_id.empty())
          return job->fail(make_error(errc::malformed_response,
                                      "answer without upload_url or file_id"),
                           get_url_step);
        send_bytes(self, job, std::move(url));
      });
}

} // namespace

void start_upload(web_api_self self, file_upload x,
                  web_api_state::deliver_fn deliver) {
  auto invalid = [&](std::string what) {
    deliver(make_error(errc::invalid_argument, std::move(what)));
  };
  // Before the file is read: a caller that cannot send it answers at once.
  auto& st = self->state;
  if (st.setup_error)
    return deliver(st.setup_error);
  if (st.closing)
    return deliver(make_error(errc::closed, "web API caller is closing"));
  if (x.filename.empty())
    return invalid("file_upload without a filename");
  if (x.content.empty() == x.path.empty())
    return invalid("file_upload needs either content or a path (not both)");
  if (!x.thread_ts.empty() && x.channel_id.empty())
    return invalid("file_upload with a thread_ts but no channel_id");
  if (auto err = check_max_wait(x.max_wait, "file_upload"))
    return deliver(std::move(err));
  // Counted from its arrival: reading the file is part of the wait.
  auto arrived = clock_type::now();
  auto limit = st.cfg.max_upload_size;
  auto job = std::make_shared<upload_job>();
  if (!x.path.empty()) {
    auto bytes = read_file(x.path, limit);
    if (!bytes)
      return deliver(std::move(bytes.error()));
    job->bytes = std::move(*bytes);
  } else {
    if (x.content.size() > limit)
      return invalid("file_upload of " + std::to_string(x.content.size()) +
                     " bytes, over max_upload_size (" + std::to_string(limit) +
                     ")");
    job->bytes = std::move(x.content);
    x.content.clear();
  }
  job->total = job->bytes.size();
  job->deadline = wait_deadline(arrived, x.max_wait);
  job->x = std::move(x);
  job->deliver = std::move(deliver);
  get_upload_url(self, job);
}

} // namespace caf::rtm::detail
