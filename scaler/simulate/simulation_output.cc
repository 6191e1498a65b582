#include "simulate/simulation_output.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>

namespace kubeai::simulate {
namespace {

// Shortest round-trip form: the same double always writes the same bytes.
void writeNumber(std::ostream& out, double value) {
  if (!std::isfinite(value)) {
    out << "null";
    return;
  }
  if (value == 0) {
    value = 0;  // no "-0"
  }
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.write(buffer.data(), error == std::errc() ? end - buffer.data() : 0);
}

void writeNumber(std::ostream& out, const std::optional<double>& value) {
  if (value) {
    writeNumber(out, *value);
  } else {
    out << "null";
  }
}

void writeJsonString(std::ostream& out, std::string_view text) {
  out << '"';
  for (const char c : text) {
    switch (c) {
      case '"': out << "\\\""; break;
      case '\\': out << "\\\\"; break;
      case '\n': out << "\\n"; break;
      case '\r': out << "\\r"; break;
      case '\t': out << "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
          out << escaped.data();
        } else {
          out << c;
        }
    }
  }
  out << '"';
}

void writeSummaryJson(std::ostream& out, const PolicySummary& summary) {
  out << "{\"replicaSeconds\": ";
  writeNumber(out, summary.replicaSeconds);
  out << ", \"gpuHours\": ";
  writeNumber(out, summary.gpuHours);
  out << ", \"cost\": ";
  writeNumber(out, summary.cost);
  out << ",\n      \"sloViolationSeconds\": {\"latencyP99Ms\": ";
  writeNumber(out, summary.sloViolationSeconds.latencyP99Ms);
  out << ", \"timeToFirstTokenP95Ms\": ";
  writeNumber(out, summary.sloViolationSeconds.timeToFirstTokenP95Ms);
  out << ", \"requestsWaiting\": ";
  writeNumber(out, summary.sloViolationSeconds.requestsWaiting);
  out << ", \"any\": ";
  writeNumber(out, summary.sloViolationSeconds.any);
  out << "},\n      \"peakBacklog\": ";
  writeNumber(out, summary.peakBacklog);
  out << ", \"scaleUps\": " << summary.scaleUps << ", \"scaleDowns\": " << summary.scaleDowns
      << ", \"reversals\": " << summary.reversals << ", \"minReplicas\": " << summary.minReplicas
      << ", \"maxReplicas\": " << summary.maxReplicas << ", \"decisionsFailed\": " << summary.decisionsFailed
      << ", \"timeToCapacitySeconds\": [";
  for (std::size_t i = 0; i < summary.timeToCapacitySeconds.size(); ++i) {
    out << (i == 0 ? "" : ", ");
    writeNumber(out, summary.timeToCapacitySeconds[i]);
  }
  out << "]}";
}

void writeRowJson(std::ostream& out, const TimelineRow& row) {
  out << "{\"time\": ";
  writeNumber(out, row.time);
  out << ", \"demand\": ";
  writeNumber(out, row.demand);
  out << ", \"replicas\": " << row.replicas << ", \"readyReplicas\": " << row.readyReplicas
      << ", \"requestedReplicas\": " << row.requestedReplicas << ", \"desiredReplicas\": " << row.desiredReplicas
      << ", \"metrics\": {";
  for (std::size_t i = 0; i < row.metrics.size(); ++i) {
    out << (i == 0 ? "" : ", ");
    writeJsonString(out, row.metrics[i].first);
    out << ": ";
    writeNumber(out, row.metrics[i].second);
  }
  out << "}, \"limitedBy\": ";
  if (row.limitedBy.empty()) {
    out << "null";
  } else {
    writeJsonString(out, row.limitedBy);
  }
  out << ", \"reason\": ";
  writeJsonString(out, row.reason);
  out << ", \"latencyP99Ms\": ";
  writeNumber(out, row.latencyP99Ms);
  out << ", \"timeToFirstTokenP95Ms\": ";
  writeNumber(out, row.timeToFirstTokenP95Ms);
  out << ", \"requestsWaiting\": ";
  writeNumber(out, row.requestsWaiting);
  out << ", \"backlog\": ";
  writeNumber(out, row.backlog);
  out << ", \"gpuUtilization\": ";
  writeNumber(out, row.gpuUtilizationPercent);
  out << "}";
}

std::string fixed(double value, int precision) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(precision) << (value == 0 ? 0.0 : value);
  return text.str();
}

std::string csvField(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) {
    return std::string(text);
  }
  std::string quoted = "\"";
  for (const char c : text) {
    quoted += c;
    if (c == '"') {
      quoted += '"';
    }
  }
  return quoted + '"';
}

}  // namespace

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
  add("algorithm", [](const PolicyRun& run) { return run.algorithm; });
  add("GPU-hours", [](const PolicyRun& run) { return fixed(run.summary.gpuHours, 2); });
  if (result.costPerGpuHour) {
    add("cost", [](const PolicyRun& run) { return fixed(run.summary.cost.value_or(0), 2); });
  }
  add("replica-seconds", [](const PolicyRun& run) { return fixed(run.summary.replicaSeconds, 0); });
  add("SLO violated, any (s)", [](const PolicyRun& run) { return fixed(run.summary.sloViolationSeconds.any, 0); });
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
  add("time to capacity, max (s)", [](const PolicyRun& run) {
    double worst = 0;
    for (const double value : run.summary.timeToCapacitySeconds) {
      worst = std::max(worst, value);
    }
    return run.summary.timeToCapacitySeconds.empty() ? std::string("-") : fixed(worst, 0);
  });
  add("decisions failed", [](const PolicyRun& run) { return std::to_string(run.summary.decisionsFailed); });

  out << "workload " << result.workload << ": " << fixed(result.duration, 0) << " s at " << fixed(result.interval, 0)
      << " s steps, " << result.policies.size() << (result.policies.size() == 1 ? " policy" : " policies") << "\n\n";
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

void writeJson(std::ostream& out, const SimulationResult& result) {
  out << "{\"workload\": ";
  writeJsonString(out, result.workload);
  out << ", \"interval\": ";
  writeNumber(out, result.interval);
  out << ", \"duration\": ";
  writeNumber(out, result.duration);
  out << ", \"gpusPerReplica\": " << result.gpusPerReplica << ", \"costPerGpuHour\": ";
  writeNumber(out, result.costPerGpuHour);
  out << ",\n \"slo\": {\"latencyP99Ms\": ";
  writeNumber(out, result.sloLatencyP99Ms);
  out << ", \"timeToFirstTokenP95Ms\": ";
  writeNumber(out, result.sloTimeToFirstTokenP95Ms);
  out << ", \"requestsWaiting\": ";
  writeNumber(out, result.sloRequestsWaiting);
  out << "},\n \"policies\": [";
  for (std::size_t p = 0; p < result.policies.size(); ++p) {
    const PolicyRun& run = result.policies[p];
    out << (p == 0 ? "\n  " : ",\n  ") << "{\"policy\": ";
    writeJsonString(out, run.policy);
    out << ", \"algorithm\": ";
    writeJsonString(out, run.algorithm);
    out << ",\n    \"summary\": ";
    writeSummaryJson(out, run.summary);
    out << ",\n    \"timeline\": [";
    for (std::size_t i = 0; i < run.timeline.size(); ++i) {
      out << (i == 0 ? "\n      " : ",\n      ");
      writeRowJson(out, run.timeline[i]);
    }
    out << (run.timeline.empty() ? "]}" : "\n    ]}");
  }
  out << (result.policies.empty() ? "]}\n" : "\n ]}\n");
}

void writeCsvHeader(std::ostream& out) {
  out << "policy,time,demand,replicas,readyReplicas,requestedReplicas,desiredReplicas,latencyP99Ms,"
         "timeToFirstTokenP95Ms,requestsWaiting,backlog,gpuUtilization,limitedBy,reason,metrics\n";
}

void writeCsvRow(std::ostream& out, const PolicyRun& run, const TimelineRow& row) {
  out << csvField(run.policy) << ',';
  writeNumber(out, row.time);
  out << ',';
  writeNumber(out, row.demand);
  out << ',' << row.replicas << ',' << row.readyReplicas << ',' << row.requestedReplicas << ','
      << row.desiredReplicas << ',';
  if (row.latencyP99Ms) {
    writeNumber(out, *row.latencyP99Ms);
  }
  out << ',';
  if (row.timeToFirstTokenP95Ms) {
    writeNumber(out, *row.timeToFirstTokenP95Ms);
  }
  out << ',';
  writeNumber(out, row.requestsWaiting);
  out << ',';
  writeNumber(out, row.backlog);
  out << ',';
  writeNumber(out, row.gpuUtilizationPercent);
  out << ',' << csvField(row.limitedBy) << ',' << csvField(row.reason) << ',';
  // name=value;name=value: one column whatever the policy's metrics.
  std::ostringstream metrics;
  for (std::size_t i = 0; i < row.metrics.size(); ++i) {
    metrics << (i == 0 ? "" : ";") << row.metrics[i].first << '=';
    if (row.metrics[i].second) {
      writeNumber(metrics, *row.metrics[i].second);
    }
  }
  out << csvField(metrics.str()) << '\n';
}

}  // namespace kubeai::simulate
