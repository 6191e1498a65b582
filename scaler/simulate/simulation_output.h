#pragma once

#include <ostream>

#include "simulate/simulation_result.h"

namespace kubeai::simulate {

// The side-by-side table of every policy's summary.
void writeSummaryText(std::ostream& out, const SimulationResult& result);

// The JSON of issue 13 / docs/simulate.md (the shape is the interface).
void writeJson(std::ostream& out, const SimulationResult& result);

// CSV timeline: a header, then one line per policy and interval.
void writeCsvHeader(std::ostream& out);
void writeCsvRow(std::ostream& out, const PolicyRun& run, const TimelineRow& row);

}  // namespace kubeai::simulate
