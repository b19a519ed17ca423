// Output: the machine, the result table, the JSON document and the plot.

#include "bench/report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace json = boost::json;

namespace caf::rtm::bench {

namespace {

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      if (auto colon = line.find(':'); colon != std::string::npos)
        return line.substr(line.find_first_not_of(' ', colon + 1));
  return "unknown";
}

std::string format_value(double x, int decimals) {
  if (decimals <= 0)
    return grouped(std::llround(x));
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  return buf;
}

const char* to_string(verdict x) {
  switch (x) {
  case verdict::pass:
    return "PASS";
  case verdict::miss:
    return "MISS";
  default:
    return "";
  }
}

// Sections in the order the table shows them.
std::vector<std::string> section_order(const report& out) {
  std::vector<std::string> result{"throughput", "latency", "reconnect",
                                  "memory", "scale"};
  for (auto& r : out.rows())
    if (std::find(result.begin(), result.end(), r.section) == result.end())
      result.push_back(r.section);
  return result;
}

// Rows grouped by section (in section order), each in the order added.
std::vector<row> table_order(const report& out) {
  std::vector<row> result;
  for (auto& section : section_order(out))
    for (auto& r : out.rows())
      if (r.section == section)
        result.push_back(r);
  return result;
}

void pretty(std::ostream& os, const json::value& v, int indent) {
  auto pad = [&](int n) {
    os << std::string(static_cast<size_t>(n), ' ');
  };
  if (v.is_object() && !v.get_object().empty()) {
    os << "{\n";
    bool first = true;
    for (auto& [key, val] : v.get_object()) {
      if (!first)
        os << ",\n";
      first = false;
      pad(indent + 2);
      os << json::serialize(json::string{key}) << ": ";
      pretty(os, val, indent + 2);
    }
    os << "\n";
    pad(indent);
    os << "}";
  } else if (v.is_array() && !v.get_array().empty() &&
             (v.get_array().front().is_object() ||
              v.get_array().front().is_array())) {
    os << "[\n";
    bool first = true;
    for (auto& val : v.get_array()) {
      if (!first)
        os << ",\n";
      first = false;
      pad(indent + 2);
      pretty(os, val, indent + 2);
    }
    os << "\n";
    pad(indent);
    os << "]";
  } else if (v.is_array()) {
    // Scalars on one line: `[1.2, 3.4]`.
    os << "[";
    bool first = true;
    for (auto& val : v.get_array()) {
      if (!first)
        os << ", ";
      first = false;
      pretty(os, val, indent);
    }
    os << "]";
  } else if (v.is_double()) {
    // Shortest form ("27.9", "10000"), not Boost's "2.79E1".
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.10g", v.get_double());
    os << buf;
  } else {
    os << json::serialize(v);
  }
}

// Rounds for the JSON document: no 17-digit noise.
double rounded(double x, int decimals) {
  auto scale = std::pow(10.0, std::max(decimals, 0) + 1);
  return std::round(x * scale) / scale;
}

// A single-quoted gnuplot string.
std::string quoted(const std::string& x) {
  std::string out = "'";
  for (auto c : x) {
    if (c == '\'')
      out += '\'';
    out += c;
  }
  return out + "'";
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr)
    return false;
  std::stringstream dirs{path};
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() &&
        ::access(dir.append("/").append(program).c_str(), X_OK) == 0)
      return true;
  return false;
}

} // namespace

machine_info describe_machine() {
  machine_info m;
  m.cores = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  m.cpu = cpu_model();
  utsname u{};
  if (uname(&u) == 0)
    m.kernel = std::string{u.sysname} + " " + u.release + " " + u.machine;
  auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date = buf;
  return m;
}

void print_header(std::FILE* out, const machine_info& m, const options& opts,
                  const settings_list& settings) {
  std::fprintf(out, "caf-rtm-bench\n");
  std::fprintf(out, "  machine   %u cores, %s, %s\n", m.cores, m.cpu.c_str(),
               m.kernel.c_str());
  std::fprintf(out, "  date      %s\n", m.date.c_str());
  std::fprintf(out, "  command   %s\n", opts.command.c_str());
  for (auto& [key, text] : settings)
    std::fprintf(out, "  %-9s %s\n", key.c_str(), text.c_str());
}

void print_table(std::FILE* out, const report& rep) {
  const std::vector<std::string> head{"section", "measurement", "value",
                                      "unit",    "target",      "result"};
  std::vector<std::vector<std::string>> lines;
  for (auto& r : table_order(rep))
    lines.push_back({r.section, r.label, format_value(r.value, r.decimals),
                     r.unit, r.target, to_string(r.status)});
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) {
    width[i] = head[i].size();
    for (auto& line : lines)
      width[i] = std::max(width[i], line[i].size());
  }
  auto print_line = [&](const std::vector<std::string>& cols) {
    std::string text;
    for (size_t i = 0; i < cols.size(); ++i) {
      auto pad = width[i] - cols[i].size();
      // Numbers right-aligned, text left-aligned.
      if (i == 2)
        text.append(pad, ' ').append(cols[i]);
      else
        text.append(cols[i]).append(pad, ' ');
      if (i + 1 < cols.size())
        text += "  ";
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    std::fprintf(out, "%s\n", text.c_str());
  };
  std::fprintf(out, "\n");
  print_line(head);
  std::vector<std::string> rule;
  rule.reserve(width.size());
  for (auto w : width)
    rule.push_back(std::string(w, '-'));
  print_line(rule);
  std::string previous;
  for (auto& line : lines) {
    if (!previous.empty() && line[0] != previous)
      std::fprintf(out, "\n");
    previous = line[0];
    print_line(line);
  }
}

bool write_json(const std::string& path, const report& rep,
                const machine_info& m, const options& opts,
                const settings_list& settings) {
  json::object doc;
  doc["program"] = "caf-rtm-bench";
  doc["date"] = m.date;
  doc["command"] = opts.command;
  doc["machine"] =
      json::object{{"cores", m.cores}, {"cpu", m.cpu}, {"kernel", m.kernel}};
  json::object opt;
  opt["quick"] = opts.quick;
  opt["events"] = opts.events;
  opt["clients"] = opts.clients;
  opt["busy_clients"] = opts.busy_clients;
  opt["paced_rate"] = opts.paced_rate;
  opt["paced_seconds"] = opts.paced_seconds;
  opt["repetitions"] = opts.repetitions;
  opt["throughput_rounds"] = opts.throughput_rounds;
  opt["scheduler_max_threads"] = opts.scheduler_threads;
  if (opts.soak) {
    opt["soak"] = true;
    opt["soak_minutes"] = opts.soak_minutes;
    opt["soak_seed"] = opts.soak_seed;
    opt["soak_connect"] = opts.soak_connect;
  }
  doc["options"] = std::move(opt);
  json::object notes;
  for (auto& [key, text] : settings)
    notes[key] = text;
  for (auto& [key, text] : rep.notes())
    notes[key] = text;
  doc["notes"] = std::move(notes);
  json::array rows;
  for (auto& r : table_order(rep)) {
    json::object x;
    x["id"] = r.id;
    x["section"] = r.section;
    x["label"] = r.label;
    x["value"] = rounded(r.value, r.decimals);
    x["unit"] = r.unit;
    if (!r.target.empty()) {
      x["target"] = r.target;
      x["result"] = to_string(r.status);
    }
    if (!r.samples.empty()) {
      json::array samples;
      for (auto s : r.samples)
        samples.push_back(rounded(s, r.decimals));
      x["samples"] = std::move(samples);
    }
    rows.push_back(std::move(x));
  }
  doc["results"] = std::move(rows);
  json::array failures;
  for (auto& f : rep.failures())
    failures.push_back(json::string{f});
  doc["failures"] = std::move(failures);
  doc["ok"] = rep.failures().empty();
  std::ofstream out{path};
  pretty(out, doc, 0);
  out << "\n";
  return static_cast<bool>(out);
}

std::string plot(const std::string& path, const report& rep) {
  if (!on_path("gnuplot"))
    return "plot skipped: gnuplot is not on PATH";
  if (rep.distributions().empty())
    return "plot skipped: no latency was measured";
  // One data file per distribution: latency (us) against the fraction of
  // events at or below it, at most 2,000 points each.
  std::vector<std::pair<std::string, std::string>> files;
  for (auto& [name, sorted] : rep.distributions()) {
    if (sorted.empty())
      continue;
    char tmpl[] = "/tmp/caf-rtm-bench-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0)
      continue;
    ::close(fd);
    std::ofstream data{tmpl};
    auto n = sorted.size();
    auto step = std::max<size_t>(n / 2000, 1);
    for (size_t i = 0; i < n; i += step)
      data << static_cast<double>(sorted[i]) / 1000.0 << ' '
           << static_cast<double>(i + 1) / static_cast<double>(n) << '\n';
    data << static_cast<double>(sorted.back()) / 1000.0 << " 1\n";
    files.emplace_back(name, tmpl);
  }
  std::ostringstream script;
  script << "set terminal png size 1000,600\n"
         << "set output " << quoted(path) << "\n"
         << "set title 'caf-rtm: event latency (fake Slack -> subscriber)'\n"
         << "set logscale x\n"
         << "set xlabel 'latency (microseconds, log scale)'\n"
         << "set ylabel 'fraction of events'\n"
         << "set key bottom right\n"
         << "set grid\n"
         << "plot ";
  for (size_t i = 0; i < files.size(); ++i)
    script << (i > 0 ? ", " : "") << quoted(files[i].second)
           << " using 1:2 with lines linewidth 2 title "
           << quoted(files[i].first);
  script << "\n";
  std::string result;
  if (auto* gp = ::popen("gnuplot", "w")) {
    auto text = script.str();
    std::fwrite(text.data(), 1, text.size(), gp);
    auto status = ::pclose(gp);
    result = status == 0 ? "latency plot written to " + path
                         : "plot failed: gnuplot exited with an error";
  } else {
    result = "plot failed: cannot run gnuplot";
  }
  for (auto& f : files)
    std::remove(f.second.c_str());
  return result;
}

} // namespace caf::rtm::bench
