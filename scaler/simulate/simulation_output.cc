#include "simulate/simulation_output.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <locale>
#include <optional>
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

// The timeline writers format each row into a string and hand it to the
// stream in one write: a stream's sentry, locale and virtual calls per field
// cost several times the formatting (bench/simulate/README.md). The bytes are
// the same as the stream forms above write.
void appendNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  if (value == 0) {
    value = 0;  // no "-0"
  }
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), error == std::errc() ? static_cast<std::size_t>(end - buffer.data()) : 0);
}

void appendNumber(std::string& out, const std::optional<double>& value) {
  if (value) {
    appendNumber(out, *value);
  } else {
    out += "null";
  }
}

void appendInteger(std::string& out, std::int32_t value) {
  std::array<char, 16> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), error == std::errc() ? static_cast<std::size_t>(end - buffer.data()) : 0);
}

// true/false, or `absent` (JSON's null, CSV's empty field).
void appendBoolean(std::string& out, const std::optional<bool>& value, std::string_view absent) {
  if (value) {
    out += *value ? "true" : "false";
  } else {
    out += absent;
  }
}

void appendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
          out += escaped.data();
        } else {
          out += c;
        }
    }
  }
  out += '"';
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
      << ",\n      \"timeToCapacity\": {\"count\": " << summary.timeToCapacity.count << ", \"meanSeconds\": ";
  writeNumber(out, summary.timeToCapacity.meanSeconds);
  out << ", \"maxSeconds\": ";
  writeNumber(out, summary.timeToCapacity.maxSeconds);
  out << "}}";
}

void appendRowJson(std::string& out, const TimelineRow& row) {
  out += "{\"time\": ";
  appendNumber(out, row.time);
  out += ", \"demand\": ";
  appendNumber(out, row.demand);
  out += ", \"replicas\": ";
  appendInteger(out, row.replicas);
  out += ", \"readyReplicas\": ";
  appendInteger(out, row.readyReplicas);
  out += ", \"requestedReplicas\": ";
  appendInteger(out, row.requestedReplicas);
  out += ", \"desiredReplicas\": ";
  appendInteger(out, row.desiredReplicas);
  out += ", \"metrics\": {";
  for (std::size_t i = 0; i < row.metrics.size(); ++i) {
    out += i == 0 ? "" : ", ";
    appendJsonString(out, row.metrics[i].first);
    out += ": ";
    appendNumber(out, row.metrics[i].second);
  }
  out += "}, \"limitedBy\": ";
  if (row.limitedBy.empty()) {
    out += "null";
  } else {
    appendJsonString(out, row.limitedBy);
  }
  out += ", \"reason\": ";
  appendJsonString(out, row.reason);
  out += ", \"latencyP99Ms\": ";
  appendNumber(out, row.latencyP99Ms);
  out += ", \"timeToFirstTokenP95Ms\": ";
  appendNumber(out, row.timeToFirstTokenP95Ms);
  out += ", \"requestsWaiting\": ";
  appendNumber(out, row.requestsWaiting);
  out += ", \"backlog\": ";
  appendNumber(out, row.backlog);
  out += ", \"gpuUtilization\": ";
  appendNumber(out, row.gpuUtilizationPercent);
  out += ", \"forecastReplicas\": ";
  appendNumber(out, row.forecastReplicas);
  out += ", \"horizonSeconds\": ";
  appendNumber(out, row.horizonSeconds);
  out += ", \"horizonSource\": ";
  if (row.horizonSource.empty()) {
    out += "null";
  } else {
    appendJsonString(out, row.horizonSource);
  }
  out += ", \"forecastDecided\": ";
  appendBoolean(out, row.forecastDecided, "null");
  out += ", \"panicking\": ";
  appendBoolean(out, row.panicking, "null");
  out += ", \"panicSince\": ";
  appendNumber(out, row.panicSince);
  out += '}';
}

std::string fixed(double value, int precision) {
  std::ostringstream text;
  text.imbue(std::locale::classic());  // the same bytes whatever the process's locale
  text << std::fixed << std::setprecision(precision) << (value == 0 ? 0.0 : value);
  return text.str();
}

// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line end.
void appendCsvField(std::string& out, std::string_view text) {
  bool quote = false;
  for (const char c : text) {
    quote = quote || c == ',' || c == '"' || c == '\n' || c == '\r';
  }
  if (!quote) {
    out += text;
    return;
  }
  out += '"';
  for (const char c : text) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
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
  add("algorithm", [](const PolicyRun& run) {
    return run.algorithm == run.requestedAlgorithm ? run.algorithm
                                                   : run.algorithm + " (" + run.requestedAlgorithm + " not loaded)";
  });
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
  add("short of capacity: times", [](const PolicyRun& run) { return std::to_string(run.summary.timeToCapacity.count); });
  add("time to capacity, mean / max (s)", [](const PolicyRun& run) {
    const PolicySummary::TimeToCapacity& waits = run.summary.timeToCapacity;
    return waits.count == 0 ? std::string("-") : fixed(waits.meanSeconds, 0) + " / " + fixed(waits.maxSeconds, 0);
  });
  add("decisions failed", [](const PolicyRun& run) { return std::to_string(run.summary.decisionsFailed); });

  const bool wholeSeconds = result.interval == std::floor(result.interval);
  out << "workload " << result.workload << ": " << fixed(result.duration, wholeSeconds ? 0 : 3) << " s at "
      << fixed(result.interval, wholeSeconds ? 0 : 3) << " s steps, " << result.policies.size() << (result.policies.size() == 1 ? " policy" : " policies") << "\n\n";
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
    out << ", \"requestedAlgorithm\": ";
    writeJsonString(out, run.requestedAlgorithm);
    out << ",\n    \"summary\": ";
    writeSummaryJson(out, run.summary);
    out << ",\n    \"timeline\": [";
    // Rows gather in `rows` and go to the stream some 64 KiB at a time.
    constexpr std::size_t kFlushBytes = 64 * 1024;
    std::string rows;
    rows.reserve(kFlushBytes + 1024);
    for (std::size_t i = 0; i < run.timeline.size(); ++i) {
      rows += i == 0 ? "\n      " : ",\n      ";
      appendRowJson(rows, run.timeline[i]);
      if (rows.size() >= kFlushBytes) {
        out.write(rows.data(), static_cast<std::streamsize>(rows.size()));
        rows.clear();
      }
    }
    out.write(rows.data(), static_cast<std::streamsize>(rows.size()));
    out << (run.timeline.empty() ? "]}" : "\n    ]}");
  }
  out << (result.policies.empty() ? "]}\n" : "\n ]}\n");
}

void writeCsvHeader(std::ostream& out) {
  out << "policy,time,demand,replicas,readyReplicas,requestedReplicas,desiredReplicas,latencyP99Ms,"
         "timeToFirstTokenP95Ms,requestsWaiting,backlog,gpuUtilization,limitedBy,reason,metrics,"
         // Later columns at the end: a reader by position keeps its columns.
         "forecastReplicas,horizonSeconds,horizonSource,forecastDecided,panicking,panicSince\n";
}

void writeCsvRow(std::ostream& out, const PolicyRun& run, const TimelineRow& row) {
  std::string line;
  line.reserve(256);
  appendCsvField(line, run.policy);
  line += ',';
  appendNumber(line, row.time);
  line += ',';
  appendNumber(line, row.demand);
  for (const std::int32_t count : {row.replicas, row.readyReplicas, row.requestedReplicas, row.desiredReplicas}) {
    line += ',';
    appendInteger(line, count);
  }
  line += ',';
  if (row.latencyP99Ms) {
    appendNumber(line, *row.latencyP99Ms);
  }
  line += ',';
  if (row.timeToFirstTokenP95Ms) {
    appendNumber(line, *row.timeToFirstTokenP95Ms);
  }
  line += ',';
  appendNumber(line, row.requestsWaiting);
  line += ',';
  appendNumber(line, row.backlog);
  line += ',';
  if (row.gpuUtilizationPercent) {
    appendNumber(line, *row.gpuUtilizationPercent);
  }
  line += ',';
  appendCsvField(line, row.limitedBy);
  line += ',';
  appendCsvField(line, row.reason);
  line += ',';
  // name=value;name=value: one column whatever the policy's metrics.
  std::string metrics;
  for (std::size_t i = 0; i < row.metrics.size(); ++i) {
    metrics += i == 0 ? "" : ";";
    metrics += row.metrics[i].first;
    metrics += '=';
    if (row.metrics[i].second) {
      appendNumber(metrics, *row.metrics[i].second);
    }
  }
  appendCsvField(line, metrics);
  line += ',';
  if (row.forecastReplicas) {
    appendNumber(line, *row.forecastReplicas);
  }
  line += ',';
  if (row.horizonSeconds) {
    appendNumber(line, *row.horizonSeconds);
  }
  line += ',';
  appendCsvField(line, row.horizonSource);
  line += ',';
  appendBoolean(line, row.forecastDecided, "");
  line += ',';
  appendBoolean(line, row.panicking, "");
  line += ',';
  if (row.panicSince) {
    appendNumber(line, *row.panicSince);
  }
  line += '\n';
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
}

}  // namespace kubeai::simulate
