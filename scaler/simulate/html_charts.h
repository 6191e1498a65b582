#pragma once

#include <ostream>

#include "simulate/simulation_result.h"

namespace kubeai::simulate::html {

// The report's charts over one time axis: demand against ready capacity,
// replicas, latency against the SLO, where limits acted, and what Predictive
// and Burst saw (when a policy ran one). Says so when timelines are missing.
void writeCharts(std::ostream& out, const SimulationResult& result);

}  // namespace kubeai::simulate::html
