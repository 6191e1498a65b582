#pragma once

#include <string_view>

namespace prometheus {
class Counter;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace kubeai::telemetry {

// The plugin hosts' families, beside Telemetry's in the same registry:
//   kubeai_scaler_plugin_failures_total{plugin,kind}   kind: crashed | exited | timeout | protocol | down
//   kubeai_scaler_plugin_host_restarts_total{plugin}
// A plugin's series appear at its first failure or restart. Thread-safe.
class PluginTelemetry {
 public:
  explicit PluginTelemetry(prometheus::Registry& registry);

  void recordFailure(std::string_view plugin, std::string_view kind);
  void recordRestart(std::string_view plugin);

 private:
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Family<prometheus::Counter>& restarts_;
};

}  // namespace kubeai::telemetry
