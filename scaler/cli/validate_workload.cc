#include "cli/validate_workload.h"

#include <fstream>
#include <iterator>
#include <string>

#include "simulate/demand.h"
#include "simulate/workload.h"

namespace kubeai::cli {
namespace {

// Only a file that names the kind is taken for a workload: any other file
// with no policy stays "no AIInferenceAutoscalerPolicy found".
bool namesWorkloadKind(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find(simulate::kWorkloadKind) != std::string::npos;
}

}  // namespace

std::optional<bool> validateWorkloadFile(const std::filesystem::path& path, std::ostream& out) {
  if (!namesWorkloadKind(path)) {
    return std::nullopt;
  }
  const simulate::WorkloadDocument document = simulate::loadWorkloadFile(path);
  const std::string prefix =
      path.string() + ": workload " + (document.workload.name.empty() ? "(unnamed)" : document.workload.name) + ": ";
  if (!document.ok()) {
    for (const auto& error : document.errors) {
      out << prefix << error.toString() << "\n";
    }
    return false;
  }
  const simulate::Workload& workload = document.workload;
  const simulate::DemandSpec& demand = workload.demand;
  if (demand.prometheus) {
    out << prefix << "ok (its demand is queried from Prometheus when simulate runs)\n";
    return true;
  }
  const core::Result<simulate::DemandSeries> series =
      demand.arrivals ? simulate::loadArrivalsCsv(*demand.arrivals, workload.interval)
      : demand.rate   ? simulate::loadRateCsv(*demand.rate, workload.interval)
                      : core::Result<simulate::DemandSeries>(core::Error{"the workload has no demand"});
  if (!series.ok()) {
    out << prefix << "spec.demand: " << series.error().message << "\n";
    return false;
  }
  out << prefix << "ok (" << series.value().steps.size() << " intervals of demand)\n";
  return true;
}

}  // namespace kubeai::cli
