#include "simulate/html_report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "simulate/svg_chart.h"

namespace kubeai::simulate {
namespace {

using svg::escapeText;
using svg::formatFixed;

// Tableau 10: distinct on screen and in print; they repeat beyond ten policies.
constexpr std::array<std::string_view, 10> kPolicyColors = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr std::string_view kDemandColor = "#c9d3df";
constexpr std::string_view kSloColor = "#222222";

struct LimitKind {
  std::string_view name;  // core::limitedByName()
  std::string_view color;
  std::string_view meaning;
};
// In the order of the pipeline's stages; the last is for a name we do not know.
constexpr std::array<LimitKind, 7> kLimitKinds = {{
    {"minReplicas", "#1f78b4", "held at minReplicas"},
    {"maxReplicas", "#e31a1c", "held at maxReplicas"},
    {"scaleUpPolicy", "#33a02c", "a scale-up policy limited the climb"},
    {"scaleDownPolicy", "#ff7f00", "a scale-down policy limited the fall"},
    {"stabilization", "#6a3d9a", "the stabilization window held the value"},
    {"cooldown", "#b15928", "the cooldown held the value"},
    {"other", "#7f7f7f", "another stage"},
}};

int limitKindIndex(std::string_view limitedBy) {
  if (limitedBy.empty()) {
    return -1;
  }
  for (std::size_t i = 0; i + 1 < kLimitKinds.size(); ++i) {
    if (kLimitKinds[i].name == limitedBy) {
      return static_cast<int>(i);
    }
  }
  return static_cast<int>(kLimitKinds.size() - 1);
}

std::string policyColor(std::size_t index) {
  return std::string(kPolicyColors[index % kPolicyColors.size()]);
}

std::string seconds(double value) { return formatFixed(value, 0); }

double stepSeconds(const SimulationResult& result) {
  return std::isfinite(result.interval) && result.interval > 0 ? result.interval : 1;
}

// The time axis: the simulated span, or the timelines' if they run longer.
double chartDuration(const SimulationResult& result) {
  double duration = std::isfinite(result.duration) ? result.duration : 0;
  for (const PolicyRun& run : result.policies) {
    if (!run.timeline.empty() && std::isfinite(run.timeline.back().time)) {
      duration = std::max(duration, run.timeline.back().time + stepSeconds(result));
    }
  }
  return duration > 0 ? duration : stepSeconds(result);
}

std::vector<double> times(const PolicyRun& run) {
  std::vector<double> out;
  out.reserve(run.timeline.size());
  for (const TimelineRow& row : run.timeline) {
    out.push_back(row.time);
  }
  return out;
}

template <typename Get>
svg::Series series(const SimulationResult& result, const PolicyRun& run, std::string color,
                   Get get) {
  svg::Series out;
  out.color = std::move(color);
  out.times = times(run);
  out.stepSeconds = stepSeconds(result);
  out.values.reserve(run.timeline.size());
  for (const TimelineRow& row : run.timeline) {
    out.values.push_back(get(row));
  }
  return out;
}

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
  out << ".</p>\n<p>SLO: latency p99 "
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
  for (const PolicyRun& run : result.policies) {
    withCost = withCost || run.summary.cost.has_value();
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
         "<th rowspan=\"2\">time to capacity (s)</th><th rowspan=\"2\">decisions failed</th></tr>\n"
         "<tr><th>latency p99</th><th>TTFT p95</th><th>waiting</th><th>any</th></tr>\n"
         "</thead>\n<tbody>\n";
  for (std::size_t i = 0; i < result.policies.size(); ++i) {
    const PolicyRun& run = result.policies[i];
    const PolicySummary& s = run.summary;
    out << "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:" << policyColor(i)
        << "\"></span>" << escapeText(run.policy) << "</td><td class=\"name\">"
        << escapeText(run.algorithm) << "</td><td>" << seconds(s.replicaSeconds) << "</td><td>"
        << formatFixed(s.gpuHours, 2) << "</td>";
    if (withCost) {
      out << "<td>" << (s.cost ? formatFixed(*s.cost, 2) : "&#8212;") << "</td>";
    }
    out << "<td>" << seconds(s.sloViolationSeconds.latencyP99Ms) << "</td><td>"
        << seconds(s.sloViolationSeconds.timeToFirstTokenP95Ms) << "</td><td>"
        << seconds(s.sloViolationSeconds.requestsWaiting) << "</td><td>"
        << seconds(s.sloViolationSeconds.any) << "</td><td>" << formatFixed(s.peakBacklog, 1)
        << "</td><td>" << s.scaleUps << "</td><td>" << s.scaleDowns << "</td><td>"
        << s.reversals << "</td><td>" << s.minReplicas << "</td><td>" << s.maxReplicas
        << "</td><td>" << timeToCapacity(s.timeToCapacity) << "</td><td>"
        << s.decisionsFailed << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

void writeLegendItem(std::ostream& out, std::string_view color, std::string_view label,
                     std::string_view kind) {
  out << "<li>";
  if (kind == "area" || kind == "band") {
    out << "<span class=\"swatch\" style=\"background:" << color << "\"></span>";
  } else {
    out << "<span class=\"line\" style=\"border-top-color:" << color
        << (kind == "dashed" ? ";border-top-style:dashed" : "") << "\"></span>";
  }
  out << escapeText(label) << "</li>";
}

void writePolicyLegend(std::ostream& out, const std::vector<const PolicyRun*>& runs,
                       const std::vector<std::size_t>& indexes, std::string_view suffix,
                       std::string_view kind) {
  for (std::size_t i = 0; i < runs.size(); ++i) {
    writeLegendItem(out, policyColor(indexes[i]), runs[i]->policy + std::string(suffix), kind);
  }
}

void writeCharts(std::ostream& out, const SimulationResult& result) {
  std::vector<const PolicyRun*> runs;  // the ones with a timeline
  std::vector<std::size_t> indexes;    // their place in result.policies (their color)
  std::vector<std::string_view> without;
  for (std::size_t i = 0; i < result.policies.size(); ++i) {
    if (result.policies[i].timeline.empty()) {
      without.push_back(result.policies[i].policy);
    } else {
      runs.push_back(&result.policies[i]);
      indexes.push_back(i);
    }
  }
  if (runs.empty()) {
    out << "<p class=\"missing\" id=\"timelines-missing\">Timelines are missing (a summary-only "
           "run, or no policy): there is nothing to chart. Run simulate with the timelines kept "
           "to see the charts.</p>\n";
    return;
  }
  if (!without.empty()) {
    out << "<p class=\"missing\">No timeline for:";
    for (const std::string_view name : without) {
      out << ' ' << escapeText(name);
    }
    out << " (not charted).</p>\n";
  }
  const double duration = chartDuration(result);
  out << "<p>Each step holds its value for one interval. Beyond " << svg::kPlotWidth
      << " steps a chart keeps, per pixel column, the minimum and the maximum of the steps in "
         "it, so no peak is lost; the where-limits-acted chart shows per column the limit that "
         "acted in most of its steps.";
  if (result.policies.size() > kPolicyColors.size()) {
    out << " Colors repeat after " << kPolicyColors.size() << " policies.";
  }
  out << "</p>\n";

  // (1) Demand against what could serve it: ready capacity in requests/s on
  // the demand's axis when the result knows a replica's rate, else the ready
  // replicas on an axis of their own.
  {
    const std::optional<double> perReplica = result.capacityRequestsPerSecond;
    svg::LineChart chart;
    chart.id = "chart-demand";
    chart.ariaLabel = perReplica ? "Demand and ready capacity per policy" : "Demand and ready replicas per policy";
    chart.durationSeconds = duration;
    chart.left.title = "requests/s";
    if (!perReplica) {
      chart.left.title = "demand (requests/s)";
      chart.right = svg::Axis{"ready replicas", true, std::nullopt};
    }
    svg::Series demand = series(result, *runs.front(), std::string(kDemandColor),
                                [](const TimelineRow& row) { return std::optional(row.demand); });
    demand.area = true;
    chart.series.push_back(std::move(demand));
    for (std::size_t i = 0; i < runs.size(); ++i) {
      svg::Series ready = series(result, *runs[i], policyColor(indexes[i]), [perReplica](const TimelineRow& row) {
        return std::optional<double>(perReplica ? row.readyReplicas * *perReplica : row.readyReplicas);
      });
      ready.rightAxis = !perReplica;
      chart.series.push_back(std::move(ready));
    }
    if (perReplica) {
      out << "<section class=\"chart\">\n<h2>Demand and ready capacity</h2>\n"
             "<p>The offered load (area) against what the ready replicas serve (ready replicas &times; "
          << formatFixed(*perReplica, *perReplica == std::floor(*perReplica) ? 0 : 2)
          << " requests/s, capacity.requestsPerSecond), per policy; the area above a line is what "
             "queues.</p>\n";
    } else {
      out << "<section class=\"chart\">\n<h2>Demand and ready replicas</h2>\n"
             "<p>The offered load (area, left axis) against the replicas that serve it (right "
             "axis), per policy.</p>\n";
    }
    svg::writeLineChart(out, chart);
    out << "<ul class=\"legend\">";
    writeLegendItem(out, kDemandColor, "demand (requests/s)", "area");
    writePolicyLegend(out, runs, indexes, perReplica ? ": ready capacity" : ": ready replicas", "solid");
    out << "</ul>\n</section>\n";
  }

  // (2) Replicas: what exists (and costs) and what is ready.
  {
    svg::LineChart chart;
    chart.id = "chart-replicas";
    chart.ariaLabel = "Existing and ready replicas per policy";
    chart.durationSeconds = duration;
    chart.left = svg::Axis{"replicas", true, std::nullopt};
    for (std::size_t i = 0; i < runs.size(); ++i) {
      chart.series.push_back(series(result, *runs[i], policyColor(indexes[i]), [](const TimelineRow& row) {
        return std::optional<double>(row.replicas);
      }));
      svg::Series ready = series(result, *runs[i], policyColor(indexes[i]), [](const TimelineRow& row) {
        return std::optional<double>(row.readyReplicas);
      });
      ready.dashed = true;
      chart.series.push_back(std::move(ready));
    }
    out << "<section class=\"chart\">\n<h2>Replicas per policy</h2>\n"
           "<p>Solid: replicas that exist (starting or ready; they cost GPU-hours). Dashed: "
           "ready replicas (they serve).</p>\n";
    svg::writeLineChart(out, chart);
    out << "<ul class=\"legend\">";
    writePolicyLegend(out, runs, indexes, ": existing", "solid");
    writePolicyLegend(out, runs, indexes, ": ready", "dashed");
    out << "</ul>\n</section>\n";
  }

  // (3) Latency p99 against its SLO.
  {
    svg::LineChart chart;
    chart.id = "chart-latency";
    chart.ariaLabel = "Latency p99 per policy against the SLO";
    chart.durationSeconds = duration;
    chart.left.title = "latency p99 (ms)";
    const bool withSlo = result.sloLatencyP99Ms && std::isfinite(*result.sloLatencyP99Ms) &&
                         *result.sloLatencyP99Ms > 0;
    if (withSlo) {
      // A backlog's latency can be far above the SLO; beyond four times it
      // the shape near the SLO would be lost.
      chart.left.clipAt = 4 * *result.sloLatencyP99Ms;
      chart.references.push_back(
          {*result.sloLatencyP99Ms, std::string(kSloColor),
           "SLO " + formatFixed(*result.sloLatencyP99Ms, 0) + " ms"});
    }
    for (std::size_t i = 0; i < runs.size(); ++i) {
      chart.series.push_back(series(result, *runs[i], policyColor(indexes[i]),
                                    [](const TimelineRow& row) { return row.latencyP99Ms; }));
    }
    out << "<section class=\"chart\">\n<h2>Latency p99 per policy</h2>\n<p>"
        << (withSlo ? "Dashed: the SLO. " : "No latency SLO is set. ")
        << "A gap: no latency (no ready replica).";
    std::ostringstream svgText;
    const bool clipped = svg::writeLineChart(svgText, chart);
    if (clipped) {
      out << " Values above " << formatFixed(*chart.left.clipAt, 0)
          << " ms (four times the SLO) are drawn at the top edge.";
    }
    out << "</p>\n" << svgText.str() << "<ul class=\"legend\">";
    writePolicyLegend(out, runs, indexes, "", "solid");
    if (withSlo) {
      writeLegendItem(out, kSloColor, "SLO", "dashed");
    }
    out << "</ul>\n</section>\n";
  }

  // (4) Where a limit acted on the decision.
  {
    svg::LaneChart chart;
    chart.id = "chart-limits";
    chart.ariaLabel = "Where limits acted, per policy";
    chart.durationSeconds = duration;
    std::array<std::size_t, kLimitKinds.size()> steps{};
    for (const PolicyRun* run : runs) {
      std::vector<int> categories;
      categories.reserve(run->timeline.size());
      for (const TimelineRow& row : run->timeline) {
        categories.push_back(limitKindIndex(row.limitedBy));
        if (categories.back() >= 0) {
          ++steps[static_cast<std::size_t>(categories.back())];
        }
      }
      svg::Lane lane;
      lane.label = run->policy;
      for (const svg::CategoryRun& r :
           svg::categoryRuns(times(*run), categories, stepSeconds(result), duration, svg::kPlotWidth)) {
        const LimitKind& kind = kLimitKinds[static_cast<std::size_t>(r.category)];
        lane.bands.push_back({r.startSeconds, r.endSeconds, std::string(kind.color),
                              run->policy + ": " + std::string(kind.name) + " from " +
                                  svg::timeLabel(r.startSeconds) + " to " +
                                  svg::timeLabel(r.endSeconds)});
      }
      chart.lanes.push_back(std::move(lane));
    }
    out << "<section class=\"chart\">\n<h2>Where limits acted</h2>\n"
           "<p>One lane per policy: a band where the stage named by limitedBy changed the "
           "published value. Steps per kind in the legend.</p>\n";
    svg::writeLaneChart(out, chart);
    out << "<ul class=\"legend\">";
    for (std::size_t k = 0; k < kLimitKinds.size(); ++k) {
      if (k + 1 == kLimitKinds.size() && steps[k] == 0) {
        continue;  // "other" only when a stage we do not know appeared
      }
      writeLegendItem(out, kLimitKinds[k].color,
                      std::string(kLimitKinds[k].name) + " (" + std::to_string(steps[k]) +
                          " steps): " + std::string(kLimitKinds[k].meaning),
                      "band");
    }
    out << "</ul>\n</section>\n";
  }
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
  writeCharts(out, result);
  out << "</body>\n</html>\n";
}

}  // namespace kubeai::simulate
