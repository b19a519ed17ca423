#include "detail/file_uploader.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
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

// One file of an upload: its name and the like, and its bytes (from its
// `content` or read from its `path`) until they go out.
struct upload_part {
  upload_file file;
  std::string bytes;
  uint64_t size = 0;
  std::string file_id;
};

struct upload_job {
  /// Where and how the files are shared (their own fields are in `parts`).
  file_upload x;
  std::vector<upload_part> parts;
  /// The part whose steps run now; the bytes of the parts before it.
  size_t current = 0;
  uint64_t done = 0;
  uint64_t total = 0;
  /// No step starts after this (`x.max_wait`).
  std::optional<clock_type::time_point> deadline;
  web_api_state::deliver_fn deliver;

  void fail(caf::error err, const char* step) {
    // Which file, when it is not the first (the step stays last).
    if (current > 0 && current < parts.size())
      err = add_context(std::move(err),
                        "file: more_files[" + std::to_string(current - 1) +
                            "] (" + parts[current].file.filename + ")");
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

// Says why a file of an upload is too large: ", over max_upload_size (L)",
// with the bytes of the files before it if there are any.
std::string over_limit(size_t limit, size_t taken) {
  auto text = ", over max_upload_size (" + std::to_string(limit) + ")";
  if (taken > 0)
    text +=
        " with the " + std::to_string(taken) + " bytes of the files before it";
  return text;
}

// Reads a whole file, refusing one over what `limit` leaves after `taken`
// bytes of the files before it, before reading it. Blocks the caller for as
// long as reading that much from disk takes, which the limit bounds; no
// other file type (FIFOs, devices) is read at all.
caf::expected<std::string> read_file(const std::string& path, size_t limit,
                                     size_t taken) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error(errc::invalid_argument,
                      "cannot upload " + path + ": " +
                          (ec ? ec.message() : "not a regular file"));
  auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return make_error(errc::invalid_argument,
                      "cannot upload " + path + ": " + ec.message());
  if (size > limit - taken)
    return make_error(errc::invalid_argument,
                      path + " has " + std::to_string(size) + " bytes" +
                          over_limit(limit, taken));
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
  json::array files;
  for (const auto& part : job->parts) {
    json::object entry;
    entry["id"] = part.file_id;
    entry["title"] =
        part.file.title.empty() ? part.file.filename : part.file.title;
    files.emplace_back(std::move(entry));
  }
  api_call call;
  call.method = complete_step;
  // Slack takes `files` as a JSON array in a form field.
  call.args["files"] = json::serialize(files);
  if (!job->x.channel_id.empty())
    call.args["channel_id"] = job->x.channel_id;
  if (!job->x.thread_ts.empty())
    call.args["thread_ts"] = job->x.thread_ts;
  if (!job->x.initial_comment.empty())
    call.args["initial_comment"] = job->x.initial_comment;
  if (!job->x.blocks.empty())
    call.args["blocks"] = job->x.blocks;
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

void get_upload_url(web_api_self self, const job_ptr& job);

void send_bytes(web_api_self self, const job_ptr& job, std::string url) {
  auto checked =
      net::check_post_url(self->state.cfg, url, "upload URL from the Web API");
  if (!checked)
    return job->fail(std::move(checked.error()), bytes_step);
  web_api_state::pending_call call;
  call.method = bytes_step;
  call.url = std::move(url);
  // The URL is single-use and signed: the token stays with the Web API.
  auto& part = job->parts[job->current];
  call.body = std::make_shared<const std::string>(std::move(part.bytes));
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
    call.body_progress = [sink = job->x.progress, done = job->done,
                          total = job->total](uint64_t sent) {
      if (done + sent < total)
        caf::anon_send(sink, upload_progress{done + sent, total});
    };
  }
  call.deliver = [self, job](caf::expected<json_object> res) {
    if (!res)
      return job->fail(std::move(res.error()), bytes_step);
    // The files go one after another: each step of each is a request of its
    // own, with its own retries.
    job->done += job->parts[job->current].size;
    if (++job->current < job->parts.size())
      return get_upload_url(self, job);
    job->report(job->total);
    complete(self, job);
  };
  // Each attempt reports 0 first, when it starts writing (see
  // `http_request::body_progress`).
  start_request(self, std::move(call));
}

void get_upload_url(web_api_self self, const job_ptr& job) {
  const auto& part = job->parts[job->current];
  api_call call;
  call.method = get_url_step;
  call.args["filename"] = part.file.filename;
  call.args["length"] = std::to_string(part.size);
  if (!part.file.alt_text.empty())
    call.args["alt_txt"] = part.file.alt_text;
  if (!part.file.snippet_type.empty())
    call.args["snippet_type"] = part.file.snippet_type;
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
        auto& file_id = job->parts[job->current].file_id;
        file_id = std::string{string_field(res->value, "file_id")};
        if (url.empty() || file_id.empty())
          return job->fail(make_error(errc::malformed_response,
                                      "answer without upload_url or file_id"),
                           get_url_step);
        send_bytes(self, job, std::move(url));
      });
}

// The upload's files as parts, the first one from `x`'s own fields.
std::vector<upload_part> parts_of(file_upload& x) {
  std::vector<upload_part> result;
  result.reserve(1 + x.more_files.size());
  upload_part first;
  first.file = upload_file{std::move(x.filename), std::move(x.title),
                           std::move(x.alt_text), std::move(x.snippet_type),
                           std::move(x.content),  std::move(x.path)};
  result.push_back(std::move(first));
  for (auto& file : x.more_files) {
    upload_part part;
    part.file = std::move(file);
    result.push_back(std::move(part));
  }
  x.more_files.clear();
  return result;
}

// Checks each file, then takes its bytes (all files together at most
// `limit`), naming the file in errors.
caf::error take_bytes(std::vector<upload_part>& parts, size_t limit) {
  auto name = [&](size_t i) {
    return i == 0 ? std::string{"file_upload"}
                  : "file_upload's more_files[" + std::to_string(i - 1) + "]";
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& file = parts[i].file;
    if (file.filename.empty())
      return make_error(errc::invalid_argument,
                        name(i) + " without a filename");
    if (file.content.empty() == file.path.empty())
      return make_error(errc::invalid_argument,
                        name(i) + " needs either content or a path (not both)");
  }
  size_t taken = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto& part = parts[i];
    if (!part.file.path.empty()) {
      auto bytes = read_file(part.file.path, limit, taken);
      if (!bytes)
        return std::move(bytes.error());
      part.bytes = std::move(*bytes);
    } else {
      if (part.file.content.size() > limit - taken)
        return make_error(errc::invalid_argument,
                          name(i) + " of " +
                              std::to_string(part.file.content.size()) +
                              " bytes" + over_limit(limit, taken));
      part.bytes = std::move(part.file.content);
      part.file.content.clear();
    }
    part.size = part.bytes.size();
    taken += part.bytes.size();
  }
  return caf::none;
}

// `blocks` is a JSON array, and comes without `initial_comment`.
caf::error check_blocks(const file_upload& x) {
  if (x.blocks.empty())
    return caf::none;
  if (!x.initial_comment.empty())
    return make_error(errc::invalid_argument,
                      "file_upload with both initial_comment and blocks: "
                      "Slack would ignore the blocks");
  json::error_code ec;
  auto value = parse_json(x.blocks, ec);
  if (ec || !value.is_array())
    return make_error(errc::invalid_argument,
                      "file_upload's blocks are not a JSON array");
  return caf::none;
}

} // namespace

void start_upload(web_api_self self, file_upload x,
                  web_api_state::deliver_fn deliver) {
  // Before the files are read: a caller that cannot send them answers at
  // once.
  auto& st = self->state;
  if (st.setup_error)
    return deliver(st.setup_error);
  if (st.closing)
    return deliver(make_error(errc::closed, "web API caller is closing"));
  if (!x.thread_ts.empty() && x.channel_id.empty())
    return deliver(make_error(errc::invalid_argument,
                              "file_upload with a thread_ts but no "
                              "channel_id"));
  if (auto err = check_blocks(x))
    return deliver(std::move(err));
  if (auto err = check_max_wait(x.max_wait, "file_upload"))
    return deliver(std::move(err));
  // Counted from its arrival: reading the files is part of the wait.
  auto arrived = clock_type::now();
  auto job = std::make_shared<upload_job>();
  job->parts = parts_of(x);
  if (auto err = take_bytes(job->parts, st.cfg.max_upload_size))
    return deliver(std::move(err));
  for (const auto& part : job->parts)
    job->total += part.size;
  job->deadline = wait_deadline(arrived, x.max_wait);
  job->x = std::move(x);
  job->deliver = std::move(deliver);
  get_upload_url(self, job);
}

} // namespace caf::rtm::detail
