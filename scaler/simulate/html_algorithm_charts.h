#pragma once

#include <ostream>

#include "simulate/html_chart_parts.h"
#include "simulate/simulation_result.h"

namespace kubeai::simulate::html {

// What Predictive and Burst saw, for the policies that ran one (nothing when
// none did): each Predictive policy's forecast against what it published,
// with the horizons it forecast over, and a lane per policy where the
// forecast raised the answer or Burst was in panic.
void writeAlgorithmCharts(std::ostream& out, const SimulationResult& result, const ChartedRuns& charted,
                          double durationSeconds);

}  // namespace kubeai::simulate::html
