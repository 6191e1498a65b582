// simulate_bench: how long `kubeai-scaler simulate` takes and how much memory
// it keeps, against the pure pipeline measured in the same run (issue 13,
// bench/simulate/README.md). Targets, on one core:
//   - a 24-hour trace at 15 s steps (5,760 steps) x 10 policies in <= 0.1 s;
//   - a 7-day trace (40,320 steps) x 100 policies in <= 5 s;
//   - memory does not grow with the trace's length beyond the timeline kept.
// Baselines, timed in the same run and interleaved with the cases: core::decide()
// alone for the same policies and steps on fixed observations (History carried
// from one step to the next, as the simulator does), and the engine model alone.
// Every figure is the median of the repetitions, wall and CPU, each also as a
// ratio to decide-only. The report is not a test: exit code 0 whether or not
// the targets hold, 1 when a run fails or the runs disagree.
//
//   simulate_bench [--repetitions N] [--no-memory] [--smoke] [--only TEXT]
//   simulate_bench --child CASE     (one memory case, in a process of its own)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <span>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/history.h"
#include "core/policy.h"
#include "policy/policy_parser.h"
#include "simulate/demand.h"
#include "simulate/engine_model.h"
#include "simulate/metric_binding.h"
#include "simulate/simulation_output.h"
#include "simulate/simulator.h"
#include "simulate/workload.h"

namespace core = kubeai::core;
namespace sim = kubeai::simulate;

namespace {

constexpr double kIntervalSeconds = 15;
constexpr std::size_t kDaySteps = 5'760;     // 24 h / 15 s
constexpr std::size_t kWeekSteps = 40'320;   // 7 d / 15 s
constexpr double kDayTargetSeconds = 0.1;    // 24 h x 10 policies
constexpr double kWeekTargetSeconds = 5.0;   // 7 d x 100 policies
// The simulator's epoch (simulator.cc), so that the baseline's clock is the same.
constexpr std::chrono::seconds kEpoch{1'704'067'200};

// ---------------------------------------------------------------- the input

// Requests per second, every 15 s, deterministic: a daily swell between about
// 2 and 20 requests/s (quiet at night, a peak in the afternoon), noise of a
// few per cent, and a burst of +5 requests/s for 5 minutes every 97 minutes
// (a prime, so the bursts walk over the day). At 2.5 requests/s a replica,
// the peak (about 25/s) needs about ten.
sim::DemandSeries makeDemand(std::size_t steps) {
  sim::DemandSeries demand;
  demand.interval = std::chrono::milliseconds(15'000);
  demand.meanContextTokens = 1'024;
  demand.meanGeneratedTokens = 256;
  demand.steps.reserve(steps);
  std::uint32_t seed = 2024;
  auto uniform = [&seed](double low, double high) {
    seed = seed * 1664525u + 1013904223u;  // Numerical Recipes LCG: the same everywhere
    return low + (high - low) * static_cast<double>(seed >> 8) / static_cast<double>(1u << 24);
  };
  constexpr double kPi = 3.14159265358979323846;
  for (std::size_t i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) * kIntervalSeconds;
    const double day = std::fmod(t, 86'400.0) / 86'400.0;
    // Lowest at 04:00, highest at 16:00.
    const double swell = 0.5 - 0.5 * std::cos(2 * kPi * (day - 4.0 / 24.0));
    const bool burst = std::fmod(t + 45 * 60.0, 97 * 60.0) < 5 * 60.0;  // the first at 00:52
    const double rate = (2.0 + 18.0 * swell + (burst ? 5.0 : 0.0)) * uniform(0.95, 1.05);
    demand.steps.push_back(sim::DemandStep{rate, 0, 0});
  }
  return demand;
}

sim::Workload makeWorkload() {
  sim::Workload workload;
  workload.name = "bench-daily";
  workload.interval = std::chrono::milliseconds(15'000);
  workload.seed = 7;
  workload.hpa.syncPeriod = std::chrono::milliseconds(15'000);
  workload.hpa.tolerance = 0.1;
  workload.replicas.initial = 2;
  workload.replicas.startup = {120, 120};
  workload.capacity.requestsPerSecond = 2.5;
  workload.capacity.tokensPerSecond = 5'000;
  workload.capacity.kvCacheTokens = 200'000;
  workload.gpusPerReplica = 1;
  workload.costPerGpuHour = 2.5;
  workload.slo.latencyP99Ms = 8'000;
  workload.slo.timeToFirstTokenP95Ms = 1'000;
  workload.slo.requestsWaiting = 20;
  return workload;
}

// The ten kinds of policy; `k` (0.6 - 1.5) scales each kind's targets, which
// is what a sweep over a grid varies. Kind 0 - 9 with k = 1 is the 10-policy set.
std::string policyYaml(int kind, int variant, double k) {
  auto num = [](double value) {
    std::ostringstream text;
    text << value;
    return text.str();
  };
  // A percentage stays a percentage (validation wants 1 - 100).
  auto pct = [&num](double value) { return num(std::min(value, 95.0)); };
  std::string yaml = "apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\n"
                     "metadata: {name: p" + std::to_string(kind) + "-" + std::to_string(variant) +
                     ", namespace: bench}\nspec:\n  targetRef: {kind: Deployment, name: llm}\n"
                     "  minReplicas: 1\n  maxReplicas: 40\n";
  switch (kind) {
    case 0:  // MaxRatio on GPU, the classic
      yaml += "  cooldownPeriod: 60\n  scaleDown: {stabilizationWindowSeconds: 300}\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.1}\n"
              "  metrics:\n    gpuUtilization: {targetPercentage: " + pct(60 * k) + "}\n";
      break;
    case 1:  // MaxRatio on the queue and GPU, rate policies both ways
      yaml += "  cooldownPeriod: 30\n"
              "  scaleUp:\n    stabilizationWindowSeconds: 0\n    selectPolicy: Max\n"
              "    policies: [{type: Percent, value: 100, periodSeconds: 60}, {type: Pods, value: 4, periodSeconds: 60}]\n"
              "  scaleDown:\n    stabilizationWindowSeconds: 300\n"
              "    policies: [{type: Percent, value: 50, periodSeconds: 60}]\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.1}\n"
              "  metrics:\n    requestQueueDepth: {targetDepth: " + num(4 * k) + "}\n"
              "    gpuUtilization: {targetPercentage: " + pct(80 * k) + "}\n";
      break;
    case 2:  // AverageRatio on latency and GPU
      yaml += "  cooldownPeriod: 60\n  scaleDown: {stabilizationWindowSeconds: 300}\n"
              "  algorithm: {name: AverageRatio, tolerance: 0.1}\n"
              "  metrics:\n    latency: {targetP99Ms: " + num(4'000 * k) + ", targetP95Ms: " + num(3'000 * k) + "}\n"
              "    gpuUtilization: {targetPercentage: " + pct(70 * k) + "}\n";
      break;
    case 3:  // WeightedRatio over the seed four
      yaml += "  cooldownPeriod: 60\n  scaleUp: {stabilizationWindowSeconds: 60}\n"
              "  scaleDown: {stabilizationWindowSeconds: 300}\n"
              "  algorithm: {name: WeightedRatio, tolerance: 0.1, weights: [2, 1, 1.5, 0.5]}\n"
              "  metrics:\n    latency: {targetP99Ms: " + num(4'000 * k) + ", targetP95Ms: " + num(3'000 * k) + "}\n"
              "    gpuUtilization: {targetPercentage: " + pct(75 * k) + "}\n"
              "    requestQueueDepth: {targetDepth: " + num(5 * k) + "}\n";
      break;
    case 4:  // vLLM's waiting requests and KV cache
      yaml += "  cooldownPeriod: 60\n  scaleDown: {stabilizationWindowSeconds: 300}\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.1}\n"
              "  metrics:\n    custom:\n"
              "      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: " +
              num(2 * k) + "}}\n"
              "      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: " +
              pct(70 * k) + "}}\n";
      break;
    case 5:  // vLLM TTFT with a Pods limit on the way up
      yaml += "  cooldownPeriod: 0\n"
              "  scaleUp:\n    policies: [{type: Pods, value: 2, periodSeconds: 60}]\n"
              "  scaleDown: {stabilizationWindowSeconds: 600}\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.05}\n"
              "  metrics:\n    custom:\n"
              "      - {name: ttft, engine: vllm, signal: timeToFirstTokenP95, target: {type: Value, value: " +
              num(800 * k) + "}}\n"
              "      - {name: itl, engine: vllm, signal: interTokenLatencyP95, target: {type: Value, value: " +
              pct(60 * k) + "}}\n";
      break;
    case 6:  // SGLang, averaged
      yaml += "  cooldownPeriod: 60\n  scaleDown: {stabilizationWindowSeconds: 300}\n"
              "  algorithm: {name: AverageRatio, tolerance: 0.1}\n"
              "  metrics:\n    custom:\n"
              "      - {name: queue, engine: sglang, signal: requestsWaiting, target: {type: AverageValue, value: " +
              num(3 * k) + "}}\n"
              "      - {name: e2e, engine: sglang, signal: e2eLatencyP99, target: {type: Value, value: " +
              num(5'000 * k) + "}}\n";
      break;
    case 7:  // llm-d's pool saturation, slow down
      yaml += "  cooldownPeriod: 120\n"
              "  scaleDown:\n    stabilizationWindowSeconds: 600\n"
              "    policies: [{type: Pods, value: 1, periodSeconds: 120}]\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.1}\n"
              "  metrics:\n    custom:\n"
              "      - {name: saturation, engine: llm-d, signal: poolSaturation, target: {type: Value, value: " +
              pct(80 * k) + "}}\n";
      break;
    case 8:  // weighted custom signals: DCGM's SM activity and TensorRT-LLM's queue
      yaml += "  cooldownPeriod: 60\n  scaleUp: {stabilizationWindowSeconds: 30}\n"
              "  scaleDown: {stabilizationWindowSeconds: 300, selectPolicy: Min,\n"
              "    policies: [{type: Percent, value: 20, periodSeconds: 60}, {type: Pods, value: 2, periodSeconds: 60}]}\n"
              "  algorithm: {name: WeightedRatio, tolerance: 0.1}\n"
              "  metrics:\n    custom:\n"
              "      - {name: sm, engine: dcgm, signal: smActive, weight: 2, target: {type: Value, value: " +
              pct(70 * k) + "}}\n"
              "      - {name: trtQueue, engine: trtllm, signal: requestsWaiting, weight: 1, "
              "target: {type: AverageValue, value: " + num(2 * k) + "}}\n";
      break;
    default:  // eight metrics at once: the seed four and four vLLM presets
      yaml += "  cooldownPeriod: 60\n"
              "  scaleUp:\n    stabilizationWindowSeconds: 60\n"
              "    policies: [{type: Percent, value: 100, periodSeconds: 15}, {type: Pods, value: 4, periodSeconds: 15}]\n"
              "  scaleDown:\n    stabilizationWindowSeconds: 300\n"
              "    policies: [{type: Percent, value: 50, periodSeconds: 60}]\n"
              "  algorithm: {name: MaxRatio, tolerance: 0.1}\n"
              "  metrics:\n    latency: {targetP99Ms: " + num(4'000 * k) + ", targetP95Ms: " + num(3'000 * k) + "}\n"
              "    gpuUtilization: {targetPercentage: " + pct(80 * k) + "}\n"
              "    requestQueueDepth: {targetDepth: " + num(4 * k) + "}\n"
              "    custom:\n"
              "      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: " +
              pct(80 * k) + "}}\n"
              "      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: " +
              num(5 * k) + "}}\n"
              "      - {name: ttft, engine: vllm, signal: timeToFirstTokenP95, target: {type: Value, value: " +
              num(800 * k) + "}}\n"
              "      - {name: itl, engine: vllm, signal: interTokenLatencyP95, target: {type: Value, value: " +
              pct(60 * k) + "}}\n";
      break;
  }
  return yaml;
}

// `count` policies: 10 kinds, then the kinds again with other targets
// (k = 1.0, 0.6, 0.7, ... 1.5 for the variants 0 - 9).
bool makePolicies(std::size_t count, std::vector<core::Policy>& policies) {
  constexpr std::array<double, 10> kScales = {1.0, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5};
  for (std::size_t i = 0; i < count; ++i) {
    const int kind = static_cast<int>(i % 10);
    const int variant = static_cast<int>(i / 10);
    const std::string yaml = policyYaml(kind, variant, kScales[static_cast<std::size_t>(variant) % kScales.size()]);
    kubeai::policy::PolicyFile file = kubeai::policy::parsePolicyYaml(yaml);
    if (file.error || file.policies.size() != 1 || !file.policies[0].ok()) {
      std::fprintf(stderr, "error: bench policy %zu (kind %d) does not parse:\n%s\n", i, kind, yaml.c_str());
      if (file.error) {
        std::fprintf(stderr, "  %s\n", file.error->message.c_str());
      }
      for (const auto& document : file.policies) {
        for (const auto& error : document.errors) {
          std::fprintf(stderr, "  %s\n", error.toString().c_str());
        }
      }
      return false;
    }
    policies.push_back(std::move(file.policies[0].policy));
  }
  return true;
}

// ---------------------------------------------------------------- timing

struct Times {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of this process's CPU
};

double cpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

Times timed(const std::function<void()>& body) {
  const double cpuBefore = cpuSeconds();
  const auto wallBefore = std::chrono::steady_clock::now();
  body();
  const auto wallAfter = std::chrono::steady_clock::now();
  return Times{std::chrono::duration<double>(wallAfter - wallBefore).count(), cpuSeconds() - cpuBefore};
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Counts what a writer writes and keeps none of it: the formatting, not a
// disk. Buffered as a file stream is (std::cout, std::ofstream), so that the
// writers pay what they would for a file, no virtual call per character.
// With `hash`, also the FNV-1a hash of the bytes (untimed runs only): the
// same result must write the same bytes, whatever the writers' code.
class CountingBuffer : public std::streambuf {
 public:
  explicit CountingBuffer(bool hash = false) : hash_(hash) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  std::size_t bytes() {
    drain();
    return bytes_;
  }
  std::uint64_t hash() {
    drain();
    return fnv_;
  }

 protected:
  int_type overflow(int_type c) override {
    drain();
    if (c != traits_type::eof()) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    drain();
    return 0;
  }

 private:
  void drain() {
    const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
    if (hash_) {
      for (std::size_t i = 0; i < n; ++i) {
        fnv_ = (fnv_ ^ static_cast<unsigned char>(pbase()[i])) * 1099511628211ull;
      }
    }
    bytes_ += n;
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }

  std::array<char, 65536> buffer_{};
  bool hash_;
  std::size_t bytes_ = 0;
  std::uint64_t fnv_ = 14695981039346656037ull;
};

// ---------------------------------------------------------------- what is timed

// What every run adds up, so that no run can be optimised away and the
// baselines and the simulator can be compared (they never are equal).
volatile std::int64_t gSink = 0;

// decide() alone, as runPolicy() calls it: one policy after the other, each
// with its own History carried from step to step, its clock moving 15 s a step;
// the observation fixed per policy (the engine at 12 requests/s on 5 ready
// replicas, bound to the policy's slots as the simulator binds them).
struct DecideOnly {
  std::vector<const core::Policy*> policies;
  std::vector<core::Observation> observations;
};

bool prepareDecideOnly(std::span<const core::Policy> policies, const sim::Workload& workload, DecideOnly& out) {
  sim::EngineState state;
  sim::EngineInput input;
  input.seconds = kIntervalSeconds;
  input.requestsPerSecond = 12;
  input.meanContextTokens = 1'024;
  input.meanGeneratedTokens = 256;
  input.readyReplicas = 5;
  const sim::EngineMetrics metrics = sim::advanceEngine(workload.capacity, state, input);
  for (const core::Policy& policy : policies) {
    auto binding = sim::bindMetrics(policy);
    if (!binding.ok()) {
      std::fprintf(stderr, "error: %s\n", binding.error().message.c_str());
      return false;
    }
    out.policies.push_back(&policy);
    out.observations.push_back(sim::observe(binding.value(), metrics, 5, 5));  // 5 requested, 5 ready
  }
  return true;
}

void runDecideOnly(const DecideOnly& plan, std::size_t steps, const core::AlgorithmRegistry& registry) {
  std::int64_t sum = 0;
  for (std::size_t p = 0; p < plan.policies.size(); ++p) {
    const core::Policy& policy = *plan.policies[p];
    const core::Observation& observation = plan.observations[p];
    core::History history = core::firstSightHistory(observation.currentReplicas, core::TimePoint(kEpoch));
    for (std::size_t i = 0; i < steps; ++i) {
      core::DecideSettings settings;
      settings.reason = core::CallReason::kSimulate;
      settings.cycle = i + 1;
      const core::TimePoint now(kEpoch + std::chrono::seconds(static_cast<std::int64_t>((i + 1) * 15)));
      core::Outcome outcome = core::decide(policy, observation, std::move(history), now, registry, settings);
      history = std::move(outcome.history);
      sum += outcome.decision.desiredReplicas;
    }
  }
  gSink = gSink + sum;
}

// The engine model alone, over the same demand, once per policy and step;
// the ready replicas follow the demand at 70 % (no decisions).
void runEngineOnly(const sim::Workload& workload, const sim::DemandSeries& demand, std::size_t policies,
                   std::size_t steps) {
  double sum = 0;
  for (std::size_t p = 0; p < policies; ++p) {
    sim::EngineState state;
    for (std::size_t i = 0; i < steps; ++i) {
      sim::EngineInput input;
      input.seconds = kIntervalSeconds;
      input.requestsPerSecond = demand.steps[i].requestsPerSecond;
      input.meanContextTokens = demand.meanContextTokens;
      input.meanGeneratedTokens = demand.meanGeneratedTokens;
      input.readyReplicas = static_cast<std::int32_t>(std::ceil(input.requestsPerSecond / (0.7 * 2.5)));
      const sim::EngineMetrics metrics = sim::advanceEngine(workload.capacity, state, input);
      sum += metrics.e2eLatencyP99Ms.value_or(0) + metrics.backlog;
    }
  }
  gSink = gSink + static_cast<std::int64_t>(sum);
}

struct Simulated {
  sim::SimulationResult result;
  bool ok = false;
};

Simulated runSim(const sim::Workload& workload, const sim::DemandSeries& demand, std::span<const core::Policy> policies,
                 const core::AlgorithmRegistry& registry, const sim::SimulateOptions& options) {
  auto result = sim::runSimulation(workload, demand, policies, registry, options);
  if (!result.ok()) {
    std::fprintf(stderr, "error: runSimulation: %s\n", result.error().message.c_str());
    return {};
  }
  std::int64_t sum = 0;
  for (const sim::PolicyRun& run : result.value().policies) {
    sum += static_cast<std::int64_t>(run.summary.replicaSeconds);
  }
  gSink = gSink + sum;
  return Simulated{std::move(result).value(), true};
}

// ---------------------------------------------------------------- memory

// This process's peak resident set (VmHWM) and now (VmRSS), in KiB.
struct Rss {
  long hwmKiB = 0;
  long rssKiB = 0;
};

Rss readRss() {
  Rss rss;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      rss.hwmKiB = std::strtol(line.c_str() + 6, nullptr, 10);
    } else if (line.rfind("VmRSS:", 0) == 0) {
      rss.rssKiB = std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return rss;
}

// A case's steps on a shorter trace (the smoke test's), at least one.
std::size_t scaledSteps(std::size_t steps, double scale) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(steps) * scale));
}

struct MemoryCase {
  const char* name;
  std::size_t steps;
  std::size_t policies;
  bool keepTimeline;
  bool streamCsv;  // onRow writing CSV, as --output csv does
};

constexpr std::array<MemoryCase, 7> kMemoryCases = {{
    {"1d-x10-summary", kDaySteps, 10, false, false},
    {"7d-x10-summary", kWeekSteps, 10, false, false},
    {"7d-x100-summary", kWeekSteps, 100, false, false},
    {"1d-x10-csv-stream", kDaySteps, 10, false, true},
    {"7d-x10-csv-stream", kWeekSteps, 10, false, true},
    {"1d-x10-timeline", kDaySteps, 10, true, false},
    {"7d-x10-timeline", kWeekSteps, 10, true, false},
}};

// In a process of its own (a fresh peak): set up, read the peak, run, read it
// again. Prints "hwmSetupKiB hwmAfterKiB rows".
int runMemoryChild(std::string_view name, double stepScale) {
  for (const MemoryCase& memoryCase : kMemoryCases) {
    if (name != memoryCase.name) {
      continue;
    }
    const std::size_t steps = scaledSteps(memoryCase.steps, stepScale);
    const auto registry = core::AlgorithmRegistry::withBuiltins();
    const sim::Workload workload = makeWorkload();
    const sim::DemandSeries demand = makeDemand(steps);
    std::vector<core::Policy> policies;
    if (!makePolicies(memoryCase.policies, policies)) {
      return 1;
    }
    // The set-up's own peak (parsing the policies) is behind us; what the
    // run adds on top is what this case measures.
    const Rss setup = readRss();
    CountingBuffer sink;
    std::ostream csv(&sink);
    sim::SimulateOptions options;
    options.keepTimeline = memoryCase.keepTimeline;
    if (memoryCase.streamCsv) {
      sim::writeCsvHeader(csv);
      options.onRow = [&csv](const sim::PolicyRun& run, const sim::TimelineRow& row) { sim::writeCsvRow(csv, run, row); };
    }
    const Simulated simulated = runSim(workload, demand, policies, *registry, options);
    if (!simulated.ok) {
      return 1;
    }
    const Rss after = readRss();
    std::size_t rows = 0;
    for (const sim::PolicyRun& run : simulated.result.policies) {
      rows += run.timeline.size();
    }
    std::printf("%ld %ld %zu\n", setup.hwmKiB, after.hwmKiB, rows);
    return 0;
  }
  std::fprintf(stderr, "error: no memory case %.*s\n", static_cast<int>(name.size()), name.data());
  return 1;
}

bool reportMemory(const std::string& self, double stepScale) {
  std::printf("\nMemory: peak RSS (VmHWM) of a child process per case, after set-up and after the run\n");
  std::printf("%-20s %8s %8s %12s %12s %10s %10s\n", "case", "steps", "policies", "setup KiB", "after KiB",
              "run KiB", "B/row kept");
  bool ok = true;
  for (const MemoryCase& memoryCase : kMemoryCases) {
    std::string command = "'" + self + "' --child " + memoryCase.name;
    if (stepScale != 1.0) {
      command += " --step-scale " + std::to_string(stepScale);
    }
    FILE* pipe = popen(command.c_str(), "r");
    long setupKiB = 0;
    long afterKiB = 0;
    std::size_t rows = 0;
    const bool read = pipe != nullptr && std::fscanf(pipe, "%ld %ld %zu", &setupKiB, &afterKiB, &rows) == 3;
    const int status = pipe != nullptr ? pclose(pipe) : -1;
    if (!read || status != 0) {
      std::fprintf(stderr, "error: memory case %s failed (%s)\n", memoryCase.name, command.c_str());
      ok = false;
      continue;
    }
    const long grown = afterKiB - setupKiB;
    const std::size_t steps = scaledSteps(memoryCase.steps, stepScale);
    std::string perRow = "-";
    if (rows > 0) {
      perRow = std::to_string(static_cast<long>(std::lround(static_cast<double>(grown) * 1024.0 / static_cast<double>(rows))));
    }
    std::printf("%-20s %8zu %8zu %12ld %12ld %10ld %10s\n", memoryCase.name, steps, memoryCase.policies, setupKiB,
                afterKiB, grown, perRow.c_str());
  }
  std::printf("(setup: the demand (24 B a step), the policies, the program; run: what runSimulation() adds to the peak.\n"
              " sizeof(TimelineRow) = %zu B, before the heap its metrics vector and strings use)\n",
              sizeof(sim::TimelineRow));
  return ok;
}

// ---------------------------------------------------------------- the run

struct Case {
  std::string name;
  std::string baseline;  // the case whose figures this one is set against
  std::size_t decisions = 0;  // policies x steps (0 for the writers)
  double targetSeconds = 0;   // 0: no target
  std::function<bool()> body;
  std::vector<double> wall, cpu;
};

struct Args {
  int repetitions = 5;
  bool memory = true;
  bool smoke = false;
  std::string child;
  std::string only;  // run only the cases whose name has this in it (and their baselines): for perf record
  double stepScale = 1.0;
};

bool parseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      args.repetitions = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--no-memory") {
      args.memory = false;
    } else if (arg == "--smoke") {
      args.smoke = true;
    } else if (arg == "--only" && i + 1 < argc) {
      args.only = argv[++i];
    } else if (arg == "--child" && i + 1 < argc) {
      args.child = argv[++i];
    } else if (arg == "--step-scale" && i + 1 < argc) {
      args.stepScale = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: simulate_bench [--repetitions N] [--no-memory] [--smoke] [--only TEXT]\n");
      return false;
    }
  }
  return true;
}

std::string selfPath(const char* argv0) {
  std::array<char, 4096> buffer{};
  const ssize_t length = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  return length > 0 ? std::string(buffer.data(), static_cast<std::size_t>(length)) : std::string(argv0);
}

// The simulator's summaries must not depend on whether timelines are kept or
// streamed, and a timeline has one row per step: the runs time the same work.
bool sameSummaries(const sim::SimulationResult& a, const sim::SimulationResult& b) {
  if (a.policies.size() != b.policies.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.policies.size(); ++i) {
    const sim::PolicySummary& x = a.policies[i].summary;
    const sim::PolicySummary& y = b.policies[i].summary;
    if (x.replicaSeconds != y.replicaSeconds || x.scaleUps != y.scaleUps || x.scaleDowns != y.scaleDowns ||
        x.peakBacklog != y.peakBacklog || x.sloViolationSeconds.any != y.sloViolationSeconds.any) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) {
    return 2;
  }
  if (!args.child.empty()) {
    return runMemoryChild(args.child, args.stepScale);
  }
  // The smoke test runs everything, on a short trace, once.
  const double stepScale = args.smoke ? 0.05 : 1.0;
  if (args.smoke) {
    args.repetitions = 1;
  }
  const std::size_t daySteps = scaledSteps(kDaySteps, stepScale);
  const std::size_t weekSteps = scaledSteps(kWeekSteps, stepScale);

  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const sim::Workload workload = makeWorkload();
  const sim::DemandSeries day = makeDemand(daySteps);
  const sim::DemandSeries week = makeDemand(weekSteps);
  std::vector<core::Policy> policies;
  if (!makePolicies(100, policies)) {
    return 1;
  }
  const std::span<const core::Policy> ten(policies.data(), 10);
  const std::span<const core::Policy> hundred(policies);
  DecideOnly decideTen;
  DecideOnly decideHundred;
  if (!prepareDecideOnly(ten, workload, decideTen) || !prepareDecideOnly(hundred, workload, decideHundred)) {
    return 1;
  }

  // The result the writers write: 24 h x 10 with timelines, made once.
  sim::SimulateOptions keep;
  keep.keepTimeline = true;
  sim::SimulateOptions summaryOnly;
  summaryOnly.keepTimeline = false;
  const Simulated written = runSim(workload, day, ten, *registry, keep);
  const Simulated summarised = runSim(workload, day, ten, *registry, summaryOnly);
  if (!written.ok || !summarised.ok || !sameSummaries(written.result, summarised.result)) {
    std::fprintf(stderr, "error: the summary-only run and the run with timelines disagree\n");
    return 1;
  }
  std::size_t rows = 0;
  std::size_t maxReplicas = 0;
  for (const sim::PolicyRun& run : written.result.policies) {
    rows += run.timeline.size();
    maxReplicas = std::max(maxReplicas, static_cast<std::size_t>(run.summary.maxReplicas));
  }
  // What the ten did with the day (a sanity check on the mix, not a figure).
  std::printf("24 h x10, per policy: GPU-hours, replicas min-max, SLO violated (s), scale-ups/downs\n");
  for (const sim::PolicyRun& run : written.result.policies) {
    std::printf("  %-12s %-13s %7.1f  %2d-%-2d  %6.0f  %d/%d\n", run.policy.c_str(), run.algorithm.c_str(),
                run.summary.gpuHours, run.summary.minReplicas, run.summary.maxReplicas,
                run.summary.sloViolationSeconds.any, run.summary.scaleUps, run.summary.scaleDowns);
  }
  if (rows != daySteps * 10) {
    std::fprintf(stderr, "error: %zu timeline rows, expected %zu\n", rows, daySteps * 10);
    return 1;
  }
  std::size_t jsonBytes = 0;
  std::size_t csvBytes = 0;

  std::vector<Case> cases;
  cases.push_back({"decide-only 24h x10", "", daySteps * 10, 0, [&] {
                     runDecideOnly(decideTen, daySteps, *registry);
                     return true;
                   }, {}, {}});
  cases.push_back({"engine-only 24h x10", "decide-only 24h x10", daySteps * 10, 0, [&] {
                     runEngineOnly(workload, day, 10, daySteps);
                     return true;
                   }, {}, {}});
  cases.push_back({"simulate 24h x10 summary-only", "decide-only 24h x10", daySteps * 10, kDayTargetSeconds,
                   [&] { return runSim(workload, day, ten, *registry, summaryOnly).ok; }, {}, {}});
  cases.push_back({"simulate 24h x10 timelines", "decide-only 24h x10", daySteps * 10, kDayTargetSeconds,
                   [&] { return runSim(workload, day, ten, *registry, keep).ok; }, {}, {}});
  cases.push_back({"simulate 24h x10 CSV streamed", "decide-only 24h x10", daySteps * 10, kDayTargetSeconds, [&] {
                     CountingBuffer sink;
                     std::ostream out(&sink);
                     sim::SimulateOptions stream;
                     stream.keepTimeline = false;
                     sim::writeCsvHeader(out);
                     stream.onRow = [&out](const sim::PolicyRun& run, const sim::TimelineRow& row) {
                       sim::writeCsvRow(out, run, row);
                     };
                     return runSim(workload, day, ten, *registry, stream).ok;
                   }, {}, {}});
  cases.push_back({"writeJson 24h x10", "decide-only 24h x10", 0, 0, [&] {
                     CountingBuffer sink;
                     std::ostream out(&sink);
                     sim::writeJson(out, written.result);
                     return sink.bytes() > 0;
                   }, {}, {}});
  cases.push_back({"writeCsv 24h x10", "decide-only 24h x10", 0, 0, [&] {
                     CountingBuffer sink;
                     std::ostream out(&sink);
                     sim::writeCsvHeader(out);
                     for (const sim::PolicyRun& run : written.result.policies) {
                       for (const sim::TimelineRow& row : run.timeline) {
                         sim::writeCsvRow(out, run, row);
                       }
                     }
                     return sink.bytes() > 0;
                   }, {}, {}});
  cases.push_back({"decide-only 7d x100", "", weekSteps * 100, 0, [&] {
                     runDecideOnly(decideHundred, weekSteps, *registry);
                     return true;
                   }, {}, {}});
  cases.push_back({"engine-only 7d x100", "decide-only 7d x100", weekSteps * 100, 0, [&] {
                     runEngineOnly(workload, week, 100, weekSteps);
                     return true;
                   }, {}, {}});
  cases.push_back({"simulate 7d x100 summary-only", "decide-only 7d x100", weekSteps * 100, kWeekTargetSeconds,
                   [&] { return runSim(workload, week, hundred, *registry, summaryOnly).ok; }, {}, {}});

  if (!args.only.empty()) {
    std::vector<std::string> wanted;
    for (const Case& c : cases) {
      if (c.name.find(args.only) != std::string::npos) {
        wanted.push_back(c.name);
        wanted.push_back(c.baseline);
      }
    }
    std::vector<Case> kept;
    for (Case& c : cases) {
      if (std::find(wanted.begin(), wanted.end(), c.name) != wanted.end()) {
        kept.push_back(std::move(c));
      }
    }
    cases = std::move(kept);
  }

  // Interleaved: each repetition runs every case once, so that a busy spell
  // on the shared machine falls on all of them alike.
  for (int repetition = 0; repetition < args.repetitions; ++repetition) {
    for (Case& c : cases) {
      bool ok = true;
      const Times times = timed([&] { ok = c.body(); });
      if (!ok) {
        return 1;
      }
      c.wall.push_back(times.wall);
      c.cpu.push_back(times.cpu);
    }
  }

  auto find = [&cases](const std::string& name) -> const Case* {
    for (const Case& c : cases) {
      if (c.name == name) {
        return &c;
      }
    }
    return nullptr;
  };
  double loads[3] = {0, 0, 0};
  if (getloadavg(loads, 3) < 0) {
    loads[0] = -1;
  }
  std::printf("simulate_bench: %d repetition(s), medians; 24 h = %zu steps, 7 d = %zu steps; "
              "24 h x10 peaks at %zu replicas; load average %.2f %.2f %.2f\n",
              args.repetitions, daySteps, weekSteps, maxReplicas, loads[0], loads[1], loads[2]);
  std::printf("%-32s %10s %10s %10s %10s %11s %8s  %s\n", "case", "wall ms", "CPU ms", "wall/base", "CPU/base",
              "ns/decision", "target", "verdict");
  for (const Case& c : cases) {
    const double wall = median(c.wall);
    const double cpu = median(c.cpu);
    std::string wallRatio = "(base)";
    std::string cpuRatio = "(base)";
    if (const Case* base = c.baseline.empty() ? nullptr : find(c.baseline)) {
      char text[32];
      std::snprintf(text, sizeof text, "%.2fx", wall / median(base->wall));
      wallRatio = text;
      std::snprintf(text, sizeof text, "%.2fx", cpu / median(base->cpu));
      cpuRatio = text;
    }
    std::string perDecision = "-";
    if (c.decisions > 0) {
      char text[32];
      std::snprintf(text, sizeof text, "%.0f", cpu * 1e9 / static_cast<double>(c.decisions));
      perDecision = text;
    }
    std::string target = "-";
    std::string verdict;
    if (c.targetSeconds > 0) {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f s", c.targetSeconds);
      target = text;
      if (args.smoke) {
        verdict = "(smoke: not judged)";
      } else {
        verdict = wall <= c.targetSeconds ? "met" : "MISSED";
        verdict += cpu <= c.targetSeconds ? " (CPU met)" : " (CPU missed)";
      }
    }
    std::printf("%-32s %10.2f %10.2f %10s %10s %11s %8s  %s\n", c.name.c_str(), wall * 1e3, cpu * 1e3,
                wallRatio.c_str(), cpuRatio.c_str(), perDecision.c_str(), target.c_str(), verdict.c_str());
  }
  // The bytes, untimed: the same for the same inputs (and across changes to the writers).
  CountingBuffer jsonHash(true);
  CountingBuffer csvHash(true);
  {
    std::ostream json(&jsonHash);
    sim::writeJson(json, written.result);
    std::ostream csv(&csvHash);
    sim::writeCsvHeader(csv);
    for (const sim::PolicyRun& run : written.result.policies) {
      for (const sim::TimelineRow& row : run.timeline) {
        sim::writeCsvRow(csv, run, row);
      }
    }
  }
  jsonBytes = jsonHash.bytes();
  csvBytes = csvHash.bytes();
  std::printf("writers: JSON %zu bytes (%.0f B/row, FNV-1a %016llx), CSV %zu bytes (%.0f B/row, FNV-1a %016llx), "
              "%zu rows\n",
              jsonBytes, static_cast<double>(jsonBytes) / static_cast<double>(rows),
              static_cast<unsigned long long>(jsonHash.hash()), csvBytes,
              static_cast<double>(csvBytes) / static_cast<double>(rows),
              static_cast<unsigned long long>(csvHash.hash()), rows);
  if (const Case *sim24 = find("simulate 24h x10 timelines"), *json = find("writeJson 24h x10"); sim24 && json) {
    const double total = median(sim24->wall) + median(json->wall);
    std::printf("24 h x10 with timelines + writeJson: %.2f ms wall (target %.1f s: %s)\n", total * 1e3,
                kDayTargetSeconds, args.smoke ? "smoke: not judged" : (total <= kDayTargetSeconds ? "met" : "MISSED"));
  }

  if (args.memory && !reportMemory(selfPath(argv[0]), stepScale)) {
    return 1;
  }
  return 0;
}
