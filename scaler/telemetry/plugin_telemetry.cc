#include "telemetry/plugin_telemetry.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string>

namespace kubeai::telemetry {
namespace {

prometheus::Family<prometheus::Counter>& failures(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("kubeai_scaler_plugin_failures_total")
      .Help("Failed calls to isolated plugins, by plugin and kind (crashed, exited, timeout, protocol, down)")
      .Register(registry);
}

prometheus::Family<prometheus::Counter>& restarts(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("kubeai_scaler_plugin_host_restarts_total")
      .Help("Plugin-host processes started again after one failed")
      .Register(registry);
}

}  // namespace

PluginTelemetry::PluginTelemetry(prometheus::Registry& registry)
    : failures_(failures(registry)), restarts_(restarts(registry)) {}

void PluginTelemetry::recordFailure(std::string_view plugin, std::string_view kind) {
  // Family::Add returns the existing series for known labels; failures are rare.
  failures_.Add({{"plugin", std::string(plugin)}, {"kind", std::string(kind)}}).Increment();
}

void PluginTelemetry::recordRestart(std::string_view plugin) {
  restarts_.Add({{"plugin", std::string(plugin)}}).Increment();
}

}  // namespace kubeai::telemetry
