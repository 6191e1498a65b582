#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.h"
#include "core/result.h"

namespace kubeai::core {

// Algorithms by name. Thread-safe: lookups take a shared lock and hand out a
// shared_ptr, so an algorithm being replaced (a plugin reloaded) stays alive
// until the calls already running on it return.
class AlgorithmRegistry {
 public:
  // A registry holding the built-ins MaxRatio, AverageRatio, WeightedRatio,
  // Predictive and Burst.
  static std::unique_ptr<AlgorithmRegistry> withBuiltins();

  AlgorithmRegistry() = default;
  AlgorithmRegistry(const AlgorithmRegistry&) = delete;
  AlgorithmRegistry& operator=(const AlgorithmRegistry&) = delete;

  // Refuses a null algorithm, an empty name, and a name already registered.
  Status add(std::shared_ptr<const ScalingAlgorithm> algorithm);

  // Adds or swaps in a new version under the same name; refuses to replace a
  // built-in (a plugin may not shadow MaxRatio).
  Status replace(std::shared_ptr<const ScalingAlgorithm> algorithm);

  // Removes a non-built-in algorithm; returns whether one was removed.
  bool remove(std::string_view name);

  // nullptr when no algorithm has that name (exact, case-sensitive match).
  [[nodiscard]] std::shared_ptr<const ScalingAlgorithm> find(std::string_view name) const;

  // Sorted names, for messages such as "available: AverageRatio, MaxRatio, ...".
  [[nodiscard]] std::vector<std::string> names() const;

  [[nodiscard]] bool isBuiltin(std::string_view name) const;

 private:
  struct Entry {
    std::shared_ptr<const ScalingAlgorithm> algorithm;
    bool builtin = false;
  };
  Status insert(std::shared_ptr<const ScalingAlgorithm> algorithm, bool builtin, bool allowReplace);

  mutable std::shared_mutex mutex_;
  std::map<std::string, Entry, std::less<>> algorithms_;
};

}  // namespace kubeai::core
