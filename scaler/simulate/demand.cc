#include "simulate/demand.h"

// The two trace formats are read in arrivals_trace.cc and rate_series.cc,
// over what they share (trace_parser.h, trace_fields.h, trace_file.h).

namespace kubeai::simulate {

void scaleDemand(DemandSeries& series, double scale) {
  for (DemandStep& step : series.steps) {
    step.requestsPerSecond *= scale;
  }
}

}  // namespace kubeai::simulate
