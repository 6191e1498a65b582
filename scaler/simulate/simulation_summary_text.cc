#include <algorithm>
#include <cmath>
#include <iomanip>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "simulate/simulation_output.h"

namespace kubeai::simulate {
namespace {

std::string fixed(double value, int precision) {
  std::ostringstream text;
  text.imbue(std::locale::classic());  // the same bytes whatever the process's locale
  text << std::fixed << std::setprecision(precision) << (value == 0 ? 0.0 : value);
  return text.str();
}

// To the millisecond, without trailing zeros: 120, 180.5.
std::string number(double value) {
  std::string text = fixed(value, 3);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string replicaModelText(const SimulationResult& result) {
  std::string text = "start-up ";
  if (result.startupMaxSeconds > result.startupMinSeconds) {
    text += number(result.startupMinSeconds) + "-" + number(result.startupMaxSeconds) + " s (uniform)";
  } else {
    text += number(result.startupMinSeconds) + " s";
    if (result.startupMinSeconds == 0) {
      text += " (ready at once)";
    }
  }
  if (result.shutdownSeconds > 0) {
    text += ", shutdown " + number(result.shutdownSeconds) + " s";
  }
  if (result.capacityRequestsPerSecond) {
    text += ", " + number(*result.capacityRequestsPerSecond) + " requests/s a replica";
  }
  text += ", " + std::to_string(result.initialReplicas) +
          (result.initialReplicas == 1 ? " replica at the start" : " replicas at the start");
  return text;
}

void writeSummaryText(std::ostream& out, const SimulationResult& result) {
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto add = [&](std::string label, auto value) {
    std::vector<std::string> cells;
    for (const PolicyRun& run : result.policies) {
      cells.push_back(value(run));
    }
    rows.emplace_back(std::move(label), std::move(cells));
  };
  add("policy", [](const PolicyRun& run) { return run.policy; });
  add("algorithm", [](const PolicyRun& run) {
    return run.algorithm == run.requestedAlgorithm ? run.algorithm
                                                   : run.algorithm + " (" + run.requestedAlgorithm + " not loaded)";
  });
  add("GPU-hours", [](const PolicyRun& run) { return fixed(run.summary.gpuHours, 2); });
  if (result.costPerGpuHour) {
    add("cost", [](const PolicyRun& run) { return fixed(run.summary.cost.value_or(0), 2); });
  }
  add("replica-seconds", [](const PolicyRun& run) { return fixed(run.summary.replicaSeconds, 0); });
  const bool anySlo = result.anySloSet();
  add("SLO violated, any (s)", [anySlo](const PolicyRun& run) {
    return anySlo ? fixed(run.summary.sloViolationSeconds.any, 0) : std::string("- (no SLO set)");
  });
  if (result.sloLatencyP99Ms) {
    add("  latencyP99Ms (s)",
        [](const PolicyRun& run) { return fixed(run.summary.sloViolationSeconds.latencyP99Ms, 0); });
  }
  if (result.sloTimeToFirstTokenP95Ms) {
    add("  timeToFirstTokenP95Ms (s)",
        [](const PolicyRun& run) { return fixed(run.summary.sloViolationSeconds.timeToFirstTokenP95Ms, 0); });
  }
  if (result.sloRequestsWaiting) {
    add("  requestsWaiting (s)",
        [](const PolicyRun& run) { return fixed(run.summary.sloViolationSeconds.requestsWaiting, 0); });
  }
  add("peak backlog (requests)", [](const PolicyRun& run) { return fixed(run.summary.peakBacklog, 1); });
  add("scale-ups / downs",
      [](const PolicyRun& run) { return std::to_string(run.summary.scaleUps) + " / " + std::to_string(run.summary.scaleDowns); });
  add("reversals (< 5 min)", [](const PolicyRun& run) { return std::to_string(run.summary.reversals); });
  add("replicas min / max", [](const PolicyRun& run) {
    return std::to_string(run.summary.minReplicas) + " / " + std::to_string(run.summary.maxReplicas);
  });
  add("short of capacity: times", [](const PolicyRun& run) { return std::to_string(run.summary.timeToCapacity.count); });
  add("time to capacity, mean / max (s)", [](const PolicyRun& run) {
    const PolicySummary::TimeToCapacity& waits = run.summary.timeToCapacity;
    return waits.count == 0 ? std::string("-") : fixed(waits.meanSeconds, 0) + " / " + fixed(waits.maxSeconds, 0);
  });
  add("decisions failed", [](const PolicyRun& run) { return std::to_string(run.summary.decisionsFailed); });
  const auto any = [&result](auto field) {
    return std::any_of(result.policies.begin(), result.policies.end(),
                       [field](const PolicyRun& run) { return (run.summary.*field).has_value(); });
  };
  if (any(&PolicySummary::forecastRaised)) {
    add("forecast raised the answer", [](const PolicyRun& run) {
      return run.summary.forecastRaised ? std::to_string(*run.summary.forecastRaised) + " decisions" : std::string("-");
    });
  }
  if (any(&PolicySummary::panics)) {
    add("panics / seconds in panic", [](const PolicyRun& run) {
      return run.summary.panics ? std::to_string(*run.summary.panics) + " / " + fixed(run.summary.panicSeconds.value_or(0), 0)
                                : std::string("-");
    });
  }

  const bool wholeSeconds = result.interval == std::floor(result.interval);
  out << "workload " << result.workload << ": " << fixed(result.duration, wholeSeconds ? 0 : 3) << " s at "
      << fixed(result.interval, wholeSeconds ? 0 : 3) << " s steps, " << result.policies.size() << (result.policies.size() == 1 ? " policy" : " policies") << "; "
      << replicaModelText(result) << "\n\n";
  std::size_t labelWidth = 0;
  std::vector<std::size_t> widths(result.policies.size(), 0);
  for (const auto& [label, cells] : rows) {
    labelWidth = std::max(labelWidth, label.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      widths[i] = std::max(widths[i], cells[i].size());
    }
  }
  for (const auto& [label, cells] : rows) {
    out << label << std::string(labelWidth - label.size(), ' ');
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out << "  " << std::string(widths[i] - cells[i].size(), ' ') << cells[i];
    }
    out << '\n';
  }
}

}  // namespace kubeai::simulate
