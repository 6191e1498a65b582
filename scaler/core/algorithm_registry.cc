#include "core/algorithm_registry.h"

#include <mutex>

#include "core/builtin_algorithms.h"
#include "core/burst_algorithm.h"
#include "core/predictive_algorithm.h"

namespace kubeai::core {

std::unique_ptr<AlgorithmRegistry> AlgorithmRegistry::withBuiltins() {
  auto registry = std::make_unique<AlgorithmRegistry>();
  // Cannot fail: distinct names into an empty registry.
  (void)registry->insert(std::make_shared<MaxRatioAlgorithm>(), true, false);
  (void)registry->insert(std::make_shared<AverageRatioAlgorithm>(), true, false);
  (void)registry->insert(std::make_shared<WeightedRatioAlgorithm>(), true, false);
  (void)registry->insert(std::make_shared<PredictiveAlgorithm>(), true, false);
  (void)registry->insert(std::make_shared<BurstAlgorithm>(), true, false);
  return registry;
}

Status AlgorithmRegistry::add(std::shared_ptr<const ScalingAlgorithm> algorithm) {
  return insert(std::move(algorithm), false, false);
}

Status AlgorithmRegistry::replace(std::shared_ptr<const ScalingAlgorithm> algorithm) {
  return insert(std::move(algorithm), false, true);
}

Status AlgorithmRegistry::insert(std::shared_ptr<const ScalingAlgorithm> algorithm, bool builtin,
                                 bool allowReplace) {
  if (!algorithm) {
    return Error{"algorithm is null"};
  }
  std::string name(algorithm->name());
  if (name.empty()) {
    return Error{"algorithm name is empty"};
  }
  std::unique_lock lock(mutex_);
  auto existing = algorithms_.find(name);
  if (existing != algorithms_.end()) {
    if (existing->second.builtin) {
      return Error{"duplicate algorithm name \"" + name + "\": already provided by a built-in algorithm"};
    }
    if (!allowReplace) {
      return Error{"duplicate algorithm name \"" + name + "\": already registered"};
    }
    existing->second.algorithm = std::move(algorithm);
    return Ok{};
  }
  algorithms_.emplace(std::move(name), Entry{std::move(algorithm), builtin});
  return Ok{};
}

bool AlgorithmRegistry::remove(std::string_view name) {
  std::unique_lock lock(mutex_);
  auto existing = algorithms_.find(name);
  if (existing == algorithms_.end() || existing->second.builtin) {
    return false;
  }
  algorithms_.erase(existing);
  return true;
}

std::shared_ptr<const ScalingAlgorithm> AlgorithmRegistry::find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto found = algorithms_.find(name);
  return found == algorithms_.end() ? nullptr : found->second.algorithm;
}

std::vector<std::string> AlgorithmRegistry::names() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(algorithms_.size());
  for (const auto& [name, entry] : algorithms_) {
    names.push_back(name);
  }
  return names;
}

bool AlgorithmRegistry::isBuiltin(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto found = algorithms_.find(name);
  return found != algorithms_.end() && found->second.builtin;
}

}  // namespace kubeai::core
