#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "source/prometheus/client/prometheus_client.h"

namespace kubeai::cli {

struct SimulateCommandOptions {
  std::vector<std::filesystem::path> policyFiles;  // every policy of every file runs
  std::filesystem::path workloadFile;
  std::optional<std::filesystem::path> pluginDir;
  std::string output = "text";  // text | json | csv
  std::optional<std::filesystem::path> report;  // the HTML report
  bool summaryOnly = false;  // no timelines kept (JSON without them; CSV is refused)
  std::string pluginIsolation = "process";  // process | in-process, as serve's flag
  std::chrono::milliseconds pluginTimeout{1000};
  std::chrono::milliseconds reactionTime{30'000};  // as serve's --reaction-time
  // Where spec.demand.prometheus is read (--prometheus-url and the other
  // --prometheus-* flags, as serve's); url empty: not given.
  source::prometheus::PrometheusClientOptions prometheus{};
};

// `kubeai-scaler simulate` (docs/simulate.md). Exit 0 with the results, 2 for
// a bad workload, trace or policy (every problem said, with file and field or
// line), 1 when the run itself fails (a plugin that cannot load, a Prometheus
// that cannot be reached or answers 5xx).
int runSimulate(const SimulateCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli
