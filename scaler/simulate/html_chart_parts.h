#pragma once

// What the HTML report's charts share: the policies' colors, the time axis,
// a series per policy from its timeline, and the legends under each chart.

#include <array>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "simulate/simulation_result.h"
#include "simulate/svg_chart.h"

namespace kubeai::simulate::html {

// Tableau 10: distinct on screen and in print; they repeat beyond ten policies.
inline constexpr std::array<std::string_view, 10> kPolicyColors = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

[[nodiscard]] std::string policyColor(std::size_t index);

// The policies that have a timeline, and their place in result.policies
// (which gives their color).
struct ChartedRuns {
  std::vector<const PolicyRun*> runs;
  std::vector<std::size_t> indexes;
};

// One step's length, and the time axis: the simulated span, or the
// timelines' if they run longer.
[[nodiscard]] double stepSeconds(const SimulationResult& result);
[[nodiscard]] double chartDuration(const SimulationResult& result);
[[nodiscard]] std::vector<double> times(const PolicyRun& run);

template <typename Get>
svg::Series series(const SimulationResult& result, const PolicyRun& run, std::string color, Get get) {
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

// A run's lane of bands from a category per step (-1: none; else an index
// into `kinds`, each with a name and a color), its tooltips "policy: name
// from .. to ..", and each category's steps added to `steps`.
template <typename Kind, std::size_t N, typename CategoryOf>
svg::Lane categoryLane(const SimulationResult& result, const PolicyRun& run, double durationSeconds,
                       const std::array<Kind, N>& kinds, CategoryOf categoryOf, std::array<std::size_t, N>& steps) {
  std::vector<int> categories;
  categories.reserve(run.timeline.size());
  for (const TimelineRow& row : run.timeline) {
    categories.push_back(categoryOf(row));
    if (categories.back() >= 0) {
      ++steps[static_cast<std::size_t>(categories.back())];
    }
  }
  svg::Lane lane;
  lane.label = run.policy;
  for (const svg::CategoryRun& r :
       svg::categoryRuns(times(run), categories, stepSeconds(result), durationSeconds, svg::kPlotWidth)) {
    const Kind& kind = kinds[static_cast<std::size_t>(r.category)];
    lane.bands.push_back({r.startSeconds, r.endSeconds, std::string(kind.color),
                          run.policy + ": " + std::string(kind.name) + " from " + svg::timeLabel(r.startSeconds) +
                              " to " + svg::timeLabel(r.endSeconds)});
  }
  return lane;
}

// kind: "solid", "dashed", "area" or "band".
void writeLegendItem(std::ostream& out, std::string_view color, std::string_view label,
                     std::string_view kind);
void writePolicyLegend(std::ostream& out, const ChartedRuns& charted, std::string_view suffix,
                       std::string_view kind);

}  // namespace kubeai::simulate::html
