#include "simulate/html_report.h"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

#include "simulate/html_chart_parts.h"
#include "simulate/html_charts.h"
#include "simulate/simulation_output.h"
#include "simulate/svg_axes.h"
#include "simulate/svg_text.h"

namespace kubeai::simulate {
namespace {

using svg::escapeText;
using svg::formatFixed;

std::string seconds(double value) { return formatFixed(value, 0); }

void writeStyle(std::ostream& out) {
  out << "<style>\n"
         "body{font-family:sans-serif;color:#222;background:#fff;margin:16px 24px;}\n"
         "h1{font-size:20px;margin:0 0 4px;}\n"
         "h2{font-size:16px;margin:18px 0 4px;}\n"
         "p{margin:2px 0 6px;font-size:13px;}\n"
         "table{border-collapse:collapse;font-size:12px;}\n"
         "th,td{border:1px solid #d0d0d0;padding:3px 6px;text-align:right;}\n"
         "th{background:#f0f0f0;}\n"
         "td.name,th.name{text-align:left;white-space:nowrap;}\n"
         ".swatch{display:inline-block;width:14px;height:10px;margin-right:4px;}\n"
         ".line{display:inline-block;width:22px;height:0;border-top-width:3px;"
         "border-top-style:solid;margin-right:4px;vertical-align:middle;}\n"
         "ul.legend{list-style:none;padding:0;margin:2px 0 0;font-size:12px;}\n"
         "ul.legend li{display:inline-block;margin-right:16px;}\n"
         ".missing{color:#a00;font-weight:bold;}\n"
         "</style>\n";
}

void writeHeader(std::ostream& out, const SimulationResult& result) {
  out << "<h1>Simulation of workload " << escapeText(result.workload) << "</h1>\n";
  out << "<p>Evaluation interval "
      << formatFixed(result.interval, result.interval == std::floor(result.interval) ? 0 : 3)
      << " s, simulated "
      << escapeText(svg::timeLabel(result.duration)) << " (" << seconds(result.duration)
      << " s), " << result.policies.size() << (result.policies.size() == 1 ? " policy" : " policies")
      << ", " << result.gpusPerReplica << " GPU(s) per replica";
  if (result.costPerGpuHour) {
    out << ", " << formatFixed(*result.costPerGpuHour, 2) << " per GPU-hour";
  }
  out << ".</p>\n<p>Replicas: " << escapeText(replicaModelText(result)) << ".</p>\n<p>SLO: latency p99 "
      << (result.sloLatencyP99Ms ? formatFixed(*result.sloLatencyP99Ms, 0) + " ms" : "not set")
      << ", time to first token p95 "
      << (result.sloTimeToFirstTokenP95Ms ? formatFixed(*result.sloTimeToFirstTokenP95Ms, 0) + " ms"
                                          : "not set")
      << ", requests waiting "
      << (result.sloRequestsWaiting ? formatFixed(*result.sloRequestsWaiting, 0) : "not set")
      << ".</p>\n";
}

std::string timeToCapacity(const PolicySummary::TimeToCapacity& waits) {
  if (waits.count == 0) {
    return "&#8212;";
  }
  return std::to_string(waits.count) + (waits.count == 1 ? " time: " : " times: ") + "mean " +
         seconds(waits.meanSeconds) + ", max " + seconds(waits.maxSeconds);
}

void writeSummaryTable(std::ostream& out, const SimulationResult& result) {
  bool withCost = result.costPerGpuHour.has_value();
  bool withForecast = false;  // a column only when a policy forecast (Predictive)
  bool withPanic = false;     // or read a panic window (Burst)
  for (const PolicyRun& run : result.policies) {
    withCost = withCost || run.summary.cost.has_value();
    withForecast = withForecast || run.summary.forecastRaised.has_value();
    withPanic = withPanic || run.summary.panics.has_value();
  }
  out << "<h2>Summary</h2>\n<table id=\"summary\">\n<thead>\n<tr><th class=\"name\" rowspan=\"2\">"
         "policy</th><th class=\"name\" rowspan=\"2\">algorithm</th><th rowspan=\"2\">replica-"
         "seconds</th><th rowspan=\"2\">GPU-hours</th>";
  if (withCost) {
    out << "<th rowspan=\"2\">cost</th>";
  }
  out << "<th colspan=\"4\">SLO violation (s)</th><th rowspan=\"2\">peak backlog</th>"
         "<th rowspan=\"2\">scale-ups</th><th rowspan=\"2\">scale-downs</th><th rowspan=\"2\">"
         "reversals</th><th rowspan=\"2\">min replicas</th><th rowspan=\"2\">max replicas</th>"
         "<th rowspan=\"2\">time to capacity (s)</th><th rowspan=\"2\">decisions failed</th>";
  if (withForecast) {
    out << "<th rowspan=\"2\">forecast raised (decisions)</th>";
  }
  if (withPanic) {
    out << "<th rowspan=\"2\">panics</th><th rowspan=\"2\">in panic (s)</th>";
  }
  out << "</tr>\n<tr><th>latency p99</th><th>TTFT p95</th><th>waiting</th><th>any</th></tr>\n"
         "</thead>\n<tbody>\n";
  for (std::size_t i = 0; i < result.policies.size(); ++i) {
    const PolicyRun& run = result.policies[i];
    const PolicySummary& s = run.summary;
    out << "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:" << html::policyColor(i)
        << "\"></span>" << escapeText(run.policy) << "</td><td class=\"name\">"
        << escapeText(run.algorithm)
        << (run.requestedAlgorithm.empty() || run.requestedAlgorithm == run.algorithm
                ? std::string()
                : " (" + escapeText(run.requestedAlgorithm) + " not loaded)")
        << "</td><td>" << seconds(s.replicaSeconds) << "</td><td>"
        << formatFixed(s.gpuHours, 2) << "</td>";
    if (withCost) {
      out << "<td>" << (s.cost ? formatFixed(*s.cost, 2) : "&#8212;") << "</td>";
    }
    // An SLO the workload does not set is not judged: a dash, not 0.
    const auto judged = [](const std::optional<double>& slo, double violated) {
      return slo ? seconds(violated) : std::string("&#8212;");
    };
    out << "<td>" << judged(result.sloLatencyP99Ms, s.sloViolationSeconds.latencyP99Ms) << "</td><td>"
        << judged(result.sloTimeToFirstTokenP95Ms, s.sloViolationSeconds.timeToFirstTokenP95Ms) << "</td><td>"
        << judged(result.sloRequestsWaiting, s.sloViolationSeconds.requestsWaiting) << "</td><td>"
        << (result.anySloSet() ? seconds(s.sloViolationSeconds.any) : std::string("&#8212;")) << "</td><td>"
        << formatFixed(s.peakBacklog, 1)
        << "</td><td>" << s.scaleUps << "</td><td>" << s.scaleDowns << "</td><td>"
        << s.reversals << "</td><td>" << s.minReplicas << "</td><td>" << s.maxReplicas
        << "</td><td>" << timeToCapacity(s.timeToCapacity) << "</td><td>"
        << s.decisionsFailed << "</td>";
    if (withForecast) {
      out << "<td>" << (s.forecastRaised ? std::to_string(*s.forecastRaised) : "&#8212;") << "</td>";
    }
    if (withPanic) {
      out << "<td>" << (s.panics ? std::to_string(*s.panics) : "&#8212;") << "</td><td>"
          << (s.panicSeconds ? seconds(*s.panicSeconds) : "&#8212;") << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

}  // namespace

void writeHtmlReport(std::ostream& out, const SimulationResult& result) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<title>kubeai-scaler simulate: "
      << escapeText(result.workload) << "</title>\n";
  writeStyle(out);
  out << "</head>\n<body>\n";
  writeHeader(out, result);
  writeSummaryTable(out, result);
  html::writeCharts(out, result);
  out << "</body>\n</html>\n";
}

}  // namespace kubeai::simulate
