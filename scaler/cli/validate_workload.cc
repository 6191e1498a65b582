#include "cli/validate_workload.h"

#include <string>

#include "policy/yaml_documents.h"
#include "simulate/demand.h"
#include "simulate/simulator.h"
#include "simulate/workload.h"

namespace kubeai::cli {
namespace {

// The parser's "document 2: kind SimulationWorkload (not a policy)", or "".
std::string workloadDocument(const policy::PolicyFile& parsed) {
  const std::string kind = ": kind " + std::string(simulate::kWorkloadKind) + " (";
  for (const std::string& skipped : parsed.skipped) {
    if (const std::size_t at = skipped.find(kind); at != std::string::npos) {
      return skipped.substr(0, at);
    }
  }
  return {};
}

}  // namespace

std::optional<bool> validateWorkloadFile(const std::filesystem::path& path, const policy::PolicyFile& parsed,
                                         std::ostream& out) {
  const std::string document = workloadDocument(parsed);
  if (document.empty()) {
    return std::nullopt;
  }
  if (!parsed.policies.empty()) {
    out << path.string() << ": warning: " << document << ": a " << simulate::kWorkloadKind
        << " beside policies is not checked (simulate reads a workload file of that document alone)\n";
    return std::nullopt;
  }
  const auto text = policy::readManifestFile(path);
  if (!text.ok()) {
    out << path.string() << ": error: " << text.error().message << "\n";
    return false;
  }
  const simulate::WorkloadDocument workload = simulate::parseWorkloadYaml(text.value(), path.parent_path());
  const std::string prefix =
      path.string() + ": workload " + (workload.workload.name.empty() ? "(unnamed)" : workload.workload.name) + ": ";
  if (!workload.ok()) {
    for (const auto& error : workload.errors) {
      out << prefix << error.toString() << "\n";
    }
    return false;
  }
  const simulate::DemandSpec& demand = workload.workload.demand;
  if (demand.prometheus) {
    out << prefix << "ok (its demand is queried from Prometheus when simulate runs)\n";
    return true;
  }
  const std::chrono::milliseconds interval = workload.workload.interval;
  core::Result<simulate::DemandSeries> series =
      demand.arrivals ? simulate::loadArrivalsCsv(*demand.arrivals, interval)
      : demand.rate   ? simulate::loadRateCsv(*demand.rate, interval)
                      : core::Result<simulate::DemandSeries>(core::Error{"the workload has no demand"});
  if (series.ok()) {
    simulate::scaleDemand(series.value(), demand.scale);
  }
  const core::Status checked =
      series.ok() ? simulate::checkWorkloadDemand(workload.workload, series.value()) : core::Status(series.error());
  if (!checked.ok()) {
    const std::string& message = checked.error().message;
    out << prefix << (message.starts_with("spec.") ? "" : "spec.demand: ") << message << "\n";
    return false;
  }
  out << prefix << "ok (" << series.value().steps.size() << " intervals of demand)\n";
  return true;
}

}  // namespace kubeai::cli
