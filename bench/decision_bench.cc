// decision_bench: decisions per second of the pure pipeline core::decide(), for
// each built-in algorithm and through the plugin ABI, plus a summary that sets
// them against the targets of the issue:
//   - at least 2,000,000 decisions/s on one core for the built-ins;
//   - a decision through a plugin costs at most 1.5x one through the built-in
//     MaxRatio, both measured in this same run (the plugin is MaxRatio again,
//     bench/plugins/max_ratio_plugin.c, so the difference is the ABI alone).
// The summary is a report, not a test: the exit code is 0 whether or not the
// targets hold, and 1 only when the set-up fails (plugin not loaded, plugin and
// built-in disagree) or a benchmark reports an error.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "core/algorithm.h"
#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/validation.h"
#include "plugin/plugin_loader.h"

#ifndef KUBEAI_BENCH_PLUGIN
#error "KUBEAI_BENCH_PLUGIN must name the MaxRatioPlugin shared object (set by bench/CMakeLists.txt)"
#endif

namespace {

using kubeai::core::AlgorithmInput;
using kubeai::core::AlgorithmRegistry;
using kubeai::core::Decision;
using kubeai::core::History;
using kubeai::core::MetricRatio;
using kubeai::core::MetricSlot;
using kubeai::core::Observation;
using kubeai::core::Outcome;
using kubeai::core::Policy;
using kubeai::core::ScalingAlgorithm;
using kubeai::core::ScalingPolicy;
using kubeai::core::ScalingPolicyType;
using kubeai::core::ScalingRules;
using kubeai::core::SelectPolicy;
using kubeai::core::TimePoint;

constexpr const char* kPluginAlgorithm = "MaxRatioPlugin";
constexpr const char* kBaselineAlgorithm = "MaxRatio";
constexpr double kBuiltinTargetPerSecond = 2'000'000.0;
constexpr double kPluginTargetRatio = 1.5;

// The server decides once per KEDA polling interval (15 s by default).
constexpr std::chrono::seconds kTick{15};
// Decisions taken before a warm-history benchmark starts timing: enough for
// every window and period below to fill up (300 s / 15 s = 20 entries).
constexpr std::size_t kWarmUpDecisions = 128;
constexpr std::int32_t kMaxReplicas = 40;

// What a server policy looks like: all four metrics, behaviour on both sides.
Policy makePolicy(const std::string& algorithm) {
  Policy policy;
  policy.metadata.name = "llama-3-70b-chat";
  policy.metadata.namespace_ = "inference";
  policy.metadata.generation = 3;
  auto& spec = policy.spec;
  spec.targetRef = {"apps/v1", "Deployment", "llama-3-70b-chat"};
  spec.minReplicas = 1;
  spec.maxReplicas = kMaxReplicas;
  spec.cooldownPeriod = 60;
  spec.metrics.latency = kubeai::core::LatencyMetricSpec{true, 500.0, 300.0, "latency query"};
  spec.metrics.gpuUtilization = kubeai::core::GpuUtilizationMetricSpec{true, 80.0, "gpu query"};
  spec.metrics.requestQueueDepth = kubeai::core::RequestQueueDepthMetricSpec{true, 4.0, "queue query"};
  spec.algorithm.name = algorithm;
  spec.algorithm.tolerance = 0.1;
  if (algorithm == "WeightedRatio") {
    spec.algorithm.weights = {2.0, 1.0, 1.5, 0.5};  // P99, P95, GPU, queue
  }
  spec.scaleUp = ScalingRules{
      60,
      {ScalingPolicy{ScalingPolicyType::kPercent, 100, 15}, ScalingPolicy{ScalingPolicyType::kPods, 4, 15}},
      SelectPolicy::kMax};
  spec.scaleDown = ScalingRules{300, {ScalingPolicy{ScalingPolicyType::kPercent, 50, 60}}, SelectPolicy::kMax};
  return policy;
}

// The same policy and eight metrics: the seed four and four named ones (an
// LLM server's KV cache, waiting requests, TTFT and inter-token latency).
constexpr const char* kEightMetrics = "MaxRatio/EightMetrics";

Policy makeEightMetricPolicy() {
  Policy policy = makePolicy(kBaselineAlgorithm);
  auto custom = [](const char* name, const char* signal, kubeai::core::MetricTargetType type, double target) {
    kubeai::core::CustomMetricSpec metric;
    metric.name = name;
    metric.engine = "vllm";
    metric.signal = signal;
    metric.unit = kubeai::core::findPreset("vllm", signal)->unit;
    metric.targetType = type;
    metric.targetValue = target;
    return metric;
  };
  using kubeai::core::MetricTargetType;
  policy.spec.metrics.custom = {custom("kvCache", "kvCacheUtilization", MetricTargetType::kValue, 80.0),
                                custom("waiting", "requestsWaiting", MetricTargetType::kAverageValue, 5.0),
                                custom("ttft", "timeToFirstTokenP95", MetricTargetType::kValue, 500.0),
                                custom("itl", "interTokenLatencyP95", MetricTargetType::kValue, 50.0)};
  return policy;
}

// One cycle of load, tick by tick: a slow swell between about 2 and 10
// replicas' worth of work, a burst to about 18 for three minutes, and a few
// per cent of noise on every metric. The observations are precomputed for
// every tick and every replica count the policy allows, so that a benchmark
// varies its input, and can even close the loop (the cluster runs what was
// last published), with a table look-up alone.
class Workload {
 public:
  static constexpr std::size_t kTicks = 128;  // 32 minutes of 15 s ticks; a power of two

  Workload() : observations_(kTicks * kColumns) {
    std::uint32_t seed = 12345;
    auto uniform = [&seed](double low, double high) {
      seed = seed * 1664525u + 1013904223u;  // Numerical Recipes LCG: reproducible everywhere
      return low + (high - low) * static_cast<double>(seed >> 8) / static_cast<double>(1u << 24);
    };
    constexpr double kPi = 3.14159265358979323846;
    constexpr std::array<double, 5> kOffTarget = {0.7, 0.9, 1.0, 1.1, 1.4};
    for (std::size_t tick = 0; tick < kTicks; ++tick) {
      const double phase = 2.0 * kPi * static_cast<double>(tick) / static_cast<double>(kTicks);
      const bool burst = tick >= 40 && tick < 52;
      const double demand = (6.0 + 4.0 * std::sin(phase) + (burst ? 8.0 : 0.0)) * uniform(0.97, 1.03);
      const double p99Noise = uniform(0.95, 1.03);
      const double p95Noise = uniform(0.95, 1.03);
      const double gpuNoise = uniform(0.95, 1.03);
      const double queueNoise = uniform(0.9, 1.05);
      openLoopReplicas_[tick] = std::clamp(
          static_cast<std::int32_t>(std::lround(demand * kOffTarget[tick % kOffTarget.size()])), 1, kMaxReplicas);
      for (std::int32_t replicas = 0; replicas <= kMaxReplicas; ++replicas) {
        Observation& observation = observations_[index(tick, replicas)];
        observation.currentReplicas = replicas;
        observation.requestQueueDepth = 4.0 * demand * queueNoise;  // a total, whatever the replicas
        if (replicas == 0) {
          continue;  // no pods: no latency, no GPU
        }
        const double load = demand / replicas;  // per replica, 1.0 = on target
        observation.latencyP99Ms = 500.0 * load * p99Noise;
        observation.latencyP95Ms = 300.0 * load * p95Noise;
        observation.gpuUtilizationPercent = std::min(100.0, 80.0 * load * gpuNoise);
        // The named metrics of the eight-metric policy (unused by the others).
        observation.custom[0] = std::min(100.0, 80.0 * load * p95Noise);
        observation.custom[1] = 5.0 * demand * queueNoise;
        observation.custom[2] = 500.0 * load * p99Noise;
        observation.custom[3] = 50.0 * load * gpuNoise;
      }
    }
  }

  // What the sources see at `tick` (modulo the cycle) with `replicas` running.
  [[nodiscard]] const Observation& at(std::size_t tick, std::int32_t replicas) const {
    return observations_[index(tick % kTicks, std::clamp(replicas, 0, kMaxReplicas))];
  }

  // A replica count at `tick` that is not where the decisions would have put
  // it (0.7x to 1.4x of the demand): for decisions without history, a mix of
  // scaling up, holding and scaling down.
  [[nodiscard]] const Observation& openLoop(std::size_t tick) const {
    tick %= kTicks;
    return at(tick, openLoopReplicas_[tick]);
  }

 private:
  static constexpr std::size_t kColumns = kMaxReplicas + 1;
  static std::size_t index(std::size_t tick, std::int32_t replicas) {
    return tick * kColumns + static_cast<std::size_t>(replicas);
  }

  std::vector<Observation> observations_;
  std::array<std::int32_t, kTicks> openLoopReplicas_{};
};

TimePoint startTime() { return TimePoint{} + std::chrono::hours(24 * 365 * 55); }

// Everything the benchmarks share, read-only once the benchmarks run.
struct Setup {
  std::unique_ptr<AlgorithmRegistry> registry;
  Workload workload;
  std::map<std::string, Policy, std::less<>> policies;  // by algorithm name
};

// The server's loop for one policy: each decision's history is the next one's
// input, time moves on by one polling interval, and the cluster runs what was
// published (as if the pods started within the interval).
struct ClosedLoop {
  History history;
  TimePoint now = startTime();
  std::size_t tick = 0;
  std::int32_t replicas = 1;

  Outcome step(const Setup& setup, const Policy& policy) {
    Outcome outcome =
        kubeai::core::decide(policy, setup.workload.at(tick, replicas), std::move(history), now, *setup.registry);
    replicas = outcome.decision.desiredReplicas;
    ++tick;
    now += kTick;
    return outcome;
  }
};

// --- The benchmarks ------------------------------------------------------------

// A policy seen for the first time, as `evaluate` and a fresh server see it.
void decideEmptyHistory(benchmark::State& state, const Setup& setup, const Policy& policy) {
  const History empty;
  const TimePoint now = startTime();
  std::size_t tick = 0;
  for ([[maybe_unused]] auto _ : state) {
    Outcome outcome = kubeai::core::decide(policy, setup.workload.openLoop(tick++), empty, now, *setup.registry);
    benchmark::DoNotOptimize(outcome);
  }
  state.SetItemsProcessed(state.iterations());
}

// The server's steady state: the windows and periods hold about as many
// entries as they ever will, and stabilization, the rate policies and the
// cooldown all come into play over a cycle of the workload.
void decideWarmHistory(benchmark::State& state, const Setup& setup, const Policy& policy) {
  ClosedLoop loop;
  for (std::size_t i = 0; i < kWarmUpDecisions; ++i) {
    loop.history = std::move(loop.step(setup, policy).history);
  }
  for ([[maybe_unused]] auto _ : state) {
    Outcome outcome = loop.step(setup, policy);
    benchmark::DoNotOptimize(outcome.decision);
    loop.history = std::move(outcome.history);
  }
  state.SetItemsProcessed(state.iterations());
}

// The algorithm call alone, without the rest of the pipeline: how much a call
// through the ABI adds per call. Informational; the targets are per decision.
void computeOnly(benchmark::State& state, const Setup& setup, const Policy& policy) {
  const std::shared_ptr<const ScalingAlgorithm> algorithm = setup.registry->find(policy.spec.algorithm.name);
  if (!algorithm) {
    state.SkipWithError("algorithm not registered");
    return;
  }
  struct Input {
    std::int32_t currentReplicas;
    std::array<MetricRatio, 4> ratios;
  };
  std::array<Input, Workload::kTicks> inputs{};
  for (std::size_t tick = 0; tick < Workload::kTicks; ++tick) {
    const Observation& o = setup.workload.openLoop(tick);
    inputs[tick] = {o.currentReplicas,
                    {MetricRatio{MetricSlot::kLatencyP99, *o.latencyP99Ms / 500.0},
                     MetricRatio{MetricSlot::kLatencyP95, *o.latencyP95Ms / 300.0},
                     MetricRatio{MetricSlot::kGpuUtilization, *o.gpuUtilizationPercent / 80.0},
                     MetricRatio{MetricSlot::kRequestQueueDepth, *o.requestQueueDepth / (4.0 * o.currentReplicas)}}};
  }
  const auto& spec = policy.spec;
  std::size_t tick = 0;
  for ([[maybe_unused]] auto _ : state) {
    const Input& in = inputs[tick++ % Workload::kTicks];
    const AlgorithmInput input{
        .currentReplicas = in.currentReplicas,
        .minReplicas = spec.effectiveMinReplicas(),
        .maxReplicas = spec.maxReplicas,
        .ratios = in.ratios,
        .tolerance = spec.algorithm.tolerance,
        .weights = spec.algorithm.weights,
        .policyName = policy.metadata.name,
        .policyNamespace = policy.metadata.namespace_,
        .parameters = &spec.algorithm.parameters,
    };
    auto output = algorithm->compute(input);
    benchmark::DoNotOptimize(output);
  }
  state.SetItemsProcessed(state.iterations());
}

// --- Set-up checks ---------------------------------------------------------------

bool sameDecision(const Decision& a, const Decision& b) {
  return a.recommendedReplicas == b.recommendedReplicas && a.desiredReplicas == b.desiredReplicas &&
         a.reason == b.reason && a.limitedBy == b.limitedBy;
}

// The comparison is only fair if the plugin is really called (an unknown name
// would silently fall back to MaxRatio) and decides exactly as MaxRatio does.
bool checkPluginMatchesBuiltin(const Setup& setup) {
  const Policy& builtin = setup.policies.at(kBaselineAlgorithm);
  const Policy& plugin = setup.policies.at(kPluginAlgorithm);
  ClosedLoop builtinLoop;
  ClosedLoop pluginLoop;
  for (std::size_t tick = 0; tick < 3 * Workload::kTicks; ++tick) {
    for (const bool warm : {false, true}) {
      const TimePoint now = startTime();
      Outcome a = warm ? builtinLoop.step(setup, builtin)
                       : kubeai::core::decide(builtin, setup.workload.openLoop(tick), History{}, now, *setup.registry);
      Outcome b = warm ? pluginLoop.step(setup, plugin)
                       : kubeai::core::decide(plugin, setup.workload.openLoop(tick), History{}, now, *setup.registry);
      if (b.decision.algorithm != kPluginAlgorithm || !b.decision.algorithmValid ||
          !b.decision.algorithmError.empty()) {
        std::fprintf(stderr, "decision_bench: the plugin was not used: algorithm \"%s\", error \"%s\"\n",
                     b.decision.algorithm.c_str(), b.decision.algorithmError.c_str());
        return false;
      }
      if (!sameDecision(a.decision, b.decision)) {
        std::fprintf(stderr,
                     "decision_bench: %s and %s disagree at tick %zu (%s history): "
                     "recommended %" PRId32 " vs %" PRId32 ", desired %" PRId32 " vs %" PRId32
                     ", reason \"%s\" vs \"%s\"\n",
                     kBaselineAlgorithm, kPluginAlgorithm, tick, warm ? "warm" : "empty",
                     a.decision.recommendedReplicas, b.decision.recommendedReplicas, a.decision.desiredReplicas,
                     b.decision.desiredReplicas, a.decision.reason.c_str(), b.decision.reason.c_str());
        return false;
      }
      if (warm) {
        builtinLoop.history = std::move(a.history);
        pluginLoop.history = std::move(b.history);
      }
    }
  }
  return true;
}

std::optional<Setup> makeSetup() {
  Setup setup;
  setup.registry = AlgorithmRegistry::withBuiltins();
  auto loaded = kubeai::plugin::loadPlugin(KUBEAI_BENCH_PLUGIN);
  if (!loaded.ok()) {
    std::fprintf(stderr, "decision_bench: %s\n", loaded.error().message.c_str());
    return std::nullopt;
  }
  if (auto added = setup.registry->add(loaded.value()); !added.ok()) {
    std::fprintf(stderr, "decision_bench: cannot register %s: %s\n", KUBEAI_BENCH_PLUGIN,
                 added.error().message.c_str());
    return std::nullopt;
  }
  if (setup.registry->find(kPluginAlgorithm) == nullptr) {
    std::fprintf(stderr, "decision_bench: %s does not provide %s\n", KUBEAI_BENCH_PLUGIN, kPluginAlgorithm);
    return std::nullopt;
  }

  for (const char* name : {"MaxRatio", "AverageRatio", "WeightedRatio", "Predictive", "Burst", kPluginAlgorithm}) {
    Policy policy = makePolicy(name);
    const auto report = kubeai::core::validatePolicy(policy);
    if (!report.errors.empty()) {
      std::fprintf(stderr, "decision_bench: the %s policy is invalid: %s\n", name,
                   report.errors.front().toString().c_str());
      return std::nullopt;
    }
    setup.policies.emplace(name, std::move(policy));
  }
  Policy eight = makeEightMetricPolicy();
  if (const auto report = kubeai::core::validatePolicy(eight); !report.errors.empty()) {
    std::fprintf(stderr, "decision_bench: the eight-metric policy is invalid: %s\n",
                 report.errors.front().toString().c_str());
    return std::nullopt;
  }
  setup.policies.emplace(kEightMetrics, std::move(eight));
  if (!checkPluginMatchesBuiltin(setup)) {
    return std::nullopt;
  }
  return setup;
}

// --- Summary ---------------------------------------------------------------------

// The console output as usual, plus what the summary needs: the time per
// decision of every repetition, by benchmark name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  explicit SummaryReporter(OutputOptions options) : ConsoleReporter(options) {}

  struct Measured {
    std::vector<double> secondsPerDecision;  // one per repetition
    std::optional<double> medianAggregate;   // when only aggregates were reported
    bool wallClock = false;                  // UseRealTime: real time, else CPU time
    std::int64_t threads = 1;
  };

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& run : reports) {
      if (run.error_occurred) {
        failed_ = true;
        continue;
      }
      const std::string name = run.run_name.str();
      if (measured_.find(name) == measured_.end()) {
        order_.push_back(name);
      }
      Measured& measured = measured_[name];
      measured.wallClock = run.run_name.time_type == "real_time";
      measured.threads = run.threads;
      const double seconds = (measured.wallClock ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime()) /
                             benchmark::GetTimeUnitMultiplier(run.time_unit);
      if (run.run_type == Run::RT_Iteration) {
        measured.secondsPerDecision.push_back(seconds);
      } else if (run.aggregate_name == "median") {
        measured.medianAggregate = seconds;
      }
    }
  }

  // Median over the repetitions; nullopt when the benchmark did not run.
  [[nodiscard]] std::optional<double> secondsPerDecision(const std::string& name) const {
    const auto found = measured_.find(name);
    if (found == measured_.end()) {
      return std::nullopt;
    }
    std::vector<double> samples = found->second.secondsPerDecision;
    if (samples.empty()) {
      return found->second.medianAggregate;
    }
    std::sort(samples.begin(), samples.end());
    const std::size_t middle = samples.size() / 2;
    return samples.size() % 2 == 1 ? samples[middle] : (samples[middle - 1] + samples[middle]) / 2.0;
  }

  [[nodiscard]] std::size_t repetitions(const std::string& name) const {
    const auto found = measured_.find(name);
    return found == measured_.end() ? 0 : found->second.secondsPerDecision.size();
  }

  [[nodiscard]] const std::vector<std::string>& order() const { return order_; }
  [[nodiscard]] const Measured& measured(const std::string& name) const { return measured_.at(name); }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  std::map<std::string, Measured> measured_;
  std::vector<std::string> order_;
  bool failed_ = false;
};

const char* verdict(bool met) { return met ? "met" : "NOT MET"; }

// The benchmarks in the order they were registered (random interleaving
// reports them in any order); a name's variants ("/real_time/threads:2")
// follow the name itself.
std::vector<std::string> inRegistrationOrder(std::vector<std::string> names,
                                             const std::vector<std::string>& registered) {
  const auto rank = [&registered](const std::string& name) {
    for (std::size_t i = 0; i < registered.size(); ++i) {
      if (name == registered[i] || name.rfind(registered[i] + "/", 0) == 0) {
        return i;
      }
    }
    return registered.size();
  };
  std::stable_sort(names.begin(), names.end(), [&rank](const std::string& a, const std::string& b) {
    const std::size_t rankA = rank(a);
    const std::size_t rankB = rank(b);
    return rankA != rankB ? rankA < rankB : a.size() < b.size();
  });
  return names;
}

void printSummary(const SummaryReporter& reporter, const std::vector<std::string>& registered) {
  std::printf(
      "\nSummary (median over repetitions; time per decision is CPU time on one core,\n"
      "wall-clock time for the threads:N variants, i.e. their combined throughput)\n");
  std::printf("%-56s %5s %12s %14s  %s\n", "benchmark", "reps", "ns/decision", "decisions/s", "target");
  for (const std::string& name : inRegistrationOrder(reporter.order(), registered)) {
    const auto seconds = reporter.secondsPerDecision(name);
    if (!seconds || !(*seconds > 0.0)) {
      continue;
    }
    const auto& measured = reporter.measured(name);
    const double perSecond = 1.0 / *seconds;
    std::string target = "(informational)";
    const bool timeAware =
        name.find("/Predictive/") != std::string::npos || name.find("/Burst/") != std::string::npos;
    const bool builtinDecision = name.rfind("Decide/", 0) == 0 && name.find(kPluginAlgorithm) == std::string::npos &&
                                 measured.threads == 1 && !timeAware;
    if (builtinDecision) {
      target = std::string(">= 2,000,000/s: ") + verdict(perSecond >= kBuiltinTargetPerSecond);
    }
    std::printf("%-56s %5zu %12.1f %14.0f  %s\n", name.c_str(), reporter.repetitions(name), *seconds * 1e9, perSecond,
                target.c_str());
  }

  std::printf("\nPlugin / built-in time per decision (same run, target <= %.1fx):\n", kPluginTargetRatio);
  for (const char* variant : {"EmptyHistory", "WarmHistory"}) {
    const std::string plugin = std::string("Decide/") + kPluginAlgorithm + "/" + variant;
    const std::string builtin = std::string("Decide/") + kBaselineAlgorithm + "/" + variant;
    const auto pluginSeconds = reporter.secondsPerDecision(plugin);
    const auto builtinSeconds = reporter.secondsPerDecision(builtin);
    if (!pluginSeconds || !builtinSeconds || !(*builtinSeconds > 0.0)) {
      std::printf("  %-13s not run (filtered out)\n", variant);
      continue;
    }
    const double ratio = *pluginSeconds / *builtinSeconds;
    std::printf("  %-13s %s %.1f ns / %s %.1f ns = %.2fx  %s\n", variant, kPluginAlgorithm, *pluginSeconds * 1e9,
                kBaselineAlgorithm, *builtinSeconds * 1e9, ratio, verdict(ratio <= kPluginTargetRatio));
  }
  const auto pluginCompute = reporter.secondsPerDecision(std::string("Compute/") + kPluginAlgorithm);
  const auto builtinCompute = reporter.secondsPerDecision(std::string("Compute/") + kBaselineAlgorithm);
  if (pluginCompute && builtinCompute && *builtinCompute > 0.0) {
    std::printf("  %-13s %s %.1f ns / %s %.1f ns = %.2fx  (the algorithm call alone; informational)\n", "ComputeOnly",
                kPluginAlgorithm, *pluginCompute * 1e9, kBaselineAlgorithm, *builtinCompute * 1e9,
                *pluginCompute / *builtinCompute);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }

  const std::optional<Setup> loaded = makeSetup();
  if (!loaded) {
    return 1;
  }
  const Setup& setup = *loaded;

  // Each built-in next to the plugin, so that a change in the machine's load
  // during the run hits the pair that the ratio compares alike.
  std::vector<std::string> registered;
  const auto decideBenchmark = [&setup, &registered](const char* algorithm, const char* variant) {
    const bool warm = std::string_view(variant) == "WarmHistory";
    registered.push_back(std::string("Decide/") + algorithm + "/" + variant);
    return benchmark::RegisterBenchmark(registered.back().c_str(), warm ? decideWarmHistory : decideEmptyHistory,
                                        std::cref(setup), std::cref(setup.policies.at(algorithm)));
  };
  for (const char* variant : {"EmptyHistory", "WarmHistory"}) {
    decideBenchmark(kBaselineAlgorithm, variant);
    decideBenchmark(kPluginAlgorithm, variant);
  }
  for (const char* variant : {"EmptyHistory", "WarmHistory"}) {
    decideBenchmark("AverageRatio", variant);
    decideBenchmark("WeightedRatio", variant);
    decideBenchmark(kEightMetrics, variant);
  }
  // The built-ins that keep state through time: their figures are reported,
  // with no target (issue 14).
  for (const char* variant : {"EmptyHistory", "WarmHistory"}) {
    decideBenchmark("Predictive", variant);
    decideBenchmark("Burst", variant);
  }
  for (const char* name : {kBaselineAlgorithm, kPluginAlgorithm}) {
    registered.push_back(std::string("Compute/") + name);
    benchmark::RegisterBenchmark(registered.back().c_str(), computeOnly, std::cref(setup),
                                 std::cref(setup.policies.at(name)));
  }
  // The server decides for many policies at once; optional, informational.
  for (const char* name : {kBaselineAlgorithm, kPluginAlgorithm}) {
    benchmark::RegisterBenchmark((std::string("Decide/") + name + "/WarmHistory").c_str(), decideWarmHistory,
                                 std::cref(setup), std::cref(setup.policies.at(name)))
        ->Threads(2)
        ->UseRealTime();
  }

  SummaryReporter reporter(isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_Color
                                                      : benchmark::ConsoleReporter::OO_None);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  printSummary(reporter, registered);
  benchmark::Shutdown();
  return reporter.failed() ? 1 : 0;
}
