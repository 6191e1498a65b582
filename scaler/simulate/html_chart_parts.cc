#include "simulate/html_chart_parts.h"

#include <algorithm>
#include <cmath>

#include "simulate/svg_text.h"

namespace kubeai::simulate::html {

std::string policyColor(std::size_t index) {
  return std::string(kPolicyColors[index % kPolicyColors.size()]);
}

double stepSeconds(const SimulationResult& result) {
  return std::isfinite(result.interval) && result.interval > 0 ? result.interval : 1;
}

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

void writeLegendItem(std::ostream& out, std::string_view color, std::string_view label,
                     std::string_view kind) {
  out << "<li>";
  if (kind == "area" || kind == "band") {
    out << "<span class=\"swatch\" style=\"background:" << color << "\"></span>";
  } else {
    out << "<span class=\"line\" style=\"border-top-color:" << color
        << (kind == "dashed" ? ";border-top-style:dashed" : "") << "\"></span>";
  }
  out << svg::escapeText(label) << "</li>";
}

void writePolicyLegend(std::ostream& out, const ChartedRuns& charted, std::string_view suffix,
                       std::string_view kind) {
  for (std::size_t i = 0; i < charted.runs.size(); ++i) {
    writeLegendItem(out, policyColor(charted.indexes[i]), charted.runs[i]->policy + std::string(suffix), kind);
  }
}

}  // namespace kubeai::simulate::html
