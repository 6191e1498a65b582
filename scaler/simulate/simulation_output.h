#pragma once

#include <ostream>
#include <string>

#include "simulate/simulation_result.h"

namespace kubeai::simulate {

// The side-by-side table of every policy's summary.
void writeSummaryText(std::ostream& out, const SimulationResult& result);

// The replicas' model every figure depends on, for the outputs' headers:
// "start-up 120 s, 3 requests/s a replica, 2 replicas at the start";
// "start-up 60-180 s (uniform)", "start-up 0 s (ready at once)", a shutdown
// when it costs.
[[nodiscard]] std::string replicaModelText(const SimulationResult& result);

// The JSON of issue 13 / docs/simulate.md (the shape is the interface).
void writeJson(std::ostream& out, const SimulationResult& result);

// CSV timeline: a header, then one line per policy and interval.
void writeCsvHeader(std::ostream& out);
void writeCsvRow(std::ostream& out, const PolicyRun& run, const TimelineRow& row);

}  // namespace kubeai::simulate
