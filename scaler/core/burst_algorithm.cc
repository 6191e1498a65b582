#include "core/burst_algorithm.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

#include "core/algorithm_parameters.h"
#include "core/builtin_algorithms.h"
#include "core/replica_calculator.h"

namespace kubeai::core {
namespace {

constexpr NumberParameter kStableWindow{"stableWindowSeconds", 1.0, 3600.0, false, "seconds, without a unit"};
constexpr NumberParameter kPanicWindow{"panicWindowSeconds", 1.0, 3600.0, false, "seconds, without a unit"};
constexpr NumberParameter kPanicThreshold{"panicThreshold", 1.0, 100.0, true};
// A window of 3600 s at a decision a second; more are the oldest, dropped.
constexpr std::size_t kSampleLimit = 3600;

struct BurstParameters {
  std::chrono::milliseconds stableWindow{60'000};
  std::chrono::milliseconds panicWindow{6'000};
  double panicThreshold = 2.0;
};

std::string secondsText(std::chrono::milliseconds value) {
  std::ostringstream out;
  out << std::chrono::duration<double>(value).count();
  return out.str();
}

std::chrono::milliseconds toMilliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
}

Result<BurstParameters> parse(const AlgorithmParameters& parameters) {
  ParameterProblems problems;
  problems.add(knownParameters(parameters, {kStableWindow.key, kPanicWindow.key, kPanicThreshold.key},
                               BurstAlgorithm::kName));
  auto stable = numberParameter(parameters, kStableWindow, BurstAlgorithm::kName);
  auto panic = numberParameter(parameters, kPanicWindow, BurstAlgorithm::kName);
  auto threshold = numberParameter(parameters, kPanicThreshold, BurstAlgorithm::kName);
  for (const auto* result : {&stable, &panic, &threshold}) {
    problems.add(*result);
  }
  BurstParameters out;
  if (stable.ok() && stable.value()) {
    out.stableWindow = toMilliseconds(*stable.value());
  }
  if (panic.ok() && panic.value()) {
    out.panicWindow = toMilliseconds(*panic.value());
  }
  if (stable.ok() && panic.ok() && out.panicWindow > out.stableWindow) {
    problems.add(Error{"spec.algorithm.parameters.panicWindowSeconds: must be <= stableWindowSeconds (" +
                       secondsText(out.stableWindow) + ") (Burst)"});
  }
  if (problems.any()) {
    return problems.error();
  }
  out.panicThreshold = threshold.value().value_or(out.panicThreshold);
  return out;
}

// The mean demand of the samples within `window` before `now` (the latest
// always counts).
double windowMean(const std::vector<DemandSample>& samples, TimePoint now, std::chrono::milliseconds window) {
  double sum = 0.0;
  std::size_t count = 0;
  for (auto it = samples.rbegin(); it != samples.rend(); ++it) {
    if (count > 0 && now - it->at >= window) {
      break;
    }
    sum += it->replicas;
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}

}  // namespace

Result<AlgorithmOutput> BurstAlgorithm::compute(const AlgorithmInput& input) const {
  static const AlgorithmParameters kNone;
  Result<BurstParameters> parsed = parse(input.parameters != nullptr ? *input.parameters : kNone);
  if (!parsed.ok()) {
    return parsed.error();
  }
  const BurstParameters& parameters = parsed.value();
  BurstState scratch;
  BurstState& state = input.memory != nullptr ? input.memory->burst : scratch;

  const double current = std::max(input.currentReplicas, 1);
  double largest = input.ratios.front().ratio;
  for (const MetricRatio& metric : input.ratios) {
    largest = std::max(largest, metric.ratio);
  }
  auto& samples = state.samples;
  // A clock set back by more than a second: what was kept is from the future.
  if (!samples.empty() && samples.back().at > input.now + std::chrono::seconds(1)) {
    state = BurstState{};
  }
  // A panic whose last reason is a stable window old is over, whatever comes
  // now: after a gap without decisions (no metrics, another algorithm, a
  // restart) an old panic's count must not come back.
  if (state.panicSince && state.lastOverAt && input.now - *state.lastOverAt >= parameters.stableWindow) {
    state.panicSince.reset();
    state.lastOverAt.reset();
    state.maxPanicReplicas = 0;
  }
  if (!samples.empty() && samples.back().at >= input.now) {
    samples.back().replicas = largest * current;  // the same instant again: the newer reading
  } else {
    samples.push_back(DemandSample{input.now, largest * current});
  }
  std::erase_if(samples, [&](const DemandSample& sample) { return input.now - sample.at >= parameters.stableWindow; });
  if (samples.size() > kSampleLimit) {
    samples.erase(samples.begin(), samples.end() - static_cast<std::ptrdiff_t>(kSampleLimit));
  }

  PanicExplanation explanation;
  explanation.panicThreshold = parameters.panicThreshold;
  explanation.stableReplicas = windowMean(samples, input.now, parameters.stableWindow);
  explanation.panicReplicas = windowMean(samples, input.now, parameters.panicWindow);
  const double serving = std::max(input.servingReplicas > 0 ? input.servingReplicas : input.currentReplicas, 1);
  explanation.panicRatio = explanation.panicReplicas / serving;
  // A capped percentage (a GPU, a KV cache) at 100 % shows that the pods are
  // full, never how much more is asked of them: it cannot reach a threshold
  // of 2x, yet full pods are the burst panic mode exists for. A saturated
  // metric counts as over.
  bool saturated = false;
  for (const MetricDetail& metric : input.metrics) {
    saturated = saturated || isSaturated(metric.capped, metric.value);
  }
  explanation.saturated = saturated;
  const bool over = saturated || explanation.panicRatio >= parameters.panicThreshold;
  if (over) {
    if (!state.panicSince) {
      state.panicSince = input.now;
      state.maxPanicReplicas = 0;
    }
    state.lastOverAt = input.now;
  }

  const RatioScaling stable = scaleByRatio(input.currentReplicas, explanation.stableReplicas / current, input.tolerance);
  AlgorithmOutput output{stable.replicas, stable.held ? kReasonWithinTolerance : kReasonBurstStable,
                         explanation.stableReplicas / current, stable.held, {}, {}};
  if (state.panicSince) {
    // Saturated, the load is at least the threshold times what serves.
    const double panicDemand = saturated && input.metrics.size() > 0
                                   ? std::max(explanation.panicReplicas, parameters.panicThreshold * serving)
                                   : explanation.panicReplicas;
    const RatioScaling panic = scaleByRatio(input.currentReplicas, panicDemand / current, input.tolerance);
    std::int32_t desired = std::max({stable.replicas, panic.replicas, input.currentReplicas});
    if (desired > state.maxPanicReplicas) {
      state.maxPanicReplicas = desired;
    }
    desired = state.maxPanicReplicas;
    // Never a hold: a panic answering the current replicas must stop a
    // scale-down still on its way, not keep it.
    output = AlgorithmOutput{desired, kReasonBurstPanic,
                             std::max(explanation.stableReplicas, explanation.panicReplicas) / current, false, {}, {}};
    explanation.panicking = true;
    explanation.since = state.panicSince;
    explanation.lastOverAt = state.lastOverAt;
    explanation.maxPanicReplicas = state.maxPanicReplicas;
  }
  output.panic = explanation;
  return output;
}

Status BurstAlgorithm::validateParameters(const ValidateInput& input) const {
  Result<BurstParameters> parsed = parse(*input.parameters);
  return parsed.ok() ? Status(Ok{}) : Status(parsed.error());
}

}  // namespace kubeai::core
