#include "simulate/simulation_output.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "core/json_escape.h"

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

void writeInteger(std::ostream& out, const std::optional<std::int32_t>& value) {
  if (value) {
    out << *value;
  } else {
    out << "null";
  }
}

void writeJsonString(std::ostream& out, std::string_view text) {
  std::string quoted = "\"";
  core::appendJsonEscaped(quoted, text);
  quoted += '"';
  out << quoted;
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
  core::appendJsonEscaped(out, text);
  out += '"';
}

// A violation count of an SLO the workload does not set is null, not 0.
std::optional<double> ifSet(const std::optional<double>& slo, double seconds) {
  return slo ? std::optional<double>(seconds) : std::nullopt;
}

void writeSummaryJson(std::ostream& out, const PolicySummary& summary, const SimulationResult& result) {
  out << "{\"replicaSeconds\": ";
  writeNumber(out, summary.replicaSeconds);
  out << ", \"gpuHours\": ";
  writeNumber(out, summary.gpuHours);
  out << ", \"cost\": ";
  writeNumber(out, summary.cost);
  out << ",\n      \"sloViolationSeconds\": {\"latencyP99Ms\": ";
  writeNumber(out, ifSet(result.sloLatencyP99Ms, summary.sloViolationSeconds.latencyP99Ms));
  out << ", \"timeToFirstTokenP95Ms\": ";
  writeNumber(out, ifSet(result.sloTimeToFirstTokenP95Ms, summary.sloViolationSeconds.timeToFirstTokenP95Ms));
  out << ", \"requestsWaiting\": ";
  writeNumber(out, ifSet(result.sloRequestsWaiting, summary.sloViolationSeconds.requestsWaiting));
  out << ", \"any\": ";
  writeNumber(out, result.anySloSet() ? std::optional<double>(summary.sloViolationSeconds.any) : std::nullopt);
  out << "},\n      \"peakBacklog\": ";
  writeNumber(out, summary.peakBacklog);
  out << ", \"scaleUps\": " << summary.scaleUps << ", \"scaleDowns\": " << summary.scaleDowns
      << ", \"reversals\": " << summary.reversals << ", \"minReplicas\": " << summary.minReplicas
      << ", \"maxReplicas\": " << summary.maxReplicas << ", \"decisionsFailed\": " << summary.decisionsFailed
      << ",\n      \"timeToCapacity\": {\"count\": " << summary.timeToCapacity.count << ", \"meanSeconds\": ";
  writeNumber(out, summary.timeToCapacity.meanSeconds);
  out << ", \"maxSeconds\": ";
  writeNumber(out, summary.timeToCapacity.maxSeconds);
  out << "},\n      \"forecastRaised\": ";
  writeInteger(out, summary.forecastRaised);
  out << ", \"panics\": ";
  writeInteger(out, summary.panics);
  out << ", \"panicSeconds\": ";
  writeNumber(out, summary.panicSeconds);
  out << "}";
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
  out += ", \"reactiveReplicas\": ";
  if (row.reactiveReplicas) {
    appendInteger(out, *row.reactiveReplicas);
  } else {
    out += "null";
  }
  out += ", \"forecastDecided\": ";
  appendBoolean(out, row.forecastDecided, "null");
  out += ", \"forecastRaised\": ";
  appendBoolean(out, row.forecastRaised, "null");
  out += ", \"panicking\": ";
  appendBoolean(out, row.panicking, "null");
  out += ", \"panicSince\": ";
  appendNumber(out, row.panicSince);
  out += '}';
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

void writeJson(std::ostream& out, const SimulationResult& result) {
  out << "{\"workload\": ";
  writeJsonString(out, result.workload);
  out << ", \"interval\": ";
  writeNumber(out, result.interval);
  out << ", \"duration\": ";
  writeNumber(out, result.duration);
  out << ", \"gpusPerReplica\": " << result.gpusPerReplica << ", \"costPerGpuHour\": ";
  writeNumber(out, result.costPerGpuHour);
  out << ",\n \"replicas\": {\"initial\": " << result.initialReplicas << ", \"startupSeconds\": {\"min\": ";
  writeNumber(out, result.startupMinSeconds);
  out << ", \"max\": ";
  writeNumber(out, result.startupMaxSeconds);
  out << "}, \"shutdownSeconds\": ";
  writeNumber(out, result.shutdownSeconds);
  out << "}, \"capacityRequestsPerSecond\": ";
  writeNumber(out, result.capacityRequestsPerSecond);
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
    writeSummaryJson(out, run.summary, result);
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
         "forecastReplicas,horizonSeconds,horizonSource,forecastDecided,panicking,panicSince,reactiveReplicas,"
         "forecastRaised\n";
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
  line += ',';
  if (row.reactiveReplicas) {
    appendInteger(line, *row.reactiveReplicas);
  }
  line += ',';
  appendBoolean(line, row.forecastRaised, "");
  line += '\n';
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
}

}  // namespace kubeai::simulate
