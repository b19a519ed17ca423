// Output of the bench: the machine, the result table, the JSON document and
// the latency plot.

#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench.hpp"

namespace caf::rtm::bench {

struct machine_info {
  unsigned cores = 0;
  std::string cpu;
  std::string kernel;
  /// UTC, ISO 8601.
  std::string date;
};

using settings_list = std::vector<std::pair<std::string, std::string>>;

machine_info describe_machine();

/// The machine, the date, the command line and the settings of the run.
void print_header(std::FILE* out, const machine_info& m, const options& opts,
                  const settings_list& settings);

/// The result table, grouped by section, with PASS/MISS against the targets.
void print_table(std::FILE* out, const report& rep);

/// One JSON document with everything of the table (plus raw samples).
bool write_json(const std::string& path, const report& rep,
                const machine_info& m, const options& opts,
                const settings_list& settings);

/// Renders the latency distributions with gnuplot, if it is on PATH; returns
/// what happened, for the user.
std::string plot(const std::string& path, const report& rep);

} // namespace caf::rtm::bench
