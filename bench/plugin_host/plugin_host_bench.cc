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
// The isolated plugin runs on two hosts in turns, one with the settings'
// spins (or --spin-us) and one that blocks at once, for an A/B in one run.
//
//   plugin_host_bench [--decisions N] [--rounds R] [--spin-us REPLY,REQUEST]
#include <time.h>
#include <unistd.h>

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
  double serverCpuUs = 0;  // per decision, the calling thread (isolated variants only)
  double hostCpuUs = 0;    // per decision, the plugin-host process
};

// One variant's decisions, made in steps so that two variants can take turns
// in one run (the machine's load then weighs on both alike). The load swings
// so that every kind of answer (up, down, hold) comes up.
class Runner {
 public:
  Runner(core::Policy policy, const core::AlgorithmRegistry& registry) : policy_(std::move(policy)), registry_(registry) {}

  // `count` decisions, each timed alone; false when one fails.
  bool step(int count, bool timed) {
    const auto started = Clock::now();
    timespec cpuBefore{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuBefore);
    for (int i = 0; i < count; ++i, ++index_) {
      core::Observation observation;
      observation.currentReplicas = replicas_;
      observation.gpuUtilizationPercent = 40.0 + 60.0 * ((index_ & 63) / 63.0);
      observation.latencyP99Ms = 300.0 + (index_ % 7) * 50.0;
      const auto before = Clock::now();
      core::Outcome outcome = core::decide(policy_, observation, std::move(history_), now_, registry_);
      const auto after = Clock::now();
      if (!outcome.decision.algorithmError.empty() || outcome.decision.algorithm != policy_.spec.algorithm.name) {
        std::fprintf(stderr, "plugin_host_bench: %s: %s\n", policy_.spec.algorithm.name.c_str(),
                     outcome.decision.algorithmError.c_str());
        return false;
      }
      history_ = std::move(outcome.history);
      replicas_ = outcome.decision.desiredReplicas;
      now_ += std::chrono::seconds(15);
      if (timed) {
        micros_.push_back(std::chrono::duration<double, std::micro>(after - before).count());
      }
    }
    if (timed) {
      timespec cpuAfter{};
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuAfter);
      wallSeconds_ += std::chrono::duration<double>(Clock::now() - started).count();
      cpuSeconds_ += static_cast<double>(cpuAfter.tv_sec - cpuBefore.tv_sec) +
                     static_cast<double>(cpuAfter.tv_nsec - cpuBefore.tv_nsec) / 1e9;
    }
    return true;
  }

  [[nodiscard]] Figures figures() {
    std::sort(micros_.begin(), micros_.end());
    auto at = [&](double q) { return micros_[static_cast<std::size_t>(q * static_cast<double>(micros_.size() - 1))]; };
    const double n = static_cast<double>(micros_.size());
    return {at(0.50), at(0.99), at(0.999), n / wallSeconds_, cpuSeconds_ / n * 1e6, 0};
  }

 private:
  core::Policy policy_;
  const core::AlgorithmRegistry& registry_;
  core::History history_;
  core::TimePoint now_{std::chrono::hours(24 * 365 * 50)};
  std::int32_t replicas_ = 4;
  int index_ = 0;
  std::vector<double> micros_;
  double wallSeconds_ = 0;
  double cpuSeconds_ = 0;
};

constexpr int kWarmUp = 1000;

Figures run(const core::Policy& policy, const core::AlgorithmRegistry& registry, int count, bool* failed) {
  Runner runner(policy, registry);
  if (!runner.step(kWarmUp, false) || !runner.step(count, true)) {
    *failed = true;
    return {};
  }
  return runner.figures();
}

// CPU time of a process so far (user + system, /proc/PID/stat), in seconds.
double processCpuSeconds(pid_t pid) {
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (file == nullptr) {
    return 0;
  }
  char buffer[1024] = {};
  const std::size_t got = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  const char* fields = std::strrchr(buffer, ')');  // the name may hold spaces
  if (got == 0 || fields == nullptr) {
    return 0;
  }
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  if (std::sscanf(fields + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void print(const char* what, const Figures& f) {
  std::printf("  %-34s p50 %7.2f us  p99 %7.2f us  p99.9 %7.2f us  %10.0f decisions/s\n", what, f.p50Us, f.p99Us,
              f.p999Us, f.perSecond);
}

void printCpu(const char* what, const Figures& f) {
  std::printf("  %-34s CPU per decision: server %.2f us + host %.2f us = %.2f us\n", what, f.serverCpuUs, f.hostCpuUs,
              f.serverCpuUs + f.hostCpuUs);
}

}  // namespace

int main(int argc, char** argv) {
  namespace host = kubeai::plugin::host;
  int count = 200'000;
  int rounds = 20;
  host::PluginHostSettings settings;
  settings.executable = KUBEAI_SCALER_BIN;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--decisions") == 0) {
      count = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--rounds") == 0) {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--spin-us") == 0) {
      long long reply = 0;
      long long request = 0;
      if (std::sscanf(argv[i + 1], "%lld,%lld", &reply, &request) != 2 || reply < 0 || request < 0) {
        std::fprintf(stderr, "plugin_host_bench: --spin-us wants REPLY,REQUEST in microseconds\n");
        return 1;
      }
      settings.replySpin = std::chrono::microseconds{reply};
      settings.requestSpin = std::chrono::microseconds{request};
    }
  }
  rounds = std::min(rounds, count);
  auto registry = core::AlgorithmRegistry::withBuiltins();

  auto inProcessImage = kubeai::plugin::readPluginImage(KUBEAI_BENCH_PLUGIN);
  if (!inProcessImage.ok()) {
    std::fprintf(stderr, "plugin_host_bench: %s\n", inProcessImage.error().message.c_str());
    return 1;
  }
  auto inProcess = kubeai::plugin::loadPluginImage(inProcessImage.value());
  auto blockingImage = kubeai::plugin::readPluginImage(KUBEAI_BENCH_PLUGIN);
  auto spinningImage = kubeai::plugin::readPluginImage(KUBEAI_BENCH_PLUGIN);
  if (!inProcess.ok() || !blockingImage.ok() || !spinningImage.ok()) {
    std::fprintf(stderr, "plugin_host_bench: cannot load %s\n", KUBEAI_BENCH_PLUGIN);
    return 1;
  }
  // Two hosts of the same plugin: the settings' (spinning, unless told
  // otherwise) and one that blocks at once (the path before the spins), so
  // the two are compared in one run.
  host::PluginHostSettings blockingSettings = settings;
  blockingSettings.replySpin = std::chrono::microseconds{0};
  blockingSettings.requestSpin = std::chrono::microseconds{0};
  auto spinning = host::loadIsolatedPlugin(std::move(spinningImage).value(), settings);
  auto blocking = host::loadIsolatedPlugin(std::move(blockingImage).value(), blockingSettings);
  if (!spinning.ok() || !blocking.ok()) {
    std::fprintf(stderr, "plugin_host_bench: %s\n",
                 (!spinning.ok() ? spinning.error() : blocking.error()).message.c_str());
    return 1;
  }
  // The same plugin under one name in each registry: in process, and in its hosts.
  core::AlgorithmRegistry inProcessRegistry;
  core::AlgorithmRegistry spinningRegistry;
  core::AlgorithmRegistry blockingRegistry;
  (void)inProcessRegistry.add(inProcess.value());
  (void)spinningRegistry.add(spinning.value());
  (void)blockingRegistry.add(blocking.value());

  bool failed = false;
  const Figures builtin = run(policyFor("MaxRatio"), *registry, count, &failed);
  const Figures local = run(policyFor("MaxRatioPlugin"), inProcessRegistry, count, &failed);
  if (failed) {
    return 1;
  }
  // Turns of count/rounds decisions, the order swapped every round.
  Runner spinner(policyFor("MaxRatioPlugin"), spinningRegistry);
  Runner blocker(policyFor("MaxRatioPlugin"), blockingRegistry);
  if (!spinner.step(kWarmUp, false) || !blocker.step(kWarmUp, false)) {
    return 1;
  }
  const pid_t spinningPid = dynamic_cast<const host::IsolatedPluginAlgorithm&>(*spinning.value()).host().pid();
  const pid_t blockingPid = dynamic_cast<const host::IsolatedPluginAlgorithm&>(*blocking.value()).host().pid();
  const double spinningHostBefore = processCpuSeconds(spinningPid);
  const double blockingHostBefore = processCpuSeconds(blockingPid);
  for (int round = 0; round < rounds; ++round) {
    const int turn = count / rounds + (round < count % rounds ? 1 : 0);
    Runner& first = round % 2 == 0 ? blocker : spinner;
    Runner& second = round % 2 == 0 ? spinner : blocker;
    if (!first.step(turn, true) || !second.step(turn, true)) {
      return 1;
    }
  }
  // A host idles while the other one runs (after its spin), so its CPU time
  // over the whole comparison is its time for its own decisions.
  Figures spun = spinner.figures();
  Figures blocked = blocker.figures();
  spun.hostCpuUs = (processCpuSeconds(spinningPid) - spinningHostBefore) / count * 1e6;
  blocked.hostCpuUs = (processCpuSeconds(blockingPid) - blockingHostBefore) / count * 1e6;

  char spinName[64];
  std::snprintf(spinName, sizeof spinName, "isolated, spins %lld/%lld us", static_cast<long long>(settings.replySpin.count()),
                static_cast<long long>(settings.requestSpin.count()));
  std::printf("Decisions (warm history, %d each, this run; the two isolated ones in %d turns each, interleaved):\n",
              count, rounds);
  print("MaxRatio (built-in)", builtin);
  print("MaxRatioPlugin in process", local);
  print("MaxRatioPlugin isolated, blocking", blocked);
  print(spinName, spun);
  printCpu("isolated, blocking", blocked);
  printCpu(spinName, spun);
  std::printf("\nIsolated plugin with the settings given (%s), targets:\n", spinName);
  std::printf("  p99 %.2f us <= %.0f us: %s\n", spun.p99Us, kP99TargetUs, spun.p99Us <= kP99TargetUs ? "met" : "MISSED");
  std::printf("  %.0f decisions/s per host >= %.0f: %s\n", spun.perSecond, kThroughputTarget,
              spun.perSecond >= kThroughputTarget ? "met" : "MISSED");
  std::printf("  isolated / in process, p50: %.1fx\n", spun.p50Us / std::max(local.p50Us, 1e-9));
  double loads[3] = {};
  if (::getloadavg(loads, 3) == 3) {
    std::printf("  load average at the end: %.2f %.2f %.2f\n", loads[0], loads[1], loads[2]);
  }
  return 0;
}
