// plugin_host_bench: one decision through an isolated plugin (a plugin-host
// process over a socketpair), against the same plugin in process and the
// built-in MaxRatio, all in this run (bench/README.md, "Plugins out of
// process"). Targets of issue 11:
//   - a decision through an isolated plugin costs <= 50 us at p99;
//   - >= 20,000 decisions/s per plugin host.
// Each decision is core::decide() with a warm history, so the figures include
// the whole pipeline; the plugin is MaxRatio again (bench/plugins). Exit code
// 0 whether or not the targets hold (a report); 1 when the set-up fails.
//
//   plugin_host_bench [--decisions N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/history.h"
#include "core/policy.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_loader.h"
#include "plugin_host/isolated_plugin_algorithm.h"

namespace core = kubeai::core;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kP99TargetUs = 50.0;
constexpr double kThroughputTarget = 20'000.0;

core::Policy policyFor(const std::string& algorithm) {
  core::Policy policy;
  policy.metadata.name = "bench";
  policy.metadata.namespace_ = "default";
  policy.spec.targetRef.kind = "Deployment";
  policy.spec.targetRef.name = "llm";
  policy.spec.minReplicas = 1;
  policy.spec.maxReplicas = 100;
  policy.spec.algorithm.name = algorithm;
  core::GpuUtilizationMetricSpec gpu;
  gpu.enabled = true;
  gpu.targetPercentage = 70.0;
  policy.spec.metrics.gpuUtilization = gpu;
  core::LatencyMetricSpec latency;
  latency.enabled = true;
  latency.targetP99Ms = 500.0;
  policy.spec.metrics.latency = latency;
  return policy;
}

struct Figures {
  double p50Us = 0;
  double p99Us = 0;
  double p999Us = 0;
  double perSecond = 0;
};

// `count` warm decisions, each timed alone; the load swings so that every
// kind of answer (up, down, hold) comes up.
Figures run(const core::Policy& policy, const core::AlgorithmRegistry& registry, int count, bool* failed) {
  core::History history;
  core::TimePoint now{std::chrono::hours(24 * 365 * 50)};
  std::int32_t replicas = 4;
  std::vector<double> micros;
  micros.reserve(static_cast<std::size_t>(count));
  const auto started = Clock::now();
  for (int i = -1000; i < count; ++i) {
    core::Observation observation;
    observation.currentReplicas = replicas;
    observation.gpuUtilizationPercent = 40.0 + 60.0 * ((i & 63) / 63.0);
    observation.latencyP99Ms = 300.0 + (i % 7) * 50.0;
    const auto before = Clock::now();
    core::Outcome outcome = core::decide(policy, observation, std::move(history), now, registry);
    const auto after = Clock::now();
    if (!outcome.decision.algorithmError.empty() || outcome.decision.algorithm != policy.spec.algorithm.name) {
      std::fprintf(stderr, "plugin_host_bench: %s: %s\n", policy.spec.algorithm.name.c_str(),
                   outcome.decision.algorithmError.c_str());
      *failed = true;
      return {};
    }
    history = std::move(outcome.history);
    replicas = outcome.decision.desiredReplicas;
    now += std::chrono::seconds(15);
    if (i >= 0) {
      micros.push_back(std::chrono::duration<double, std::micro>(after - before).count());
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) { return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))]; };
  return {at(0.50), at(0.99), at(0.999), static_cast<double>(count + 1000) / seconds};
}

void print(const char* what, const Figures& f) {
  std::printf("  %-34s p50 %7.2f us  p99 %7.2f us  p99.9 %7.2f us  %10.0f decisions/s\n", what, f.p50Us, f.p99Us,
              f.p999Us, f.perSecond);
}

}  // namespace

int main(int argc, char** argv) {
  int count = 200'000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--decisions") == 0) {
      count = std::max(1, std::atoi(argv[i + 1]));
    }
  }
  auto registry = core::AlgorithmRegistry::withBuiltins();

  auto inProcessImage = kubeai::plugin::readPluginImage(KUBEAI_BENCH_PLUGIN);
  if (!inProcessImage.ok()) {
    std::fprintf(stderr, "plugin_host_bench: %s\n", inProcessImage.error().message.c_str());
    return 1;
  }
  auto inProcess = kubeai::plugin::loadPluginImage(inProcessImage.value());
  auto isolatedImage = kubeai::plugin::readPluginImage(KUBEAI_BENCH_PLUGIN);
  if (!inProcess.ok() || !isolatedImage.ok()) {
    std::fprintf(stderr, "plugin_host_bench: cannot load %s\n", KUBEAI_BENCH_PLUGIN);
    return 1;
  }
  kubeai::plugin::host::PluginHostSettings settings;
  settings.executable = KUBEAI_SCALER_BIN;
  auto isolated = kubeai::plugin::host::loadIsolatedPlugin(std::move(isolatedImage).value(), settings);
  if (!isolated.ok()) {
    std::fprintf(stderr, "plugin_host_bench: %s\n", isolated.error().message.c_str());
    return 1;
  }
  // The same plugin twice under two names: in process, and in its host.
  core::AlgorithmRegistry inProcessRegistry;
  core::AlgorithmRegistry isolatedRegistry;
  (void)inProcessRegistry.add(inProcess.value());
  (void)isolatedRegistry.add(isolated.value());

  bool failed = false;
  const Figures builtin = run(policyFor("MaxRatio"), *registry, count, &failed);
  const Figures local = run(policyFor("MaxRatioPlugin"), inProcessRegistry, count, &failed);
  const Figures remote = run(policyFor("MaxRatioPlugin"), isolatedRegistry, count, &failed);
  if (failed) {
    return 1;
  }
  std::printf("Decisions (warm history, %d each, this run):\n", count);
  print("MaxRatio (built-in)", builtin);
  print("MaxRatioPlugin in process", local);
  print("MaxRatioPlugin isolated (plugin host)", remote);
  std::printf("\nIsolated plugin, targets:\n");
  std::printf("  p99 %.2f us <= %.0f us: %s\n", remote.p99Us, kP99TargetUs, remote.p99Us <= kP99TargetUs ? "met" : "MISSED");
  std::printf("  %.0f decisions/s per host >= %.0f: %s\n", remote.perSecond, kThroughputTarget,
              remote.perSecond >= kThroughputTarget ? "met" : "MISSED");
  std::printf("  isolated / in process, p50: %.1fx\n", remote.p50Us / std::max(local.p50Us, 1e-9));
  return 0;
}
