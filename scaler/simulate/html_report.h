#pragma once

#include <ostream>

#include "simulate/simulation_result.h"

namespace kubeai::simulate {

// One self-contained HTML file (no network, no script needed to see it): the
// summary table and SVG charts of demand vs ready capacity, replicas per
// policy, latency vs the SLO, where limits acted, and what Predictive and
// Burst saw (their forecast, where it decided, their panics) when a policy
// ran one. Needs the timelines.
void writeHtmlReport(std::ostream& out, const SimulationResult& result);

}  // namespace kubeai::simulate
