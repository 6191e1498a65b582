// kubeai_plugin_check FILE...: loads each plugin with the real loader and runs
// one compute() on a sample input. Exit status 0 only when all succeed. Used by
// the SDK consumer test on plugins built out of tree against the installed SDK.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "core/metric_slot.h"
#include "plugin/plugin_loader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  const std::vector<kubeai::core::MetricRatio> ratios{{kubeai::core::MetricSlot::kGpuUtilization, 1.5}};
  const kubeai::core::AlgorithmParameters parameters;
  kubeai::core::AlgorithmInput input;
  input.currentReplicas = 2;
  input.minReplicas = 1;
  input.maxReplicas = 10;
  input.ratios = ratios;
  input.tolerance = 0.1;
  input.policyName = "check";
  input.policyNamespace = "default";
  input.parameters = &parameters;

  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    auto loaded = kubeai::plugin::loadPlugin(argv[i]);
    if (!loaded.ok()) {
      std::fprintf(stderr, "FAIL %s\n", loaded.error().message.c_str());
      ++failures;
      continue;
    }
    const auto& algorithm = *loaded.value();
    auto result = algorithm.compute(input);
    if (!result.ok()) {
      std::fprintf(stderr, "FAIL %s: %s\n", argv[i], result.error().message.c_str());
      ++failures;
      continue;
    }
    std::printf("ok %s: %s -> %d (%s)\n", argv[i], std::string(algorithm.name()).c_str(),
                static_cast<int>(result.value().desiredReplicas), result.value().reason.c_str());
  }
  return failures == 0 ? 0 : 1;
}
