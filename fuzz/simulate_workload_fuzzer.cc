// A SimulationWorkload file (kubeai-scaler simulate --workload):
// simulate::parseWorkloadYaml. Checks: nothing escapes it; a refused file has
// errors, each with a message and a field that is empty (the file as a
// whole), a path under apiVersion, kind, metadata or spec, or an unknown key
// at the top; an accepted workload has a name, a positive interval and
// duration, a tolerance in [0, 1), replicas >= 0, a start-up range min <= max,
// capacity > 0, a GPU per replica at least, exactly one demand source with a
// scale > 0, and a relative demand path resolved under the base directory.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "simulate/workload.h"

namespace {

bool positive(double value) { return std::isfinite(value) && value > 0; }
bool positive(const std::optional<double>& value) { return !value || positive(*value); }

bool underBase(const std::optional<std::filesystem::path>& path) {
  return !path || path->is_absolute();  // relative ones were joined to the absolute base
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto document = kubeai::simulate::parseWorkloadYaml(text, "/base");
  if (!document.ok()) {
    for (const auto& error : document.errors) {
      KUBEAI_FUZZ_CHECK(!error.message.empty(), error.field);
      const std::string_view field = error.field;
      const bool known = field.empty() || field == "apiVersion" || field == "kind" || field == "metadata" ||
                         field == "spec" || field.rfind("metadata.", 0) == 0 || field.rfind("spec.", 0) == 0 ||
                         error.message == "unknown field";  // a key at the top, which may hold dots
      KUBEAI_FUZZ_CHECK(known, error.toString());
    }
    return 0;
  }
  const auto& w = document.workload;
  KUBEAI_FUZZ_CHECK(!w.name.empty(), text);
  KUBEAI_FUZZ_CHECK(w.interval.count() > 0 && (!w.duration || w.duration->count() > 0), text);
  KUBEAI_FUZZ_CHECK(w.hpa.syncPeriod.count() > 0 && w.hpa.tolerance >= 0 && w.hpa.tolerance < 1, text);
  KUBEAI_FUZZ_CHECK(w.replicas.initial >= 0 && w.replicas.startup.min >= 0 &&
                        w.replicas.startup.min <= w.replicas.startup.max && std::isfinite(w.replicas.startup.max) &&
                        std::isfinite(w.replicas.shutdownSeconds) && w.replicas.shutdownSeconds >= 0,
                    text);
  KUBEAI_FUZZ_CHECK(positive(w.capacity.requestsPerSecond) && positive(w.capacity.tokensPerSecond) &&
                        positive(w.capacity.kvCacheTokens),
                    text);
  KUBEAI_FUZZ_CHECK(w.gpusPerReplica >= 1 && (!w.costPerGpuHour || (std::isfinite(*w.costPerGpuHour) &&
                                                                   *w.costPerGpuHour >= 0)),
                    text);
  KUBEAI_FUZZ_CHECK(positive(w.slo.latencyP99Ms) && positive(w.slo.timeToFirstTokenP95Ms) &&
                        positive(w.slo.requestsWaiting),
                    text);
  const int sources = (w.demand.arrivals ? 1 : 0) + (w.demand.rate ? 1 : 0) + (w.demand.prometheus ? 1 : 0);
  KUBEAI_FUZZ_CHECK(sources == 1 && positive(w.demand.scale), text);
  KUBEAI_FUZZ_CHECK(underBase(w.demand.arrivals) && underBase(w.demand.rate), text);
  if (w.demand.prometheus) {
    KUBEAI_FUZZ_CHECK(!w.demand.prometheus->query.empty() && !w.demand.prometheus->start.empty() &&
                          !w.demand.prometheus->end.empty() && w.demand.prometheus->step.count() > 0,
                      text);
  }
  return 0;
}
