#include "simulate/html_charts.h"

#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "simulate/html_algorithm_charts.h"
#include "simulate/html_chart_parts.h"
#include "simulate/svg_axes.h"
#include "simulate/svg_chart.h"
#include "simulate/svg_downsample.h"
#include "simulate/svg_text.h"

namespace kubeai::simulate::html {
namespace {

using svg::escapeText;
using svg::formatFixed;

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

}  // namespace

void writeCharts(std::ostream& out, const SimulationResult& result) {
  ChartedRuns charted;
  std::vector<const PolicyRun*>& runs = charted.runs;
  std::vector<std::size_t>& indexes = charted.indexes;
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
    writePolicyLegend(out, charted, perReplica ? ": ready capacity" : ": ready replicas", "solid");
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
    writePolicyLegend(out, charted, ": existing", "solid");
    writePolicyLegend(out, charted, ": ready", "dashed");
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
    writePolicyLegend(out, charted, "", "solid");
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
      chart.lanes.push_back(categoryLane(result, *run, duration, kLimitKinds,
                                         [](const TimelineRow& row) { return limitKindIndex(row.limitedBy); }, steps));
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

  writeAlgorithmCharts(out, result, charted, duration);
}

}  // namespace kubeai::simulate::html
