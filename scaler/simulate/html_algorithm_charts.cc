#include "simulate/html_algorithm_charts.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "simulate/svg_chart.h"

namespace kubeai::simulate::html {
namespace {

using svg::escapeText;
using svg::formatFixed;

struct ModeKind {
  std::string_view name;
  std::string_view color;
  std::string_view meaning;
};
// Category 0 and 1 of the modes lane; no policy runs both algorithms.
constexpr std::array<ModeKind, 2> kModes = {{
    {"forecast", "#17becf", "Predictive's forecast raised the answer above MaxRatio's"},
    {"panic", "#d62728", "Burst was in panic: it scaled on the panic window"},
}};

bool forecasts(const PolicyRun& run) {
  return std::any_of(run.timeline.begin(), run.timeline.end(),
                     [](const TimelineRow& row) { return row.forecastReplicas.has_value(); });
}

bool showsModes(const PolicyRun& run) {
  return std::any_of(run.timeline.begin(), run.timeline.end(), [](const TimelineRow& row) {
    return row.forecastDecided.has_value() || row.panicking.has_value();
  });
}

int modeOf(const TimelineRow& row) {
  if (row.panicking.value_or(false)) {
    return 1;
  }
  return row.forecastRaised.value_or(false) ? 0 : -1;
}

ChartedRuns select(const ChartedRuns& charted, bool (*keep)(const PolicyRun&)) {
  ChartedRuns out;
  for (std::size_t i = 0; i < charted.runs.size(); ++i) {
    if (keep(*charted.runs[i])) {
      out.runs.push_back(charted.runs[i]);
      out.indexes.push_back(charted.indexes[i]);
    }
  }
  return out;
}

// "120 s (measured)", or "60-120 s (default, then measured)" when the
// horizon changed: a measured start-up replaces the default once seen.
std::string horizons(const PolicyRun& run) {
  std::optional<double> low;
  std::optional<double> high;
  std::vector<std::string> sources;
  for (const TimelineRow& row : run.timeline) {
    if (row.horizonSeconds) {
      low = std::min(low.value_or(*row.horizonSeconds), *row.horizonSeconds);
      high = std::max(high.value_or(*row.horizonSeconds), *row.horizonSeconds);
    }
    if (!row.horizonSource.empty() && (sources.empty() || sources.back() != row.horizonSource)) {
      sources.push_back(row.horizonSource);
    }
  }
  if (!low) {
    return "no horizon";
  }
  std::string text = formatFixed(*low, 0);
  if (formatFixed(*high, 0) != text) {
    text += "&#8211;" + formatFixed(*high, 0);
  }
  text += " s";
  if (!sources.empty()) {
    text += " (";
    for (std::size_t i = 0; i < sources.size(); ++i) {
      text += (i == 0 ? "" : ", then ") + escapeText(sources[i]);
    }
    text += ")";
  }
  return text;
}

void writeForecastChart(std::ostream& out, const SimulationResult& result, const ChartedRuns& predictive,
                        double durationSeconds) {
  svg::LineChart chart;
  chart.id = "chart-forecast";
  chart.ariaLabel = "Predictive: the forecast demand against the published replicas";
  chart.durationSeconds = durationSeconds;
  chart.left = svg::Axis{"replicas", false, std::nullopt};
  for (std::size_t i = 0; i < predictive.runs.size(); ++i) {
    const std::string color = policyColor(predictive.indexes[i]);
    chart.series.push_back(series(result, *predictive.runs[i], color, [](const TimelineRow& row) {
      return std::optional<double>(row.desiredReplicas);
    }));
    svg::Series forecast = series(result, *predictive.runs[i], color,
                                  [](const TimelineRow& row) { return row.forecastReplicas; });
    forecast.dashed = true;
    chart.series.push_back(std::move(forecast));
  }
  out << "<section class=\"chart\">\n<h2>Predictive: forecast and published replicas</h2>\n"
         "<p>Solid: the replicas published. Dashed: the demand forecast a horizon ahead, in "
         "replicas' worth (forecastReplicas, of the metric whose forecast is highest); a gap is a "
         "decision without a forecast. Horizon:";
  for (std::size_t i = 0; i < predictive.runs.size(); ++i) {
    out << (i == 0 ? " " : "; ") << escapeText(predictive.runs[i]->policy) << " "
        << horizons(*predictive.runs[i]);
  }
  out << ".</p>\n";
  svg::writeLineChart(out, chart);
  out << "<ul class=\"legend\">";
  writePolicyLegend(out, predictive, ": published", "solid");
  writePolicyLegend(out, predictive, ": forecast", "dashed");
  out << "</ul>\n</section>\n";
}

void writeModesChart(std::ostream& out, const SimulationResult& result, const ChartedRuns& moded,
                     double durationSeconds) {
  svg::LaneChart chart;
  chart.id = "chart-modes";
  chart.ariaLabel = "Where the forecast raised the answer or Burst panicked, per policy";
  chart.durationSeconds = durationSeconds;
  std::array<std::size_t, kModes.size()> steps{};
  for (const PolicyRun* run : moded.runs) {
    chart.lanes.push_back(categoryLane(result, *run, durationSeconds, kModes, modeOf, steps));
  }
  out << "<section class=\"chart\">\n<h2>Where the forecast decided, where Burst panicked</h2>\n"
         "<p>One lane per Predictive or Burst policy: a band at each decision whose forecast "
         "raised what is published (forecastRaised: above MaxRatio's answer within min and max "
         "replicas), or that Burst made in panic (panicking). Steps "
         "per kind in the legend.</p>\n";
  svg::writeLaneChart(out, chart);
  out << "<ul class=\"legend\">";
  for (std::size_t k = 0; k < kModes.size(); ++k) {
    writeLegendItem(out, kModes[k].color,
                    std::string(kModes[k].name) + " (" + std::to_string(steps[k]) +
                        " steps): " + std::string(kModes[k].meaning),
                    "band");
  }
  out << "</ul>\n</section>\n";
}

}  // namespace

void writeAlgorithmCharts(std::ostream& out, const SimulationResult& result, const ChartedRuns& charted,
                          double durationSeconds) {
  const ChartedRuns predictive = select(charted, forecasts);
  if (!predictive.runs.empty()) {
    writeForecastChart(out, result, predictive, durationSeconds);
  }
  const ChartedRuns moded = select(charted, showsModes);
  if (!moded.runs.empty()) {
    writeModesChart(out, result, moded, durationSeconds);
  }
}

}  // namespace kubeai::simulate::html
